/**
 * Bad input, one case per quirk of the vectors README (section 7) and per
 * rule of the object map, each over real TCP to a WalthamServer with two
 * peers: the bad one gets `wth_display.error` (or a clean close) and a log
 * line, the other one still completes a roundtrip afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DecodedMessage } from './wire.js';
import { EncodeError, MalformedMessageError, ObjectError, PeerError, type WireError } from '../wire/errors.js';
import {
  WthpBlobFactoryResource,
  WthpCompositorProxy,
  WthpKeyboardResource,
  WthpSeatResource,
  WthpBlobFactoryProxy,
} from '../generated/waltham/waltham.js';
import { connectWaltham } from './tcp.js';
import type { WalthamClient, WalthamPeer } from './display.js';
import { WthDisplayError } from '../generated/waltham/waltham.js';
import { RawPeer, captureLogger, concat, msg, name, silentLogger, sleep, startExampleServer } from './test/helpers.js';

const { InvalidObject: invalidObject, InvalidMethod: invalidMethod, NoMemory: noMemory } = WthDisplayError;

/** get_registry(2), bind(name 1, id 3, wthp_compositor v4), create_region(4). */
const prelude = (): Uint8Array =>
  concat(
    msg('wth_display', 'get_registry', 1, [2]),
    msg('wthp_registry', 'bind', 2, [1, { id: 3, interface: 'wthp_compositor', version: 4 }]),
    msg('wthp_compositor', 'create_region', 3, [4]),
  );

