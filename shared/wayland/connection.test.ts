import { afterEach, describe, expect, it } from 'vitest';
import { memfdCreate, closeFd, fdSize, socketPair } from '../native.js';
import { WlCallbackProxy } from '../generated/wayland/index.js';
import { EncodeError, PeerError } from '../wire/errors.js';
import {
  WlCompositorProxy,
  WpViewporterProxy,
  wlCompositorInterface,
  wlSurfaceInterface,
  wpViewportInterface,
  wpViewporterInterface,
  WlCompositorResource,
  WlDataDeviceManagerResource,
  WlDataOfferProxy,
  WlDataDeviceManagerProxy,
  WlDisplayError,
  WlOutputProxy,
  WlOutputResource,
  WlSeatProxy,
  WlSeatResource,
  WlShmProxy,
  WlShmResource,
  WlShmPoolResource,
  wlDisplayInterface,
  wlRegistryInterface,
  wlShmInterface,
  wlShmPoolInterface,
} from '../generated/wayland/index.js';
import { silentLogger } from '../log.js';
import { WaylandClient } from './client.js';
import { ErrorPostedError } from './connection.js';
import { rearmCount } from './fd-watch.js';
import { WaylandServer, type WaylandServerClient } from './server.js';
import { RawClient, decodeStream, openFdCount, sleep, waitFor, withTimeout } from './test/helpers.js';
import { encodeMessage } from './wire.js';
import type { InterfaceSpec, WireValue } from '../wire/protocol.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function newServer(options: ConstructorParameters<typeof WaylandServer>[0] = {}): WaylandServer {
  const server = new WaylandServer({ logger: silentLogger, ...options });
  cleanups.push(() => server.close());
  return server;
}

/** A client of `server` over a socketpair. */
function pair(server: WaylandServer): { client: WaylandClient; peer: WaylandServerClient } {
  const [a, b] = socketPair();
  const peer = server.addClientFd(a);
  const client = WaylandClient.fromFd(b, { logger: silentLogger });
  cleanups.push(() => client.close());
  return { client, peer };
}

function shmGlobal(server: WaylandServer, onPool?: (pool: WlShmPoolResource, fd: number, size: number) => void): void {
  server.addGlobal(WlShmResource, 1, (shm) => {
    shm.listen({
      createPool: (pool, fd, size) => {
        if (onPool) onPool(pool, fd.take(), size);
        else fd.close();
      },
    });
    shm.sendFormat(0);
    shm.sendFormat(1);
  });
}

