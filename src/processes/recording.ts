// One capture's process recording: the shared sampler's news written into the capture's sidecar
// from the moment capture begins until it ends. Stopping it leaves the sampler to the other
// sessions (or stops it, when this was the last) and closes the sidecar with what sampling cost.
import type { SamplerFigures, SocketSampler } from './sampler.js';
import { POLL_MS } from './sampler.js';
import { SidecarWriter } from './sidecar.js';

export class ProcessRecording {
  private stopped = false;

  private constructor(
    private readonly writer: SidecarWriter,
    private readonly unwatch: () => SamplerFigures,
    private readonly before: SamplerFigures,
  ) {}

  /** Starts recording beside `captureFile`; undefined when the sidecar cannot be made. */
  static start(sampler: SocketSampler, captureFile: string): ProcessRecording | undefined {
    let writer: SidecarWriter;
    try {
      writer = SidecarWriter.create(captureFile, POLL_MS);
    } catch {
      return undefined; // the folder is gone or the name taken: the capture goes on without
    }
    const before = sampler.current();
    return new ProcessRecording(writer, sampler.watch(writer), before);
  }

  get counts(): { sockets: number; processes: number; capped: boolean } {
    return this.writer.counts;
  }

  /** Stops recording and closes the sidecar; a second call does nothing. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const after = this.unwatch();
    // The sampler may have run for other sessions before (an idle one counts zero): this capture's
    // share is the difference.
    this.writer.finish({
      ...after,
      polls: after.polls - this.before.polls,
      walks: after.walks - this.before.walks,
      cpuMicros: after.cpuMicros - this.before.cpuMicros,
      walkMicros: after.walkMicros - this.before.walkMicros,
      searchMicros: after.searchMicros - this.before.searchMicros,
      sampledMs: after.sampledMs - this.before.sampledMs,
      processesScanned: after.processesScanned - this.before.processesScanned,
      linksRead: after.linksRead - this.before.linksRead,
      fullScans: after.fullScans - this.before.fullScans,
      helperMicros: after.helperMicros - this.before.helperMicros,
      slowedMs: after.slowedMs - this.before.slowedMs,
    });
  }
}
