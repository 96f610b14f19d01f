// A control character (NUL, newline, escape, ...) in a string that would reach tshark or dumpcap is
// refused with a message that names the parameter, in a call and in a saved configuration alike;
// it never turns into "tshark could not be started (TypeError ...)".
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { CONFIG_FILE_NAME } from '../src/config/config-store.js';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { useServer } from './helpers/in-process.js';

const CONTROL = ['\u0000', '\n', '\u001b', '\u007f'];

function assertNamed(answer: { isError: boolean; text: string }, param: string): void {
  assert.equal(answer.isError, true, answer.text);
  assert.match(
    answer.text,
    new RegExp(
      `${param.replace('.', '\\.')}( \\(from saved configuration '\\w+'\\))? contains a control character`,
    ),
  );
  assert.match(answer.text, /plain text/);
  assert.doesNotMatch(answer.text, /could not be started|TypeError|not a valid/);
}

describe('control characters in parameters', () => {
  const server = useServer();
  let capture = '';
  before(async () => {
    capture = path.join(server.dir, 'empty.pcap');
    await writeFile(capture, EMPTY_PCAP);
  });

  it('displayFilter and customFields of the analysis tools', async () => {
    for (const c of CONTROL) {
      assertNamed(
        await server.mcp.call('analyze_pcap_file', { filePath: capture, displayFilter: `tcp${c}` }),
        'displayFilter',
      );
      assertNamed(
        await server.mcp.call('inspect_protocol', {
          source: capture,
          kind: 'http',
          displayFilter: `http${c}`,
        }),
        'displayFilter',
      );
      assertNamed(
        await server.mcp.call('analyze_pcap_file', {
          filePath: capture,
          outputFormat: 'fields',
          customFields: `ip.src,ip.dst${c}`,
        }),
        'customFields',
      );
    }
  });

  it('captureFilter and interface of a capture, before dumpcap is run', async () => {
    for (const c of CONTROL) {
      assertNamed(
        await server.mcp.call('start_capture_session', { captureFilter: `udp port 9${c}` }),
        'captureFilter',
      );
      assertNamed(await server.mcp.call('start_capture_session', { interface: `lo${c}` }), 'interface');
    }
  });

  it('manage_config save refuses them, and a configuration file holding one is named', async () => {
    for (const field of ['captureFilter', 'displayFilter', 'customFields', 'interface']) {
      const answer = await server.mcp.call('manage_config', {
        action: 'save',
        name: 'bad',
        config: { [field]: `ip.src\u0000` },
      });
      assertNamed(answer, `config.${field}`);
    }
    const list = await server.mcp.call('manage_config', { action: 'list' });
    assert.match(list.text, /No saved configurations found/);

    // Written by hand (or by an older server): the call that uses it says where the character is.
    const dir = path.join(server.dir, 'config');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, CONFIG_FILE_NAME),
      JSON.stringify({ version: '1.0.0', configs: { nul: { displayFilter: 'tcp\u0000' } } }),
    );
    assertNamed(
      await server.mcp.call('analyze_pcap_file', { filePath: capture, configName: 'nul' }),
      'displayFilter',
    );
  });
});
