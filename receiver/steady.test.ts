/**
 * Steady frames handled natively (steady.ts, native/wayland-shim/src/steady.rs),
 * on a real weston: transmitters driven by hand send frames of tiles (raw,
 * solid, copy) with frame callbacks and presentation feedback; the receiver
 * hands their surfaces to the native path after a frame, and what weston
 * shows must be exactly the pixels sent, every callback answered, whatever
 * comes in between: a bad tile (the peer gets its error and is dropped, the
 * other keeps going), a new size while a frame is in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpPresentationProxy,
  WthpRemoteShellProxy,
  type WthpSurfaceProxy,
} from '../shared/generated/waltham/waltham.js';
import { connectWaltham, type WalthamClient } from '../shared/waltham/index.js';
import { CODEC_COPY, CODEC_RAW, CODEC_SOLID, FORMAT_XRGB8888 } from '../shared/remote/tiles.js';
import { PeerError } from '../shared/wire/errors.js';
import { globalBinder } from '../shared/waltham/test/helpers.js';
import { LocalDisplay } from '../shared/display/local-display.js';
import { captureLogger } from '../shared/remote/test/fixtures.js';
import { sleep, skipUnless, spawnProcess, startWeston, waitFor, type Weston } from '../e2e/harness/index.js';
import { startTransmitter } from '../e2e/bridge.js';
import { nestedWakeCount } from '../shared/wayland/fd-watch.js';
import type { RemoteClient } from './remote-client.js';
import { ReceiverServer } from './server.js';
import { SteadyPath } from './steady.js';
import { STEADY_AFTER } from '../shared/display/presentation.js';

const skip = skipUnless('weston', 'weston-screenshooter');
const skipApp = skip || skipUnless('weston-simple-shm');
const quiet = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet } as never;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: ConstructorParameters<typeof SteadyPath>[2] = {}): Promise<{ weston: Weston; server: ReceiverServer; steady: SteadyPath; port: number }> {
  const weston = await startWeston({ backend: 'headless', width: 320, height: 240 });
  cleanups.push(() => weston.stop());
  const display = new LocalDisplay({ shell: 'xdg', env: weston.env, logger: quiet });
  await display.start();
  cleanups.push(() => display.close());
  const steady = new SteadyPath(display.steady, quiet, options);
  const server = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, deadMs: 0, steady });
  display.attach(server.scene);
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { weston, server, steady, port };
}

/** One tile as the model applies it. */
type Tile = { x: number; y: number; w: number; h: number } & ({ codec: 'raw'; px: number[] } | { codec: 'solid'; colour: number } | { codec: 'copy'; sx: number; sy: number });

