// export_objects: the files a capture carried (HTTP bodies, SMB files, mails, TFTP transfers, DICOM
// objects), listed with their sizes, content types and frames, and saved under safe names into a
// directory when saveTo is given.
import * as z from 'zod';
import { EXPORT_OBJECT_PROTOCOLS, objectsFactsSchema, objectsPage } from '../../analysis/exports.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { UserError } from '../../errors.js';
import { DEFAULT_PAGE, EXPORT_OBJECT_BYTES, MAX_PATH_LENGTH } from '../../limits.js';
import { formatBytes } from '../../capture/sessions.js';
import { hasControlChars } from '../../util/text.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import { dissectionParams, keylogParam, sourceAndKeylog, sourceParam } from './analysis-params.js';
import { pagingParams } from './paging-params.js';

const inputSchema = z.object({
  source: sourceParam,
  protocol: z
    .enum(EXPORT_OBJECT_PROTOCOLS)
    .meta({ brief: '' })
    .describe('Whose objects: http (bodies of requests and responses), smb, imf (mails), tftp or dicom.'),
  saveTo: z
    .string()
    .min(1)
    .max(MAX_PATH_LENGTH)
    .optional()
    .meta({ brief: 'A directory to write them in.' })
    .describe(
      'A directory to save every object in (made when its parent exists; no file in it is ever overwritten). Leave out to list only.',
    ),
  maxBytes: z
    .number()
    .int()
    .min(EXPORT_OBJECT_BYTES.min)
    .max(EXPORT_OBJECT_BYTES.max)
    .optional()
    .meta({ default: EXPORT_OBJECT_BYTES.default, brief: '' })
    .describe(
      `Bytes the objects may take on disk while tshark extracts them (${formatBytes(EXPORT_OBJECT_BYTES.default)} unless given, at most ${formatBytes(EXPORT_OBJECT_BYTES.max)}): past it tshark is stopped and nothing is listed or saved, so a small compressed body that inflates to gigabytes cannot fill the disk.`,
    ),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  ...pagingParams({
    brief: '',
    limit: 'Objects listed per page.',
    limitDefault: DEFAULT_PAGE.rows,
    offset: 'Objects to skip.',
  }),
});

export const exportObjectsTool = defineTool({
  name: 'export_objects',
  title: 'Export the files a capture carried',
  brief: 'The files a capture carried (HTTP, SMB, mail, TFTP, DICOM), listed, or written with saveTo.',
  description:
    'The files a capture carried (HTTP bodies, SMB files, IMF mails, TFTP transfers, DICOM objects): one row each with a safe file name, its size, its content type (as declared: HTTP Content-Type, message/rfc822 for a mail, application/dicom; else sniffed from the bytes and marked so), the frame it came from (HTTP, IMF, TFTP; SMB and DICOM cannot be matched exactly and say so) and, for HTTP, its URI; with saveTo, every one saved into that directory under those names (no name from the capture can lead outside it, no file is overwritten). Decrypts HTTPS with sslKeylogFile. Extraction stops past maxBytes (a compressed body can inflate to gigabytes), with what to do next. Paged; the answer names the next call.',
  inputSchema,
  outputSchema: objectsFactsSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    let targetDir: string | undefined;
    if (args.saveTo !== undefined) {
      if (hasControlChars(args.saveTo))
        throw new UserError('saveTo contains a control character; give a plain path.');
      targetDir = await deps.sandbox.checkTarget(args.saveTo, 'saveTo');
    }
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const result = await deps.exporter.exportObjects(
      {
        source,
        keylog,
        protocol: args.protocol,
        targetDir,
        maxBytes: args.maxBytes,
      },
      ctx.mcpReq.signal,
    );
    // Another page lists again; it must not save again (the files are there now).
    const { text, facts } = objectsPage(result, {
      ...args,
      source,
      call: { tool: 'export_objects', args: givenArgs({ ...args, saveTo: undefined }) },
    });
    return textResult(text, facts, [captureLink(deps, source)]);
  },
});
