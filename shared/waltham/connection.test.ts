import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EncodeError, PeerError } from '../wire/errors.js';
import type { ObjectMap } from '../wire/object-map.js';
import {
  WthpCompositorProxy,
  WthpKeyboardResource,
  WthpOutputProxy,
  WthpOutputResource,
  WthpSeatResource,
  WthpSeatProxy,
  type WthpSurfaceResource,
} from '../generated/waltham/waltham.js';
import { WthDisplayError } from '../generated/waltham/waltham.js';
import type { WalthamClient } from './display.js';
import { connectWaltham } from './tcp.js';
import { RawPeer, captureLogger, msg, name, silentLogger, sleep, startExampleServer, waitFor } from './test/helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Writes of `client` so far, straight to its socket or through its stream, and their bytes. */
function countWrites(client: WalthamClient): () => { calls: number; bytes: number } {
  const write = vi.spyOn(client.stream, 'write');
  const [calls0, bytes0] = [client.directWrites, client.directlyWritten];
  return () => ({
    calls: client.directWrites - calls0 + write.mock.calls.length,
    bytes: client.directlyWritten - bytes0 + write.mock.calls.reduce((n, c) => n + (c[0] as Uint8Array).length, 0),
  });
}

async function setup(options: Parameters<typeof startExampleServer>[0] = {}, extended = false) {
  const s = await startExampleServer({ logger: silentLogger, ...options }, extended);
  cleanups.push(() => s.server.close());
  return s;
}

describe('WalthamConnection output', () => {
  it('writes queued messages straight to the socket, the rest through the stream once the peer stops reading, in order; a block is given back only once written', async () => {
    const { port, peers } = await setup({ maxOutgoingBytes: 1 << 30 });
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    await waitFor(() => peers.length === 1, 5000, 'the peer');
    const peer = peers[0]!;
    raw.socket.pause();
    const expected: Uint8Array[] = [];
    let given = 0;
    // Encoded blocks as the frame encoder hands them over: reused (here: overwritten) once given back.
    const sizes = [1, 100, 5000, 70_000, 700_000];
    const sendBlock = (round: number): void => {
      const block = new Uint8Array(sizes[round % sizes.length]!);
      for (let i = 0; i < block.length; i++) block[i] = (round * 31 + i) & 0xff;
      expected.push(block.slice());
      peer.sendEncoded(block, () => {
        block.fill(0xee);
        given++;
      });
    };
    for (let round = 0; round < 60; round++) {
      sendBlock(round);
      if (round % 3 === 2) peer.flushNow();
      if (round % 7 === 6) await sleep(1);
    }
    peer.flushNow();
    // The socket took what it could at once; the rest waits in the stream.
    expect(peer.directWrites).toBeGreaterThan(0);
    expect(peer.directlyWritten).toBeGreaterThan(0);
    expect(peer.stream.writableLength).toBeGreaterThan(0);
    expect(given).toBeLessThan(expected.length);
    raw.socket.resume();
    // More while the stream drains: nothing may overtake what it still holds.
    for (let round = 60; round < 120; round++) {
      sendBlock(round);
      peer.flushNow();
      await sleep(0);
    }
    const total = expected.reduce((n, b) => n + b.length, 0);
    await waitFor(() => raw.received.reduce((n, b) => n + b.length, 0) >= total, 10_000, 'every byte');
    expect(Buffer.concat(raw.received).equals(Buffer.concat(expected))).toBe(true);
    await waitFor(() => given === expected.length, 5000, 'every block given back');
  });

  it('sets TCP_NODELAY on both ends of a TCP connection', async () => {
    const spy = vi.spyOn(net.Socket.prototype, 'setNoDelay');
    const { port, peers } = await setup();
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    await client.roundtrip();
    const calls = spy.mock.contexts.map((socket, i) => [socket, spy.mock.calls[i]![0]]);
    expect(calls).toContainEqual([client.stream, true]);
    expect(calls).toContainEqual([peers[0]!.stream, true]);
  });

  it('coalesces the messages sent in one tick into one write', async () => {
    const { port } = await setup();
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    const writes = countWrites(client);
    const registry = client.getRegistry();
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    for (let i = 0; i < 10; i++) compositor.createRegion().add(0, 0, i, i);
    expect(writes()).toEqual({ calls: 0, bytes: 0 }); // queued until the tick ends
    await client.roundtrip();
    expect(writes()).toEqual({ calls: 1, bytes: 16 + 44 + 10 * (16 + 28) + 16 });
    void registry;
  });

  it('flushNow writes what is queued at once, in one write, and nothing is written twice', async () => {
    const { port } = await setup();
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    const writes = countWrites(client);
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    for (let i = 0; i < 3; i++) compositor.createRegion().add(0, 0, i, i);
    client.flushNow();
    expect(writes()).toEqual({ calls: 1, bytes: 16 + 44 + 3 * (16 + 28) }); // registry, bind, regions
    client.flushNow(); // nothing queued: nothing written
    await client.roundtrip();
    expect(writes().calls).toBe(2); // the roundtrip's own sync
  });

  it('stops writing while the stream asks to wait, and resumes on drain', async () => {
    const { server, port, peers } = await setup({ maxOutgoingBytes: 1 << 30 });
    let keyboard: WthpKeyboardResource | undefined;
    server.addGlobal(WthpSeatResource, 5, (seat) => seat.listen({ getKeyboard: (kb) => (keyboard = kb) }));
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    raw.write(
      msg('wth_display', 'get_registry', 1, [2]),
      msg('wthp_registry', 'bind', 2, [2, { id: 3, interface: 'wthp_seat', version: 5 }]),
      msg('wthp_seat', 'get_keyboard', 3, [4]),
    );
    for (let i = 0; i < 100 && keyboard === undefined; i++) await sleep(10);
    raw.socket.pause();
    const peer = peers[0]!;
    const stream = peer.stream;
    const original = stream.write.bind(stream);
    let waiting = false;
    let writesWhileWaiting = 0;
    let refused = 0;
    stream.on('drain', () => (waiting = false));
    vi.spyOn(stream, 'write').mockImplementation(((chunk: Uint8Array) => {
      if (waiting) writesWhileWaiting++;
      const ok = original(chunk);
      if (!ok) {
        waiting = true;
        refused++;
      }
      return ok;
    }) as typeof stream.write);
    const keymap = new Uint8Array(60_000);
    for (let i = 0; i < 400 && refused === 0; i++) {
      keyboard!.sendKeymap(1, keymap);
      await new Promise((r) => setImmediate(r));
    }
    expect(refused).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) {
      keyboard!.sendKeymap(1, keymap);
      await new Promise((r) => setImmediate(r));
    }
    expect(writesWhileWaiting).toBe(0);
    expect(peer.isOpen).toBe(true);
    // The reader comes back: everything queued arrives, in order, complete.
    raw.socket.resume();
    const sent = await raw.waitFor((ms) => ms.filter((m) => name(m) === 'wthp_keyboard@4.keymap').length >= 20, 10_000);
    expect(sent.every((m) => name(m) === 'wthp_keyboard@4.keymap' || m.entry.iface.name !== 'wthp_keyboard')).toBe(true);
  });
});

