/**
 * weston-simple-shm through the bridge: its window on the receiving
 * compositor shows the application's own pixels, compared with the same
 * program shown directly on a second weston of the same size, and frames
 * keep arriving.
 *
 * simple-shm animates, so two screenshots are never pixel-identical. The
 * comparison therefore checks what its paint_pixels() makes independent of
 * time, on both screens (the direct one proves the analysis itself):
 *
 * - a 20-pixel border that stays white (the buffer is filled with 0xff once
 *   and only the inside is repainted);
 * - the X of the two diagonals (|x - y| <= 6 or |x + y - h| <= 6) whose
 *   pixels have alpha 0 in an XRGB buffer: weston shows them black, and the
 *   receiver's copy must show them the same way;
 * - the gradients: outside the ring each pixel is (x + t/16) * 0x080401, so
 *   a pixel's right neighbour is exactly 0x080401 more (mod 2^24); inside the
 *   ring each pixel is (y + t/32) * 0x080401, so the same holds for the pixel
 *   below. This is exact for every frame t, catches swapped channels, wrong
 *   strides, offsets, flips and scaling, and tolerates the animation.
 *
 * The disc in the middle ((r^2/32 + t/64) * 0x080401) is left out: its
 * steps are too irregular to check pixel by pixel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { diffCount, sleep, skipUnless, spawnProcess, startWeston, type Image, type ManagedProcess, type View, type Weston } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const APP_ID = 'org.freedesktop.weston.simple-shm';
const PADDING = 20;
const STEP = 0x080401;

interface ShmStructure {
  /** Fraction of the border pixels that are white. */
  readonly border: number;
  /** The most frequent colour of the X lines, 0xRRGGBB, and the fraction of X pixels having it. */
  readonly crossColour: number;
  readonly cross: number;
  /** Fraction of horizontal neighbours outside the ring that step by exactly 0x080401. */
  readonly outer: number;
  /** Fraction of vertical neighbours inside the ring that step by exactly 0x080401. */
  readonly ring: number;
}

/** Analyse a crop of exactly the simple-shm window (see the file comment). */
function shmStructure(img: Image): ShmStructure {
  const w = img.width;
  const h = img.height;
  const halfw = PADDING + Math.trunc((w - PADDING * 2) / 2);
  const halfh = PADDING + Math.trunc((h - PADDING * 2) / 2);
  const outerR = Math.min(halfw, halfh) - 8;
  const innerR = outerR - 32;
  const or2 = outerR * outerR;
  const ir2 = innerR * innerR;
  const rgb = (x: number, y: number): number => {
    const i = (y * w + x) * 4;
    return (img.data[i]! << 16) | (img.data[i + 1]! << 8) | img.data[i + 2]!;
  };
  const inside = (x: number, y: number): boolean => x >= PADDING && y >= PADDING && x < w - PADDING && y < h - PADDING;
  const onCross = (x: number, y: number): boolean => Math.abs(x - y) <= 6 || Math.abs(x + y - h) <= 6;
  const zone = (x: number, y: number): 'disc' | 'ring' | 'outer' => {
    const r2 = (x - halfw) ** 2 + (y - halfh) ** 2;
    return r2 < ir2 ? 'disc' : r2 < or2 ? 'ring' : 'outer';
  };
  const steps = (a: number, b: number): boolean => ((b - a) & 0xffffff) === STEP;

  let border = 0;
  let borderTotal = 0;
  const crossColours = new Map<number, number>();
  let crossTotal = 0;
  let outer = 0;
  let outerTotal = 0;
  let ring = 0;
  let ringTotal = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!inside(x, y)) {
        borderTotal++;
        if (rgb(x, y) === 0xffffff) border++;
        continue;
      }
      if (onCross(x, y)) {
        crossTotal++;
        crossColours.set(rgb(x, y), (crossColours.get(rgb(x, y)) ?? 0) + 1);
        continue;
      }
      const z = zone(x, y);
      if (z === 'outer' && inside(x + 1, y) && !onCross(x + 1, y) && zone(x + 1, y) === 'outer') {
        outerTotal++;
        if (steps(rgb(x, y), rgb(x + 1, y))) outer++;
      } else if (z === 'ring' && inside(x, y + 1) && !onCross(x, y + 1) && zone(x, y + 1) === 'ring') {
        ringTotal++;
        if (steps(rgb(x, y), rgb(x, y + 1))) ring++;
      }
    }
  }
  const [crossColour, crossCount] = [...crossColours.entries()].sort((a, b) => b[1] - a[1])[0] ?? [0, 0];
  return {
    border: border / Math.max(1, borderTotal),
    crossColour,
    cross: crossCount / Math.max(1, crossTotal),
    outer: outer / Math.max(1, outerTotal),
    ring: ring / Math.max(1, ringTotal),
  };
}

function format(s: ShmStructure): string {
  const pct = (f: number): string => `${(f * 100).toFixed(1)}%`;
  return `border white ${pct(s.border)}, X #${s.crossColour.toString(16).padStart(6, '0')} on ${pct(s.cross)}, outer gradient ${pct(s.outer)}, ring gradient ${pct(s.ring)}`;
}

