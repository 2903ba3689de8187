import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Rect } from '../../shared/scene/scene.js';
import { prng, silentLogger } from '../../shared/waltham/test/helpers.js';
import { CODEC_JPEG, decodeLossy } from '../../shared/remote/lossy.js';
import { boundingBoxes, isOpaque, LossySender, type LossyFrame, type LossyRequest } from './lossy-sender.js';

function noise(width: number, height: number, seed: number): Uint8Array {
  const random = prng(seed);
  const px = new Uint8Array(width * height * 4);
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(random() * 256);
  return px;
}

/** Run one lossy frame to its end. */
function encode(sender: LossySender, key: object, request: Omit<LossyRequest, 'current' | 'send' | 'dropped'>, current = () => true) {
  return new Promise<{ frame: LossyFrame | null; reason: Error | null }>((resolve) => {
    sender.start(key, {
      ...request,
      current,
      send: (frame) => resolve({ frame, reason: null }),
      dropped: (reason) => resolve({ frame: null, reason }),
    });
  });
}

function area(rects: readonly Rect[]): number {
  return rects.reduce((n, r) => n + r.width * r.height, 0);
}

/** Mean absolute difference of the luma of `r` in two B, G, R, X images `width` pixels wide (4:2:0 JPEG keeps luma, not the chroma of noise). */
function meanError(a: Uint8Array, b: Uint8Array, width: number, r: Rect): number {
  const luma = (p: Uint8Array, i: number): number => 0.114 * p[i]! + 0.587 * p[i + 1]! + 0.299 * p[i + 2]!;
  let error = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) error += Math.abs(luma(a, (y * width + x) * 4) - luma(b, (y * width + x) * 4));
  }
  return error / (r.width * r.height);
}

