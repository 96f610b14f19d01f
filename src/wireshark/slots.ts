// The cap on Wireshark processes that analyse (tshark, capinfos, editcap, mergecap, extcap listings:
// everything but dumpcap, whose captures the session cap bounds) running at once, and the queue of
// those waiting for a slot.
//
// A slot is held by one process from its start to its exit, never by a call that waits between its
// processes, so no process holding a slot ever waits for another slot and no mix of calls can
// deadlock (a summary's workers, its capinfos, an argument check before a run: each takes a slot of
// its own when it starts and gives it back when it ends). The queue is served in order of calls,
// not of processes: a process of a call that arrived earlier goes before every process of a later
// call, so a call that has begun finishes its next steps before new calls start theirs, and a call
// waits once behind the calls ahead of it rather than once per step. The call a process belongs to
// is known from the async context the tool handler runs in (withinCall), so the analysis code does
// not carry it around; a process started outside any call lines up as a call of its own.
//
// Time limits count from a process's start, not while it waits: a limit bounds the work of one
// tshark, and counting the wait would turn a busy server into truncated or failed answers rather
// than slower ones. The wait is bounded by the processes ahead (each has its own limit), and the
// client can cancel a call that waits longer than it will: its abort signal takes it out of the queue.
import { AsyncLocalStorage } from 'node:async_hooks';
import os from 'node:os';

/** Where a waiting call stands. */
export interface WaitNotice {
  /** Other calls with processes waiting ahead of this call's. */
  readonly ahead: number;
  /** The cap, all of which is in use. */
  readonly capacity: number;
}

/** "waiting for a tshark slot: 2 calls ahead (4 of 4 slots in use)". */
export function describeWait(notice: WaitNotice): string {
  const calls = notice.ahead === 1 ? 'call' : 'calls';
  return `waiting for a tshark slot: ${notice.ahead} ${calls} ahead (${notice.capacity} of ${notice.capacity} slots in use)`;
}

/** Memory allowed for each slot of the default cap: a summary worker grows to about 0.4 GB. */
const SLOT_MEMORY_BYTES = 512 * 1024 * 1024;

/**
 * The default cap: two processes per core (a tshark spends part of its run starting up or writing
 * output, so two keep a core busy), at most as many as fit in half the memory at 512 MB each, and
 * at least 2 (so one long run cannot hold up every other call). 4 on 2 cores with 2 GB or more.
 */
export function defaultProcessCap(
  cores: number = os.availableParallelism(),
  memoryBytes: number = os.totalmem(),
): number {
  return Math.max(2, Math.min(2 * cores, Math.floor(memoryBytes / 2 / SLOT_MEMORY_BYTES)));
}

/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

interface Call {
  /** Place in line: earlier calls are served first. */
  readonly order: number;
  readonly onWait: ((notice: WaitNotice) => void) | undefined;
  ended: boolean;
  /** The last `ahead` told to onWait while the call waits. */
  told: number | undefined;
}

interface Waiter {
  readonly call: Call;
  readonly seq: number;
  readonly grant: (release: Release | undefined) => void;
}

/** A place in the queue: `granted` settles with a slot, or undefined when the wait was given up. */
export interface Wait {
  readonly granted: Promise<Release | undefined>;
  /** Leaves the queue (granted then settles undefined); does nothing once a slot was given. */
  cancel(): void;
}

export class ProcessSlots {
  private used = 0;
  /** Sorted by call order, then by arrival. */
  private readonly waiting: Waiter[] = [];
  private readonly calls = new AsyncLocalStorage<Call>();
  private nextOrder = 0;
  private nextSeq = 0;
  /**
   * What a finished call left to run (the count of a capture whose session ends, after the call
   * that started it): bookkeeping that calls in line may wait for (stop_capture_session waits for
   * its session to settle), so it goes first.
   */
  private readonly leftovers: Call = { order: -1, onWait: undefined, ended: false, told: undefined };

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity} < 1`);
  }

  /** Slots held now. */
  get inUse(): number {
    return this.used;
  }

  /** Processes waiting now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `fn` as one call: the processes it starts (in any async continuation of it) keep its place
   * in line, and `onWait` hears where it stands whenever one of them waits and its place changes.
   */
  async withinCall<T>(onWait: ((notice: WaitNotice) => void) | undefined, fn: () => Promise<T>): Promise<T> {
    const call: Call = { order: this.nextOrder++, onWait, ended: false, told: undefined };
    try {
      return await this.calls.run(call, fn);
    } finally {
      call.ended = true;
    }
  }

  /** A slot at once when one is free (then nobody waits, as a freed slot goes to the first waiter). */
  tryAcquire(): Release | undefined {
    if (this.used >= this.capacity) return undefined;
    this.used++;
    return this.releaser();
  }

  /** A place in line for a slot, behind every process of an earlier call. */
  wait(signal?: AbortSignal): Wait {
    const now = this.tryAcquire();
    if (now) return { granted: Promise.resolve(now), cancel: () => undefined };
    if (signal?.aborted) return { granted: Promise.resolve(undefined), cancel: () => undefined };
    const current = this.calls.getStore();
    const call: Call =
      current === undefined
        ? { order: this.nextOrder++, onWait: undefined, ended: false, told: undefined }
        : current.ended
          ? this.leftovers
          : current;
    let settle!: (release: Release | undefined) => void;
    const granted = new Promise<Release | undefined>((resolve) => (settle = resolve));
    const onAbort = (): void => leave();
    const waiter: Waiter = {
      call,
      seq: this.nextSeq++,
      grant: (release) => {
        signal?.removeEventListener('abort', onAbort);
        settle(release);
      },
    };
    const leave = (): void => {
      const at = this.waiting.indexOf(waiter);
      if (at === -1) return;
      this.waiting.splice(at, 1);
      if (!this.waiting.some((w) => w.call === call)) call.told = undefined;
      waiter.grant(undefined);
      this.tell();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const at = this.waiting.findIndex(
      (w) => w.call.order > call.order || (w.call.order === call.order && w.seq > waiter.seq),
    );
    this.waiting.splice(at === -1 ? this.waiting.length : at, 0, waiter);
    this.tell();
    return { granted, cancel: leave };
  }

  /** Empties the queue: every waiter's `granted` settles undefined. */
  cancelAll(): void {
    for (const waiter of this.waiting.splice(0)) waiter.grant(undefined);
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) {
        // The slot passes straight on: `used` stays, so no one can take it in between.
        next.call.told = this.waiting.some((w) => w.call === next.call) ? next.call.told : undefined;
        next.grant(this.releaser());
        this.tell();
      } else {
        this.used--;
      }
    };
  }

  /** Tells each waiting call how many calls wait ahead of it, when that has changed. */
  private tell(): void {
    let ahead = 0;
    let previous: Call | undefined;
    for (const { call } of this.waiting) {
      if (call === previous) continue;
      if (previous !== undefined) ahead++;
      previous = call;
      if (call.told === ahead) continue;
      call.told = ahead;
      call.onWait?.({ ahead, capacity: this.capacity });
    }
  }
}
