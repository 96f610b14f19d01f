// Where a capture's processes come from (issue 17, point 2): Wireshark's own per-packet process
// information (frame.process.*, recorded by `dumpcap --process-info` from Wireshark 4.7 on) where
// tshark has those fields and the packets carry them, else this server's socket sidecar. What can
// run here runs for real: the installed tools are asked whether they have the fields and the option
// (each answer checked against the tool's own glossary and help, read by the test), and a capture
// session made through a real MCP client says which record it keeps and which one its answers read.
// The field path's pure parts (the choice, the filter, the grouping) are tested on data shaped as
// tshark prints those fields, since no tshark here has them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import {
  chooseProcessRecord,
  parseProcessPackets,
  pidFilter,
  processesOf,
  SIDECAR_ORIGIN,
  summarizeProcessPackets,
  WIRESHARK_FIELDS,
  WIRESHARK_ORIGIN,
} from '../src/analysis/process-record.js';
import { AGGREGATOR } from '../src/analysis/digests/fields.js';
import type { Conversation } from '../src/analysis/summary/types.js';
import { dumpcapArgs } from '../src/capture/dumpcap.js';
import { processRecordText } from '../src/capture/session-view.js';
import { Glossary } from '../src/wireshark/glossary.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import {
  dumpcapHasProcessInfo,
  glossaryHasProcessFields,
  helpListsProcessInfo,
  versionMayHaveProcessInfo,
} from '../src/wireshark/process-info.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/mcp-client.js';
import { close, listen } from './helpers/traffic.js';

const run = promisify(execFile);

/** This suite's loopback range (127.83.77.0/24): its server and its client's source address. */
const SERVER_HOST = '127.83.77.201';
const CLIENT_HOST = '127.83.77.202';

/** A `tshark -G fields` line, as tshark prints a field: F, name, abbreviation, type, protocol, ... */
const fieldLine = (name: string, field: string, type: string): string =>
  ['F', name, field, type, field.split('.')[0] ?? '', 'BASE_DEC', '0x0', ''].join('\t');

/** The process fields as Wireshark's frame dissector registers them (packet-frame.c). */
const WIRESHARK_47_FIELDS = [
  fieldLine('Process information', 'frame.process', 'FT_NONE'),
  fieldLine('Process ID', 'frame.process.pid', 'FT_UINT32'),
  fieldLine('Thread ID', 'frame.process.tid', 'FT_UINT32'),
  fieldLine('Process name', 'frame.process.name', 'FT_STRING'),
];
const OLDER_FIELDS = [
  fieldLine('Frame Number', 'frame.number', 'FT_UINT32'),
  // Apple's per-packet process fields (Wireshark 4.6) are not the ones dumpcap writes on Linux.
  fieldLine('Id', 'frame.darwin.process_info.pid', 'FT_UINT32'),
  fieldLine('Name', 'frame.darwin.process_info.pname', 'FT_STRING'),
];

/** One line of a pass over WIRESHARK_FIELDS, from the values given (others empty). */
function passLine(values: Readonly<Record<string, string | undefined>>): string {
  return WIRESHARK_FIELDS.map((f) => values[f] ?? '').join('\t');
}

function conversation(kind: 'tcp' | 'udp', a: string, b: string, bytes: number): Conversation {
  return {
    kind,
    a,
    b,
    frames: 1,
    framesAToB: 1,
    framesBToA: 0,
    bytes,
    startSeconds: 0,
    durationSeconds: 0,
  };
}

