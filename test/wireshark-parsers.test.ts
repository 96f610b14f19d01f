// Parsers of Wireshark tools' machine output and messages, on output recorded from tshark 4.0,
// dumpcap and capinfos.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncPipeReader } from '../src/capture/sync-pipe.js';
import { parsePacketCount } from '../src/wireshark/capinfos.js';
import { parseVersionBanner } from '../src/wireshark/locate.js';
import { classifyReadProblem, cleanStderr, parseArgumentProblem } from '../src/wireshark/tshark.js';
import { boundedEditDistance } from '../src/util/text.js';

const ROOT_WARNING = 'Running as user "root" and group "root". This could be dangerous.\n';

describe('tshark messages', () => {
  it('drops the root warning and the "tshark: " prefix', () => {
    assert.equal(
      cleanStderr(`${ROOT_WARNING}tshark: Unexpected end of filter expression.\n`),
      'Unexpected end of filter expression.',
    );
  });

  it('reads a display filter error with its pointer to the bad spot', () => {
    const stderr = `${ROOT_WARNING}tshark: foo.bar is neither a field nor a protocol name.\n    foo.bar\n    ^~~~~~~\n`;
    const p = parseArgumentProblem(stderr, true);
    assert.equal(p.kind, 'displayFilter');
    assert.match(p.message, /foo\.bar is neither a field nor a protocol name/);
    assert.match(p.message, /\^~~~~~~/);
  });

  it('names every invalid field', () => {
    const p = parseArgumentProblem(
      `${ROOT_WARNING}tshark: Some fields aren't valid:\n\tfoo.bar\n\thttp.hots\n`,
      true,
    );
    assert.deepEqual(p.kind === 'fields' ? p.invalid : [], ['foo.bar', 'http.hots']);
  });

  it('classifies read problems', () => {
    const name = '"/tmp/x.cap"';
    assert.equal(
      classifyReadProblem(`tshark: The file ${name} isn't a capture file in a format TShark understands.\n`)
        ?.kind,
      'notCapture',
    );
    assert.equal(
      classifyReadProblem(
        `tshark: The file ${name} appears to have been cut short in the middle of a packet.\n`,
      )?.kind,
      'truncated',
    );
    assert.equal(
      classifyReadProblem(
        `tshark: The file ${name} appears to be damaged or corrupt.\n(pcap: File has 3995445248-byte packet, bigger than maximum of 262144)\n`,
      )?.kind,
      'damaged',
    );
    assert.equal(classifyReadProblem(ROOT_WARNING), undefined);
  });
});

describe('tool output', () => {
  it('reads capinfos -M -T -r -c', () => {
    assert.equal(parsePacketCount('/tmp/a b\tc.pcap\t1234\n'), 1234);
    assert.equal(parsePacketCount(''), undefined);
    // A file damaged part-way: no count on stdout, the packets before the damage on stderr.
    assert.equal(
      parsePacketCount(
        '',
        'capinfos: An error occurred after reading 14 packets from "x.pcap".\ncapinfos: The file "x.pcap" appears to be damaged or corrupt.\n(pcap: File has 185207048-byte packet, bigger than maximum of 262144)\n',
      ),
      14,
    );
    // A file whose header is gone: nothing was read.
    assert.equal(
      parsePacketCount(
        '',
        'capinfos: The file "x.pcap" appears to be damaged or corrupt.\n(commview: NCFX data length 0 < 20)\n',
      ),
      undefined,
    );
  });

  it('reads version banners', () => {
    assert.equal(
      parseVersionBanner('TShark (Wireshark) 4.0.17 (Git v4.0.17 packaged as 4.0.17-0+deb12u3).\n'),
      '4.0.17',
    );
    assert.equal(parseVersionBanner('Dumpcap (Wireshark) 4.2.2 (Git v4.2.2)'), '4.2.2');
    assert.equal(parseVersionBanner('something else 1.2.3'), undefined);
  });

  it('reads dumpcap sync-pipe messages however they are chunked', () => {
    // Recorded from dumpcap -Z none: file opened, 3 packets, drops; an interface error; a bad filter.
    const recorded = Buffer.concat([
      Buffer.from('F\0\0\x17/tmp/smoke/sync.pcapng\0', 'latin1'),
      Buffer.from('P\0\0\x023\0', 'latin1'),
      Buffer.from('D\0\0\x050:lo\0', 'latin1'),
      Buffer.from(
        'E\0\0\x45E\0\0\x3cThere is no device named "nosuch0".\n(No such device exists)\0E\0\0\x01\0',
        'latin1',
      ),
      Buffer.from("B\0\0\x2e0:can't parse filter expression: syntax error\0", 'latin1'),
    ]);
    for (const size of [1, 5, recorded.length]) {
      const reader = new SyncPipeReader();
      const messages = [];
      for (let i = 0; i < recorded.length; i += size)
        messages.push(...reader.push(recorded.subarray(i, i + size)));
      assert.deepEqual(messages, [
        { kind: 'file', path: '/tmp/smoke/sync.pcapng' },
        { kind: 'packets', count: 3 },
        { kind: 'drops', text: '0:lo' },
        {
          kind: 'error',
          primary: 'There is no device named "nosuch0".\n(No such device exists)',
          secondary: '',
        },
        { kind: 'badFilter', message: "can't parse filter expression: syntax error" },
      ]);
    }
  });
});

describe('edit distance', () => {
  it('finds close names and gives up past the bound', () => {
    // Two neighbouring letters swapped are one slip of the keyboard, not two.
    assert.equal(boundedEditDistance('http.hots', 'http.host', 3), 1);
    assert.equal(boundedEditDistance('htpt', 'http', 2), 1);
    assert.equal(boundedEditDistance('kitten', 'sitting', 3), 3);
    assert.equal(boundedEditDistance('ip.src', 'ip.src', 2), 0);
    assert.equal(boundedEditDistance('ip.src', 'frame.number', 2), 3);
  });
});
