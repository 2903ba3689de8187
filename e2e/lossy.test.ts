/**
 * `waltham-transmitter --codec lossy` with weston-simple-shm (an XRGB8888
 * client that repaints every frame): the receiver shows the window with
 * JPEG-approximated pixels, frames keep arriving and the application keeps
 * being paced by frame callbacks.
 *
 * simple-shm's gradient steps by exactly 0x080401 from one pixel to its right
 * neighbour outside its ring (see shm.test.ts); a lossless bridge keeps almost
 * all of those steps exact, a lossy one almost none, which tells that lossy
 * frames reached the screen. Its 20-pixel white border stays near white.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { diffCount, sleep, spawnProcess, startWeston, type Image, type ManagedProcess, type View, type Weston } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const APP_ID = 'org.freedesktop.weston.simple-shm';
const PADDING = 20;
const STEP = 0x080401;

/**
 * Share of border pixels that are near white, and of the gradient steps that are exact: to the
 * right neighbour outside the ring, to the one below inside it (the disc and the X left out).
 */
function analyse(img: Image): { nearWhite: number; exactSteps: number } {
  const { width: w, height: h, data } = img;
  const halfw = PADDING + Math.trunc((w - PADDING * 2) / 2);
  const halfh = PADDING + Math.trunc((h - PADDING * 2) / 2);
  const outerR = Math.min(halfw, halfh) - 8;
  const innerR = outerR - 32;
  const rgb = (x: number, y: number): number => {
    const i = (y * w + x) * 4;
    return (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
  };
  const inside = (x: number, y: number): boolean => x >= PADDING && y >= PADDING && x < w - PADDING && y < h - PADDING;
  const onCross = (x: number, y: number): boolean => Math.abs(x - y) <= 8 || Math.abs(x + y - h) <= 8;
  const zone = (x: number, y: number): 'disc' | 'ring' | 'outer' => {
    const r2 = (x - halfw) ** 2 + (y - halfh) ** 2;
    return r2 < innerR * innerR ? 'disc' : r2 < outerR * outerR ? 'ring' : 'outer';
  };
  let white = 0;
  let border = 0;
  let exact = 0;
  let pairs = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!inside(x, y)) {
        border++;
        const i = (y * w + x) * 4;
        if (data[i]! >= 0xe0 && data[i + 1]! >= 0xe0 && data[i + 2]! >= 0xe0) white++;
        continue;
      }
      if (onCross(x, y)) continue;
      const z = zone(x, y);
      const [nx, ny] = z === 'outer' ? [x + 1, y] : [x, y + 1];
      if (z === 'disc' || !inside(nx, ny) || onCross(nx, ny) || zone(nx, ny) !== z) continue;
      pairs++;
      if (((rgb(nx, ny) - rgb(x, y)) & 0xffffff) === STEP) exact++;
    }
  }
  return { nearWhite: white / border, exactSteps: exact / pairs };
}

function commits(app: ManagedProcess): number {
  return app.lines.filter((l) => /-> wl_surface@\d+\.commit\(\)/.test(l)).length;
}

describe('--codec lossy with weston-simple-shm', () => {
  const cleanup = new Cleanup();
  let receiving: Weston;
  let app: ManagedProcess;
  let logs: () => string;

  beforeAll(async () => {
    try {
      receiving = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
      const receiver = cleanup.add(await startReceiver(receiving.env));
      const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], [], ['--codec', 'lossy', '--lossy-quality', '60']));
      await transmitter.ready();
      app = cleanup.add(spawnProcess('weston-simple-shm', [], { env: { ...transmitter.clientEnv, WAYLAND_DEBUG: 'client' }, name: 'simple-shm', maxLines: 2_000_000 }));
      logs = () => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    } catch (e) {
      await cleanup.run().catch(() => undefined);
      throw e;
    }
  });

  afterAll(() => cleanup.run());

  it('shows lossy frames that keep changing, with the application paced by its frame callbacks', async () => {
    let there: View;
    try {
      there = await receiving.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === APP_ID, 20_000, 'simple-shm on the receiver');
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    }
    await sleep(500); // past the first (lossless) frame
    const commits0 = commits(app);
    const shots: Image[] = [];
    for (let i = 0; i < 4; i++) {
      shots.push((await receiving.screenshot()).crop(there.rect));
      await sleep(400);
    }
    const commits1 = commits(app);
    const message = `commits ${commits0} -> ${commits1}\n${logs()}`;
    expect(commits1 - commits0, message).toBeGreaterThanOrEqual(10);
    for (let i = 1; i < shots.length; i++) {
      const changed = diffCount(shots[i - 1]!, shots[i]!) / (there.rect.width * there.rect.height);
      expect(changed, `screenshot ${i} vs ${i - 1}: ${(changed * 100).toFixed(1)}% changed\n${logs()}`).toBeGreaterThan(0.1);
    }
    for (const shot of shots) {
      const a = analyse(shot);
      const text = `border near white ${a.nearWhite.toFixed(3)}, exact gradient steps ${a.exactSteps.toFixed(3)}\n${logs()}`;
      expect(a.nearWhite, text).toBeGreaterThan(0.97);
      expect(a.exactSteps, text).toBeLessThan(0.3);
    }
  });
});
