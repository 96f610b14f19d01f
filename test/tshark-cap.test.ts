// The cap on Wireshark analysis processes, through a real MCP client against a server (in this
// process) started with SHARKMCP_MAX_TSHARK=2: a dozen analyses at once never run more than two of
// them (the server's children, sampled from /proc), all answer as tshark alone does, a waiting call
// says so through progress, and a cancelled waiting call never runs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { childPids, commandLine, programName } from '../bench/proc.js';
import { sharedMixedCapture } from './helpers/fixtures.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { resultBody, useServer } from './helpers/in-process.js';

const run = promisify(execFile);
const CAP = 2;
const CALLS = 12;
const ANALYSIS_TOOLS = new Set(['tshark', 'capinfos', 'editcap', 'mergecap']);

/** Samples the server's children every few ms: the most analysis processes at once, and what ran. */
function sampleChildren(serverPid: number): { stop(): { most: number; commands: string[][] } } {
  let most = 0;
  const commands = new Map<number, string[]>();
  const timer = setInterval(() => {
    let now = 0;
    for (const pid of childPids(serverPid)) {
      if (!ANALYSIS_TOOLS.has(programName(pid) ?? '')) continue;
      now++;
      if (!commands.has(pid)) commands.set(pid, commandLine(pid) ?? []);
    }
    most = Math.max(most, now);
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return { most, commands: [...commands.values()] };
    },
  };
}

describe('cap on tshark processes', () => {
  const server = useServer({ SHARKMCP_MAX_TSHARK: String(CAP) });

  it('runs at most the cap at once, answers every call, says when a call waits, drops a cancelled one', async (t) => {
    if (!(await requireCapture(t))) return;
    const c = await sharedMixedCapture();
    // Big enough that each analysis takes a while, so the calls overlap.
    const big = path.join(server.dir, 'big.pcapng');
    await run('mergecap', ['-a', '-w', big, ...Array.from({ length: 200 }, () => c.file)]);
    const { stdout: counted } = await run('capinfos', ['-M', '-T', '-r', '-c', big]);
    const total = Number(counted.trim().split('\t').at(-1));
    const frames = Array.from({ length: CALLS }, (_, i) => 1 + Math.floor(((i + 0.5) * total) / CALLS));
    // What tshark alone prints for each of those frames.
    const { stdout: plain } = await run('tshark', [
      '-r',
      big,
      '-Y',
      `frame.number in {${frames.join(', ')}}`,
    ]);
    const expected = new Map(
      plain.split('\n').flatMap((l) => (l.trim() === '' ? [] : [[l.trim().split(/\s+/)[0], l]])),
    );
    assert.equal(expected.size, CALLS);

    const pid = server.mcp.pid;
    assert.ok(pid !== null);
    const sampler = sampleChildren(pid);
    const messages: string[] = [];
    const calls = frames.map((frame) =>
      server.mcp.client.callTool(
        {
          name: 'analyze_pcap_file',
          arguments: { filePath: big, displayFilter: `frame.number == ${frame}` },
        },
        { onprogress: (p) => messages.push(p.message ?? ''), timeout: 120_000 },
      ),
    );
    // One more call, last in line: cancelled as soon as it says it waits.
    const doomedFilter = `frame.number == ${total + 7}`;
    const cancel = new AbortController();
    let doomedWaited = false;
    const doomed = server.mcp.client
      .callTool(
        { name: 'analyze_pcap_file', arguments: { filePath: big, displayFilter: doomedFilter } },
        {
          signal: cancel.signal,
          timeout: 120_000,
          onprogress: (p) => {
            if (!/waiting for a tshark slot/.test(p.message ?? '')) return;
            doomedWaited = true;
            cancel.abort();
          },
        },
      )
      .then(
        () => 'answered',
        () => 'cancelled',
      );
    const answers = await Promise.all(calls);
    const { most, commands } = sampler.stop();

    assert.ok(most <= CAP, `${most} Wireshark processes ran at once (cap ${CAP})`);
    assert.equal(most, CAP, 'the calls overlapped enough to fill the cap');
    answers.forEach((answer, i) => {
      const text = (answer.content as { type: string; text?: string }[]).map((p) => p.text ?? '').join('\n');
      assert.equal(answer.isError ?? false, false, text);
      assert.equal(resultBody(text).trim(), expected.get(String(frames[i]))?.trim(), `frame ${frames[i]}`);
    });
    assert.ok(
      messages.some((m) => /^waiting for a tshark slot: \d+ calls? ahead/.test(m)),
      `no waiting notice among: ${[...new Set(messages)].slice(0, 5).join(' | ')}`,
    );
    assert.equal(await doomed, 'cancelled');
    assert.equal(doomedWaited, true, 'the last call waited for a slot');
    const ranDoomed = commands.filter((args) => args.some((a) => a.includes(doomedFilter)));
    assert.deepEqual(ranDoomed, [], 'the cancelled call never started a process');
    // The server still answers.
    const after = await server.mcp.call('analyze_pcap_file', { filePath: big, limit: 1 });
    assert.equal(after.isError, false, after.text);
  });
});