function withSz(bytes: Uint8Array, sz: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint16(2, sz, true);
  return copy;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Setup {
  port: number;
  peers: WalthamPeer[];
  log: ReturnType<typeof captureLogger>;
  good: WalthamClient;
  bad: RawPeer;
}

/** A server like the reference example, a good client that has done a roundtrip, and a raw bad peer. */
async function twoPeers(options: { maxObjects?: number; maxOutgoingBytes?: number } = {}, extended = false): Promise<Setup> {
  const log = captureLogger();
  const { server, port, peers } = await startExampleServer({ logger: log.logger, closeTimeoutMs: 2000, ...options }, extended);
  cleanups.push(() => server.close());
  const good = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
  cleanups.push(() => good.close());
  await good.roundtrip();
  const bad = await RawPeer.connect(port);
  cleanups.push(async () => bad.socket.destroy());
  return { port, peers, log, good, bad };
}

/** The bad peer got exactly one wth_display.error with these values; a log line says the same. */
function expectError(setup: Setup, messages: DecodedMessage[], objectId: number, code: number, names: string): void {
  const errors = messages.filter((m) => name(m) === 'wth_display@1.error');
  expect(errors, messages.map(name).join(', ')).toHaveLength(1);
  const [obj, errorCode, text] = errors[0]!.args as [number, number, string];
  expect({ obj, errorCode }).toEqual({ obj: objectId, errorCode: code });
  expect(text).toContain(names);
  expect(setup.log.lines.some((l) => l.level === 'warn' && l.msg.includes(names)), setup.log.text()).toBe(true);
}

/** The other peer is unaffected. */
async function expectGoodPeerFine(setup: Setup): Promise<void> {
  await setup.good.roundtrip();
  expect(setup.good.isOpen).toBe(true);
}

describe('a WalthamServer with two peers, when one sends bad input', () => {
  it('reports a message to an unknown object id on the display, and the other peer goes on', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wthp_region', 'add', 99, [0, 0, 1, 1]));
    expectError(s, await s.bad.waitClosed(), 1, invalidObject, 'wthp_region@99.add');
    expect(s.log.text()).toContain('unknown object 99');
    await expectGoodPeerFine(s);
  });

  it('reports a message to a destroyed object id (after its delete_id)', async () => {
    const s = await twoPeers();
    s.bad.write(prelude(), msg('wthp_region', 'destroy', 4, []));
    await s.bad.waitFor((ms) => ms.some((m) => name(m) === 'wth_display@1.delete_id' && m.args[0] === 4));
    s.bad.write(msg('wthp_region', 'add', 4, [0, 0, 1, 1]));
    const messages = await s.bad.waitClosed();
    expectError(s, messages, 1, invalidObject, 'wthp_region@4.add');
    expect(s.log.text()).toContain('object 4 was destroyed');
    await expectGoodPeerFine(s);
  });

  it('reports a message to object id 0', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wth_display', 'sync', 1, [2]).map((b, i) => (i >= 8 && i < 12 ? 0 : b)));
    expectError(s, await s.bad.waitClosed(), 1, invalidObject, 'wth_display@0.sync');
    expect(s.log.text()).toContain('message sent to object id 0 (null)');
    await expectGoodPeerFine(s);
  });

  it('reports sz 0 (the reference stalls forever on it)', async () => {
    const s = await twoPeers();
    s.bad.write(withSz(msg('wth_display', 'sync', 1, [2]), 0));
    expectError(s, await s.bad.waitClosed(), 1, invalidMethod, 'wth_display.sync');
    expect(s.log.text()).toContain('declared size 0');
    await expectGoodPeerFine(s);
  });

  it('reports sz below 8 (the reference reads past the message)', async () => {
    const s = await twoPeers();
    s.bad.write(withSz(msg('wth_display', 'sync', 1, [2]), 4));
    expectError(s, await s.bad.waitClosed(), 1, invalidMethod, 'wth_display.sync');
    expect(s.log.text()).toContain('declared size 4');
    await expectGoodPeerFine(s);
  });

  it('reports sz shorter than the arguments, on the target object', async () => {
    const s = await twoPeers();
    s.bad.write(prelude(), withSz(msg('wthp_region', 'add', 4, [1, 2, 3, 4]), 20));
    expectError(s, await s.bad.waitClosed(), 4, invalidMethod, 'wthp_region@4.add');
    expect(s.log.text()).toContain('runs past the declared size 20');
    await expectGoodPeerFine(s);
  });

  it('reports a string length that runs past sz', async () => {
    const s = await twoPeers();
    const bind = msg('wthp_registry', 'bind', 2, [1, { id: 3, interface: 'wthp_compositor', version: 4 }]);
    new DataView(bind.buffer).setUint32(20, 1000, true); // the interface string's length
    s.bad.write(msg('wth_display', 'get_registry', 1, [2]), bind);
    expectError(s, await s.bad.waitClosed(), 2, invalidMethod, 'wthp_registry@2.bind');
    await expectGoodPeerFine(s);
  });

  for (const opcode of [0, 0xffff]) {
    it(`reports unknown opcode ${opcode} (the reference skips it)`, async () => {
      const s = await twoPeers();
      const sync = msg('wth_display', 'sync', 1, [2]);
      new DataView(sync.buffer).setUint16(4, opcode, true);
      s.bad.write(sync);
      expectError(s, await s.bad.waitClosed(), 1, invalidMethod, `wth_display@1.opcode ${opcode}`);
      await expectGoodPeerFine(s);
    });
  }

  it('reports an event sent to the server (wrong direction)', async () => {
    const s = await twoPeers();
    // The reference ran its client_version handler for this one (vectors README 7).
    s.bad.write(msg('wthp_callback', 'done', 1, [0]));
    expectError(s, await s.bad.waitClosed(), 1, invalidMethod, 'wth_display@1.done');
    expect(s.log.text()).toContain('is an event of wthp_callback');
    await expectGoodPeerFine(s);
  });

  it('reports a request of another interface than the target object\'s', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wthp_region', 'add', 1, [0, 0, 1, 1]));
    expectError(s, await s.bad.waitClosed(), 1, invalidMethod, 'wth_display@1.add');
    expect(s.log.text()).toContain('not a message of wth_display');
    await expectGoodPeerFine(s);
  });

  it('reports a new id that skips ahead (the reference crashes on its first use)', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wth_display', 'get_registry', 1, [5]));
    expectError(s, await s.bad.waitClosed(), 1, invalidObject, 'wth_display@1.get_registry');
    expect(s.log.text()).toContain('skips ahead (expected 2)');
    await expectGoodPeerFine(s);
  });

  it('reports a new id already in use', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wth_display', 'get_registry', 1, [2]), msg('wth_display', 'sync', 1, [2]));
    expectError(s, await s.bad.waitClosed(), 1, invalidObject, 'wth_display@1.sync');
    expect(s.log.text()).toContain('new id 2 is already in use');
    await expectGoodPeerFine(s);
  });

  it('reports a new id that reuses the id of a destroyed object', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wth_display', 'get_registry', 1, [2]), msg('wthp_registry', 'destroy', 2, []), msg('wth_display', 'get_registry', 1, [2]));
    expectError(s, await s.bad.waitClosed(), 1, invalidObject, 'wth_display@1.get_registry');
    expect(s.log.text()).toContain('reuses an id');
    await expectGoodPeerFine(s);
  });

  it('reports an object argument that is unknown, of the wrong interface, or null where not allowed', async () => {
    const cases: [Uint8Array, number, string, string][] = [
      [msg('wthp_surface', 'attach', 5, [99, 0, 0]), 5, 'wthp_surface@5.attach', 'unknown object 99'],
      [msg('wthp_surface', 'attach', 5, [4, 0, 0]), 5, 'wthp_surface@5.attach', 'must be a wthp_buffer, got wthp_region@4'],
      [
        msg('wthp_ivi_application', 'surface_create', 6, [1, 5, 7]).map((b, i) => (i >= 16 && i < 20 ? 0 : b)),
        6,
        'wthp_ivi_application@6.surface_create',
        'argument surface is null',
      ],
    ];
    for (const [bad, objectId, where, detail] of cases) {
      const s = await twoPeers({}, true);
      s.bad.write(
        prelude(),
        msg('wthp_compositor', 'create_surface', 3, [5]),
        msg('wthp_registry', 'bind', 2, [2, { id: 6, interface: 'wthp_ivi_application', version: 1 }]),
        msg('wthp_surface', 'attach', 5, [0, 0, 0]), // null buffer: allowed
        bad,
      );
      expectError(s, await s.bad.waitClosed(), objectId, invalidObject, where);
      expect(s.log.text()).toContain(detail);
      await expectGoodPeerFine(s);
    }
  });

  it('accepts non-zero header id and pad fields and extra bytes inside sz, as the reference does', async () => {
    const s = await twoPeers();
    const sync = new Uint8Array(24);
    sync.set(msg('wth_display', 'sync', 1, [2]));
    const view = new DataView(sync.buffer);
    view.setUint16(0, 0x1234, true);
    view.setUint16(2, 24, true);
    view.setUint16(6, 0xffff, true);
    s.bad.write(sync);
    const messages = await s.bad.waitFor((ms) => ms.some((m) => name(m) === 'wthp_callback@2.done'));
    expect(messages.map(name)).toEqual(['wthp_callback@2.done', 'wth_display@1.delete_id']);
    expect(s.log.lines.filter((l) => l.level === 'warn')).toEqual([]);
    await expectGoodPeerFine(s);
  });

  it('logs a peer that resets in the middle of a message and serves the others', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wthp_region', 'add', 4, [1, 2, 3, 4]).subarray(0, 18));
    await sleep(50);
    s.bad.socket.resetAndDestroy();
    await sleep(100);
    expect(s.log.text()).toMatch(/in the middle of a message \(18 bytes received\)/);
    await expectGoodPeerFine(s);
    expect(s.peers[1]!.isOpen).toBe(false);
  });

  it('logs a peer that closes in the middle of a message', async () => {
    const s = await twoPeers();
    s.bad.write(msg('wthp_region', 'add', 4, [1, 2, 3, 4]).subarray(0, 10));
    s.bad.socket.end();
    await s.bad.waitClosed();
    expect(s.log.text()).toContain('peer closed the connection in the middle of a message (10 bytes received)');
    await expectGoodPeerFine(s);
  });

  it('survives a peer that resets while the server is writing to it', async () => {
    const s = await twoPeers();
    const syncs: Uint8Array[] = [];
    for (let id = 2; id < 5002; id++) syncs.push(msg('wth_display', 'sync', 1, [id]));
    s.bad.socket.pause();
    s.bad.write(...syncs);
    await sleep(20);
    s.bad.socket.resetAndDestroy();
    await s.peers[1]!.closed;
    expect(s.log.text()).toMatch(/connection failed \((ECONNRESET|EPIPE)\)/);
    await expectGoodPeerFine(s);
  });

  it('drops a peer past its object limit with no_memory', async () => {
    const s = await twoPeers({ maxObjects: 20 });
    const regions: Uint8Array[] = [];
    for (let id = 4; id < 40; id++) regions.push(msg('wthp_compositor', 'create_region', 3, [id]));
    s.bad.write(prelude().subarray(0, 16 + 44), ...regions);
    expectError(s, await s.bad.waitClosed(), 1, noMemory, 'wthp_compositor@3.create_region');
    expect(s.log.text()).toContain('more than 20 objects');
    await expectGoodPeerFine(s);
  });

  it('drops a peer that does not read once its outgoing buffer passes the limit', async () => {
    const log = captureLogger();
    const { server, port, peers } = await startExampleServer({ logger: log.logger, maxOutgoingBytes: 256 * 1024, maxOutgoingLimit: 'max-queued-mib' });
    cleanups.push(() => server.close());
    let keyboard: WthpKeyboardResource | undefined;
    server.addGlobal(WthpSeatResource, 5, (seat) => seat.listen({ getKeyboard: (kb) => (keyboard = kb) }));
    const good = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => good.close());
    const bad = await RawPeer.connect(port);
    cleanups.push(async () => bad.socket.destroy());
    bad.write(
      msg('wth_display', 'get_registry', 1, [2]),
      msg('wthp_registry', 'bind', 2, [2, { id: 3, interface: 'wthp_seat', version: 5 }]),
      msg('wthp_seat', 'get_keyboard', 3, [4]),
    );
    for (let i = 0; i < 100 && keyboard === undefined; i++) await sleep(10);
    bad.socket.pause();
    const keymap = new Uint8Array(60_000);
    const badPeer = peers[1]!;
    for (let i = 0; i < 2000 && badPeer.isOpen; i++) {
      keyboard!.sendKeymap(1, keymap);
      await new Promise((r) => setImmediate(r));
    }
    expect(badPeer.isOpen).toBe(false);
    expect(log.text()).toMatch(/limit max-queued-mib: \d+ bytes of memory queued for a peer that does not read \(limit 262144\)/);
    await good.roundtrip();
    expect(good.isOpen).toBe(true);
  });

  it('refuses to send a message over 65535 bytes, without breaking the id sequence or the stream', async () => {
    const log = captureLogger();
    const { server, port, peers } = await startExampleServer({ logger: log.logger });
    cleanups.push(() => server.close());
    server.addGlobal(WthpBlobFactoryResource, 1, () => {});
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    const globals = await client.globals();
    const blob = client.bind(WthpBlobFactoryProxy, globals.find((g) => g.interface === 'wthp_blob_factory')!.name, 1);
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    // The reference sent 70036 bytes with sz = 4500 and corrupted its stream.
    expect(() => blob.createBuffer(new Uint8Array(70_000), 100, 175, 400, 0)).toThrow(EncodeError);
    const region = compositor.createRegion();
    expect(region.id).toBe(compositor.id + 1); // the refused buffer's id was given back
    region.add(0, 0, 1, 1);
    await client.roundtrip();
    expect(peers[0]!.getObject(region.id)?.spec.name).toBe('wthp_region');
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
    // The server side refuses too.
    const resource = peers[0]!.getObject(region.id - 2)!;
    expect(resource.spec.name).toBe('wthp_blob_factory');
    expect(() => peers[0]!.sendMessage(resource, resource.spec.events[0]!, [2 ** 32])).toThrow(EncodeError);
  });
});

