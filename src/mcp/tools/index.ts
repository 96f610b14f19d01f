// The tool registry: a plain array, in the order tools/list shows them.
import type { Tool } from '../tool.js';
import { analyzePcapFileTool } from './analyze-pcap-file.js';
import { deleteCaptureSessionTool } from './delete-capture-session.js';
import { listCaptureSessionsTool } from './list-capture-sessions.js';
import { listInterfacesTool } from './list-interfaces.js';
import { manageConfigTool } from './manage-config.js';
import { startCaptureSessionTool } from './start-capture-session.js';
import { stopCaptureSessionTool } from './stop-capture-session.js';

export const TOOLS: readonly Tool[] = [
  startCaptureSessionTool,
  stopCaptureSessionTool,
  analyzePcapFileTool,
  manageConfigTool,
  listCaptureSessionsTool,
  listInterfacesTool,
  deleteCaptureSessionTool,
];
