import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, PeerError } from '../wire/errors.js';
import {
  WthpCompositorProxy,
  WthpCompositorResource,
  WthpOutputProxy,
  WthpOutputResource,
  WthpSeatProxy,
  WthpSeatResource,
} from '../generated/waltham/waltham.js';
import type { WalthamPeer } from './display.js';
import { WalthamServer, connectWaltham, openWalthamClient, type WalthamServerOptions } from './tcp.js';
import { captureLogger, silentLogger, sleep, waitFor } from './test/helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function server(options: WalthamServerOptions = {}): Promise<{ server: WalthamServer; port: number; peers: WalthamPeer[] }> {
  const s = new WalthamServer({ logger: silentLogger, ...options });
  const peers: WalthamPeer[] = [];
  s.on('peer', (p) => peers.push(p));
  s.addGlobal(WthpCompositorResource, 4, () => {});
  const { port } = await s.listen(0);
  cleanups.push(() => s.close());
  return { server: s, port, peers };
}

async function client(port: number, options: Parameters<typeof connectWaltham>[2] = {}) {
  const c = await connectWaltham('127.0.0.1', port, { logger: silentLogger, ...options });
  cleanups.push(() => c.close());
  return c;
}

describe('wth_display version negotiation', () => {
  it('is not started by default: no client_version goes out (the reference server rejects it)', async () => {
    const { port, peers } = await server();
    const lines: string[] = [];
    const c = await client(port, { trace: (l) => lines.push(l) });
    await c.roundtrip();
    expect(lines.some((l) => l.includes('client_version'))).toBe(false);
    expect(peers[0]!.clientVersion).toBeUndefined();
    expect(c.negotiatedVersion).toBeUndefined();
  });

  it('sends client_version when asked and settles on min(client, server) on both sides', async () => {
    const { port, peers } = await server({ serverVersion: 2 });
    const c = await client(port, { negotiateVersion: true, clientVersion: 3 });
    expect(c.serverVersion).toBe(2);
    expect(c.negotiatedVersion).toBe(2);
    expect(peers[0]!.clientVersion).toBe(3);
    expect(peers[0]!.negotiatedVersion).toBe(2);
  });

  it('uses the table\'s wth_display version by default', async () => {
    const { port, peers } = await server();
    const c = await client(port, { negotiateVersion: true });
    expect(c.negotiatedVersion).toBe(c.display.version);
    expect(peers[0]!.negotiatedVersion).toBe(c.display.version);
  });
});