/** A transmitter driven by hand, with a model of what its surface shows. */
async function transmitter(port: number, appId: string) {
  const client: WalthamClient = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const bind = await globalBinder(client);
  const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
  const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
  const content = bind<WthpContentProxy>(WthpContentProxy);
  const presentation = bind<WthpPresentationProxy>(WthpPresentationProxy);
  /** A window of this transmitter's, drawn by its own frames. */
  const window = (appId: string) => {
    const surface: WthpSurfaceProxy = compositor.createSurface();
    const toplevel = shell.getToplevel(surface);
    toplevel.setAppId(appId);
    let size = { width: 64, height: 48 };
    let model = new Uint32Array(size.width * size.height);
    const answered = { frames: 0, presented: 0, last: null as { age: number; refresh: number } | null };

    const apply = (t: Tile): void => {
      const before = model.slice();
      for (let y = 0; y < t.h; y++) {
        for (let x = 0; x < t.w; x++) {
          const at = (t.y + y) * size.width + t.x + x;
          model[at] = t.codec === 'raw' ? t.px[y * t.w + x]! : t.codec === 'solid' ? t.colour : before[(t.sy + y) * size.width + t.sx + x]!;
        }
      }
    };
    const send = (t: Tile): void => {
      if (t.codec === 'raw') {
        const data = new Uint8Array(t.w * t.h * 4);
        const v = new DataView(data.buffer);
        t.px.forEach((p, i) => v.setUint32(i * 4, p >>> 0, true));
        content.tile(surface, t.x, t.y, t.w, t.h, CODEC_RAW, data);
      } else if (t.codec === 'solid') {
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, t.colour >>> 0, true);
        content.tile(surface, t.x, t.y, t.w, t.h, CODEC_SOLID, data);
      } else {
        const data = new Uint8Array(8);
        const v = new DataView(data.buffer);
        v.setUint32(0, t.sx, true);
        v.setUint32(1 * 4, t.sy, true);
        content.tile(surface, t.x, t.y, t.w, t.h, CODEC_COPY, data);
      }
    };
    /** Send a frame (begin, tiles, frame callback, presentation feedback, commit); resolves when its callback is done. */
    const frame = (tiles: Tile[], resize?: { width: number; height: number }): Promise<void> => {
      if (resize !== undefined) {
        size = resize;
        model = new Uint32Array(size.width * size.height);
      }
      content.begin(surface, size.width, size.height, FORMAT_XRGB8888);
      for (const t of tiles) {
        apply(t);
        send(t);
      }
      const done = new Promise<void>((resolve) => surface.frame().listen({ done: () => resolve() }));
      presentation.feedback(surface).listen({
        presented: (age, refresh) => {
          answered.presented++;
          answered.last = { age, refresh };
        },
      });
      surface.commit();
      client.flushNow?.();
      return done.then(() => void answered.frames++);
    };
    /** The tiles of frame `k`: a square moved across, a line of raw pixels, a block copied from where an earlier frame drew. */
    const tilesOf = (k: number): Tile[] => {
      const { width: w, height: h } = size;
      const square = { x: (k * 7) % (w - 12), y: (k * 5) % (h - 12), w: 12, h: 12 };
      const colour = 0xff000000 | ((k * 2654435761) & 0xffffff);
      const line = { x: 0, y: k % h, w: Math.min(w, 40), h: 1 };
      const tiles: Tile[] = [
        { ...square, codec: 'solid', colour },
        { ...line, codec: 'raw', px: Array.from({ length: line.w }, (_, i) => 0xff000000 | (((i * 40 + k) & 0xff) << 16) | ((k * 3) & 0xff)) },
      ];
      // Odd frames copy a corner block (source untouched by this frame's earlier tiles or not).
      if (k % 2 === 1) tiles.push({ x: w - 10, y: h - 10, w: 8, h: 8, codec: 'copy', sx: square.x, sy: square.y });
      return tiles;
    };
    return { surface, toplevel, frame, tilesOf, model: () => ({ size, pixels: model }), answered };
  };
  return { client, content, ...window(appId), window };
}

/**
 * Frames from each of `ts` until `steady` holds as many surfaces (handed over once the display's
 * presentations are steady: a few frames with real feedback first, more under load), at most
 * 150; returns the number of frames sent.
 */
async function framesUntilHandedOver(steady: SteadyPath, ...ts: Pick<Awaited<ReturnType<typeof transmitter>>, 'frame' | 'tilesOf'>[]): Promise<number> {
  let k = 0;
  for (; k < 150 && steady.size < ts.length; k++) await Promise.all(ts.map((t) => t.frame(t.tilesOf(k))));
  return k;
}

/** What weston shows of the window of `appId`, as 0xffRRGGBB, compared with the model (except where `covered`, on the screen, hides it). */
async function mismatches(
  weston: Weston,
  appId: string,
  want: { size: { width: number; height: number }; pixels: Uint32Array },
  covered?: { x: number; y: number; width: number; height: number },
): Promise<string | null> {
  const view = await weston.waitForView((v) => v.visible && v.appId === appId && v.rect.width === want.size.width && v.rect.height === want.size.height, 10_000, appId);
  let wrong = 0;
  let first = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    const shot = (await weston.screenshot()).crop(view.rect);
    wrong = 0;
    first = '';
    for (let y = 0; y < want.size.height; y++) {
      for (let x = 0; x < want.size.width; x++) {
        const [sx, sy] = [view.rect.x + x, view.rect.y + y];
        if (covered !== undefined && sx >= covered.x && sx < covered.x + covered.width && sy >= covered.y && sy < covered.y + covered.height) continue;
        const p = shot.pixel(x, y);
        const got = ((p.r << 16) | (p.g << 8) | p.b) >>> 0;
        const expected = want.pixels[y * want.size.width + x]! & 0xffffff;
        if (got !== expected) {
          if (wrong === 0) first = `(${x}, ${y}): ${got.toString(16)} instead of ${expected.toString(16)}`;
          wrong++;
        }
      }
    }
    if (wrong === 0) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
  return `${wrong} pixels differ, first ${first}`;
}