describe('the choice of a process record', () => {
  it('reads the frame.process fields only where tshark has them and the packets carry them', () => {
    const newer = Glossary.parse([...OLDER_FIELDS, ...WIRESHARK_47_FIELDS].join('\n'));
    const older = Glossary.parse(OLDER_FIELDS.join('\n'));
    assert.equal(glossaryHasProcessFields(newer), true);
    assert.equal(glossaryHasProcessFields(older), false, 'the Darwin fields are not them');
    for (const glossary of [newer, older]) {
      for (const packetsCarryThem of [true, false]) {
        for (const hasSidecar of [true, false]) {
          const tsharkHasFields = glossaryHasProcessFields(glossary);
          const chosen = chooseProcessRecord({ tsharkHasFields, packetsCarryThem, hasSidecar });
          const expected =
            tsharkHasFields && packetsCarryThem ? 'wireshark' : hasSidecar ? 'sidecar' : undefined;
          assert.equal(chosen, expected, JSON.stringify({ tsharkHasFields, packetsCarryThem, hasSidecar }));
        }
      }
    }
  });

  it('passes --process-info to a dumpcap whose help lists it, and says which record a session keeps', () => {
    // The option as dumpcap's manual writes it (doc/man_pages/dumpcap.adoc).
    assert.equal(helpListsProcessInfo('  --process-info[=basic|full]\n'), true);
    assert.equal(helpListsProcessInfo('  --process-info           record processes\n'), true);
    assert.equal(helpListsProcessInfo('  --process-information-x\n  -p, --no-promiscuous-mode\n'), false);
    // It came in the 4.7 development series: an older dumpcap's help is not read.
    assert.deepEqual(
      ['4.0.17', '4.6.2', '4.7.0', '4.8.1', '5.0.0', undefined].map(versionMayHaveProcessInfo),
      [false, false, true, true, true, true],
    );
    const base = { interface: 'lo', file: '/tmp/x.pcapng' };
    assert.ok(dumpcapArgs({ ...base, processInfo: true }).includes('--process-info'));
    assert.ok(!dumpcapArgs({ ...base, processInfo: false }).includes('--process-info'));
    assert.match(
      processRecordText({ inFile: true, sidecar: true }),
      /frame\.process\.\*.*and this server's socket record/,
    );
    assert.match(
      processRecordText({ inFile: false, sidecar: true }),
      /^this server's socket record .*cannot record/,
    );
  });

  it('filters on the packets own process ids, and groups packets, bytes and conversations by them', () => {
    assert.equal(pidFilter([4321]), 'frame.process.pid == 4321');
    assert.equal(pidFilter([77, 4321, 77]), 'frame.process.pid in {77,4321}');
    // Names pair with ids only where the lists are as long: an undescribed process has no name.
    assert.deepEqual(processesOf(`12${AGGREGATOR}34`, `curl${AGGREGATOR}node`), {
      pids: [12, 34],
      names: new Map([
        [12, 'curl'],
        [34, 'node'],
      ]),
    });
    assert.deepEqual(processesOf(`12${AGGREGATOR}0${AGGREGATOR}34`, 'curl'), {
      pids: [12, 34],
      names: new Map(),
    });

    const curlToServer = {
      'tcp.srcport': '40000',
      'tcp.dstport': '80',
      'ip.src': '127.0.0.1',
      'ip.dst': '127.0.0.2',
    };
    const packets: Record<string, string>[] = [
      // A loopback packet: its sender and its receiver, both on this host.
      {
        'frame.number': '1',
        'frame.len': '100',
        ...curlToServer,
        'frame.process.pid': `12${AGGREGATOR}34`,
        'frame.process.name': `curl${AGGREGATOR}node`,
      },
      {
        'frame.number': '2',
        'frame.len': '60',
        ...curlToServer,
        'frame.process.pid': '12',
        'frame.process.name': 'curl',
      },
      // A UDP datagram of node alone.
      {
        'frame.number': '3',
        'frame.len': '80',
        'udp.srcport': '5353',
        'udp.dstport': '53',
        'ip.src': '127.0.0.2',
        'ip.dst': '127.0.0.3',
        'frame.process.pid': '34',
        'frame.process.name': 'node',
      },
    ];
    const text = `${packets.map(passLine).join('\n')}\n`;
    const read = parseProcessPackets(text, false);
    assert.equal(read.packets.length, packets.length);
    const conversations = [
      conversation('tcp', '127.0.0.2:80', '127.0.0.1:40000', 160),
      conversation('udp', '127.0.0.2:5353', '127.0.0.3:53', 80),
      conversation('tcp', '10.0.0.1:1', '10.0.0.2:2', 500),
    ];
    const summary = summarizeProcessPackets(read, conversations, 10);
    const byPid = new Map(summary.rows.map((r) => [r.pid, r]));
    assert.deepEqual(
      { ...byPid.get(12) },
      { pid: 12, comm: 'curl', user: null, cmdline: '', conversations: 1, frames: 2, bytes: 160 },
    );
    assert.deepEqual(
      { ...byPid.get(34) },
      { pid: 34, comm: 'node', user: null, cmdline: '', conversations: 2, frames: 2, bytes: 180 },
    );
    assert.equal(summary.source, 'wireshark');
    assert.equal(summary.unattributedConversations, 1);
    assert.equal(summary.unattributedBytes, 500);
    // A pass cut at its bound drops its last, partial line and says it is incomplete.
    const cut = parseProcessPackets(text.slice(0, text.length - 5), true);
    assert.equal(cut.packets.length, packets.length - 1);
    assert.equal(cut.complete, false);
  });
});

