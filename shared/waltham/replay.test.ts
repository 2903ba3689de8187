/**
 * The reference sessions replayed through our connection over real TCP.
 *
 * Server side: the captured client-to-server bytes go, in random chunks, to a
 * WalthamServer set up like the reference server of the scenario; its replies
 * are compared with the captured server-to-client bytes. What differs by
 * design and is therefore left out of the comparison:
 *  - `wth_display.delete_id` for ids our server destroyed (callbacks after
 *    `done`, objects after a destructor): the reference never sends it;
 *  - the `callback_data` of `wthp_callback.done` answering `sync`: the
 *    reference always sends 0, ours sends a serial (the rest of those
 *    messages is compared byte for byte).
 * Everything else is compared byte for byte.
 *
 * Client side: a WalthamClient makes the same calls as the reference client
 * against a plain TCP server that plays the captured server-to-client bytes,
 * paced on the client's syncs; the bytes our client sends must equal the
 * captured client-to-server bytes exactly.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  WthpBlobFactoryProxy,
  WthpBlobFactoryResource,
  WthpCompositorProxy,
  WthpCompositorResource,
  WthpFarstreamProxy,
  WthpFarstreamResource,
  WthpOutputProxy,
  WthpOutputResource,
  WthpSeatProxy,
  WthpSeatResource,
  type WthpSurfaceResource,
} from '../generated/waltham/waltham.js';
import type { WireObject } from '../wire/object.js';
import type { DecodedMessage } from './wire.js';
import type { WalthamClient, WalthamPeer } from './display.js';
import { WalthamServer, connectWaltham } from './tcp.js';
import { RawPeer, VECTORS_DIR, captureLogger, decodeAll, hex, name, prng, silentLogger, sleep, startExampleServer, vectorsPresent } from './test/helpers.js';

interface JsonMessage {
  offset: number;
  length: number;
  interface: string;
  message: string;
  object: number;
  args: { name: string; value: unknown }[];
}

const read = (scenario: string, file: string): Uint8Array => new Uint8Array(readFileSync(join(VECTORS_DIR, scenario, file)));
const readJson = (scenario: string, file: string): JsonMessage[] =>
  (JSON.parse(readFileSync(join(VECTORS_DIR, scenario, file), 'utf8')) as { messages: JsonMessage[] }).messages;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Ids of the callbacks created by wth_display.sync in a client-to-server capture. */
function syncCallbackIds(c2s: Uint8Array): Set<number> {
  return new Set(decodeAll(c2s).filter((m) => name(m).startsWith('wth_display@1.sync')).map((m) => m.args[0] as number));
}

/** What is compared of one server-to-client message (see the file comment). */
function comparable(m: DecodedMessage & { offset?: number }, bytes: Uint8Array, syncIds: Set<number>): string {
  if (name(m).endsWith('.done') && m.entry.iface.name === 'wthp_callback' && syncIds.has(m.objectId)) {
    return `${name(m)}(<serial>)`;
  }
  return hex(bytes);
}

function replies(raw: Uint8Array, ours: boolean, syncIds: Set<number>, keepDeleteIds: Set<number>): string[] {
  return decodeAll(raw)
    .filter((m) => !(ours && name(m) === 'wth_display@1.delete_id' && !keepDeleteIds.has(m.args[0] as number)))
    .map((m) => comparable(m, raw.subarray(m.offset, m.offset + m.length), syncIds));
}

/** Write `bytes` in random chunks, yielding to the event loop in between so they arrive split. */
async function writeChunked(socket: net.Socket, bytes: Uint8Array, random: () => number): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + Math.floor(random() * 48);
    socket.write(bytes.subarray(at, at + n));
    at += n;
    await sleep(random() < 0.5 ? 0 : 1);
  }
}