describe('WaylandConnection and WaylandServer over a socket pair', () => {
  it('answers wl_display.sync with done, then releases the callback id with delete_id for reuse', async () => {
    const server = newServer();
    server.nextSerial();
    const { client } = pair(server);
    const first = client.display.sync();
    const second = client.display.sync(); // id 2 is not acknowledged yet: a new id
    expect([first.id, second.id]).toEqual([2, 3]);
    const serials: number[] = [];
    first.listen({ done: (s) => serials.push(s) });
    await client.roundtrip();
    expect(serials).toEqual([1]);
    expect(first.destroyed).toBe(true);
    expect(client.display.sync().id).toBe(2); // lowest id acknowledged by delete_id
  });

  it('lends only ids the server used and freed, each once, and none a new object of ours takes', async () => {
    const server = newServer();
    const { client } = pair(server);
    const conn = client.connection;
    expect(conn.lendFreedObject(WlCallbackProxy, 1), 'no id freed by the server yet').toBeNull();
    const a = client.display.sync();
    const b = client.display.sync();
    await client.roundtrip();
    const lent: number[] = [];
    for (let cb = conn.lendFreedObject(WlCallbackProxy, 1); cb !== null; cb = conn.lendFreedObject(WlCallbackProxy, 1)) lent.push(cb.id);
    // Both syncs' ids (and the roundtrip's own callback's), each once.
    expect(lent).toEqual(expect.arrayContaining([a.id, b.id]));
    expect(new Set(lent).size).toBe(lent.length);
    // A new object of ours gets another id: the lent ones are held.
    const next = client.display.sync();
    expect(lent).not.toContain(next.id);
  });

  it('keeps both sockets watched across round trips without a call to the poller per report', async () => {
    const server = newServer();
    const { client } = pair(server);
    await client.roundtrip();
    const before = rearmCount();
    for (let i = 0; i < 20; i++) await client.roundtrip();
    // 40 reports (a sync in on one side, done + delete_id on the other, each time), interest unchanged
    expect(rearmCount() - before).toBe(0);
  });

  it('reads once per report when the read takes all the socket has, and on while more is queued', async () => {
    const server = newServer();
    const { client, peer } = pair(server);
    await client.roundtrip();
    const served = peer.connection.reads;
    const read = client.connection.reads;
    for (let i = 0; i < 5; i++) await client.roundtrip();
    // one sync in, one done + delete_id out: one read each, no second read to see EAGAIN
    expect(peer.connection.reads - served).toBe(5);
    expect(client.connection.reads - read).toBe(5);
    // more than one read's room (about 4 KiB and up) in one burst: every request is still answered
    const done: number[] = [];
    for (let i = 0; i < 3000; i++) client.display.sync().listen({ done: () => done.push(i) });
    await client.roundtrip();
    expect(done.length).toBe(3000);
    expect(done.slice(0, 3)).toEqual([0, 1, 2]);
    expect(client.closed).toBe(false);
  });

  it('acknowledges a destructor request with delete_id, destroys the resource and accepts the id again', async () => {
    const server = newServer();
    const destroyed: number[] = [];
    shmGlobal(server, (pool, fd) => {
      closeFd(fd);
      pool.onDestroy(() => destroyed.push(pool.id));
    });
    const { client } = pair(server);
    const registry = await client.registry();
    const shm = registry.bindFirst(WlShmProxy)!;
    const memfd = memfdCreate('pool', 4096);
    cleanups.push(() => closeFd(memfd));
    const pool = shm.createPool(memfd, 4096);
    pool.destroy();
    expect(pool.destroyed).toBe(true);
    await client.roundtrip();
    expect(destroyed).toEqual([pool.id]);
    const again = shm.createPool(memfd, 4096);
    expect(again.id).toBe(pool.id);
    await client.roundtrip();
    expect(client.closed).toBe(false);
  });

  it('ignores events addressed to a destroyed object and closes the fds they carry', async () => {
    const server = newServer();
    const keymapFds: number[] = [];
    server.addGlobal(WlSeatResource, 7, (seat) => {
      seat.listen({
        getKeyboard: (keyboard) => {
          const fd = memfdCreate('keymap', 64);
          keyboard.sendKeymap(1, fd, 64); // the connection sends a duplicate
          closeFd(fd);
        },
      });
    });
    const { client } = pair(server);
    const registry = await client.registry();
    const seat = registry.bind(WlSeatProxy, registry.find('wl_seat')!, 7);
    await client.roundtrip();
    const before = openFdCount();
    const keyboard = seat.getKeyboard();
    keyboard.listen({ keymap: (_format, fd) => keymapFds.push(fd.take()) });
    keyboard.release(); // destroyed here before the keymap event arrives
    await client.roundtrip();
    expect(keymapFds).toEqual([]);
    expect(openFdCount()).toBe(before);
    // After delete_id the id is free again.
    expect(seat.getKeyboard().id).toBe(keyboard.id);
  });

  it('delivers a live object’s fd to its handler, which owns it', async () => {
    const server = newServer();
    server.addGlobal(WlSeatResource, 7, (seat) => {
      seat.listen({
        getKeyboard: (keyboard) => {
          const fd = memfdCreate('keymap', 64);
          keyboard.sendKeymap(1, fd, 64);
          closeFd(fd);
        },
      });
    });
    const { client } = pair(server);
    const registry = await client.registry();
    const seat = registry.bind(WlSeatProxy, registry.find('wl_seat')!, 7);
    const got: number[] = [];
    seat.getKeyboard().listen({ keymap: (_format, fd, size) => got.push(fd.take(), size) });
    await client.roundtrip();
    expect(got).toHaveLength(2);
    expect(got[1]).toBe(64);
    closeFd(got[0]!);
  });

  it('creates client-side objects for new ids in events, from the server range', async () => {
    const server = newServer();
    const offers: number[] = [];
    server.addGlobal(WlDataDeviceManagerResource, 3, (manager) => {
      manager.listen({
        getDataDevice: (device) => {
          const offer = device.sendDataOffer();
          offers.push(offer.id);
          offer.onDestroy(() => offers.push(-offer.id));
        },
      });
    });
    server.addGlobal(WlSeatResource, 7, () => {});
    const { client } = pair(server);
    const registry = await client.registry();
    const manager = registry.bindFirst(WlDataDeviceManagerProxy)!;
    const seat = registry.bindFirst(WlSeatProxy)!;
    let offer: WlDataOfferProxy | undefined;
    manager.getDataDevice(seat).listen({ dataOffer: (o) => (offer = o) });
    await client.roundtrip();
    expect(offer).toBeInstanceOf(WlDataOfferProxy);
    expect(offer!.id).toBe(0xff000000);
    expect(offers).toEqual([0xff000000]);
    offer!.destroy();
    await client.roundtrip();
    expect(offers).toEqual([0xff000000, -0xff000000]);
  });

  it('turns wl_display.error from the server into a PeerError and closes; the server drops that client', async () => {
    const server = newServer();
    server.addGlobal(WlOutputResource, 3, (output, peer) => {
      peer.postError(output, 7, 'you asked for it');
    });
    const { client, peer } = pair(server);
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    const gone = new Promise<Error | undefined>((resolve) => peer.on('gone', resolve));
    const registry = await client.registry();
    const output = registry.bindFirst(WlOutputProxy)!;
    const failure = await client.roundtrip().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(PeerError);
    const peerError = failure as PeerError;
    expect([peerError.objectId, peerError.interfaceName, peerError.errorCode, peerError.text]).toEqual([output.id, 'wl_output', 7, 'you asked for it']);
    expect(errors).toEqual([failure]);
    expect(client.closed).toBe(true);
    const reason = await withTimeout(gone, 5000, 'the client to be dropped');
    expect(reason).toBeInstanceOf(ErrorPostedError);
    expect(server.clients.size).toBe(0);
  });

  it('destroys every resource of a client that disconnects, so destroy listeners run', async () => {
    const server = newServer();
    const destroyed: string[] = [];
    server.addGlobal(WlCompositorResource, 4, (compositor) => {
      compositor.onDestroy(() => destroyed.push('compositor'));
      compositor.listen({ createSurface: (surface) => surface.onDestroy(() => destroyed.push('surface')) });
    });
    const { client, peer } = pair(server);
    const gone = new Promise<void>((resolve) => server.on('client-gone', (c) => c === peer && resolve()));
    const registry = await client.registry();
    const compositor = registry.bind((await import('../generated/wayland/index.js')).WlCompositorProxy, registry.find('wl_compositor')!);
    compositor.createSurface();
    await client.roundtrip();
    client.close();
    await withTimeout(gone, 5000, 'client-gone');
    expect(destroyed.sort()).toEqual(['compositor', 'surface']);
    expect(peer.display.destroyed).toBe(true);
  });

  describe('checks wl_registry.bind like libwayland', () => {
    const cases: [string, (registry: Awaited<ReturnType<WaylandClient['registry']>>) => void, string][] = [
      ['an unknown global name', (r) => r.proxy.bind(99, WlShmProxy, 1), 'invalid global wl_shm (99)'],
      ['an interface other than the global’s', (r) => r.proxy.bind(r.find('wl_shm')!.name, WlOutputProxy, 1), 'invalid interface for global 1: have wl_output, wanted wl_shm'],
      ['a version above the advertised one', (r) => r.proxy.bind(r.find('wl_shm')!.name, WlShmProxy, 2), 'invalid version for global wl_shm (1): have 1, wanted 2'],
    ];
    for (const [what, bind, text] of cases) {
      it(`rejects ${what}`, async () => {
        const server = newServer();
        shmGlobal(server);
        const { client } = pair(server);
        const registry = await client.registry();
        bind(registry);
        const error = await client.roundtrip().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PeerError);
        expect((error as PeerError).errorCode).toBe(WlDisplayError.InvalidObject);
        expect((error as PeerError).interfaceName).toBe('wl_registry');
        expect((error as PeerError).text).toBe(text);
      });
    }
  });

  it('announces globals added later, sends global_remove, and gives a bind crossing the removal an inert object', async () => {
    const server = newServer();
    const { client } = pair(server);
    const registry = await client.registry();
    expect(registry.list()).toEqual([]);
    const bound: number[] = [];
    const handle = server.addGlobal(WlOutputResource, 3, (o) => bound.push(o.id));
    await client.roundtrip();
    expect(registry.list()).toEqual([{ name: handle.name, interface: 'wl_output', version: 3 }]);
    const removed: number[] = [];
    registry.on('global-remove', (g) => removed.push(g.name));
    const output = registry.bind(WlOutputProxy, registry.find('wl_output')!);
    handle.remove(); // before the server reads the bind
    await client.roundtrip();
    expect(removed).toEqual([handle.name]);
    expect(bound).toEqual([]);
    output.release(); // requests to the inert object are accepted
    await client.roundtrip();
    expect(client.closed).toBe(false);
  });

  it('shows a filtered global only to the clients the filter accepts', async () => {
    const server = newServer();
    const { client: a, peer: peerA } = pair(server);
    const { client: b } = pair(server);
    server.addGlobal(WlOutputResource, 3, () => {}, (c) => c === peerA);
    expect((await a.registry()).find('wl_output')).toBeDefined();
    const registryB = await b.registry();
    expect(registryB.find('wl_output')).toBeUndefined();
    registryB.proxy.bind(1, WlOutputProxy, 1);
    const error = await b.roundtrip().catch((e: unknown) => e);
    expect((error as PeerError).text).toBe('invalid global wl_output (1)');
  });

  it('refuses to send a request newer than the object’s version', async () => {
    const server = newServer();
    server.addGlobal(WlOutputResource, 3, () => {});
    const { client } = pair(server);
    const registry = await client.registry();
    const output = registry.bind(WlOutputProxy, registry.find('wl_output')!, 2);
    expect(() => output.release()).toThrow(EncodeError);
    expect(output.destroyed).toBe(false);
  });

  it('gives back the ids of new objects whose request is not sent, so the next id does not skip ahead', async () => {
    const server = newServer();
    server.addGlobal(WlShmResource, 1, (shm) => shm.listen({ createPool: (_pool, fd) => fd.close() }));
    const { client } = pair(server);
    const registry = await client.registry();
    const shm = registry.bindFirst(WlShmProxy)!;
    expect(() => shm.createPool(-1, 4096)).toThrow(EncodeError); // not an fd: nothing is sent
    const memfd = memfdCreate('pool', 4096);
    cleanups.push(() => closeFd(memfd));
    const pool = shm.createPool(memfd, 4096);
    await client.roundtrip();
    expect(client.closed).toBe(false);
    pool.destroy();
    pool.destroy(); // on a destroyed object: dropped
    shm.createPool(memfd, 4096).destroy();
    await client.roundtrip();
    expect(client.closed).toBe(false);
  });

  it('drops a client that does not read once its queue passes the limit, and keeps serving others', async () => {
    const server = newServer({ maxQueuedBytes: 64 * 1024 });
    server.addGlobal(WlShmResource, 1, (shm) => {
      for (let i = 0; i < 200_000; i++) shm.sendFormat(i);
    });
    const [a, b] = socketPair();
    const peer = server.addClientFd(a);
    const gone = new Promise<Error | undefined>((resolve) => peer.on('gone', resolve));
    const raw = new RawClient(b);
    cleanups.push(() => raw.close());
    raw.request(1, wlDisplayInterface, 'get_registry', [2]);
    raw.request(2, wlRegistryInterface, 'bind', [1, { id: 3, interface: 'wl_shm', version: 1 }]);
    const reason = await withTimeout(gone, 5000, 'the client to be dropped');
    expect(reason).toMatchObject({ code: 'ERR_LIMIT_EXCEEDED', limit: 'maxQueuedBytes' });
    expect(reason?.message).toMatch(/does not read/);
    const { client } = pair(server);
    await client.roundtrip();
  });

  it('writes a burst larger than the socket buffer across writable waits, in order', async () => {
    const server = newServer();
    const count = 100_000; // 1.2 MB of events
    server.addGlobal(WlShmResource, 1, (shm) => {
      for (let i = 0; i < count; i++) shm.sendFormat(i);
    });
    const { client } = pair(server);
    const registry = await client.registry();
    const formats: number[] = [];
    registry.bindFirst(WlShmProxy)!.listen({ format: (f) => formats.push(f) });
    await withTimeout(client.roundtrip(), 20_000, 'the burst');
    expect(formats.length).toBe(count);
    expect(formats.every((f, i) => f === i)).toBe(true);
  });

  it('writes fixed-size messages and the others in the order they are sent, byte for byte as the general encoder', async () => {
    const [a, b] = socketPair();
    const raw = new RawClient(a);
    cleanups.push(() => raw.close());
    const client = WaylandClient.fromFd(b, { logger: silentLogger });
    cleanups.push(() => client.close());
    const memfd = memfdCreate('pool', 4096);
    cleanups.push(() => closeFd(memfd));
    // Fixed-size messages (typed new_id, int, fixed, null object) around ones with a string, an untyped new_id and an fd.
    const registry = client.display.getRegistry(); // 2
    const compositor = registry.bind(1, WlCompositorProxy, 4); // 3
    const surface = compositor.createSurface(); // 4
    surface.attach(null, -3, 0x7fffffff);
    surface.damageBuffer(0, 0, 1920, 1080);
    const shm = registry.bind(2, WlShmProxy, 1); // 5
    shm.createPool(memfd, 4096).destroy(); // 6
    const viewport = registry.bind(3, WpViewporterProxy, 1).getViewport(surface); // 7, 8
    viewport.setSource(-0.5, 10.25, 100.00390625, 3);
    expect(() => surface.attach(null, 1.5, 0)).toThrow(EncodeError); // checked by the general path: nothing written
    expect(() => surface.setBufferScale(-0x80000001)).toThrow(/must be an integer/);
    surface.commit();
    client.close();
    const { bytes } = await raw.readUntilClosed();

    const expected: [number, InterfaceSpec, string, WireValue[]][] = [
      [1, wlDisplayInterface, 'get_registry', [2]],
      [2, wlRegistryInterface, 'bind', [1, { id: 3, interface: 'wl_compositor', version: 4 }]],
      [3, wlCompositorInterface, 'create_surface', [4]],
      [4, wlSurfaceInterface, 'attach', [null, -3, 0x7fffffff]],
      [4, wlSurfaceInterface, 'damage_buffer', [0, 0, 1920, 1080]],
      [2, wlRegistryInterface, 'bind', [2, { id: 5, interface: 'wl_shm', version: 1 }]],
      [5, wlShmInterface, 'create_pool', [6, 0, 4096]],
      [6, wlShmPoolInterface, 'destroy', []],
      [2, wlRegistryInterface, 'bind', [3, { id: 7, interface: 'wp_viewporter', version: 1 }]],
      [7, wpViewporterInterface, 'get_viewport', [8, 4]],
      [8, wpViewportInterface, 'set_source', [-0.5, 10.25, 100.00390625, 3]],
      [4, wlSurfaceInterface, 'commit', []],
    ];
    const parts = expected.map(([id, iface, name, args]) => {
      const message = iface.requests.find((m) => m.name === name)!;
      return encodeMessage(id, message, args).bytes; // the fd (0 here) travels out of band
    });
    const want = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    parts.reduce((pos, p) => (want.set(p, pos), pos + p.byteLength), 0);
    expect(Buffer.from(bytes).toString('hex')).toBe(Buffer.from(want).toString('hex'));
  });

  it('closes the fds of requests nobody handles', async () => {
    const server = newServer();
    server.addGlobal(WlShmResource, 1, () => {}); // no createPool handler
    const { client } = pair(server);
    const registry = await client.registry();
    const shm = registry.bindFirst(WlShmProxy)!;
    await client.roundtrip();
    const before = openFdCount();
    const memfd = memfdCreate('unhandled', 4096);
    shm.createPool(memfd, 4096);
    closeFd(memfd);
    await client.roundtrip();
    expect(openFdCount()).toBe(before);
  });

  it('leaves alone the fds a throwing handler already closed or took', async () => {
    const server = newServer();
    const kept: number[] = [];
    const reused: number[] = [];
    let calls = 0;
    server.addGlobal(WlShmResource, 1, (shm) => {
      shm.listen({
        createPool: (_pool, fd) => {
          calls++;
          if (calls === 1) {
            // Closes its fd; the next file opened gets the same number; then fails.
            const n = fd.fd;
            fd.close();
            const other = memfdCreate('reuses the number', 8192);
            cleanups.push(() => closeFd(other));
            reused.push(n, other);
          } else {
            kept.push(fd.take());
            cleanups.push(() => closeFd(kept[0]!));
          }
          throw new Error('compositor bug after owning the fd');
        },
      });
    });
    for (let round = 0; round < 2; round++) {
      const { client } = pair(server);
      const registry = await client.registry();
      const memfd = memfdCreate('pool', 4096);
      cleanups.push(() => closeFd(memfd));
      registry.bindFirst(WlShmProxy)!.createPool(memfd, 4096);
      const error = await client.roundtrip().catch((e: unknown) => e);
      expect((error as PeerError).errorCode).toBe(WlDisplayError.Implementation);
    }
    // Neither the file that reused the closed number nor the taken fd was closed by the connection.
    expect(reused[1]).toBe(reused[0]);
    expect(fdSize(reused[1]!)).toBe(8192);
    expect(fdSize(kept[0]!)).toBe(4096);
  });

  it('answers a handler that throws with an implementation error to that client only', async () => {
    const server = newServer();
    server.addGlobal(WlOutputResource, 3, (output) => {
      output.listen({
        release: () => {
          throw new Error('compositor bug');
        },
      });
    });
    const { client: bad } = pair(server);
    const { client: good } = pair(server);
    const registry = await bad.registry();
    registry.bindFirst(WlOutputProxy)!.release();
    const error = await bad.roundtrip().catch((e: unknown) => e);
    expect((error as PeerError).errorCode).toBe(WlDisplayError.Implementation);
    expect((error as PeerError).text).toBe('internal error handling wl_output@3.release');
    await good.roundtrip();
  });

  it('decodes what a raw peer sees: the error event names the object, code and libwayland text', async () => {
    const server = newServer();
    const [a, b] = socketPair();
    server.addClientFd(a);
    const raw = new RawClient(b);
    cleanups.push(() => raw.close());
    raw.request(1, wlDisplayInterface, 'get_registry', [2]);
    raw.request(2, wlRegistryInterface, 'bind', [42, { id: 3, interface: 'wl_shm', version: 1 }]);
    const { bytes, closed } = await raw.readUntilClosed();
    expect(closed).toBe(true);
    const events = decodeStream(bytes, { 1: wlDisplayInterface, 2: wlRegistryInterface, 3: wlShmInterface });
    expect(events.at(-1)).toEqual({ objectId: 1, interface: 'wl_display', name: 'error', args: [2, 0, 'invalid global wl_shm (42)'] });
  });
});

