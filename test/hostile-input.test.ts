// Hostile values in every parameter that reaches a child process: nothing runs (a canary file is
// never created), and each gets a clear error that names the parameter.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';

describe('hostile input', () => {
  const server = useServer();
  let dir = '';
  let canary = '';
  let capture = '';
  let hostile: string[] = [];

  before(async () => {
    dir = server.dir;
    canary = path.join(dir, 'CANARY');
    capture = path.join(dir, 'empty.pcap');
    await writeFile(capture, EMPTY_PCAP);
    hostile = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `; touch ${canary}`,
      `' ; touch ${canary} ; '`,
      `" && touch ${canary} && "`,
      `| touch ${canary}`,
      `\ntouch ${canary}\n`,
      `-w ${canary}`,
      '--version',
      '-V',
    ];
  });

  const noCanary = (): void => assert.equal(existsSync(canary), false, 'a hostile value ran a command');

  it('displayFilter', async () => {
    for (const value of hostile) {
      const answer = await server.mcp.call('analyze_pcap_file', { filePath: capture, displayFilter: value });
      assert.equal(answer.isError, true, `${JSON.stringify(value)} was accepted:\n${answer.text}`);
      assert.match(
        answer.text,
        /displayFilter (is not a valid Wireshark display filter|contains a control character)/,
      );
      noCanary();
    }
  });

  it('customFields', async () => {
    for (const value of hostile) {
      const answer = await server.mcp.call('analyze_pcap_file', {
        filePath: capture,
        outputFormat: 'fields',
        customFields: `ip.src,${value}`,
      });
      assert.equal(answer.isError, true, `${JSON.stringify(value)} was accepted:\n${answer.text}`);
      assert.match(answer.text, /customFields/);
      noCanary();
    }
  });

  it('filePath', async () => {
    for (const value of hostile) {
      const answer = await server.mcp.call('analyze_pcap_file', { filePath: value });
      assert.equal(answer.isError, true, `${JSON.stringify(value)} was accepted:\n${answer.text}`);
      assert.match(answer.text, /filePath/);
      noCanary();
    }
  });

  it('sslKeylogFile', async () => {
    for (const value of hostile) {
      const answer = await server.mcp.call('analyze_pcap_file', { filePath: capture, sslKeylogFile: value });
      assert.equal(answer.isError, true, `${JSON.stringify(value)} was accepted:\n${answer.text}`);
      assert.match(answer.text, /sslKeylogFile/);
      noCanary();
    }
  });

  it('decodeAs: a rule that tries to smuggle an option or a command is refused', async () => {
    const rules = [
      ...hostile,
      ...hostile.map((v) => `tcp.port==9000,${v}`),
      ...hostile.map((v) => `${v}==9000,http`),
      `tcp.port==9000,http -o tls.keylog_file:${canary}`,
      `tcp.port==9000,http\n-w\n${canary}`,
      'tcp.port==9000,http -r /etc/passwd',
    ];
    for (const rule of rules) {
      for (const tool of ['analyze_pcap_file', 'inspect_protocol'] as const) {
        const answer = await server.mcp.call(tool, {
          ...(tool === 'analyze_pcap_file' ? { filePath: capture } : { source: capture, kind: 'http' }),
          decodeAs: [rule],
        });
        assert.equal(answer.isError, true, `${tool} ${JSON.stringify(rule)} was accepted:\n${answer.text}`);
        assert.match(answer.text, /decodeAs\[0\]/);
        noCanary();
      }
    }
  });

  it('preferences: values that inject options or name files are refused', async () => {
    const settings = [
      ...hostile,
      ...hostile.map((v) => `tcp.desegment_tcp_streams:${v}`),
      ...hostile.map((v) => `tcp.default_window_scaling:${v}`),
      ...hostile.map((v) => `tcp.port:${v}`),
      `tls.keylog_file:${canary}`,
      `tls.debug_file:${canary}`,
      `ssh.keylog_file:${canary}`,
      `ssh.debug_file:${canary}`,
      `wg.keylog_file:${canary}`,
      `mate.config:${canary}`,
      `snort.binary:/usr/bin/touch`,
      `snort.alerts_source:From running Snort`,
      `extcap.sshdump.logfile:${canary}`,
      `uat:user_dlts:"User 0 (DLT=147)","http","0","","0",""`,
      'gui.column.format:"No.","%m"',
      `nameres.network_name:TRUE`,
      `tcp.desegment_tcp_streams:FALSE -w ${canary}`,
    ];
    for (const setting of settings) {
      for (const tool of ['analyze_pcap_file', 'summarize_capture'] as const) {
        const answer = await server.mcp.call(tool, {
          ...(tool === 'analyze_pcap_file' ? { filePath: capture } : { source: capture }),
          preferences: [setting],
        });
        assert.equal(
          answer.isError,
          true,
          `${tool} ${JSON.stringify(setting)} was accepted:\n${answer.text}`,
        );
        assert.match(answer.text, /preferences\[0\]/);
        noCanary();
      }
    }
    // A saved configuration cannot carry one either.
    const saved = await server.mcp.call('manage_config', {
      action: 'save',
      name: 'hostile-prefs',
      config: { preferences: [`tls.keylog_file:${canary}`], decodeAs: [`tcp.port==1,http -w ${canary}`] },
    });
    assert.equal(saved.isError, true, saved.text);
    noCanary();
  });

  it('real files whose names look like commands are just files', async () => {
    const oddCapture = path.join(dir, `$(touch ${path.basename(canary)}); x.pcap`);
    const oddKeylog = path.join(dir, `\`touch ${path.basename(canary)}\` -o x.txt`);
    await writeFile(oddCapture, EMPTY_PCAP);
    // A keylog line with a secret, so the file is taken as a keylog (one without secrets is
    // reported as decrypting nothing: test/keylog.test.ts).
    await writeFile(oddKeylog, `CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}\n`);
    const answer = await server.mcp.call('analyze_pcap_file', {
      filePath: oddCapture,
      sslKeylogFile: oddKeylog,
    });
    assert.equal(answer.isError, false, answer.text);
    assert.match(answer.text, /The capture file holds 0 packets/);
    assert.match(answer.text, /SSL Decryption: Enabled/);
    noCanary();
  });

  it('captureFilter, interface and sessionName', async (t) => {
    if (!(await requireCapture(t))) return;
    for (const value of hostile) {
      for (const key of ['captureFilter', 'interface', 'sessionName']) {
        const answer = await server.mcp.call('start_capture_session', { [key]: value, timeout: 1 });
        assert.equal(answer.isError, true, `${key} ${JSON.stringify(value)} was accepted:\n${answer.text}`);
        noCanary();
      }
    }
    const listed = await server.mcp.call('list_capture_sessions', {});
    assert.match(listed.text, /No capture sessions/);
  });

  it('configuration names', async () => {
    for (const value of hostile) {
      const answer = await server.mcp.call('manage_config', {
        action: 'save',
        name: value.slice(0, 64),
        config: {},
      });
      assert.equal(answer.isError, true, `${JSON.stringify(value)} was accepted:\n${answer.text}`);
      assert.match(answer.text, /is not allowed/);
    }
    noCanary();
  });

  it('export_packets and export_objects: displayFilter and saveTo', async () => {
    for (const value of hostile) {
      const filtered = await server.mcp.call('export_packets', {
        source: capture,
        displayFilter: value,
        saveTo: path.join(dir, 'out.pcapng'),
      });
      assert.equal(filtered.isError, true, `${JSON.stringify(value)} was accepted:\n${filtered.text}`);
      assert.match(filtered.text, /displayFilter/);
      for (const tool of ['export_packets', 'export_objects']) {
        const answer = await server.mcp.call(tool, {
          source: capture,
          ...(tool === 'export_packets' ? { displayFilter: 'frame' } : { protocol: 'http' }),
          saveTo: value,
        });
        assert.equal(answer.isError, true, `${tool} ${JSON.stringify(value)} was accepted:\n${answer.text}`);
        assert.match(answer.text, /saveTo/);
        noCanary();
      }
    }
    assert.equal(existsSync(path.join(dir, 'out.pcapng')), false);
  });

  it('a saveTo whose name looks like a command is just a name', async () => {
    const odd = path.join(dir, `$(touch ${path.basename(canary)}); objects`);
    const answer = await server.mcp.call('export_objects', {
      source: capture,
      protocol: 'http',
      saveTo: odd,
    });
    assert.equal(answer.isError, false, answer.text);
    assert.match(answer.text, /0 objects/);
    noCanary();
  });
});