describe('wth_display.sync', () => {
  it('resolves with the callback serial and the callback id is acknowledged with delete_id', async () => {
    const { port } = await server();
    const lines: string[] = [];
    const c = await client(port, { trace: (l) => lines.push(l) });
    const before = c.objectCount;
    expect(await c.sync()).toBe(1);
    expect(await c.sync()).toBe(2);
    await c.roundtrip();
    expect(c.objectCount).toBe(before);
    expect(lines.filter((l) => /wthp_callback@\d+\.done\(\d+\)/.test(l))).toHaveLength(3);
    expect(lines.some((l) => l.endsWith('wth_display@1.delete_id(2)'))).toBe(true);
  });

  it('a TCP server reads into its static buffer and writes small replies straight to the socket, in order', async () => {
    const { port, peers } = await server();
    const c = await client(port);
    for (let i = 1; i <= 50; i++) expect(await c.sync()).toBe(i);
    await c.roundtrip();
    expect(peers).toHaveLength(1);
    expect(peers[0]!.directlyWritten).toBeGreaterThan(0);
  });

  it('takes delete_id as handled (it frees the id), so only events nobody listens to are logged as unhandled', async () => {
    const { server: s, port } = await server();
    s.addGlobal(WthpSeatResource, 5, (seat) => seat.sendCapabilities(1));
    const log = captureLogger();
    const c = await client(port, { logger: log.logger });
    await c.sync();
    await c.sync();
    const g = (await c.globals()).find((x) => x.interface === 'wthp_seat')!;
    c.bind(WthpSeatProxy, g.name, g.version); // no listener for capabilities
    await c.roundtrip();
    const unhandled = log.lines.filter((l) => /no handler/.test(l.msg)).map((l) => l.msg.replace(/@\d+/, '@N'));
    expect(unhandled).toEqual(['wthp_seat@N.capabilities: no handler']);
  });

  it('rejects pending and later syncs once the connection closes', async () => {
    const { port, server: s } = await server();
    const c = await client(port);
    await c.roundtrip();
    await s.close();
    await c.closed;
    await expect(c.sync()).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});

describe('the registry', () => {
  it('announces globals, and binds with the version asked for (at most the advertised one)', async () => {
    const { server: s, port, peers } = await server();
    const bound: { version: number; peer: WalthamPeer }[] = [];
    s.addGlobal(WthpSeatResource, 5, (seat, peer) => bound.push({ version: seat.version, peer }));
    const c = await client(port);
    const globals = await c.globals();
    expect(globals).toEqual([
      { name: 1, interface: 'wthp_compositor', version: 4 },
      { name: 2, interface: 'wthp_seat', version: 5 },
    ]);
    const seat = c.bind(WthpSeatProxy, 2, 3);
    await c.roundtrip();
    expect(bound).toEqual([{ version: 3, peer: peers[0] }]);
    expect(peers[0]!.getObject(seat.id)?.version).toBe(3);
    expect(c.findGlobal('wthp_seat')?.name).toBe(2);
  });

  it('announces globals added and removed while clients are connected', async () => {
    const { server: s, port } = await server();
    const c = await client(port);
    await c.globals();
    const name = s.addGlobal(WthpOutputResource, 2, () => {});
    expect((await c.globals()).map((g) => g.interface)).toEqual(['wthp_compositor', 'wthp_output']);
    expect(s.removeGlobal(name)).toBe(true);
    expect(s.removeGlobal(name)).toBe(false);
    expect((await c.globals()).map((g) => g.interface)).toEqual(['wthp_compositor']);
  });

  it('lets a client bind a global it saw before its removal (the resource stays inert)', async () => {
    const { server: s, port } = await server();
    let binds = 0;
    const name = s.addGlobal(WthpOutputResource, 2, () => binds++);
    const c = await client(port);
    await c.globals();
    s.removeGlobal(name);
    c.bind(WthpOutputProxy, name, 2);
    await c.roundtrip();
    expect(binds).toBe(0);
    expect(c.isOpen).toBe(true);
  });

  const bindErrors: [string, (c: Awaited<ReturnType<typeof client>>) => void, string][] = [
    ['an unknown name', (c) => c.bind(WthpCompositorProxy, 7, 1), 'no global named 7'],
    ['the wrong interface', (c) => c.bind(WthpSeatProxy, 1, 1), 'global 1 is wthp_compositor, not wthp_seat'],
    ['a version above the advertised one', (c) => c.bind(WthpCompositorProxy, 1, 5), 'version 5 of wthp_compositor is not available'],
    ['version 0', (c) => c.bind(WthpCompositorProxy, 1, 0), 'version 0 of wthp_compositor is not available'],
  ];
  for (const [what, bind, text] of bindErrors) {
    it(`answers a bind with ${what} with wth_display.error on the registry`, async () => {
      const log = captureLogger();
      const { port } = await server({ logger: log.logger });
      const c = await client(port);
      await c.globals();
      bind(c);
      const reason = await c.closed;
      expect(reason).toBeInstanceOf(PeerError);
      const err = reason as PeerError;
      expect([err.objectId, err.interfaceName, err.errorCode]).toEqual([2, 'wthp_registry', 0]);
      expect(err.text).toContain(`wthp_registry@2.bind: ${text}`);
      expect(log.text()).toContain(`wthp_registry@2.bind: ${text}`);
    });
  }
});

describe('destructors', () => {
  it('make the server forget the object and send delete_id, which frees the client\'s zombie id', async () => {
    const { port, peers } = await server();
    const lines: string[] = [];
    const c = await client(port, { trace: (l) => lines.push(l) });
    await c.globals();
    const compositor = c.bind(WthpCompositorProxy, 1, 4);
    const region = compositor.createRegion();
    await c.roundtrip();
    expect(peers[0]!.getObject(region.id)?.spec.name).toBe('wthp_region');
    const count = c.objectCount;
    region.destroy();
    expect(region.destroyed).toBe(true);
    expect(c.objectCount).toBe(count - 1);
    await c.roundtrip();
    expect(peers[0]!.getObject(region.id)).toBeUndefined();
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`wth_display@1\\.delete_id\\(${region.id}\\)$`)));
    // Sending on a destroyed object is dropped, not sent.
    region.add(0, 0, 1, 1);
    await c.roundtrip();
    expect(c.isOpen).toBe(true);
  });

  it('keep ids increasing: a new object after a destroy never reuses the id', async () => {
    const { port } = await server();
    const c = await client(port);
    await c.globals();
    const compositor = c.bind(WthpCompositorProxy, 1, 4);
    const a = compositor.createRegion();
    a.destroy();
    await c.roundtrip();
    const b = compositor.createRegion();
    expect(b.id).toBeGreaterThan(a.id);
    await c.roundtrip();
    expect(c.isOpen).toBe(true);
  });
});