describe('a WalthamClient, when the server sends bad input', () => {
  async function twoClients(): Promise<{ clients: WalthamClient[]; peers: WalthamPeer[]; logs: ReturnType<typeof captureLogger>[] }> {
    const { server, port, peers } = await startExampleServer({ logger: silentLogger });
    cleanups.push(() => server.close());
    const logs = [captureLogger(), captureLogger()];
    const clients: WalthamClient[] = [];
    for (const log of logs) {
      const client = await connectWaltham('127.0.0.1', port, { logger: log.logger });
      cleanups.push(() => client.close());
      await client.roundtrip();
      clients.push(client);
    }
    return { clients, peers, logs };
  }

  const cases: [string, () => Uint8Array, string, string][] = [
    ['a request (wrong direction)', () => msg('wth_display', 'sync', 1, [5]), 'ERR_WRONG_DIRECTION', 'wth_display@1.sync'],
    ['an event to an unknown object', () => msg('wthp_callback', 'done', 77, [0]), 'ERR_UNKNOWN_OBJECT', 'wthp_callback@77.done'],
    ['an event of another interface', () => msg('wthp_callback', 'done', 1, [0]), 'ERR_UNKNOWN_OPCODE', 'wth_display@1.done'],
    ['sz 0', () => withSz(msg('wthp_callback', 'done', 1, [0]), 0), 'ERR_SIZE_TOO_SMALL', 'wthp_callback.done'],
  ];
  for (const [what, bytes, code, names] of cases) {
    it(`closes on ${what}, logs it, emits it, and the other client goes on`, async () => {
      const { clients, peers, logs } = await twoClients();
      const errors: Error[] = [];
      clients[0]!.on('error', (e) => errors.push(e));
      peers[0]!.stream.write(bytes());
      const reason = await clients[0]!.closed;
      expect(reason).toBeInstanceOf(code === 'ERR_SIZE_TOO_SMALL' ? MalformedMessageError : ObjectError);
      expect((reason as WireError).code).toBe(code);
      expect(errors).toEqual([reason]);
      expect(logs[0]!.text()).toContain(names);
      await clients[1]!.roundtrip();
      expect(clients[1]!.isOpen).toBe(true);
    });
  }

  it('turns wth_display.error into a PeerError, emitted and closing the connection', async () => {
    const { clients, peers, logs } = await twoClients();
    const errors: Error[] = [];
    clients[0]!.on('error', (e) => errors.push(e));
    const pending = clients[0]!.sync();
    peers[0]!.postError(peers[0]!.display, 3, 'wth_display@1: broken on purpose');
    await expect(pending).rejects.toBeInstanceOf(PeerError);
    const reason = (await clients[0]!.closed) as PeerError;
    expect(reason).toBeInstanceOf(PeerError);
    expect({ objectId: reason.objectId, iface: reason.interfaceName, code: reason.errorCode, text: reason.text }).toEqual({
      objectId: 1,
      iface: 'wth_display',
      code: 3,
      text: 'wth_display@1: broken on purpose',
    });
    expect(errors).toEqual([reason]);
    expect(logs[0]!.text()).toContain('broken on purpose');
    await clients[1]!.roundtrip();
  });
});
