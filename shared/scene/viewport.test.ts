import { describe, expect, it } from 'vitest';
import type { Content } from './scene.js';
import { pinPixels } from './pinned-pixels.js';
import { scaleThroughViewport } from './viewport.js';

function content(width: number, height: number, pixel: number): Content {
  const pixels = new Uint8Array(width * height * 4);
  new Uint32Array(pixels.buffer).fill(pixel);
  return { width, height, format: 'argb8888', pixels, scale: 1, transform: 0 };
}

describe('scaleThroughViewport', () => {
  const viewport = { source: null, destination: { width: 20, height: 10 } };

  it('scales into the previous view, unless an encode reads its pixels', () => {
    const first = scaleThroughViewport(content(10, 5, 0xff000001), viewport, null);
    expect([first.width, first.height]).toEqual([20, 10]);
    const second = scaleThroughViewport(content(10, 5, 0xff000002), viewport, first);
    expect(second.pixels).toBe(first.pixels);
    expect(new Uint32Array(second.pixels.buffer)[199]).toBe(0xff000002);

    const unpin = pinPixels(second.pixels);
    const third = scaleThroughViewport(content(10, 5, 0xff000003), viewport, second);
    unpin();
    expect(third.pixels).not.toBe(second.pixels);
    expect(new Uint32Array(second.pixels.buffer)[199]).toBe(0xff000002);
    expect(new Uint32Array(third.pixels.buffer)[199]).toBe(0xff000003);
  });
});