describe('transports', () => {
  it('serves and connects over a Unix socket given as a Duplex', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'waltham-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const s = new WalthamServer({ logger: silentLogger });
    s.addGlobal(WthpCompositorResource, 4, () => {});
    cleanups.push(() => s.close());
    const unix = net.createServer((socket) => s.accept(socket));
    const path = join(dir, 'waltham.sock');
    await new Promise<void>((resolve) => unix.listen(path, resolve));
    cleanups.push(() => new Promise((resolve) => unix.close(resolve)));
    const socket = net.connect(path);
    await new Promise((resolve) => socket.once('connect', resolve));
    const c = await openWalthamClient(socket, { logger: silentLogger, negotiateVersion: true });
    cleanups.push(() => c.close());
    expect((await c.globals()).map((g) => g.interface)).toEqual(['wthp_compositor']);
    expect(s.peers.size).toBe(1);
  });

  it('rejects connectWaltham when nothing listens', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    await expect(connectWaltham('127.0.0.1', port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('exposes the bound address and closes its peers on close()', async () => {
    const { server: s, port } = await server();
    expect(s.address()?.port).toBe(port);
    const c = await client(port);
    await c.roundtrip();
    await s.close();
    expect(await c.closed).toBeUndefined();
    expect(s.peers.size).toBe(0);
  });

  it('on close(), waits for a peer that does not close its side only for the grace given, then drops it', async () => {
    const { server: s, port, peers } = await server({ closeTimeoutMs: 5000 });
    // A peer that reads our end but never ends its own side.
    const lingering = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    cleanups.push(async () => void lingering.destroy());
    const ended = new Promise((resolve) => lingering.once('end', resolve));
    lingering.resume();
    await waitFor(() => peers.length === 1, 5000, 'the peer');
    const started = performance.now();
    await s.close({ graceMs: 100 });
    const took = performance.now() - started;
    await ended; // our side was ended in order first
    expect(took).toBeGreaterThanOrEqual(90);
    expect(took).toBeLessThan(1000);
    expect(s.peers.size).toBe(0);
  });

  it('cuts a close already under way short when a shorter grace is asked for', async () => {
    const { port, peers } = await server({ closeTimeoutMs: 5000 });
    const lingering = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    cleanups.push(async () => void lingering.destroy());
    lingering.resume();
    await waitFor(() => peers.length === 1, 5000, 'the peer');
    const peer = peers[0]!;
    void peer.close(); // the default grace: 5 s
    const started = performance.now();
    await peer.close(50);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('abandons connectWaltham when its signal is aborted', async () => {
    // Aborted before the TCP connect completes (that takes a turn of the event loop), and when aborted already.
    const abort = new AbortController();
    const { port } = await server();
    const connecting = connectWaltham('127.0.0.1', port, { logger: silentLogger, signal: abort.signal });
    abort.abort();
    await expect(connecting).rejects.toThrow(/abort/i);
    await expect(connectWaltham('127.0.0.1', port, { logger: silentLogger, signal: abort.signal })).rejects.toThrow(/abort/i);
  });

  it('turns traces on from WALTHAM_DEBUG', async () => {
    const { port } = await server();
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.env['WALTHAM_DEBUG'] = 'client';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const c = await client(port);
      await c.roundtrip();
    } finally {
      process.stderr.write = original;
      delete process.env['WALTHAM_DEBUG'];
    }
    expect(written.join('')).toMatch(/ -> wth_display@1\.sync\(new id wthp_callback@2\)/);
    expect(written.join('')).toMatch(/wthp_callback@2\.done\(1\)/);
    await sleep(0);
  });
});
