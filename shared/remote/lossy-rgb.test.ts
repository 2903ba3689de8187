// The shim's pixel conversion for the lossy codecs (packRgb, unpackRgb in native/wayland-shim/src/rgb.rs).
import { describe, expect, it } from 'vitest';
import { isNativeError, packRgb, unpackRgb } from '../native.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

const W = 13;
const H = 9;
const STRIDE = (W + 3) * 4;

/** B,G,R,X pixels with a different value in every byte (mod 256). */
function image(): Uint8Array {
  const px = new Uint8Array(STRIDE * H);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + 11) & 0xff;
  return px;
}

describe('packRgb and unpackRgb', () => {
  it('pack a rectangle as R,G,B rows and write them back as B,G,R,255 in another place', () => {
    const src = image();
    const [x, y, w, h] = [2, 3, 7, 4];
    const rgb = new Uint8Array(w * h * 3 + 1).fill(0xaa);
    packRgb(src, STRIDE, x, y, w, h, rgb);
    for (let j = 0; j < h; j++) {
      for (let i = 0; i < w; i++) {
        const s = (y + j) * STRIDE + (x + i) * 4;
        expect([...rgb.subarray((j * w + i) * 3, (j * w + i) * 3 + 3)]).toEqual([src[s + 2], src[s + 1], src[s]]);
      }
    }
    expect(rgb[w * h * 3]).toBe(0xaa);
    const dst = new Uint8Array(STRIDE * H);
    unpackRgb(rgb, dst, STRIDE, 5, 1, w, h);
    for (let j = 0; j < H; j++) {
      for (let i = 0; i < STRIDE / 4; i++) {
        const d = [...dst.subarray(j * STRIDE + i * 4, j * STRIDE + i * 4 + 4)];
        if (i >= 5 && i < 5 + w && j >= 1 && j < 1 + h) {
          const s = (y + j - 1) * STRIDE + (x + i - 5) * 4;
          expect(d).toEqual([src[s], src[s + 1], src[s + 2], 255]);
        } else {
          expect(d).toEqual([0, 0, 0, 0]);
        }
      }
    }
  });

  it('refuse rectangles outside their buffers (ERANGE) and views that overlap (EINVAL)', () => {
    const src = image();
    const rgb = new Uint8Array(4 * 2 * 3);
    const range = (fn: () => unknown): void => expect(isNativeError(thrown(fn), 'ERANGE')).toBe(true);
    range(() => packRgb(src, STRIDE, W, 0, 4, 2, rgb)); // past the row (inside the stride padding: W + 3 columns)
    range(() => packRgb(src, STRIDE, 0, H - 1, 4, 2, rgb)); // past the last row
    range(() => packRgb(src, STRIDE, 0, 0, 5, 2, rgb)); // destination too small
    range(() => unpackRgb(rgb, new Uint8Array(STRIDE * H), STRIDE, 0, 0, 5, 2)); // source too small
    range(() => unpackRgb(rgb, new Uint8Array(STRIDE * H), STRIDE, W, H - 1, 4, 2)); // outside the target
    const target = new Uint8Array(STRIDE * H);
    range(() => unpackRgb(rgb, target, STRIDE, 0, H, 4, 2));
    expect(target.every((b) => b === 0)).toBe(true);
    const overlap = (fn: () => unknown): void => expect(isNativeError(thrown(fn), 'EINVAL')).toBe(true);
    overlap(() => packRgb(src, STRIDE, 0, 0, 1, 1, src.subarray(STRIDE * 2)));
    overlap(() => unpackRgb(src.subarray(0, 3), src, STRIDE, 1, 1, 1, 1));
  });
});
