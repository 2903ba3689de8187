/**
 * The transmitter's steady commits (steady.ts, native/wayland-shim/src/commits.rs) between a real
 * virtual display driven by a Wayland client of this test and a real ReceiverServer over TCP,
 * whose scene the test presents like a display: what the receiver holds must equal the client's
 * pixels after every frame, while the native side takes the commits and after each way it gives
 * a window back; frame callbacks and presentation feedback are answered as JavaScript answers
 * them.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ReceiverServer } from '../../receiver/server.js';
import { WpPresentationProxy, type WpPresentationFeedbackProxy } from '../../shared/generated/wayland/index.js';
import { ftruncateFd } from '../../shared/native.js';
import type { SceneSurface } from '../../shared/scene/scene.js';
import { captureLogger, prng } from '../../shared/test/helpers.js';
import { displayPerTest, waitFor, type ShmBufferHandle, type TestClient, type TestToplevel } from '../compositor/test/helpers.js';
import { ReceiverLink } from './link.js';
import { MISSES_BEFORE_BACKOFF, ZSTD_HOLD_MS } from './steady.js';

const W = 320;
const H = 200;
const REFRESH_NS = 16_666_667;

const vd = displayPerTest();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A receiver that presents every commit at once (refresh REFRESH_NS, sequence counting up), and a link to it. */
async function bridge(options: { steadyHoldMs?: number; codec?: 'lz4' | 'zstd' } = {}) {
  const receiverLog = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: receiverLog.logger });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  let seq = 100n;
  const shown = new Set<SceneSurface>();
  const display = { hidden: false };
  const show = (s: SceneSurface): void => {
    if (!s.destroyed && !display.hidden) s.owner.feedback.presented(s, Date.now(), { timeNs: process.hrtime.bigint(), refreshNs: REFRESH_NS, seq: ++seq, flags: 0 });
  };
  const present = (s: SceneSurface): void => {
    if (shown.has(s)) return;
    shown.add(s);
    s.on('commit', () => setImmediate(() => show(s)));
  };
  receiver.scene.on('surface', present);
  const log = captureLogger();
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: vd.display.scene, logger: log.logger, codec: 'lz4', ...options });
  link.start();
  cleanups.push(() => link.stop({ graceMs: 100 }));
  await once(link, 'connected');
  /** Hide the windows (nothing is presented) or show them again (each presents what it has). */
  const hide = (hidden: boolean): void => {
    display.hidden = hidden;
    if (!hidden) for (const s of shown) show(s);
  };
  return { receiver, link, log, hide };
}

/** A client's window painting random rectangles into a pool of buffers, with the picture it must show. */
class Painter {
  readonly model: Uint8Array;
  readonly buffers: ShmBufferHandle[] = [];
  private next = 0;
  readonly random = prng(7);
  presented: { sec: number; nsec: number; refresh: number; seq: number }[] = [];
  /** Each commit leaves the buffer's pixels outside the damage random (as a client redrawing only what it damages may). */
  noiseOutsideDamage = false;

  constructor(
    readonly client: TestClient,
    readonly t: TestToplevel,
    readonly presentation: WpPresentationProxy,
    count: number,
    readonly w: number,
    readonly h: number,
  ) {
    this.model = new Uint8Array(w * h * 4);
    for (let i = 0; i < count; i++) this.buffers.push(client.buffer(w, h, () => 0xff000000));
  }

  static async open(client: TestClient, title: string, count = 3, w = W, h = H): Promise<Painter> {
    const t = await client.toplevel(title);
    const g = client.registry.find(WpPresentationProxy.spec.name);
    if (g === undefined) throw new Error('no wp_presentation');
    const p = new Painter(client, t, client.registry.bind(WpPresentationProxy, g, 1), count, w, h);
    // The first frame: everything.
    await p.frame([p.whole]);
    return p;
  }

  /** The whole window, as one damage rectangle. */
  get whole(): { x: number; y: number; width: number; height: number } {
    return { x: 0, y: 0, width: this.w, height: this.h };
  }

