/**
 * Attacks on a receiver that its limits answer, rerun
 * against a real waltham-receiver on a headless weston, over real TCP, while
 * a real transmitter shows weston-simple-shm through it. The hostile peers
 * are written with the project's own Waltham library.
 *
 * The limits are scaled down (a configuration file in [receiver]) so each
 * row runs in seconds; every row ends the same way: each attacker is dropped
 * with the limit named, the legitimate window still updates, and the
 * receiver's RSS stays under a bound computed from the configured limits.
 */
import { globalBinder } from '../shared/remote/test/fixtures.js';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter, type Receiver, type Transmitter } from './bridge.js';
import { run, screenKeepsChanging, skipUnless, startWeston, waitFor, sleep, type Weston } from './harness/index.js';
import { ReceiverServer } from '../receiver/server.js';
import { DEFAULT_OUTPUT } from '../shared/scene/output.js';
import { Cleanup, logTails } from './scenario.js';
import { connectWaltham, defaultWalthamTable, encodeMessage, type WalthamClient } from '../shared/waltham/index.js';
import { WthpCompositorProxy, WthpContentProxy, WthpRemoteShellProxy, type WthpSurfaceProxy } from '../shared/generated/waltham/waltham.js';
import { CODEC_SOLID, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { PeerError } from '../shared/wire/errors.js';
import { TestClient } from '../transmitter/compositor/test/helpers.js';

const MiB = 1024 * 1024;

/** The scaled-down limits of these runs, as [receiver] keys. */
interface Limits {
  'max-connections': number;
  'max-connections-per-address': number;
  'max-objects': number;
  'max-objects-total': number;
  'max-pixel-mib': number;
  'max-pixel-mib-total': number;
  'max-queued-mib': number;
  'max-queued-mib-total': number;
  'work-rate': number;
  'work-burst': number;
  'handshake-timeout': number;
  'idle-timeout': number;
}

const LIMITS: Limits = {
  'max-connections': 24,
  'max-connections-per-address': 20,
  'max-objects': 4000,
  'max-objects-total': 12000,
  'max-pixel-mib': 40,
  'max-pixel-mib-total': 72,
  'max-queued-mib': 4,
  'max-queued-mib-total': 8,
  'work-rate': 40,
  'work-burst': 120,
  'handshake-timeout': 2,
  'idle-timeout': 3,
};

/** What one live object, one connection and the process itself may take besides the limits (measured: about 0.7 KiB per object). */
const OBJECT_BYTES = 2048;
const CONNECTION_BYTES = 2 * MiB;
const SLACK_BYTES = 96 * MiB;

/** The RSS the receiver may reach under attack: what it had before plus every budget at its limit. */
function rssBound(before: number, l: Limits): number {
  return (
    before +
    l['max-pixel-mib-total'] * MiB +
    l['max-queued-mib-total'] * MiB +
    l['max-objects-total'] * OBJECT_BYTES +
    l['max-connections'] * CONNECTION_BYTES +
    SLACK_BYTES
  );
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

interface Setup {
  receiver: Receiver;
  transmitter: Transmitter;
  port: number;
  /** The receiver's RSS with the legitimate window shown, before any attack. */
  before: number;
  /** Highest RSS seen since the start (sampled every 50 ms). */
  peak(): number;
  weston: Weston;
  logs(): string;
}

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm'))('attacks on the receiver, scaled down', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  async function setup(limits: Limits | (Limits & { 'max-surfaces': number }) = LIMITS): Promise<Setup> {
    const dir = mkdtempSync(join(tmpdir(), 'wb-limits-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const ini = join(dir, 'receiver.ini');
    writeFileSync(ini, `[receiver]\n${Object.entries(limits).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--config', ini]));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-simple-shm']));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    try {
      await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, 'the remoted window');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    }
    await sleep(300);
    const before = rssOf(receiver.process.pid);
    let peak = before;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(receiver.process.pid));
      } catch {
        // exited: the test fails on its own
      }
    }, 50);
    cleanup.defer(() => clearInterval(sampler));
    return { receiver, transmitter, port: receiver.port, before, peak: () => peak, weston, logs };
  }

  /** The legitimate window (weston-simple-shm animates) changes on screen from one shot to the next. */
  async function stillUpdating(s: Setup, ms = 10_000): Promise<void> {
    await screenKeepsChanging(s.weston, `the legitimate window to change on screen\n${s.logs()}`, ms);
  }

  function expectUnderBound(s: Setup, limits: Limits = LIMITS): void {
    const bound = rssBound(s.before, limits);
    expect(s.peak(), `receiver RSS peak ${Math.round(s.peak() / MiB)} MiB, bound ${Math.round(bound / MiB)} MiB (before: ${Math.round(s.before / MiB)} MiB)`).toBeLessThan(bound);
  }

  /** A hostile transmitter with the usual globals bound. */
  async function hostile(port: number) {
    const client = await connectWaltham('127.0.0.1', port, { logger: quiet, maxZombies: 1 << 20 });
    cleanup.defer(() => client.destroy());
    const bind = await globalBinder(client);
    const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
    const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
    const content = bind<WthpContentProxy>(WthpContentProxy);
    const solid = (surface: WthpSurfaceProxy, width: number, height: number): void => {
      content.tile(surface, 0, 0, width, height, CODEC_SOLID, new Uint8Array([0, 0, 0xff, 0x80]));
    };
    return { client, compositor, shell, content, solid };
  }

  /** The wth_display.error text the receiver dropped `client` with. */
  async function dropped(client: WalthamClient, timeoutMs = 20_000): Promise<string> {
    const reason = await Promise.race([client.closed, sleep(timeoutMs).then(() => new Error(`still connected after ${timeoutMs} ms`))]);
    if (reason instanceof PeerError) return reason.text;
    throw new Error(`closed without wth_display.error: ${reason?.message ?? 'orderly close'}`);
  }

  it('100 connections x 65,000 create_region: object limits per peer and in total drop the attackers', async () => {
    const s = await setup();
    const attackers = await Promise.all(Array.from({ length: 6 }, () => hostile(s.port)));
    for (const a of attackers) for (let i = 0; i < 3500; i++) a.compositor.createRegion();
    // Each stays under max-objects (4000): the total (12000) stops the fourth and later.
    const results = await Promise.all(attackers.map((a) => Promise.race([dropped(a.client, 8000), a.client.roundtrip().then(() => 'alive')])));
    const refused = results.filter((r) => r !== 'alive');
    expect(refused.length, results.join('\n')).toBeGreaterThanOrEqual(3);
    for (const r of refused) expect(r).toMatch(/limit max-objects-total/);
    // One peer alone past max-objects (the others gone first, their objects freed).
    const alive = attackers.filter((_, i) => results[i] === 'alive');
    const ports = alive.map((a) => (a.client.stream as net.Socket).localPort);
    for (const a of alive) a.client.destroy();
    const gone = (port: number | undefined): boolean => s.receiver.process.lines.some((l) => l.includes(`transmitter 127.0.0.1:${port} disconnected`) || l.includes(`transmitter 127.0.0.1:${port} dropped`));
    await waitFor('the surviving attackers to be gone', () => ports.every(gone), 10_000, 50);
    const greedy = await hostile(s.port);
    for (let i = 0; i < 5000; i++) greedy.compositor.createRegion();
    expect(await dropped(greedy.client)).toMatch(/more than 4000 objects/);
    await stillUpdating(s);
    expectUnderBound(s);
  }, 60_000);

  it('3 peers x 4 surfaces of 8192x8192: pixel memory per peer and in total; the memory is given back', async () => {
    const s = await setup();
    const size = 2048; // 16 MiB a buffer
    const peers = await Promise.all(Array.from({ length: 3 }, () => hostile(s.port)));
    const surfaces = peers.map((p) =>
      Array.from({ length: 4 }, () => {
        const surface = p.compositor.createSurface();
        p.shell.getToplevel(surface);
        return surface;
      }),
    );
    // Two buffers each (32 MiB, under max-pixel-mib 40) from every peer: the third peer passes the total (72).
    for (const [i, p] of peers.entries()) {
      for (const surface of surfaces[i]!.slice(0, 2)) {
        p.content.begin(surface, size, size, FORMAT_ARGB8888);
        p.solid(surface, size, size);
        surface.commit();
      }
      await Promise.race([p.client.roundtrip(), p.client.closed]);
    }
    expect(await dropped(peers[2]!.client)).toMatch(/limit max-pixel-mib-total/);
    // A third buffer passes the peer's own limit (48 > 40).
    const p0 = peers[0]!;
    p0.content.begin(surfaces[0]![2]!, size, size, FORMAT_ARGB8888);
    expect(await dropped(p0.client)).toMatch(/limit max-pixel-mib:/);
    const held = rssOf(s.receiver.process.pid);
    peers[1]!.client.destroy();
    await s.receiver.process.waitForLine(/transmitter .* disconnected/, 10_000);
    // Given back: the buffers of the peers that are gone (4 x 16 MiB) are freed.
    await waitFor(`RSS to drop from ${Math.round(held / MiB)} MiB`, () => rssOf(s.receiver.process.pid) < held - 40 * MiB, 10_000, 100);
    await stillUpdating(s);
    expectUnderBound(s);
  }, 60_000);

  it('2,000 solid-colour tiles of 8192x8192: the work budget drops the peer; other windows keep updating', async () => {
    const s = await setup();
    const a = await hostile(s.port);
    const surface = a.compositor.createSurface();
    a.shell.getToplevel(surface);
    const size = 3072; // 9.4 Mpx a tile, 4 bytes on the wire
    a.content.begin(surface, size, size, FORMAT_ARGB8888);
    for (let i = 0; i < 2000; i++) a.solid(surface, size, size);
    surface.commit();
    expect(await dropped(a.client)).toMatch(/limit work-rate/);
    await stillUpdating(s);
    expectUnderBound(s);
  }, 60_000);

  it('12 peers that never read: the queued memory (as it really is) drops them', async () => {
    const s = await setup();
    const table = defaultWalthamTable();
    const sync = table.get('wth_display')!.requests.find((m) => m.name === 'sync')!;
    const sockets = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const socket = net.connect(s.port, '127.0.0.1');
        cleanup.defer(() => socket.destroy());
        socket.on('error', () => {}); // EPIPE once dropped
        await new Promise((r) => socket.once('connect', r));
        socket.pause(); // never reads
        socket.write(encodeMessage(sync, 1, [2], 'wth_display'));
        return socket;
      }),
    );
    // Each sync costs the receiver a wthp_callback.done and a delete_id queued for a peer that does not read.
    const batch = 4096;
    for (const [k, socket] of sockets.entries()) {
      void k;
      let id = 3;
      const closed = new Promise((r) => socket.once('close', r));
      let gone = false;
      void closed.then(() => (gone = true));
      for (let round = 0; round < 200 && !gone; round++) {
        const parts: Uint8Array[] = [];
        for (let i = 0; i < batch; i++) parts.push(encodeMessage(sync, 1, [id++], 'wth_display'));
        await new Promise<void>((r) => socket.write(Buffer.concat(parts), () => r()));
      }
      await Promise.race([closed, sleep(15_000)]);
      expect(gone, `a non-reading peer still connected\n${s.logs()}`).toBe(true);
    }
    const log = s.receiver.process.lines.filter((l) => /dropped|queued/.test(l)).join('\n');
    // The guard's sweep or the connection's backstop, whichever comes first: both name the setting.
    expect(log).toMatch(/limit max-queued-mib/);
    await stillUpdating(s);
    expectUnderBound(s);
  }, 60_000);

  it('idle and slowloris connections: connection limits refuse the surplus, the handshake and idle deadlines drop the rest', async () => {
    const s = await setup();
    const table = defaultWalthamTable();
    const sync = table.get('wth_display')!.requests.find((m) => m.name === 'sync')!;
    const received = new Map<net.Socket, string>();
    const open = async (): Promise<net.Socket> => {
      const socket = net.connect(s.port, '127.0.0.1');
      cleanup.defer(() => socket.destroy());
      received.set(socket, '');
      socket.on('data', (d: Buffer) => received.set(socket, received.get(socket)! + d.toString('latin1')));
      socket.on('error', () => {});
      await new Promise((r) => socket.once('connect', r));
      return socket;
    };
    const closed = (socket: net.Socket): Promise<void> => (socket.closed ? Promise.resolve() : new Promise((r) => socket.once('close', () => r())));
    // Slowloris: a header, then one byte a second.
    const slow = await Promise.all(Array.from({ length: 8 }, () => open()));
    const header = encodeMessage(sync, 1, [2], 'wth_display');
    for (const socket of slow) socket.write(header.subarray(0, 8));
    const drip = setInterval(() => {
      for (const socket of slow) if (!socket.destroyed) socket.write(header.subarray(8, 9));
    }, 1000);
    cleanup.defer(() => clearInterval(drip));
    // Idle after one whole message.
    const idle = await Promise.all(Array.from({ length: 6 }, () => open()));
    for (const socket of idle) socket.write(header);
    // More than max-connections-per-address (20, the transmitter is one): refused at once.
    const surplus = await Promise.all(Array.from({ length: 10 }, () => open()));
    await Promise.all([...slow, ...idle, ...surplus].map(closed));
    const texts = (group: net.Socket[]): string[] => group.map((socket) => received.get(socket)!);
    expect(texts(surplus).filter((t) => /limit max-connections-per-address/.test(t)).length).toBeGreaterThanOrEqual(4);
    for (const t of texts(slow)) expect(t).toMatch(/limit handshake-timeout|limit max-connections/);
    for (const t of texts(idle)) expect(t).toMatch(/limit idle-timeout|limit max-connections/);
    expect(texts(slow).some((t) => /handshake-timeout/.test(t))).toBe(true);
    expect(texts(idle).some((t) => /idle-timeout/.test(t))).toBe(true);
    await stillUpdating(s);
    expectUnderBound(s);
  }, 60_000);

  describe('one application on the transmitter', () => {
    it('creating 2 million wl_surface: that application alone is disconnected (max-surfaces), the transmitter and the other application go on', async () => {
      const s = await setup();
      const txBefore = rssOf(s.transmitter.process.pid);
      const app = await TestClient.connectTo(s.transmitter.clientEnv.WAYLAND_DISPLAY!);
      cleanup.defer(() => app.close());
      // In batches with a roundtrip each, so that the error is read before a write could fail.
      for (let i = 0; i < 200 && !app.client.closed; i++) {
        for (let j = 0; j < 100; j++) app.compositor.createSurface();
        await app.roundtrip().catch(() => undefined);
      }
      await waitFor('the application to be disconnected', () => app.client.closed, 20_000, 50);
      expect(app.client.closeReason?.message).toMatch(/limit max-surfaces: more than 1024 surfaces/);
      expect(s.transmitter.process.running).toBe(true);
      await stillUpdating(s);
      // Bound: what it had plus what 1024 surfaces and 65536 objects may take (2 KiB each) and slack.
      expect(rssOf(s.transmitter.process.pid)).toBeLessThan(txBefore + 65536 * OBJECT_BYTES + SLACK_BYTES);
    }, 60_000);

    it('mapping more toplevels than the receiver allows: the surplus is refused alone, the link stays up, the other application keeps updating', async () => {
      const s = await setup({ ...LIMITS, 'max-surfaces': 8 });
      const app = await TestClient.connectTo(s.transmitter.clientEnv.WAYLAND_DISPLAY!);
      cleanup.defer(() => app.close());
      const buffer = app.buffer(32, 32, () => 0xffc00000);
      for (let i = 0; i < 40; i++) (await app.toplevel(`many ${i}`)).show(buffer);
      await app.roundtrip();
      await s.transmitter.process.waitForLine(/the receiver refused a surface/, 20_000);
      await stillUpdating(s);
      expect(s.receiver.process.lines.filter((l) => /transmitter .* connected/.test(l))).toHaveLength(1);
      expect(s.transmitter.process.lines.join('\n')).not.toMatch(/max-surfaces.*dropped|dropped.*max-surfaces/);
      expect(app.client.closed).toBe(false);
    }, 60_000);
  });

  describe('a malicious receiver', () => {
    it('a 5,000-character output make and a 100000x100000 configure do not reach the applications as such', async () => {
      // The project's receiver, made to describe a hostile output.
      const receiver = new ReceiverServer({
        host: '127.0.0.1',
        port: 0,
        logger: quiet,
        output: { ...DEFAULT_OUTPUT, make: 'M'.repeat(5000), width: 100000, height: 100000 },
      });
      const { port } = await receiver.listen();
      cleanup.defer(() => receiver.close());
      const transmitter = cleanup.add(startTransmitter([`127.0.0.1:${port}`], ['weston-simple-shm']));
      const window = await waitFor('the window on the receiver', () => [...receiver.scene.surfaces].find((x) => x.content !== null && x.role?.kind === 'toplevel'), 20_000, 50);
      window.owner.feedback.configure(window, 100000, 100000, ['maximized']);
      // Applications that bind wl_output once the receiver described it: wayland-info, until it shows that output.
      const out = await waitFor('wayland-info showing the receiver\'s output', async () => {
        const text = await run('wayland-info', [], { env: { ...process.env, ...transmitter.clientEnv }, timeoutMs: 10_000 });
        return /MMMM/.test(text) ? text : undefined;
      }, 20_000, 200);
      expect(/make: '?(M+)'?/.exec(out)?.[1], out.slice(0, 2000)).toBe('M'.repeat(64));
      expect(out).not.toMatch(/100000/);
      // The application that got the configure is still there, and still drawing.
      // (No display here: each frame is presented at once, as a display would after showing it.)
      let frames = 0;
      window.on('commit', () => {
        frames++;
        window.owner.feedback.presented(window, Date.now());
      });
      window.owner.feedback.presented(window, Date.now());
      await waitFor('frames of weston-simple-shm after the configure', () => frames > 5, 10_000, 50);
      expect(transmitter.process.running).toBe(true);
    }, 60_000);
  });
});

const quiet = { error() {}, warn() {}, info() {}, debug() {} };
