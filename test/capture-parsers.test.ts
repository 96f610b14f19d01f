// Parsers and advice of the capture side, on output recorded from dumpcap 4.0, tshark -G folders
// and an extcap tool.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { captureFailureMessage, classifyCaptureError } from '../src/capture/advice.js';
import {
  findInterface,
  InterfaceCatalog,
  parseDumpcapInterfaces,
  parseExtcapFolder,
  parseExtcapInterfaces,
  resolveInterfaceName,
} from '../src/capture/interfaces.js';

// `dumpcap -D -M` on this kind of machine.
const DUMPCAP_D_M = [
  '1. eth0\t\t\t0\t192.0.2.2,fd00::2,fe80::fc:ff:fe00:1\tnetwork\t',
  '2. any\t\t\t0\t\tnetwork\t',
  '3. lo\t\tLoopback\t0\t127.0.0.1,::1\tloopback\t',
  '6. bluetooth-monitor\t\t\t4\t\tnetwork\t',
  '',
].join('\n');

describe('interface listings', () => {
  it('reads dumpcap -D -M', () => {
    const list = parseDumpcapInterfaces(DUMPCAP_D_M);
    assert.deepEqual(
      list.map((i) => i.name),
      ['eth0', 'any', 'lo', 'bluetooth-monitor'],
    );
    assert.deepEqual(list[2], {
      name: 'lo',
      number: 3,
      description: 'Loopback',
      addresses: ['127.0.0.1', '::1'],
      loopback: true,
    });
    assert.deepEqual(list[0]?.addresses, ['192.0.2.2', 'fd00::2', 'fe80::fc:ff:fe00:1']);
    assert.equal(list[0]?.loopback, false);
  });

  it('reads an extcap tool and the extcap folder', () => {
    const out =
      'extcap {version=1.1.0}{help=file:///usr/share/wireshark/sshdump.html}\ninterface {value=sshdump}{display=SSH remote capture}\n';
    assert.deepEqual(parseExtcapInterfaces(out, 'sshdump'), [
      { name: 'sshdump', description: 'SSH remote capture', tool: 'sshdump' },
    ]);
    const folders =
      'Temp:                \t/tmp\nExtcap path:         \t/usr/lib/x86_64-linux-gnu/wireshark/extcap\n';
    assert.equal(parseExtcapFolder(folders), '/usr/lib/x86_64-linux-gnu/wireshark/extcap');
    assert.equal(parseExtcapFolder('Temp:\t/tmp\n'), undefined);
  });

  it("finds an interface by name or by its number in dumpcap's list, and nothing else", () => {
    const list = parseDumpcapInterfaces(DUMPCAP_D_M);
    assert.equal(findInterface(list, 'lo')?.name, 'lo');
    assert.equal(findInterface(list, '3')?.name, 'lo');
    assert.equal(findInterface(list, '6')?.name, 'bluetooth-monitor');
    for (const name of ['4', '0', '03x', 'LO', '/dev/lo', 'TCP@127.0.0.1:9', ' lo'])
      assert.equal(findInterface(list, name), undefined, name);
  });

  it('reads the list once for a burst of starts, and once more when a name is missing', async () => {
    let reads = 0;
    let extra: string[] = [];
    const catalog = new InterfaceCatalog(() => {
      reads++;
      return Promise.resolve(
        parseDumpcapInterfaces(
          DUMPCAP_D_M + extra.map((n, i) => `${10 + i}. ${n}\t\t\t0\t\tnetwork\t\n`).join(''),
        ),
      );
    }, 60_000);
    const found = await Promise.all(Array.from({ length: 8 }, () => catalog.resolve('lo')));
    assert.deepEqual(new Set(found.map((i) => i.name)), new Set(['lo']));
    assert.equal(reads, 1, 'one dumpcap -D for eight starts');
    extra = ['veth-new'];
    assert.equal((await catalog.resolve('veth-new')).number, 10, 'an interface that just appeared');
    assert.equal(reads, 2);
    await assert.rejects(catalog.resolve('nosuch0'), (err: Error) => {
      assert.match(err.message, /^interface "nosuch0" is not a capture interface here\./);
      assert.match(
        err.message,
        /Capture interfaces here: eth0, any, lo \(loopback\), bluetooth-monitor, veth-new\./,
      );
      assert.match(err.message, /call list_interfaces/);
      return true;
    });
    assert.equal(reads, 3, 'a miss reads the list again once, not more');
  });

  it('defaults to the loopback and takes lo0 as lo on Linux', () => {
    assert.equal(resolveInterfaceName(undefined, 'linux'), 'lo');
    assert.equal(resolveInterfaceName('lo0', 'linux'), 'lo');
    assert.equal(resolveInterfaceName(undefined, 'darwin'), 'lo0');
    assert.equal(resolveInterfaceName('lo0', 'darwin'), 'lo0');
    assert.equal(resolveInterfaceName('eth0', 'linux'), 'eth0');
  });
});

describe('capture failure advice', () => {
  it('names the fix for a permission problem', () => {
    const message =
      'You do not have permission to capture on device "lo".\n(socket: Operation not permitted)\nPlease check to make sure you have sufficient permissions.';
    assert.equal(classifyCaptureError(message), 'permission');
    const advice = captureFailureMessage(message, {
      interface: 'lo',
      captureFilter: undefined,
      dumpcapPath: '/usr/bin/dumpcap',
      interfaces: undefined,
    });
    if (process.platform === 'linux') {
      assert.match(advice, /usermod -aG wireshark/);
      assert.match(advice, /setcap cap_net_raw,cap_net_admin=eip \/usr\/bin\/dumpcap/);
    }
  });

  it('lists the real interfaces for an unknown one', () => {
    const message = 'There is no device named "nosuch0".\n(No such device exists)';
    assert.equal(classifyCaptureError(message), 'noSuchInterface');
    const advice = captureFailureMessage(message, {
      interface: 'nosuch0',
      captureFilter: undefined,
      dumpcapPath: 'dumpcap',
      interfaces: parseDumpcapInterfaces(DUMPCAP_D_M),
    });
    assert.match(advice, /There is no interface "nosuch0"/);
    assert.match(advice, /Interfaces here: eth0 \[192\.0\.2\.2, .*lo \(loopback\) \[127\.0\.0\.1, ::1\]/);
  });
});