describe.skipIf(!vectorsPresent)('reference sessions replayed to a WalthamServer', () => {
  it('example-session: the reference client\'s bytes, in random chunks, get the reference server\'s replies', async () => {
    const seed = Number(process.env['REPLAY_SEED'] ?? Date.now() % 1e9);
    console.log(`replay seed ${seed} (REPLAY_SEED=${seed} to repeat)`);
    const log = captureLogger();
    const { server, port } = await startExampleServer({ logger: log.logger });
    cleanups.push(() => server.close());
    const c2s = read('example-session', 'client-to-server.bin');
    const s2c = read('example-session', 'server-to-client.bin');
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    await writeChunked(raw.socket, c2s, prng(seed));
    await raw.waitFor((ms) => ms.some((m) => name(m) === 'wthp_callback@12.done'));
    await sleep(20);
    const syncIds = syncCallbackIds(c2s);
    expect(replies(raw.bytes(), true, syncIds, new Set())).toEqual(replies(s2c, false, syncIds, new Set()));
    const deleted = raw
      .messages()
      .filter((m) => name(m) === 'wth_display@1.delete_id')
      .map((m) => m.args[0]);
    // callbacks 3, 6, 12; regions 5, 7..11; the registry 2
    expect(deleted).toEqual([3, 5, 6, 7, 8, 9, 10, 11, 2, 12]);
    expect(log.lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('error-create-surface: the same error text and bytes as the reference server, then the connection closes', async () => {
    const log = captureLogger();
    const { server, port } = await startExampleServer({ logger: log.logger });
    cleanups.push(() => server.close());
    const c2s = read('error-create-surface', 'client-to-server.bin');
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    raw.write(c2s);
    await raw.waitClosed();
    const syncIds = syncCallbackIds(c2s);
    // The reference ignored the sync after its error and left the socket open; we close.
    expect(replies(raw.bytes(), true, syncIds, new Set())).toEqual(
      replies(read('error-create-surface', 'server-to-client.bin'), false, syncIds, new Set()),
    );
    expect(log.text()).toContain('unimplemented: compositor_handle_create_surface');
  });

  it('error-client-version: where the reference server fails, ours answers client_version with server_version', async () => {
    const { server, port } = await startExampleServer({ logger: silentLogger });
    cleanups.push(() => server.close());
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    raw.write(read('error-client-version', 'client-to-server.bin'));
    const messages = await raw.waitFor((ms) => ms.length >= 3);
    expect(messages.map((m) => `${name(m)}(${m.args.join(', ')})`)).toEqual([
      'wth_display@1.server_version(1)',
      'wthp_callback@2.done(1)',
      'wth_display@1.delete_id(2)',
    ]);
  });

  it('all-messages: every request is accepted and every event goes out as the reference wrote it', async () => {
    const log = captureLogger();
    const server = new WalthamServer({ logger: log.logger });
    cleanups.push(() => server.close());
    const s2c = read('all-messages', 'server-to-client.bin');
    const s2cJson = readJson('all-messages', 'server-to-client.json');
    // The test server's events between the first roundtrip and the one after commit.
    const first = s2cJson.findIndex((m) => m.interface === 'wthp_callback' && m.object === 3);
    const last = s2cJson.findIndex((m) => m.interface === 'wthp_callback' && m.object === 18);
    const onCommit = decodeAll(s2c).slice(first + 1, last);
    let peer: WalthamPeer | undefined;
    server.on('peer', (p) => (peer = p));
    server.addGlobal(WthpCompositorResource, 4, (compositor) =>
      compositor.listen({
        createSurface: (surface: WthpSurfaceResource) =>
          surface.listen({
            commit: () => {
              // Send what the reference test server sent, through our connection's encoder.
              for (const m of onCommit) {
                const target = peer!.getObject(m.objectId)!;
                const args = m.args.map((v, i) => (m.entry.message.args[i]!.type === 'object' ? peer!.getObject(v as number)! : v));
                peer!.sendMessage(target, m.entry.message, args as (number | string | Uint8Array | WireObject)[]);
                if (m.entry.iface.name === 'wthp_callback') peer!.destroyObject(target);
              }
            },
          }),
      }),
    );
    server.addGlobal(WthpBlobFactoryResource, 1, () => {});
    server.addGlobal(WthpSeatResource, 5, () => {});
    server.addGlobal(WthpOutputResource, 2, () => {});
    server.addGlobal(WthpFarstreamResource, 1, () => {});
    const { port } = await server.listen(0);
    const c2s = read('all-messages', 'client-to-server.bin');
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    raw.write(c2s);
    await raw.waitFor((ms) => ms.some((m) => name(m) === 'wthp_callback@19.done'));
    await sleep(20);
    const syncIds = syncCallbackIds(c2s);
    // delete_id(99) is the test server's own message; the other delete_ids are ours.
    expect(replies(raw.bytes(), true, syncIds, new Set([99]))).toEqual(replies(s2c, false, syncIds, new Set()));
    expect(log.lines.filter((l) => l.level !== 'debug')).toEqual([]);
    // Everything was destroyed but the display and the three objects whose interface has no destructor.
    expect(['wth_display', 'wthp_compositor', 'wthp_blob_factory', 'wthp_output'].map((_, i) => peer!.getObject([1, 4, 5, 7][i]!)?.spec.name)).toEqual([
      'wth_display',
      'wthp_compositor',
      'wthp_blob_factory',
      'wthp_output',
    ]);
    expect(peer!.objectCount).toBe(4);
  });
});

/**
 * A plain TCP server that plays a capture: each part of the server-to-client
 * bytes that ends with the answer to a sync goes out once the client's bytes
 * up to that sync have arrived.
 */
async function playCapture(scenario: string): Promise<{ port: number; received: () => Uint8Array }> {
  const c2sJson = readJson(scenario, 'client-to-server.json');
  const s2cJson = readJson(scenario, 'server-to-client.json');
  const s2c = read(scenario, 'server-to-client.bin');
  const syncEnds = new Map<number, number>();
  for (const m of c2sJson) {
    if (m.interface === 'wth_display' && m.message === 'sync') syncEnds.set(m.args[0]!.value as number, m.offset + m.length);
  }
  const parts: { trigger: number; bytes: Uint8Array }[] = [];
  let start = 0;
  for (const m of s2cJson) {
    const end = m.offset + m.length;
    if (m.interface === 'wthp_callback' && m.message === 'done' && syncEnds.has(m.object)) {
      parts.push({ trigger: syncEnds.get(m.object)!, bytes: s2c.subarray(start, end) });
      start = end;
    }
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      while (parts.length > 0 && received >= parts[0]!.trigger) socket.write(parts.shift()!.bytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as net.AddressInfo).port, received: () => new Uint8Array(Buffer.concat(chunks)) };
}

async function clientFor(port: number): Promise<{ client: WalthamClient; log: ReturnType<typeof captureLogger> }> {
  const log = captureLogger();
  const client = await connectWaltham('127.0.0.1', port, { logger: log.logger });
  cleanups.push(() => client.destroy() as unknown as Promise<void>);
  return { client, log };
}

describe.skipIf(!vectorsPresent)('reference sessions replayed by a WalthamClient', () => {
  it('example-session: the same calls as the reference example client send the same bytes', async () => {
    const capture = await playCapture('example-session');
    const { client, log } = await clientFor(capture.port);
    const registry = client.getRegistry();
    await client.roundtrip();
    expect(client.findGlobal('wthp_compositor')).toEqual({ name: 1, interface: 'wthp_compositor', version: 4 });
    const compositor = client.bind(WthpCompositorProxy, 1, 1);
    const regions = (): void => {
      const region = compositor.createRegion();
      region.add(2, 2, 10, 10);
      region.add(12, 2, 100, 50);
      region.subtract(50, 50, 5, 5);
      region.destroy();
    };
    regions();
    await client.roundtrip();
    for (let i = 0; i < 5; i++) regions();
    registry.destroy();
    await client.roundtrip();
    expect(hex(capture.received())).toBe(hex(read('example-session', 'client-to-server.bin')));
    expect(log.lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('all-messages: every request encodes as the reference did, and every event is delivered', async () => {
    const capture = await playCapture('all-messages');
    const { client, log } = await clientFor(capture.port);
    const events: string[] = [];
    const record =
      (what: string) =>
      (...args: unknown[]): void => {
        events.push(`${what}(${args.map((a) => (a instanceof Uint8Array ? `[${hex(a)}]` : a !== null && typeof a === 'object' ? String(a) : JSON.stringify(a))).join(', ')})`);
      };
    const registry = client.getRegistry();
    await client.roundtrip();
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    const blob = client.bind(WthpBlobFactoryProxy, 2, 1).listen({ format: record('format') });
    const seat = client.bind(WthpSeatProxy, 3, 5).listen({ capabilities: record('capabilities'), name: record('name') });
    client.bind(WthpOutputProxy, 4, 2).listen({ geometry: record('geometry'), mode: record('mode'), done: record('done'), scale: record('scale') });
    const farstream = client.bind(WthpFarstreamProxy, 5, 1);
    const surface = compositor.createSurface().listen({ enter: record('enter'), leave: record('leave') });
    const region = compositor.createRegion();
    region.add(-1, 2, 300, 400);
    region.subtract(5, -6, 7, 8);
    const buffer = blob.createBuffer(new Uint8Array([1, 2, 3, 4, 5]), 2, 1, 8, 0);
    surface.attach(buffer, -5, 7);
    surface.damage(0, 0, 64, 32);
    surface.frame().listen({ done: record('frame done') });
    surface.setOpaqueRegion(region);
    surface.setInputRegion(region);
    surface.setBufferTransform(3);
    surface.setBufferScale(2);
    surface.damageBuffer(1, 2, 3, 4);
    const pointer = seat.getPointer().listen({
      enter: record('pointer enter'),
      leave: record('pointer leave'),
      motion: record('motion'),
      button: record('button'),
      axis: record('axis'),
      frame: record('pointer frame'),
      axisSource: record('axis source'),
      axisStop: record('axis stop'),
      axisDiscrete: record('axis discrete'),
    });
    const keyboard = seat.getKeyboard().listen({
      keymap: record('keymap'),
      enter: record('keyboard enter'),
      leave: record('keyboard leave'),
      key: record('key'),
      modifiers: record('modifiers'),
      repeatInfo: record('repeat info'),
    });
    const touch = seat.getTouch().listen({ down: record('down'), up: record('up'), motion: record('touch motion'), frame: record('touch frame'), cancel: record('cancel') });
    pointer.setCursor(42, surface, 3, -4);
    const remote = farstream.connect(5000).listen({ port: record('port'), codecAnswer: record('codec answer'), error: record('farstream error') });
    remote.codecOffer('H264 VP8');
    const buffer2 = remote.createBuffer(7).listen({ complete: record('complete') });
    surface.commit();
    await client.roundtrip();
    buffer2.destroy();
    remote.destroy();
    farstream.destroy();
    pointer.release();
    keyboard.release();
    touch.release();
    seat.release();
    buffer.destroy();
    region.destroy();
    surface.destroy();
    registry.destroy();
    await client.roundtrip();

    expect(hex(capture.received())).toBe(hex(read('all-messages', 'client-to-server.bin')));
    expect(log.lines.filter((l) => l.level !== 'debug')).toEqual([]);
    expect(events).toEqual([
      'frame done(3735928559)',
      'format(875713112)',
      'complete(77)',
      'enter(wthp_output@7)',
      'leave(wthp_output@7)',
      'capabilities(7)',
      'name("seat0")',
      'name("")',
      'pointer enter(10, wthp_surface@9, 1.5, -2.25)',
      'pointer leave(11, wthp_surface@9)',
      'motion(1000, 10, 20.5)',
      'button(12, 1001, 272, 1)',
      'axis(1002, 0, -3)',
      'pointer frame()',
      'axis source(1)',
      'axis stop(1003, 1)',
      'axis discrete(0, -2)',
      'keymap(1, [786b62])',
      'keymap(0, [])',
      'keyboard enter(13, wthp_surface@9, [])',
      'keyboard leave(14, wthp_surface@9)',
      'key(15, 1004, 30, 1)',
      'modifiers(16, 1, 2, 4, 0)',
      'repeat info(25, 600)',
      'down(17, 1005, wthp_surface@9, 0, 5.5, 6.75)',
      'up(18, 1006, 0)',
      'touch motion(1007, 0, 7.25, -8.5)',
      'touch frame()',
      'cancel()',
      'geometry(10, 20, 300, 200, 1, "Make", "Model X", 2)',
      'mode(3, 1920, 1080, 60000)',
      'done()',
      'scale(2)',
      'port(5004)',
      'codec answer("VP8/90000")',
      'farstream error(3, "oops")',
    ]);
    // wthp_extra was announced then removed; delete_id(99) named no object of ours and was ignored.
    expect(client.findGlobal('wthp_extra')).toBeUndefined();
    expect(client.isOpen).toBe(true);
  });

  it('array-quirk: our client reads the non-empty key array and the events after it (the reference client hung)', async () => {
    const capture = await playCapture('array-quirk');
    const { client, log } = await clientFor(capture.port);
    client.getRegistry();
    await client.roundtrip();
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    client.bind(WthpBlobFactoryProxy, 2, 1);
    const seat = client.bind(WthpSeatProxy, 3, 5);
    client.bind(WthpOutputProxy, 4, 2);
    client.bind(WthpFarstreamProxy, 5, 1);
    const surface = compositor.createSurface();
    const events: string[] = [];
    seat.getKeyboard().listen({
      enter: (serial, on, keys) => events.push(`enter(${serial}, ${String(on)}, [${hex(keys)}])`),
      key: (serial, time, key, state) => events.push(`key(${serial}, ${time}, ${key}, ${state})`),
    });
    surface.commit();
    await client.roundtrip();
    expect(hex(capture.received())).toBe(hex(read('array-quirk', 'client-to-server.bin')));
    expect(events).toEqual(['enter(20, wthp_surface@9, [1e0000001f00000020000000])', 'key(21, 2000, 30, 1)']);
    expect(log.lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });
});
