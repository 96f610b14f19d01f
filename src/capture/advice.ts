// Turns dumpcap's reasons for not capturing into advice that says what to do next.
import type { LocalInterface } from './interfaces.js';

export type CaptureProblem = 'permission' | 'noSuchInterface' | 'badFilter' | 'other';

export function classifyCaptureError(message: string): CaptureProblem {
  if (/permission|not permitted|Operation not permitted|EPERM|access denied/i.test(message))
    return 'permission';
  if (
    /no device named|No such device|doesn't exist|There is no interface|is not a valid interface|Invalid capture device/i.test(
      message,
    )
  )
    return 'noSuchInterface';
  if (/filter/i.test(message) && /syntax|parse|invalid|can't/i.test(message)) return 'badFilter';
  return 'other';
}

export function permissionAdvice(dumpcapPath: string): string {
  switch (process.platform) {
    case 'darwin':
      return 'On macOS, install ChmodBPF (it comes with the Wireshark installer, or: brew install --cask wireshark-chmodbpf), then log out and in again.';
    case 'win32':
      return 'On Windows, install Npcap (it comes with the Wireshark installer) and allow non-administrators to capture.';
    default:
      return `On Linux, either add the user that runs SharkMCP to the "wireshark" group (Debian/Ubuntu: sudo dpkg-reconfigure wireshark-common and answer Yes, then sudo usermod -aG wireshark $USER and log in again), or give dumpcap the capture capabilities: sudo setcap cap_net_raw,cap_net_admin=eip ${dumpcapPath}`;
  }
}

export function describeInterfaces(interfaces: readonly LocalInterface[]): string {
  if (interfaces.length === 0) return 'dumpcap lists no interface here.';
  return `Interfaces here: ${interfaces
    .map(
      (i) =>
        `${i.name}${i.loopback ? ' (loopback)' : ''}${i.addresses.length > 0 ? ` [${i.addresses.join(', ')}]` : ''}`,
    )
    .join(', ')}. list_interfaces shows them all.`;
}

/** The whole message for a capture that could not start. */
export function captureFailureMessage(
  dumpcapMessage: string,
  context: {
    interface: string;
    captureFilter: string | undefined;
    dumpcapPath: string;
    interfaces: readonly LocalInterface[] | undefined;
    /** What dumpcap's message is about, when its kind of message already says so. */
    problem?: CaptureProblem | undefined;
  },
): string {
  const said = `dumpcap says: ${dumpcapMessage.trim()}`;
  switch (context.problem ?? classifyCaptureError(dumpcapMessage)) {
    case 'permission':
      return `No permission to capture on "${context.interface}". ${said}\n${permissionAdvice(context.dumpcapPath)}`;
    case 'noSuchInterface':
      return `There is no interface "${context.interface}". ${said}\n${context.interfaces ? describeInterfaces(context.interfaces) : 'list_interfaces shows the real ones.'}`;
    case 'badFilter':
      return `captureFilter ${JSON.stringify(context.captureFilter ?? '')} is not a valid capture (BPF) filter. ${said}\nCapture filters use libpcap syntax, e.g. "tcp port 8080", "udp port 53", "host 127.0.0.1 and tcp".`;
    case 'other':
      return `The capture could not start on "${context.interface}". ${said}`;
  }
}