  /** Random rectangles of the model repainted. */
  paint(n: number): { x: number; y: number; width: number; height: number }[] {
    const rects = [];
    const { w, h } = this;
    for (let i = 0; i < n; i++) {
      const x = Math.floor(this.random() * (w - 8));
      const y = Math.floor(this.random() * (h - 8));
      const width = 1 + Math.floor(this.random() * Math.min(90, w - x));
      const height = 1 + Math.floor(this.random() * Math.min(70, h - y));
      const color = (0xff000000 | Math.floor(this.random() * 0xffffff)) >>> 0;
      const px = new DataView(this.model.buffer);
      for (let yy = y; yy < y + height; yy++) for (let xx = x; xx < x + width; xx++) px.setUint32((yy * w + xx) * 4, color, true);
      rects.push({ x, y, width, height });
    }
    return rects;
  }

  /** Every pixel of the model repainted with random opaque colours (noise: nothing compresses). */
  paintNoise(): void {
    const px = new DataView(this.model.buffer);
    for (let i = 0; i < this.w * this.h; i++) px.setUint32(i * 4, (0xff000000 | Math.floor(this.random() * 0xffffff)) >>> 0, true);
  }

  /**
   * Attach the next buffer holding the model, damage `rects`, ask a frame callback (and
   * presentation feedback), commit; resolves when the callback is done. `wait` false: resolves
   * at once with the callback's promise.
   */
  commit(rects: readonly { x: number; y: number; width: number; height: number }[], buffer = this.buffers[this.next++ % this.buffers.length]!): Promise<number> {
    if (this.noiseOutsideDamage) {
      for (let i = 0; i < buffer.bytes.length; i++) buffer.bytes[i] = (this.random() * 256) | 0;
      const w = this.w;
      for (const r of rects) {
        for (let y = r.y; y < r.y + r.height; y++) buffer.bytes.set(this.model.subarray((y * w + r.x) * 4, (y * w + r.x + r.width) * 4), (y * w + r.x) * 4);
      }
    } else {
      buffer.bytes.set(this.model);
    }
    const s = this.t.surface;
    s.attach(buffer.buffer, 0, 0);
    for (const r of rects) s.damageBuffer(r.x, r.y, r.width, r.height);
    const done = new Promise<number>((resolve) => s.frame().listen({ done: (time) => resolve(time) }));
    const fb: WpPresentationFeedbackProxy = this.presentation.feedback(s);
    fb.listen({
      syncOutput: () => {},
      presented: (hi, lo, nsec, refresh, seqHi, seqLo) => this.presented.push({ sec: hi * 2 ** 32 + lo, nsec, refresh, seq: seqHi * 2 ** 32 + seqLo }),
      discarded: () => {},
    });
    s.commit();
    return done;
  }