describe('WalthamConnection message memory', () => {
  it('reuses the memory of sent messages only once they are written: bursts arrive intact past a slow reader', async () => {
    const { server, port } = await setup({ maxOutgoingBytes: 1 << 30 });
    let keyboard: WthpKeyboardResource | undefined;
    server.addGlobal(WthpSeatResource, 5, (seat) => seat.listen({ getKeyboard: (kb) => (keyboard = kb) }));
    const raw = await RawPeer.connect(port);
    cleanups.push(async () => raw.socket.destroy());
    raw.write(
      msg('wth_display', 'get_registry', 1, [2]),
      msg('wthp_registry', 'bind', 2, [2, { id: 3, interface: 'wthp_seat', version: 5 }]),
      msg('wthp_seat', 'get_keyboard', 3, [4]),
    );
    for (let i = 0; i < 100 && keyboard === undefined; i++) await sleep(10);
    raw.socket.pause();
    // Bursts of large messages, each with its own content, several per tick and many ticks.
    const count = 120;
    for (let i = 0; i < count; i++) {
      keyboard!.sendKeymap(1, new Uint8Array(50_000 + (i % 7)).fill(i & 0xff));
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    raw.socket.resume();
    const sent = await raw.waitFor((ms) => ms.filter((m) => name(m) === 'wthp_keyboard@4.keymap').length >= count, 20_000);
    const keymaps = sent.filter((m) => name(m) === 'wthp_keyboard@4.keymap');
    keymaps.forEach((m, i) => {
      const data = m.args[1] as Uint8Array;
      expect(data.length).toBe(50_000 + (i % 7));
      expect(data.every((b) => b === (i & 0xff))).toBe(true);
    });
  });
});

describe('WalthamConnection objects', () => {
  it('checks message versions against the object version', async () => {
    const log = captureLogger();
    const { port } = await setup({ logger: log.logger }, true);
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    await client.globals();
    const surface = client.bind(WthpCompositorProxy, 1, 1).createSurface();
    expect(surface.version).toBe(1);
    surface.setBufferScale(2); // since 3
    const reason = await client.closed;
    expect(reason?.message).toContain(`wthp_surface@${surface.id}.set_buffer_scale: needs version 3`);
    expect((reason as { errorCode?: number }).errorCode).toBe(WthDisplayError.InvalidMethod);
  });

  it('accepts messages newer than the object with strictVersions off, as the reference does', async () => {
    const { port } = await setup({ strictVersions: false }, true);
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    await client.globals();
    client.bind(WthpCompositorProxy, 1, 1).createSurface().setBufferScale(2);
    await client.roundtrip();
    expect(client.isOpen).toBe(true);
  });

  it('reports a handler that throws as an implementation error and keeps serving others', async () => {
    const log = captureLogger();
    const { server, port } = await setup({ logger: log.logger });
    server.addGlobal(WthpOutputResource, 2, () => {
      throw new Error('no output today');
    });
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    const other = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => other.close());
    await client.globals();
    client.bind(WthpOutputProxy, 2, 2);
    const reason = (await client.closed) as PeerError;
    expect(reason.errorCode).toBe(WthDisplayError.Implementation);
    expect(reason.text).toBe('wthp_registry@2.bind: implementation error: no output today');
    expect(log.lines.some((l) => l.level === 'error' && l.msg.includes('wthp_registry@2.bind: handler failed'))).toBe(true);
    await other.roundtrip();
  });

  it('client side: ignores events to objects it destroyed and passes such objects as null in arguments', async () => {
    const { server, port, peers } = await setup({}, true);
    let output: WthpOutputResource | undefined;
    let keyboard: WthpKeyboardResource | undefined;
    server.addGlobal(WthpOutputResource, 2, (o) => (output = o));
    server.addGlobal(WthpSeatResource, 5, (seat) => seat.listen({ getKeyboard: (kb) => (keyboard = kb) }));
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    const globals = await client.globals();
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    client.bind(WthpOutputProxy, globals.find((g) => g.interface === 'wthp_output')!.name, 2);
    const seat = client.bind(WthpSeatProxy, globals.find((g) => g.interface === 'wthp_seat')!.name, 5);
    const events: unknown[] = [];
    const surface = compositor.createSurface().listen({ enter: (o) => events.push(['enter', o]) });
    seat.getKeyboard().listen({ enter: (serial, on) => events.push(['keyboard enter', serial, on]) });
    await client.roundtrip();
    const surfaceResource = peers[0]!.getObject(surface.id) as WthpSurfaceResource;
    // The client drops its surface while the server still sends about it: the messages cross.
    surface.destroy();
    surfaceResource.sendEnter(output!);
    keyboard!.sendEnter(7, surfaceResource, new Uint8Array(0));
    await client.roundtrip();
    expect(events).toEqual([['keyboard enter', 7, null]]);
    expect(client.isOpen).toBe(true);
  });

  it('drops messages sent on destroyed objects and refuses destroyed objects as arguments', async () => {
    const { port } = await setup({}, true);
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger });
    cleanups.push(() => client.close());
    await client.globals();
    const compositor = client.bind(WthpCompositorProxy, 1, 4);
    const surface = compositor.createSurface();
    const region = compositor.createRegion();
    region.destroy();
    expect(() => surface.setOpaqueRegion(region)).toThrow(EncodeError);
    region.add(0, 0, 1, 1); // dropped
    const next = compositor.createRegion();
    expect(next.id).toBe(region.id + 1);
    await client.roundtrip();
    expect(client.isOpen).toBe(true);
  });

  it('forgets the oldest zombies past maxZombies when the server never sends delete_id', async () => {
    // A server that answers nothing, like the reference one for destructors.
    const raw = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.resume();
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => raw.close(resolve)));
    const client = await connectWaltham('127.0.0.1', (raw.address() as net.AddressInfo).port, { logger: silentLogger, maxZombies: 3 });
    cleanups.push(async () => client.destroy());
    const registry = client.getRegistry();
    const compositor = registry.bind(1, WthpCompositorProxy, 4);
    const regions = Array.from({ length: 6 }, () => compositor.createRegion());
    for (const r of regions) r.destroy();
    expect(client.objectCount).toBe(3); // display, registry, compositor
    expect((client as unknown as { objects: ObjectMap<unknown> }).objects.zombies()).toEqual(regions.slice(3).map((r) => r.id));
  });
});

describe('WalthamConnection traces', () => {
  it('prints sent and received messages in libwayland\'s format', async () => {
    const { port } = await setup();
    const lines: string[] = [];
    const client = await connectWaltham('127.0.0.1', port, { logger: silentLogger, trace: (l) => lines.push(l) });
    cleanups.push(() => client.close());
    await client.globals();
    client.bind(WthpCompositorProxy, 1, 4);
    await client.roundtrip();
    const bodies = lines.map((l) => l.replace(/^\[[ \d.]+\] /, ''));
    expect(bodies).toEqual([
      ' -> wth_display@1.get_registry(new id wthp_registry@2)',
      ' -> wth_display@1.sync(new id wthp_callback@3)',
      'wthp_registry@2.global(1, "wthp_compositor", 4)',
      'wthp_callback@3.done(1)',
      'wth_display@1.delete_id(3)',
      ' -> wthp_registry@2.bind(1, new id wthp_compositor@4)',
      ' -> wth_display@1.sync(new id wthp_callback@5)',
      'wthp_callback@5.done(2)',
      'wth_display@1.delete_id(5)',
    ]);
  });
});
