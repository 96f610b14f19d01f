// Hands bytes to a tshark that reads a file path: a FIFO (named pipe) in the server's private
// directory. Node gives a child's stdin as a socket, and tshark refuses to read a capture from a
// socket; a FIFO is a real pipe. Our end is opened for writing only, which waits (in libuv's thread
// pool) until tshark opens its end, so no byte is written into a pipe nobody holds; if tshark exits
// without opening it, stop() opens the reading end itself to release that wait. Writing goes through
// a non-blocking stream at the pace tshark reads.
import { execFile } from 'node:child_process';
import { close, closeSync, constants, open, openSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
const WRITE_SIZE = 1024 * 1024;

/** Makes a FIFO at each of `paths` (mode 0600), with one run of the system's own mkfifo. */
export async function makeFifo(...paths: string[]): Promise<void> {
  await run('mkfifo', ['-m', '600', '--', ...paths], { timeout: 10_000 });
}

export interface FifoFeed {
  /** Settles when every byte has been written and the pipe closed, or the feed was stopped. */
  readonly done: Promise<void>;
  /** Stops writing (the reader has gone); resolves `done`. */
  stop(): void;
  /** Bytes written so far. */
  readonly written: () => number;
}

/**
 * Writes `head`, then bytes [from, to) of `file` (read in 1 MiB pieces into two reused buffers, at
 * the pace the reader takes them) into the FIFO at `fifo`, then closes it so the reader sees the end.
 */
export function feedFifo(fifo: string, head: Buffer, file: FileHandle, from: number, to: number): FifoFeed {
  return feedFifoPieces(fifo, [head, { from, to }], file);
}

/** A piece of what a FIFO is fed: bytes held, or bytes [from, to) of the file. */
export type FifoPiece = Buffer | { readonly from: number; readonly to: number };

/** Writes `pieces` in order into the FIFO at `fifo` (as feedFifo does), then closes it. */
export function feedFifoPieces(fifo: string, pieces: readonly FifoPiece[], file: FileHandle): FifoFeed {
  let stopped = false;
  let written = 0;
  let socket: net.Socket | undefined;
  const opened = new Promise<number>((resolve, reject) =>
    open(fifo, constants.O_WRONLY, (err, fd) => (err ? reject(err) : resolve(fd))),
  );
  // Settles once the piece has gone into the pipe (so its buffer may be reused), or the pipe closed.
  const send = (s: net.Socket, closed: Promise<never>, piece: Buffer): Promise<void> => {
    written += piece.length;
    const flushed = new Promise<void>((resolve, reject) =>
      s.write(piece, (err) => (err ? reject(err) : resolve())),
    );
    return Promise.race([flushed, closed]);
  };
  const done = (async () => {
    let fd: number;
    try {
      fd = await opened;
    } catch {
      return;
    }
    if (stopped) {
      close(fd, () => undefined);
      return;
    }
    const s = new net.Socket({ fd, readable: false, writable: true });
    socket = s;
    s.on('error', () => undefined);
    const closed = new Promise<never>((_, reject) => s.once('close', () => reject(new Error('closed'))));
    closed.catch(() => undefined);
    try {
      // Two buffers, reused: one is read into while the other drains into the pipe. A fresh buffer
      // per piece costs page faults, about a fifth of the feed's CPU.
      const largest = Math.max(1, ...pieces.map((p) => (Buffer.isBuffer(p) ? 0 : p.to - p.from)));
      const size = Math.min(WRITE_SIZE, largest);
      const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const;
      const flushed: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
      let i = 0;
      for (const p of pieces) {
        if (stopped) break;
        if (Buffer.isBuffer(p)) {
          if (p.length > 0) await send(s, closed, p);
          continue;
        }
        for (let at = p.from; at < p.to && !stopped; i ^= 1) {
          await flushed[i];
          const buffer = buffers[i as 0 | 1];
          const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, p.to - at), at);
          if (bytesRead === 0) break;
          at += bytesRead;
          const piece = send(s, closed, buffer.subarray(0, bytesRead));
          piece.catch(() => undefined); // awaited before the buffer is reused, or below
          flushed[i] = piece;
        }
        // A held piece next must not overtake the file's bytes still in flight.
        await Promise.all(flushed);
      }
      await Promise.all(flushed);
      if (!stopped) await new Promise<void>((resolve) => s.end(resolve));
    } catch {
      // The reader went away: nothing more to write.
    } finally {
      s.destroy();
    }
  })();
  return {
    done,
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (socket) {
        socket.destroy();
        return;
      }
      // tshark never opened its end: open it here, so that our pending open returns.
      try {
        const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        void done.finally(() => closeSync(reader));
      } catch {
        // Already open, or gone: nothing waits.
      }
    },
    written: () => written,
  };
}
