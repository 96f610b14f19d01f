// The tool registry: a plain array, in the order tools/list shows them.
import type { Tool } from '../tool.js';
import { analyzePcapFileTool } from './analyze-pcap-file.js';
import { manageConfigTool } from './manage-config.js';

export const TOOLS: readonly Tool[] = [analyzePcapFileTool, manageConfigTool];