describe('process records with the Wireshark installed here', () => {
  const server = useServer();

  it("asks tshark's glossary and dumpcap's help, agrees with them, and answers alike when asked again", async () => {
    const group = new ProcessGroup();
    try {
      const tools = await locateWiresharkTools(group);
      const tshark = tools.require('tshark');
      const dumpcap = tools.require('dumpcap');
      // Read by the test itself: the glossary's abbreviation column, dumpcap's help.
      const glossary = (await run(tshark, ['-G', 'fields'], { maxBuffer: 256 * 1024 * 1024 })).stdout;
      const has = (field: string): boolean => glossary.includes(`\t${field}\t`);
      const fieldsThere = has('frame.process.pid') && has('frame.process.name');
      const help = (await run(dumpcap, ['-h'])).stdout;
      const optionThere = /--process-info\b/.test(help);
      assert.equal(glossaryHasProcessFields(Glossary.parse(glossary)), fieldsThere);
      const status = tools.status('dumpcap');
      const version = status.found ? status.version : undefined;
      assert.equal(await dumpcapHasProcessInfo(group, dumpcap, version), optionThere);
      assert.equal(
        await dumpcapHasProcessInfo(group, dumpcap, version),
        optionThere,
        'asked again: the same',
      );
      // Its help is read whatever its version says, where the version is not known.
      assert.equal(await dumpcapHasProcessInfo(group, dumpcap, undefined), optionThere);
      if (version !== undefined && !versionMayHaveProcessInfo(version)) {
        assert.equal(fieldsThere, false, `tshark ${version} has no frame.process fields`);
        assert.equal(optionThere, false, `dumpcap ${version} has no --process-info`);
      }
    } finally {
      await group.close();
    }
  });

  it('a session says which record it keeps, and its answers which record they read', async (t) => {
    if (process.platform !== 'linux') return t.skip('the socket sampler is Linux only');
    if (!(await requireCapture(t))) return;
    const { mcp } = server;
    const group = new ProcessGroup();
    let fieldsThere: boolean;
    let optionThere: boolean;
    try {
      const tools = await locateWiresharkTools(group);
      const glossary = (
        await run(tools.require('tshark'), ['-G', 'fields'], { maxBuffer: 256 * 1024 * 1024 })
      ).stdout;
      fieldsThere = glossary.includes('\tframe.process.pid\t');
      optionThere = /--process-info\b/.test((await run(tools.require('dumpcap'), ['-h'])).stdout);
    } finally {
      await group.close();
    }
    const web = http.createServer((_req, res) => res.end('hello'));
    const at = await listen(web, SERVER_HOST);
    try {
      const started = await mcp.call('start_capture_session', {
        interface: 'lo',
        captureFilter: `host ${SERVER_HOST}`,
        timeout: 60,
        sessionName: 'process-record',
      });
      assert.equal(started.isError, false, started.text);
      const kept = (started.structured as { processRecord: string }).processRecord;
      t.diagnostic(`kept: ${kept}`);
      assert.match(started.text, new RegExp(`^Process record: ${escape(kept)}$`, 'm'));
      if (optionThere) assert.match(kept, /dumpcap --process-info/);
      else assert.match(kept, /^this server's socket record .*cannot record process information itself/);
      for (const path of ['/one', '/two']) await get(at.port, path);
      await delay(300); // the last packets reach the capture, the sampler its last walk
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'process-record' });
      assert.equal(stopped.isError, false, stopped.text);
      assert.match(stopped.text, new RegExp(`^Process record: ${escape(kept)}$`, 'm'));
    } finally {
      await close(web);
    }

    // Without the fields in this tshark, every answer reads the sidecar, and says so.
    const origin = fieldsThere && optionThere ? WIRESHARK_ORIGIN : SIDECAR_ORIGIN;
    if (fieldsThere && optionThere) t.diagnostic('this tshark and dumpcap have process information');
    const summary = await mcp.call('summarize_capture', { source: 'process-record' });
    assert.equal(summary.isError, false, summary.text);
    assert.match(summary.text, new RegExp(`^Local processes by bytes .*${escape(origin)}`, 'm'));
    t.diagnostic(
      `summary: ${summary.text.split('\n').find((l) => l.startsWith('Local processes by bytes')) ?? ''}`,
    );
    const processes = (summary.structured as { processes?: { source: string; rows: { pid: number }[] } })
      .processes;
    assert.ok(processes, 'a process summary');
    assert.equal(processes.source, origin === WIRESHARK_ORIGIN ? 'wireshark' : 'sidecar');
    assert.ok(
      processes.rows.some((r) => r.pid === process.pid),
      'this test process is among them',
    );

    const digest = await mcp.call('inspect_protocol', { source: 'process-record', kind: 'http' });
    assert.equal(digest.isError, false, digest.text);
    assert.match(digest.text, new RegExp(`^Process record: ${escape(origin)}$`, 'm'));
    const rows = (digest.structured as { rows: { uri?: string; process?: string }[] }).rows;
    assert.deepEqual(rows.map((r) => r.uri).sort(), ['/one', '/two']);
    assert.ok(
      rows.every((r) => r.process?.includes(`node[${process.pid}]`)),
      JSON.stringify(rows),
    );

    const narrowed = await mcp.call('inspect_protocol', {
      source: 'process-record',
      kind: 'http',
      process: process.pid,
    });
    assert.equal(narrowed.isError, false, narrowed.text);
    assert.match(narrowed.text, new RegExp(`^Process record: ${escape(origin)}$`, 'm'));
    assert.equal((narrowed.structured as { rows: unknown[] }).rows.length, 2);
  });
});

/** One GET from CLIENT_HOST on a fresh connection. */
function get(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: SERVER_HOST, port, path, localAddress: CLIENT_HOST, agent: false },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
  });
}

/** A string as a regular expression that matches it. */
function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