describe('LossySender', () => {
  it('cuts the damage into tiles that each fit the limit, splitting and encoding again those that do not', async () => {
    const maxData = 6000;
    const sender = new LossySender({ logger: silentLogger, where: 'test', maxData });
    const key = {};
    const width = 300;
    const height = 200;
    const pixels = noise(width, height, 3);
    const damage = [{ x: 10, y: 20, width: 250, height: 150 }];
    const { frame } = await encode(sender, key, { width, height, pixels, damage, codec: CODEC_JPEG, quality: 100 });
    expect(frame).not.toBeNull();
    expect(sender.counters.resplits).toBeGreaterThan(0);
    for (const t of frame!.tiles) expect(t.data.byteLength).toBeLessThanOrEqual(maxData);
    // The tiles cover the damage exactly, without overlap.
    expect(area(frame!.tiles)).toBe(250 * 150);
    for (const t of frame!.tiles) {
      expect(t.x).toBeGreaterThanOrEqual(10);
      expect(t.y).toBeGreaterThanOrEqual(20);
      expect(t.x + t.width).toBeLessThanOrEqual(260);
      expect(t.y + t.height).toBeLessThanOrEqual(170);
    }
    // Each decodes to its rectangle of the image.
    const target = { width, height, format: 'xrgb8888' as const, pixels: new Uint8Array(width * height * 4) };
    for (const t of frame!.tiles) await decodeLossy(t.codec, t.data, target, t.x, t.y, t.width, t.height);
    expect(meanError(target.pixels, pixels, width, damage[0]!)).toBeLessThan(4);
    expect(frame!.rects).toEqual(damage);
    expect(sender.busy(key)).toBe(false);
  });

  it('splits rows too wide for the limit into narrower tiles of the right pixels', async () => {
    const maxData = 1400;
    const sender = new LossySender({ logger: silentLogger, where: 'test', maxData });
    const width = 300;
    const height = 40;
    const pixels = noise(width, height, 9);
    const damage = [{ x: 20, y: 10, width: 250, height: 6 }];
    const { frame } = await encode(sender, {}, { width, height, pixels, damage, codec: CODEC_JPEG, quality: 100 });
    expect(frame!.tiles.some((t) => t.width < 250)).toBe(true);
    expect(area(frame!.tiles)).toBe(250 * 6);
    const target = { width, height, format: 'xrgb8888' as const, pixels: new Uint8Array(width * height * 4) };
    for (const t of frame!.tiles) {
      expect(t.data.byteLength).toBeLessThanOrEqual(maxData);
      await decodeLossy(t.codec, t.data, target, t.x, t.y, t.width, t.height);
    }
    expect(meanError(target.pixels, pixels, width, damage[0]!)).toBeLessThan(4);
  });

  it('cuts the next frame of the same content into whole-width bands of equal height that fit without a new split', async () => {
    const maxData = 6000;
    const sender = new LossySender({ logger: silentLogger, where: 'test', maxData });
    const key = {};
    const width = 200;
    const height = 127;
    const pixels = noise(width, height, 5);
    const request = { width, height, pixels, damage: null, codec: CODEC_JPEG, quality: 100 } as const;
    const first = await encode(sender, key, request);
    expect(first.frame).not.toBeNull();
    const resplits = sender.counters.resplits;
    const { frame } = await encode(sender, key, request);
    expect(sender.counters.resplits).toBe(resplits);
    const heights = frame!.tiles.map((t) => t.height);
    expect(frame!.tiles.every((t) => t.x === 0 && t.width === width)).toBe(true);
    expect(Math.max(...heights) - Math.min(...heights)).toBeLessThanOrEqual(1);
    expect(heights.reduce((a, b) => a + b, 0)).toBe(height);
    for (const t of frame!.tiles) expect(t.data.byteLength).toBeLessThanOrEqual(maxData);
    // As few bands as fit: two bands' worth of data would not fit in one fewer band.
    expect(frame!.tiles.length).toBeLessThanOrEqual(Math.ceil(frame!.encodedBytes / (0.5 * maxData)));
  });

  it('is busy while encoding, copies the pixels at the start, and drops a frame that is no longer current', async () => {
    const sender = new LossySender({ logger: silentLogger, where: 'test' });
    const key = {};
    const pixels = new Uint8Array(64 * 64 * 4).fill(0x40);
    let current = true;
    const done = encode(sender, key, { width: 64, height: 64, pixels, damage: null, codec: CODEC_JPEG, quality: 80 }, () => current);
    expect(sender.busy(key)).toBe(true);
    expect(() => sender.start(key, { width: 1, height: 1, pixels, damage: null, codec: CODEC_JPEG, quality: 80, current: () => true, send: () => {}, dropped: () => {} })).toThrow(/in flight/);
    pixels.fill(0xc0); // the frame keeps what the pixels were when it started
    const { frame } = await done;
    const target = { width: 64, height: 64, format: 'xrgb8888' as const, pixels: new Uint8Array(64 * 64 * 4) };
    for (const t of frame!.tiles) await decodeLossy(t.codec, t.data, target, t.x, t.y, t.width, t.height);
    expect(Math.abs(target.pixels[0]! - 0x40)).toBeLessThanOrEqual(4);
    current = false;
    const gone = await encode(sender, key, { width: 64, height: 64, pixels, damage: null, codec: CODEC_JPEG, quality: 80 }, () => current);
    expect(gone).toEqual({ frame: null, reason: null });
    expect(sender.busy(key)).toBe(false);
  });

  describe('with fake timers', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('waits twice as long for a refinement after one the content did not stay still for, and the base time once it did', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
      const refined: number[] = [];
      const sender = new LossySender({ logger: silentLogger, where: 'test', settleMs: 100, refine: () => refined.push(performance.now()) });
      const key = {};
      const pixels = new Uint8Array(32 * 32 * 4).fill(0x40);
      const frame = () => encode(sender, key, { width: 32, height: 32, pixels, damage: null, codec: CODEC_JPEG, quality: 80 });
      /** A frame, then the time until its refinement is due (or null within `limit`). */
      const settleAfterFrame = async (limit: number): Promise<number | null> => {
        await frame();
        const sent = performance.now();
        const before = refined.length;
        for (let t = 0; t < limit; t += 10) {
          vi.advanceTimersByTime(10);
          if (refined.length > before) {
            sender.takeRefinement(key);
            return refined.at(-1)! - sent;
          }
        }
        return null;
      };
      expect(await settleAfterFrame(1000)).toBe(100);
      // Moving again right after the refinement: 200, then 400.
      expect(await settleAfterFrame(1000)).toBe(200);
      expect(await settleAfterFrame(1000)).toBe(400);
      // Still for a while after it: back to the base time.
      vi.advanceTimersByTime(3000);
      expect(await settleAfterFrame(1000)).toBe(100);
      // Never more than MAX_SETTLE_MS.
      for (let i = 0; i < 8; i++) await settleAfterFrame(6000);
      expect(await settleAfterFrame(6000)).toBe(5000);
    });
  });

  it('keeps the lossy area for the next lossless frame, and calls refine once the pixels settle', async () => {
    const refined: object[] = [];
    const sender = new LossySender({ logger: silentLogger, where: 'test', settleMs: 20, refine: (k) => refined.push(k) });
    const key = {};
    const pixels = new Uint8Array(64 * 64 * 4).fill(0x40);
    await encode(sender, key, { width: 64, height: 64, pixels, damage: [{ x: 8, y: 8, width: 16, height: 16 }], codec: CODEC_JPEG, quality: 80 });
    expect(sender.refineDue(key)).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    expect(refined).toEqual([key]);
    expect(sender.refineDue(key)).toBe(true);
    expect(sender.takeRefinement(key)).toEqual([{ x: 8, y: 8, width: 16, height: 16 }]);
    expect(sender.refineDue(key)).toBe(false);
    expect(sender.takeRefinement(key)).toEqual([]);
  });

  it('takes xrgb8888 and argb8888 under a full opaque region for opaque, nothing else', () => {
    const c = (format: 'argb8888' | 'xrgb8888', scale = 1) => ({ width: 100, height: 50, format, pixels: new Uint8Array(0), scale, transform: 0 });
    expect(isOpaque(c('xrgb8888'), [])).toBe(true);
    expect(isOpaque(c('argb8888'), [])).toBe(false);
    expect(isOpaque(c('argb8888'), [{ x: 0, y: 0, width: 100, height: 50 }])).toBe(true);
    expect(isOpaque(c('argb8888'), [{ x: 0, y: 0, width: 100, height: 49 }])).toBe(false);
    expect(isOpaque(c('argb8888', 2), [{ x: 0, y: 0, width: 50, height: 25 }])).toBe(true);
  });

  it('makes one box of damage that fills most of it, else keeps the rectangles', () => {
    expect(boundingBoxes(null, 10, 10)).toEqual([{ x: 0, y: 0, width: 10, height: 10 }]);
    const near = [
      { x: 0, y: 0, width: 10, height: 5 },
      { x: 0, y: 5, width: 8, height: 5 },
    ];
    expect(boundingBoxes(near, 100, 100)).toEqual([{ x: 0, y: 0, width: 10, height: 10 }]);
    const far = [
      { x: 0, y: 0, width: 4, height: 4 },
      { x: 90, y: 90, width: 20, height: 20 },
    ];
    expect(boundingBoxes(far, 100, 100)).toEqual([
      { x: 0, y: 0, width: 4, height: 4 },
      { x: 90, y: 90, width: 10, height: 10 },
    ]);
  });
});
