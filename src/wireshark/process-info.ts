// Wireshark's own per-packet process information, and whether the installed tools have it.
// Wireshark 4.7 (the development series after 4.6) added `dumpcap --process-info[=basic|full]`: for
// each packet of a TCP or UDP socket, dumpcap looks the owning processes up in the operating
// system's socket tables while capturing, writes their ids into the packet's pcapng
// epb_processid_threadid option and describes each process once per file in a process information
// block (a Wireshark custom block, PEN 32622, entry type 3). tshark shows them as the frame.process
// fields (epan/dissectors/packet-frame.c). Older tools have neither: Debian's 4.0 does not. Both
// capabilities are read once per binary and kept, and only from tools of 4.7 or of a version not
// known (a custom build): an older one is not asked.
import type { Glossary } from './glossary.js';
import type { ProcessGroup } from './process.js';
import { runCollect } from './process.js';

/** FT_UINT32: the id of a process the packet was attributed to (0: not available). */
export const PROCESS_PID_FIELD = 'frame.process.pid';
/** FT_STRING: that process's short name, from the file's process information block. */
export const PROCESS_NAME_FIELD = 'frame.process.name';

/**
 * dumpcap's option; without an argument it records "basic" detail (process id, name and start
 * time), leaving out the executable path, command line and user, which can hold secrets.
 */
export const DUMPCAP_PROCESS_INFO_OPTION = '--process-info';

/** Whether a tshark glossary has the per-packet process fields this server reads. Pure. */
export function glossaryHasProcessFields(glossary: Pick<Glossary, 'has'>): boolean {
  return glossary.has(PROCESS_PID_FIELD) && glossary.has(PROCESS_NAME_FIELD);
}

/** Whether `dumpcap -h` lists the --process-info option. Pure, for tests on recorded help text. */
export function helpListsProcessInfo(help: string): boolean {
  return /(?:^|[\s,[])--process-info(?![\w-])/m.test(help);
}

/**
 * Whether a Wireshark version can have --process-info: it came in the 4.7 development series, so
 * an older dumpcap's help is not read at all. An unknown version may. Pure.
 */
export function versionMayHaveProcessInfo(version: string | undefined): boolean {
  const m = version?.match(/^(\d+)\.(\d+)\./);
  if (!m) return true;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 4 || (major === 4 && minor >= 7);
}

/** How long dumpcap may take to print its help (it does at once). */
const HELP_TIMEOUT_MS = 5_000;

/** The answers read so far, by dumpcap binary: every server in this process shares them. */
const DUMPCAP_ANSWERS = new Map<string, Promise<boolean>>();

/**
 * Whether this dumpcap (of Wireshark `version`) can record process information: its help lists
 * the option. A dumpcap whose help says nothing in time counts as without it, and is not asked
 * again; one that could not be run is asked again next time.
 */
export function dumpcapHasProcessInfo(
  group: ProcessGroup,
  dumpcap: string,
  version: string | undefined,
): Promise<boolean> {
  if (!versionMayHaveProcessInfo(version)) return Promise.resolve(false);
  let answer = DUMPCAP_ANSWERS.get(dumpcap);
  if (answer === undefined) {
    answer = runCollect(group, {
      command: dumpcap,
      args: ['-h'],
      timeoutMs: HELP_TIMEOUT_MS,
      maxBytes: 256 * 1024,
      // A look at the help text, not a capture: it may run beside the analysis processes.
      limited: false,
    }).then(
      ({ stdout }) => helpListsProcessInfo(stdout),
      () => {
        DUMPCAP_ANSWERS.delete(dumpcap);
        return false;
      },
    );
    DUMPCAP_ANSWERS.set(dumpcap, answer);
  }
  return answer;
}