describe('WaylandServer sockets', () => {
  it('listens on $XDG_RUNTIME_DIR/NAME with NAME.lock, refuses a name in use, and picks a free wayland-N', async () => {
    const { tempRuntimeDir } = await import('./test/helpers.js');
    const { existsSync, rmSync } = await import('node:fs');
    const dir = tempRuntimeDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { XDG_RUNTIME_DIR: dir };
    const one = newServer({ env });
    expect(one.listen('wayland-0')).toBe(`${dir}/wayland-0`);
    expect(existsSync(`${dir}/wayland-0.lock`)).toBe(true);
    const two = newServer({ env });
    expect(() => two.listen('wayland-0')).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    expect(two.listenAuto()).toBe('wayland-1');
    const client = WaylandClient.connect('wayland-1', { env: { XDG_RUNTIME_DIR: dir }, logger: silentLogger });
    cleanups.push(() => client.close());
    await client.roundtrip();
    expect(two.clients.size).toBe(1);
    one.close();
    expect(existsSync(`${dir}/wayland-0`)).toBe(false);
    expect(existsSync(`${dir}/wayland-0.lock`)).toBe(false);
    await sleep(0);
  });

  it('counts serials from 1', () => {
    const server = newServer();
    expect(server.serial).toBe(0);
    expect([server.nextSerial(), server.nextSerial()]).toEqual([1, 2]);
    expect(server.serial).toBe(2);
  });

  it('stops watching the sockets of closed connections', async () => {
    const { watchedFdCount } = await import('./fd-watch.js');
    const before = watchedFdCount();
    const server = newServer();
    const { client } = pair(server);
    await client.roundtrip();
    expect(watchedFdCount()).toBe(before + 2);
    client.close();
    await waitFor(() => server.clients.size === 0);
    expect(watchedFdCount()).toBe(before);
  });
});
