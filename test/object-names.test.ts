// The names export_objects gives the files a capture carried: a name from the capture is hostile
// input, and what is saved must stay one plain file inside the chosen directory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dicomFrameOf,
  framesByName,
  imfObject,
  matchHttpObjects,
  matchObjects,
  tftpObjects,
  requestPathOf,
  safeFileName,
  tsharkObjectName,
  uniqueSafeNames,
} from '../src/analysis/object-names.js';

describe('safe object names', () => {
  it('never holds a separator, a control character, or leads up or out', () => {
    for (const hostile of [
      '../../etc/passwd',
      '..',
      '.',
      '/',
      '\\..\\win.ini',
      'a/b',
      'a\u0000b',
      'x\ny\r',
      '',
    ]) {
      const name = safeFileName(hostile);
      // eslint-disable-next-line no-control-regex -- control characters are what these names must not hold
      assert.doesNotMatch(name, /[/\\\x00-\x1f]/, JSON.stringify(hostile));
      assert.notEqual(name, '.');
      assert.notEqual(name, '..');
      assert.ok(!name.startsWith('.'), `${JSON.stringify(hostile)} became hidden ${name}`);
      assert.ok(name.length > 0);
    }
  });

  it("renames Windows's device names and trailing dots, keeps ordinary names", () => {
    assert.equal(safeFileName('CON'), '_CON');
    assert.equal(safeFileName('lpt1.txt'), '_lpt1.txt');
    assert.equal(safeFileName('report.txt. . '), 'report.txt');
    assert.equal(safeFileName('report (final).pdf'), 'report (final).pdf');
    assert.equal(safeFileName('%2f'), '%2f');
  });

  it('cuts a long name to 200 bytes of UTF-8, keeping its extension and whole characters', () => {
    const name = safeFileName(`${'é'.repeat(300)}.html`);
    assert.ok(Buffer.byteLength(name) <= 200, String(Buffer.byteLength(name)));
    assert.ok(name.endsWith('.html'));
    assert.ok(!name.includes('\ufffd'));
  });

  it('gives names met before (any letter case) a suffix', () => {
    assert.deepEqual(uniqueSafeNames(['a.txt', 'A.TXT', 'a.txt', 'b']), ['a.txt', 'A-2.TXT', 'a-3.txt', 'b']);
  });
});

describe("tshark's names for HTTP objects", () => {
  it('escapes what tshark escapes, and numbers duplicates as tshark does', () => {
    assert.equal(tsharkObjectName('name.txt?q=1', 0), 'name.txt%3fq=1');
    assert.equal(tsharkObjectName('a.txt', 1), 'a(1).txt');
    assert.equal(tsharkObjectName('CON', 2), 'CON(2)');
    assert.equal(tsharkObjectName('L'.repeat(300), 0).length, 255);
  });

  it('matches files to requests in order, and gives up rather than guess', () => {
    const written = new Set(['a.txt', 'a(1).txt', '%2f', 'evil']);
    assert.deepEqual(matchHttpObjects(['/a.txt', '/', '/x/a.txt', '/../../etc/evil'], written), [
      'a.txt',
      '%2f',
      'a(1).txt',
      'evil',
    ]);
    assert.equal(matchHttpObjects(['/a.txt', '/'], written), undefined);
    assert.equal(matchHttpObjects(['/a.txt', '/b.txt', '/', '/evil'], written), undefined);
  });

  it('takes the request path out of an absolute URI as the client sent it', () => {
    assert.equal(requestPathOf('http://127.0.0.1:8080/../../etc/evil'), '/../../etc/evil');
    assert.equal(requestPathOf('http://host'), '/');
    assert.equal(requestPathOf('/already/a/path'), '/already/a/path');
  });
});

describe("tshark's names for SMB files", () => {
  it('gives a file the frame of the one Create of its path, none when several opened it', () => {
    const creates = [
      { name: '\\report.pdf', frame: 32 },
      { name: '\\twice.txt', frame: 40 },
      { name: '\\twice.txt', frame: 90 },
      { name: '\\never-read.txt', frame: 50 },
    ];
    const frames = framesByName(creates, ['%5creport.pdf', '%5ctwice.txt', '%5ctwice(1).txt', '%5cother']);
    assert.deepEqual(Object.fromEntries(frames), {
      '%5creport.pdf': 32,
      '%5ctwice.txt': null,
      '%5ctwice(1).txt': null,
      '%5cother': null,
    });
  });
});

describe("tshark's names for DICOM objects", () => {
  it('reads the frame from the name tshark gives each object, and nothing from another name', () => {
    assert.equal(dicomFrameOf('000123-1-1.2.840.113619.2.55.3.dcm'), 123);
    assert.equal(dicomFrameOf('1234567-2-1.2.3.dcm'), 1234567);
    assert.equal(dicomFrameOf('000123-1-1.2.3(1).dcm'), null);
    assert.equal(dicomFrameOf('report.pdf'), null);
    assert.equal(dicomFrameOf('12-1-1.2.3.dcm'), null);
  });
});

describe("tshark's names for mails and TFTP files", () => {
  it('names a mail after its last Subject, and matches duplicates in order', () => {
    assert.deepEqual(imfObject(7, ['first', 'Re: last']), { name: 'Re: last.eml', frame: 7 });
    assert.equal(imfObject(9, []).name, '.eml');
    const written = new Set(['a.eml', 'a(1).eml', 'x%2fy%3a.eml']);
    assert.deepEqual(matchObjects(['a.eml', 'x/y:.eml', 'a.eml'], written), [
      'a.eml',
      'x%2fy%3a.eml',
      'a(1).eml',
    ]);
    assert.equal(matchObjects(['a.eml', 'a.eml'], written), undefined);
  });

  it('takes the first short block of each transfer, with the block size an OACK gives', () => {
    const data = (frame: number, request: number, block: number, bytes: number, file = 'dir/boot.img') => ({
      frame,
      opcode: 3,
      file,
      request,
      block,
      udpLength: bytes + 12,
      options: [],
    });
    const objects = tftpObjects([
      data(2, 1, 1, 512),
      data(4, 1, 2, 100),
      data(5, 1, 2, 100), // a retransmitted last block: the first one counts
      {
        frame: 7,
        opcode: 6,
        file: 'big.bin',
        request: 6,
        block: 0,
        udpLength: 30,
        options: [['blksize', '1024']],
      },
      data(8, 6, 1, 1024, 'big.bin'),
      data(10, 6, 2, 512, 'big.bin'),
      data(12, 11, 1, 512, 'cut.bin'), // never finished: no object
    ]);
    assert.deepEqual(objects, [
      { name: 'boot.img', frame: 4, bytes: 612 },
      { name: 'big.bin', frame: 10, bytes: 1536 },
    ]);
  });
});