describe.skipIf(skip)('steady frames, natively', () => {
  it('shows exactly the tiles sent and answers every callback while the surface is handed over', async () => {
    const { weston, server, steady, port } = await setup();
    const t = await transmitter(port, 'steady-a');
    // Handed over, then 30 frames more.
    let k = await framesUntilHandedOver(steady, t);
    for (const end = k + 30; k < end; k++) await t.frame(t.tilesOf(k));
    expect(steady.handovers.adopted, 'hand-overs').toBeGreaterThan(0);
    expect(steady.size, 'the surface is handed over now').toBe(1);
    // Both sockets were read natively for the frames handed over (the transmitter's and the compositor's).
    expect(steady.nativeReads, 'reads done natively').toBeGreaterThanOrEqual(30);
    expect(t.answered.frames).toBe(k);
    expect(await mismatches(weston, 'steady-a', t.model())).toBeNull();
    // A ping while handed over is answered there and noted as a sign of life.
    const pinged = Date.now();
    await t.client.roundtrip();
    expect(steady.size, 'still handed over after the ping').toBe(1);
    expect(server.peers[0]!.peer.lastSync).toBeGreaterThanOrEqual(pinged);
    expect(t.answered.presented, 'presentation feedback of every frame').toBe(k);
    // Counted whether handled natively or not.
    expect(server.stats().peers[0]).toMatchObject({ commits: k, presented: k });
  }, 60_000);

  it('hands the windows of one transmitter over one by one: frames of one not handed over leave the other handed over', async () => {
    const { weston, steady, port } = await setup();
    const a = await transmitter(port, 'steady-two-a');
    const b = a.window('steady-two-b');
    let k = await framesUntilHandedOver(steady, a);
    expect(steady.size, 'the first window handed over').toBe(1);
    const released = steady.handovers.released;
    // The second window's first frames are JavaScript's, its objects' ids in one sequence with
    // those the first one's frames create natively; then it is handed over too.
    let j = 0;
    for (; j < 40; j++, k++) await Promise.all([a.frame(a.tilesOf(k)), b.frame(b.tilesOf(j))]);
    expect(steady.handovers.released, 'no window taken back').toBe(released);
    expect(steady.size, 'both handed over').toBe(2);
    expect([a.answered.frames, b.answered.frames]).toEqual([k, j]);
    // The second window, mapped later, is above the first where they overlap.
    const above = (await weston.waitForView((v) => v.appId === 'steady-two-b', 5000, 'the second window')).rect;
    expect(await mismatches(weston, 'steady-two-a', a.model(), above)).toBeNull();
    expect(await mismatches(weston, 'steady-two-b', b.model())).toBeNull();
  }, 60_000);

  it('checks its predictions with a real presentation now and then, and without checks gives the surface back after each hold', async () => {
    // Held 300 ms: without checks the surface goes back after each hold (JavaScript asks the
    // compositor for a real presentation then). With a check every 100 ms the native side asks
    // weston itself (lent feedback ids), and presentations on the predictions' lag confirm them
    // (that a confirmed check renews the hold, and one off the lag gives the surface back, is
    // checked in steady.rs, where time and presentations are given). Handed over once the
    // display shows itself steady (not before, asking every presentation: `following`).
    for (const checkMs of [100, null]) {
      const { weston, steady, port } = await setup({ holdMs: 300, checkMs, following: false });
      const appId = `steady-check-${checkMs ?? 'none'}`;
      const t = await transmitter(port, appId);
      let k = await framesUntilHandedOver(steady, t);
      expect(steady.size, 'handed over').toBe(1);
      expect(steady.handovers.following).toBe(0);
      const before = steady.handovers.released;
      const start = Date.now();
      while (Date.now() - start < (checkMs === null ? 1500 : 5000) && !(checkMs !== null && steady.checks >= 3)) await t.frame(t.tilesOf(k++));
      expect(t.answered.frames).toBe(k);
      expect(t.answered.presented, 'presentation feedback of every frame').toBe(k);
      expect(await mismatches(weston, appId, t.model())).toBeNull();
      if (checkMs !== null) {
        expect(steady.checks, `confirmed checks in ${Date.now() - start} ms`).toBeGreaterThanOrEqual(3);
      } else {
        expect(steady.checks).toBe(0);
        expect(steady.handovers.released - before, 'taken back after its holds').toBeGreaterThanOrEqual(3);
      }
      for (const c of cleanups.splice(0).reverse()) await c();
    }
  }, 60_000);

  it('hands a surface whose producer wants presentations over before the display shows itself steady, asking every commit\'s', async () => {
    // The test's transmitter asks presentation feedback of every frame. Before weston's
    // presentations have come STEADY_AFTER times in a row on the same lag, the surface is
    // handed over asking the real presentation of each commit, and each moves the predictions
    // the feedback is answered from, until as many in a row show the display steady (then one
    // a second confirms them).
    const { weston, steady, port } = await setup();
    const t = await transmitter(port, 'steady-following');
    let k = await framesUntilHandedOver(steady, t);
    expect(steady.handovers.following, 'handed over asking every presentation').toBe(1);
    const checks = steady.checks;
    for (const end = k + 30; k < end; k++) await t.frame(t.tilesOf(k));
    expect(steady.size, 'still handed over').toBe(1);
    expect(steady.checks - checks, 'real presentations the predictions followed').toBeGreaterThanOrEqual(STEADY_AFTER);
    // What --stats shows of it.
    expect(steady.stats()).toMatchObject({ handedOver: 1, adopted: 1, following: 1, released: 0, checks: steady.checks });
    expect(steady.stats().nativeReads).toBeGreaterThanOrEqual(30);
    expect(t.answered.frames).toBe(k);
    expect(t.answered.presented, 'presentation feedback of every frame').toBe(k);
    // The next refresh after the newest real presentation: within a refresh ahead (negative age).
    const { age, refresh } = t.answered.last!;
    expect(refresh, 'the display\'s refresh').toBeGreaterThan(0);
    expect(age, 'age of the presentation answered (us)').toBeLessThanOrEqual(0);
    expect(age).toBeGreaterThanOrEqual(-Math.ceil(refresh / 1000));
    expect(await mismatches(weston, 'steady-following', t.model())).toBeNull();
  }, 60_000);

  it.skipIf(skipApp)('waits for the next message of a handed-over surface inside the loop, and the loop still runs its timers and streams', async () => {
    // The transmitter runs in a process of its own: every fd this process reads while the
    // surface is handed over is read natively, so the poller waits in the loop's callback
    // (nested) instead of going back to the loop for each wake-up. The loop's timers must still
    // fire while frames keep coming, and a stream of the loop's own (a child's output) must
    // still be read.
    const { steady, port } = await setup();
    const tx = startTransmitter([`127.0.0.1:${port}`], ['weston-simple-shm'], ['--log-level', 'warn']);
    cleanups.push(() => tx.stop());
    await waitFor('the surface handed over', () => steady.size === 1, 20_000, 20);
    // Timers of 50 ms, until five of them have fired after wake-ups handled in the callback (at
    // most 40: a loaded machine shows fewer frames in a period).
    let ticksWhileNested = 0;
    for (let i = 0; i < 40 && ticksWhileNested < 5; i++) {
      const before = nestedWakeCount();
      await sleep(50);
      if (nestedWakeCount() > before) ticksWhileNested++;
    }
    expect(ticksWhileNested, 'timers of 50 ms that fired after native wake-ups in the callback').toBe(5);
    const child = spawnProcess('sh', ['-c', 'sleep 0.3; echo from-the-child'], { name: 'child' });
    cleanups.push(() => child.stop());
    const beforeChild = nestedWakeCount();
    await waitFor('the child\'s line', () => child.output().includes('from-the-child'), 10_000, 5);
    expect(nestedWakeCount(), 'nested wake-ups while the child slept').toBeGreaterThan(beforeChild);
    expect(steady.size, 'still handed over').toBe(1);
  }, 60_000);

  // The bad tile comes from the window handed over, or from another window of that transmitter
  // that is not (left to JavaScript while the first stays handed over): its checks and error
  // either way, the whole connection dropped, the other transmitter's window still handed over.
  for (const from of ['the window handed over', 'its other window, not handed over'] as const) {
    it(`drops a transmitter whose tile is bad, from ${from}; the other transmitter goes on`, async () => {
      const { weston, steady, port } = await setup();
      const bad = await transmitter(port, 'steady-bad');
      const other = from === 'the window handed over' ? bad : bad.window('steady-bad-other');
      const good = await transmitter(port, 'steady-good');
      let k = await framesUntilHandedOver(steady, bad, good);
      expect(steady.size, 'the first window of each transmitter handed over').toBe(2);
      bad.content.begin(other.surface, 64, 48, FORMAT_XRGB8888);
      bad.content.tile(other.surface, 60, 0, 8, 1, CODEC_RAW, new Uint8Array(8 * 4));
      other.surface.commit();
      const reason = await bad.client.closed;
      expect(reason).toBeInstanceOf(PeerError);
      expect((reason as PeerError).message).toMatch(/tile 8x1\+60\+0 is outside the 64x48 surface/);
      for (const end = k + 10; k < end; k++) await good.frame(good.tilesOf(k));
      expect(steady.size, "the other transmitter's window still handed over").toBe(1);
      expect(await mismatches(weston, 'steady-good', good.model())).toBeNull();
    }, 60_000);
  }

  it('keeps the buffers the compositor reads as they are through hand-overs and take-backs: the pool does not grow', async () => {
    const { weston, server, steady, port } = await setup();
    const t = await transmitter(port, 'steady-cycle');
    let k = await framesUntilHandedOver(steady, t);
    expect(steady.size).toBe(1);
    // Every other frame begins with a title: the surface comes back here for it, and is handed over again after.
    const released = steady.handovers.released;
    for (const end = k + 24; k < end; k++) {
      if (k % 2 === 0) t.toplevel.setTitle(`frame ${k}`);
      await t.frame(t.tilesOf(k));
    }
    expect(steady.handovers.released - released, 'taken back for the titles').toBeGreaterThanOrEqual(6);
    const scene = [...server.scene.surfaces].find((s) => s.role?.kind === 'toplevel')!;
    const rs = (scene.owner as RemoteClient).surfaces.get(scene)!;
    expect(rs.pixelBytes(), 'pixel memory: at most the pool of three buffers').toBeLessThanOrEqual(3 * 64 * 48 * 4);
    expect(await mismatches(weston, 'steady-cycle', t.model())).toBeNull();
  }, 60_000);

  it('takes a surface back with its frame in flight, then shows a new size', async () => {
    const { weston, steady, port } = await setup();
    const t = await transmitter(port, 'steady-resize');
    let k = await framesUntilHandedOver(steady, t);
    expect(steady.size).toBe(1);
    const released = steady.handovers.released;
    // A frame goes out natively; a title comes while it is in flight, and the next frame after it.
    const inFlight = t.frame(t.tilesOf(k++));
    t.toplevel.setTitle('in flight');
    const next = t.frame(t.tilesOf(k++));
    await Promise.all([inFlight, next]);
    expect(steady.handovers.released, 'taken back').toBe(released + 1);
    // A new size while a frame is in flight: taken back again, the new buffers made here.
    const last = t.frame(t.tilesOf(k++));
    const resized = t.frame(
      [
        { x: 0, y: 0, w: 80, h: 40, codec: 'solid', colour: 0xff336699 },
        { x: 70, y: 30, w: 8, h: 8, codec: 'solid', colour: 0xffcc2211 },
      ],
      { width: 80, height: 40 },
    );
    k++;
    await Promise.all([last, resized]);
    for (const end = k + 12; k < end; k++) await t.frame(t.tilesOf(k));
    expect(await mismatches(weston, 'steady-resize', t.model())).toBeNull();
    expect(t.answered.frames).toBe(k);
  }, 60_000);
});
