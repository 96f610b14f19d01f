// The tool registry: a plain array, in the order tools/list shows them.
import type { Tool } from '../tool.js';
import { analyzePcapFileTool } from './analyze-pcap-file.js';
import { captureStatisticsTool } from './capture-statistics.js';
import { compareCapturesTool } from './compare-captures.js';
import { deleteCaptureSessionTool } from './delete-capture-session.js';
import { exportObjectsTool } from './export-objects.js';
import { exportPacketsTool } from './export-packets.js';
import { followStreamTool } from './follow-stream.js';
import { getPacketDetailsTool } from './get-packet-details.js';
import { inspectProtocolTool } from './inspect-protocol.js';
import { listCaptureSessionsTool } from './list-capture-sessions.js';
import { listFieldsTool } from './list-fields.js';
import { listInterfacesTool } from './list-interfaces.js';
import { manageConfigTool } from './manage-config.js';
import { plotCaptureTool } from './plot-capture.js';
import { startCaptureSessionTool } from './start-capture-session.js';
import { stopCaptureSessionTool } from './stop-capture-session.js';
import { summarizeCaptureTool } from './summarize-capture.js';

export const TOOLS: readonly Tool[] = [
  startCaptureSessionTool,
  stopCaptureSessionTool,
  analyzePcapFileTool,
  manageConfigTool,
  summarizeCaptureTool,
  followStreamTool,
  getPacketDetailsTool,
  inspectProtocolTool,
  captureStatisticsTool,
  compareCapturesTool,
  plotCaptureTool,
  exportPacketsTool,
  exportObjectsTool,
  listFieldsTool,
  listCaptureSessionsTool,
  listInterfacesTool,
  deleteCaptureSessionTool,
];