/** Frame callbacks the application received, from its WAYLAND_DEBUG trace. */
function framesDone(app: ManagedProcess, callbacks: ReadonlySet<string>): number {
  return app.lines.filter((l) => {
    const m = /\s(wl_callback@\d+)\.done\(/.exec(l);
    return m !== null && callbacks.has(m[1]!);
  }).length;
}

/** The callbacks the application asked for with wl_surface.frame (ids are reused, so keep them all). */
function frameCallbackIds(app: ManagedProcess): Set<string> {
  const ids = new Set<string>();
  for (const l of app.lines) {
    const m = /-> wl_surface@\d+\.frame\(new id (wl_callback@\d+)\)/.exec(l);
    if (m !== null) ids.add(m[1]!);
  }
  return ids;
}

function commits(app: ManagedProcess): number {
  return app.lines.filter((l) => /-> wl_surface@\d+\.commit\(\)/.test(l)).length;
}

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'weston-simple-shm'))('weston-simple-shm through the bridge', () => {
  const cleanup = new Cleanup();
  let direct: Weston;
  let receiving: Weston;
  let remoteApp: ManagedProcess;
  let logs: () => string;

  beforeAll(async () => {
    try {
      direct = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
      receiving = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
      cleanup.add(spawnProcess('weston-simple-shm', [], { env: direct.env, name: 'simple-shm (direct)' }));
      const receiver = cleanup.add(await startReceiver(receiving.env));
      const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
      await transmitter.ready();
      // Started by hand on the virtual display, so that its own trace is separate from the transmitter's log.
      remoteApp = cleanup.add(
        spawnProcess('weston-simple-shm', [], { env: { ...transmitter.clientEnv, WAYLAND_DEBUG: 'client' }, name: 'simple-shm (remote)', maxLines: 2_000_000 }),
      );
      logs = () => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    } catch (e) {
      await cleanup.run().catch(() => undefined); // stop what did start
      throw e;
    }
  });

  afterAll(() => cleanup.run());

  async function windowOn(weston: Weston, what: string): Promise<View> {
    try {
      return await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === APP_ID, 20_000, `simple-shm ${what}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    }
  }

  it('shows the application’s pixels where its window is, as the application shows them directly', async () => {
    const here = await windowOn(direct, 'shown directly');
    const there = await windowOn(receiving, 'on the receiver');
    expect({ width: there.rect.width, height: there.rect.height }, 'window size on the receiver vs directly').toEqual({
      width: here.rect.width,
      height: here.rect.height,
    });

    // Both screens settle on the same structure; poll briefly in case the first frames are still in flight.
    let reference = shmStructure((await direct.screenshot()).crop(here.rect));
    let remote = shmStructure((await receiving.screenshot()).crop(there.rect));
    for (let i = 0; i < 10 && (remote.outer < 0.97 || remote.ring < 0.97 || remote.border < 1); i++) {
      await sleep(200);
      reference = shmStructure((await direct.screenshot()).crop(here.rect));
      remote = shmStructure((await receiving.screenshot()).crop(there.rect));
    }
    const message = `directly: ${format(reference)}\non the receiver: ${format(remote)}\n${logs()}`;
    // The analysis itself holds on the direct screen...
    expect(reference.border, message).toBe(1);
    expect(reference.cross, message).toBeGreaterThan(0.97);
    expect(reference.outer, message).toBeGreaterThan(0.97);
    expect(reference.ring, message).toBeGreaterThan(0.97);
    // ...and the receiver shows the same structure.
    expect(remote.border, message).toBe(1);
    expect(remote.crossColour, message).toBe(reference.crossColour);
    expect(remote.cross, message).toBeGreaterThan(0.97);
    expect(remote.outer, message).toBeGreaterThan(0.97);
    expect(remote.ring, message).toBeGreaterThan(0.97);
  });

  it('keeps presenting frames: the application’s frame callbacks and the receiver’s screen keep changing', async () => {
    const there = await windowOn(receiving, 'on the receiver');
    const ids0 = frameCallbackIds(remoteApp);
    const done0 = framesDone(remoteApp, ids0);
    const commits0 = commits(remoteApp);
    const shots: Image[] = [];
    for (let i = 0; i < 4; i++) {
      shots.push((await receiving.screenshot()).crop(there.rect));
      await sleep(500);
    }
    const done1 = framesDone(remoteApp, frameCallbackIds(remoteApp));
    const commits1 = commits(remoteApp);
    const message = `frame callbacks done ${done0} -> ${done1}, commits ${commits0} -> ${commits1} over 2 s\n${logs()}`;
    // At least 5 frames per second through the bridge (weston paces simple-shm at 60 directly).
    expect(done1 - done0, message).toBeGreaterThanOrEqual(10);
    expect(commits1 - commits0, message).toBeGreaterThanOrEqual(10);
    for (let i = 1; i < shots.length; i++) {
      const changed = diffCount(shots[i - 1]!, shots[i]!) / (there.rect.width * there.rect.height);
      expect(changed, `screenshot ${i} vs ${i - 1}: ${(changed * 100).toFixed(1)}% of the window changed`).toBeGreaterThan(0.1);
    }
  });
});