  async frame(rects: readonly { x: number; y: number; width: number; height: number }[]): Promise<number> {
    const done = this.commit(rects);
    return withTimeout(done, 3000, 'a frame callback');
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function remoteWindow(receiverScene: ReceiverServer['scene'], title: string): SceneSurface | undefined {
  return [...receiverScene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.role.title === title && s.content !== null);
}

/** The receiver's pixels of the window equal the model. */
async function showsModel(receiver: ReceiverServer, title: string, p: Painter, what: string): Promise<void> {
  await waitFor(() => {
    const c = remoteWindow(receiver.scene, title)?.content;
    return c !== null && c !== undefined && c.width === p.w && c.height === p.h && Buffer.compare(Buffer.from(c.pixels.buffer, c.pixels.byteOffset, p.w * p.h * 4), Buffer.from(p.model.buffer)) === 0;
  }, 5000, what);
}

describe('steady commits', () => {
  it('take the frames of a steady window natively, pixel for pixel, and answer callbacks and feedback as the receiver showed them', async () => {
    const { receiver, link } = await bridge();
    const p = await Painter.open(await vd.connect(), 'steady');
    for (let i = 0; i < 40; i++) {
      const before = Number(process.hrtime.bigint() / 1000n);
      await p.frame(p.paint(1 + (i % 4)));
      await showsModel(receiver, 'steady', p, `frame ${i} on the receiver`);
      const fb = p.presented.at(-1)!;
      // The time the receiver's display gave (now), its refresh and its counter.
      expect(fb.refresh).toBe(REFRESH_NS);
      expect(fb.sec * 1e6 + fb.nsec / 1000).toBeGreaterThanOrEqual(before - 1000);
    }
    const seqs = p.presented.map((x) => x.seq);
    expect(seqs.slice(1).every((s, i) => s > seqs[i]!)).toBe(true);
    const stats = link.stats();
    expect(stats.nativeCommits).toBeGreaterThanOrEqual(30);
    // The application's socket was read natively, not by JavaScript, for most of them.
    expect(stats.nativeReads).toBeGreaterThanOrEqual(25);
    expect(stats.commitsSent).toBeGreaterThanOrEqual(41);
    expect(stats.framesPresented).toBeGreaterThanOrEqual(40);
    // Each buffer went back once for each commit that used it (with its callback).
    const released = p.buffers.reduce((n, b) => n + b.released, 0);
    expect(released).toBeGreaterThanOrEqual(40);
  });

  it('take the frames of two windows of one application, each handed over on its own: a commit of one not handed over leaves the other', async () => {
    const { receiver, link } = await bridge();
    const client = await vd.connect();
    const a = await Painter.open(client, 'two a');
    for (let i = 0; i < 5; i++) await a.frame(a.paint(2));
    const before = link.stats();
    expect(before.nativeCommits, 'the first window handed over').toBeGreaterThan(0);
    // The second window stays JavaScript's (a buffer scale of 2 is not handed over); the
    // application reuses the ids of either window's answered callbacks for the other's.
    const b = await Painter.open(client, 'two b');
    b.t.surface.setBufferScale(2);
    for (let i = 0; i < 30; i++) {
      await Promise.all([a.frame(a.paint(2)), b.frame(b.paint(2))]);
      if (i % 10 === 9) {
        await showsModel(receiver, 'two a', a, `frame ${i} of the first window`);
        await showsModel(receiver, 'two b', b, `frame ${i} of the second window`);
      }
    }
    const after = link.stats();
    // The first window's commits taken natively, without being given back for the second's.
    expect(after.nativeCommits - before.nativeCommits, 'commits taken natively').toBeGreaterThanOrEqual(25);
    expect(after.nativeHandovers - before.nativeHandovers, 'hand-overs').toBeLessThanOrEqual(3);
  });

  it('encode one damage rectangle straight from the buffer, whatever the rest of it holds; the content is brought up to date for whoever reads it', async () => {
    const { receiver, link } = await bridge();
    const p = await Painter.open(await vd.connect(), 'exact');
    p.noiseOutsideDamage = true;
    const content = (): Uint8Array | undefined => {
      const s = [...vd.display.scene.surfaces].find((x) => x.role?.kind === 'toplevel' && x.role.title.startsWith('exact'));
      const c = s?.content;
      return c === null || c === undefined ? undefined : c.pixels.subarray(0, W * H * 4);
    };
    // The last frames come after the last look at the content: the take-back brings them.
    for (let i = 0; i < 32; i++) {
      // One rectangle (straight from the buffer) and now and then two (copied into the content first).
      await p.frame(p.paint(i % 5 === 4 ? 2 : 1));
      await showsModel(receiver, 'exact', p, `frame ${i} on the receiver`);
      if (i % 10 === 9) expect(Buffer.compare(Buffer.from(content()!), Buffer.from(p.model))).toBe(0);
    }
    const native = link.stats().nativeCommits;
    expect(native).toBeGreaterThanOrEqual(20);
    // Taken back by a title: JavaScript's next frames build on the content.
    p.t.toplevel.setTitle('exact 2');
    for (let i = 0; i < 3; i++) {
      await p.frame(p.paint(1));
      await showsModel(receiver, 'exact 2', p, `frame ${i} after the window came back`);
    }
    expect(Buffer.compare(Buffer.from(content()!), Buffer.from(p.model))).toBe(0);
  });

  it('take a window that damages all of itself and changes a little, though its pixels would not fit the socket; a frame larger than the room goes in part, the rest after it', async () => {
    const { receiver, link } = await bridge();
    // Wide enough that its pixels at 3 bytes exceed the largest send buffer of a TCP socket
    // (net.ipv4.tcp_wmem's last figure, 4 MiB here: 1400 x 1000): its pixels at 4 bytes could
    // never be room enough, and a frame of noise never goes whole.
    const wmemMax = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
    const width = Math.max(1400, Math.ceil(wmemMax / 3000) + 64);
    const p = await Painter.open(await vd.connect(), 'whole', 3, width, 1000);
    for (let i = 0; i < 20; i++) {
      p.paint(2);
      await p.frame([p.whole]);
      await showsModel(receiver, 'whole', p, `frame ${i} on the receiver`);
    }
    expect(link.stats().nativeCommits).toBeGreaterThanOrEqual(12);
    // Noise all over after frames of a few hundred bytes: its 3-byte pixels are more than the
    // socket takes. Until a noise frame is taken natively (a window given back by its hold just
    // before goes through JavaScript).
    let native = false;
    for (let i = 0; i < 4 && !native; i++) {
      const before = link.stats().nativeCommits;
      p.paintNoise();
      await p.frame([p.whole]);
      await showsModel(receiver, 'whole', p, `noise frame ${i} on the receiver`);
      native = link.stats().nativeCommits === before + 1;
      for (let j = 0; j < 3; j++) {
        p.paint(2);
        await p.frame([p.whole]);
        await showsModel(receiver, 'whole', p, `frame ${j} after noise frame ${i}`);
      }
    }
    expect(native).toBe(true);
  });

  it('give a window back for anything else: a commit while one is in flight, a title, a new buffer; then take it again', async () => {
    const { receiver, link } = await bridge();
    const client = await vd.connect();
    const p = await Painter.open(client, 'back');
    for (let i = 0; i < 5; i++) await p.frame(p.paint(2));
    const adopted = link.stats().nativeCommits;
    expect(adopted).toBeGreaterThan(0);

    // Two commits without waiting: the second comes while the first is in flight.
    const first = p.commit(p.paint(3));
    const second = p.commit(p.paint(3));
    await withTimeout(Promise.all([first, second]), 3000, 'both frame callbacks');
    await showsModel(receiver, 'back', p, 'both commits on the receiver');

    // A title between frames (JavaScript's), then frames again.
    p.t.toplevel.setTitle('back 2');
    await p.frame(p.paint(2));
    await showsModel(receiver, 'back 2', p, 'the retitled window');
    for (let i = 0; i < 5; i++) await p.frame(p.paint(2));

    // A buffer the display has not seen.
    const fresh = client.buffer(W, H, () => 0xff000000);
    await withTimeout(p.commit(p.paint(4), fresh), 3000, 'the new buffer frame');
    await showsModel(receiver, 'back 2', p, 'the new buffer on the receiver');
    for (let i = 0; i < 10; i++) await p.frame(p.paint(2));
    await showsModel(receiver, 'back 2', p, 'frames after the new buffer');
    expect(link.stats().nativeCommits).toBeGreaterThan(adopted + 5);
  });

  it('stop offering a window that comes back without a commit every time, for a while', async () => {
    const { receiver, link } = await bridge();
    const p = await Painter.open(await vd.connect(), 'busy');
    // A request of JavaScript's before every commit: each hand-over comes back at once.
    for (let i = 0; i < 30; i++) {
      p.t.toplevel.setTitle(`busy ${i % 2}`);
      await p.frame(p.paint(1));
    }
    await showsModel(receiver, 'busy 1', p, 'the busy window');
    expect(link.stats().nativeCommits).toBe(0);
    expect(link.stats().nativeHandovers).toBe(MISSES_BEFORE_BACKOFF);
    // Plain frames again: handed over once the wait is over.
    const until = Date.now() + 1500;
    while (Date.now() < until) await p.frame(p.paint(1));
    expect(link.stats().nativeCommits).toBeGreaterThan(0);
    await showsModel(receiver, 'busy 1', p, 'the window when steady again');
  });

  /** A window painting a 1 % frame after another for `ms`, then checked: its frames, its link, and how often a hold took it back. */
  const paintFor = async (options: Parameters<typeof bridge>[0], title: string, ms: number) => {
    const { receiver, link, log } = await bridge(options);
    const p = await Painter.open(await vd.connect(), title);
    const until = Date.now() + ms;
    let frames = 0;
    for (; Date.now() < until; frames++) await p.frame(p.paint(1));
    await showsModel(receiver, title, p, `the window ${title}`);
    return { link, frames, heldBack: log.lines.filter((l) => /taken back after [1-9]/.test(l.msg)).length };
  };

  it('give a window back after a while and take it again', async () => {
    const holdMs = 1000;
    const { link, frames, heldBack } = await paintFor({ steadyHoldMs: holdMs }, 'held', holdMs * 2.5);
    const stats = link.stats();
    // Handed over, given back at each hold, handed over again: nearly every frame native.
    expect(heldBack).toBeGreaterThanOrEqual(2);
    expect(stats.nativeHandovers).toBeGreaterThan(heldBack);
    expect(stats.nativeCommits).toBeGreaterThan(frames - 8);
    expect(stats.nativeCommits).toBeLessThan(frames);
  });

  /** Takes back after a hold while a window paints for 1.4 times ZSTD_HOLD_MS with `codec`. */
  const holds = async (codec: 'lz4' | 'zstd'): Promise<number> => {
    const { link, heldBack } = await paintFor({ codec }, `held ${codec}`, ZSTD_HOLD_MS * 1.4);
    expect(link.stats().nativeCommits).toBeGreaterThan(0);
    return heldBack;
  };

  it('hold a window long while lz4 keeps up (each hold costs a frame in JavaScript)', async () => {
    expect(await holds('lz4')).toBe(0);
  });

  it('give a window back soon while zstd is chosen (the link was the bottleneck), so that lz4 is chosen again soon after it keeps up', async () => {
    expect(await holds('zstd')).toBeGreaterThanOrEqual(1);
  });

  it('gives a window back when the receiver does not present its frame: the display answers the application', async () => {
    const { receiver, link, hide } = await bridge();
    const p = await Painter.open(await vd.connect(), 'hidden');
    for (let i = 0; i < 5; i++) await p.frame(p.paint(2));
    const native = link.stats().nativeCommits;
    expect(native).toBeGreaterThan(0);
    hide(true);
    const started = Date.now();
    await withTimeout(p.commit(p.paint(2)), 4000, 'the frame callback of a frame never presented');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(link.stats().nativeCommits).toBe(native + 1);
    hide(false);
    for (let i = 0; i < 5; i++) await p.frame(p.paint(2));
    await showsModel(receiver, 'hidden', p, 'the window shown again');
  });

  it('drops a client whose buffer shrinks under a commit taken natively; another window goes on', async () => {
    const { receiver, link } = await bridge();
    const other = await Painter.open(await vd.connect(), 'other');
    // One damage rectangle (encoded straight from the buffer), then two (copied into the content first).
    for (const rects of [1, 2]) {
      const client = await vd.connect();
      const p = await Painter.open(client, `shrinks ${rects}`);
      const before = link.stats().nativeCommits;
      for (let i = 0; i < 5; i++) {
        await p.frame(p.paint(rects));
        await other.frame(other.paint(2));
      }
      expect(link.stats().nativeCommits).toBeGreaterThan(before);
      const gone = new Promise<void>((resolve) => client.client.once('close', () => resolve()));
      const logged = vd.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].includes('cannot read')).length;
      const b = p.buffers[0]!;
      ftruncateFd(b.fd, 0);
      void p.commit(p.paint(rects), b);
      await withTimeout(gone, 3000, 'the client dropped');
      await waitFor(() => vd.logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].includes('cannot read')).length > logged, 3000, 'the log line');
      for (let i = 0; i < 5; i++) await other.frame(other.paint(2));
      await showsModel(receiver, 'other', other, 'the other window');
      expect(link.connected).toBe(true);
    }
  });
});
