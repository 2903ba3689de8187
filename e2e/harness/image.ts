/**
 * Screenshots as RGBA pixel arrays, PNG in and out through sharp, and the
 * comparisons end-to-end tests make: does a region have one colour, which
 * fraction of it matches, what colours does it hold (for failure messages).
 *
 * weston-screenshooter writes RGB (colour type 2) or RGBA (colour type 6)
 * PNGs depending on the content; both decode to RGBA here.
 */
import sharp from 'sharp';
import type { Rect } from '../../shared/scene/scene.js';

export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}

/** A colour as 0xRRGGBB (opaque) or an `Rgba`. */
export type ColourLike = number | Rgba;

export function rgba(colour: ColourLike): Rgba {
  if (typeof colour !== 'number') return colour;
  return { r: (colour >>> 16) & 0xff, g: (colour >>> 8) & 0xff, b: colour & 0xff, a: 0xff };
}

/** `#rrggbb` (and `/aa` when not opaque), for messages. */
export function formatColour(c: ColourLike): string {
  const { r, g, b, a } = rgba(c);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `#${hex(r)}${hex(g)}${hex(b)}${a === 0xff ? '' : `/${hex(a)}`}`;
}

export class Image {
  constructor(
    readonly width: number,
    readonly height: number,
    /** RGBA, 4 bytes per pixel, rows top to bottom, no padding. */
    readonly data: Uint8Array,
  ) {
    if (data.length !== width * height * 4) throw new RangeError(`Image ${width}x${height} needs ${width * height * 4} bytes, got ${data.length}`);
  }

  /** A solid image. */
  static filled(width: number, height: number, colour: ColourLike): Image {
    const { r, g, b, a } = rgba(colour);
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < data.length; i += 4) {
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      data[i + 3] = a;
    }
    return new Image(width, height, data);
  }

  /** From little-endian ARGB/XRGB pixels (B, G, R, A in memory), as in wl_shm buffers. */
  static fromBgra(width: number, height: number, bgra: Uint8Array, stride = width * 4, opaque = false): Image {
    const data = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = y * stride + x * 4;
        const d = (y * width + x) * 4;
        data[d] = bgra[s + 2]!;
        data[d + 1] = bgra[s + 1]!;
        data[d + 2] = bgra[s]!;
        data[d + 3] = opaque ? 0xff : bgra[s + 3]!;
      }
    }
    return new Image(width, height, data);
  }

  pixel(x: number, y: number): Rgba {
    if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= this.width || y >= this.height) {
      throw new RangeError(`pixel (${x}, ${y}) outside ${this.width}x${this.height}`);
    }
    const i = (y * this.width + x) * 4;
    const d = this.data;
    return { r: d[i]!, g: d[i + 1]!, b: d[i + 2]!, a: d[i + 3]! };
  }

  /** The part of the image inside `rect` (clipped to the image). */
  crop(rect: Rect): Image {
    const r = clip(rect, this.width, this.height);
    const data = new Uint8Array(r.width * r.height * 4);
    for (let y = 0; y < r.height; y++) {
      const s = ((r.y + y) * this.width + r.x) * 4;
      data.set(this.data.subarray(s, s + r.width * 4), y * r.width * 4);
    }
    return new Image(r.width, r.height, data);
  }
}

function clip(rect: Rect, width: number, height: number): Rect {
  const x1 = Math.max(0, Math.floor(rect.x));
  const y1 = Math.max(0, Math.floor(rect.y));
  const x2 = Math.min(width, Math.floor(rect.x + rect.width));
  const y2 = Math.min(height, Math.floor(rect.y + rect.height));
  return { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1) };
}

/** Decode a PNG (RGB, RGBA, grey or palette) to RGBA. */
export async function decodePng(png: Uint8Array | string): Promise<Image> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`unexpected channel count ${info.channels} after ensureAlpha`);
  return new Image(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Read a PNG file. */
export function loadPng(path: string): Promise<Image> {
  return decodePng(path);
}

/** Encode as an RGBA PNG. */
export async function encodePng(image: Image): Promise<Buffer> {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 4 },
  })
    .png()
    .toBuffer();
}

/** Write `image` as a PNG file (for failure artefacts). */
export async function savePng(image: Image, path: string): Promise<void> {
  await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 4 },
  })
    .png()
    .toFile(path);
}

/** True when each of r, g, b (and a, unless `ignoreAlpha`) differs by at most `tolerance`. */
export function colourMatches(actual: Rgba, expected: ColourLike, tolerance = 0, ignoreAlpha = true): boolean {
  const e = rgba(expected);
  return (
    Math.abs(actual.r - e.r) <= tolerance &&
    Math.abs(actual.g - e.g) <= tolerance &&
    Math.abs(actual.b - e.b) <= tolerance &&
    (ignoreAlpha || Math.abs(actual.a - e.a) <= tolerance)
  );
}

export interface CompareOptions {
  /** Per-channel difference allowed (default 0). */
  readonly tolerance?: number;
  /** Compare alpha too (default false: screenshots' alpha is not meaningful). */
  readonly alpha?: boolean;
}

/** Fraction (0..1) of the pixels of `rect` (clipped) that match `colour`; 0 for an empty region. */
export function matchFraction(image: Image, rect: Rect, colour: ColourLike, options: CompareOptions = {}): number {
  const r = clip(rect, image.width, image.height);
  const total = r.width * r.height;
  if (total === 0) return 0;
  const e = rgba(colour);
  const tol = options.tolerance ?? 0;
  const alpha = options.alpha ?? false;
  const d = image.data;
  let hits = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    let i = (y * image.width + r.x) * 4;
    for (let x = 0; x < r.width; x++, i += 4) {
      if (
        Math.abs(d[i]! - e.r) <= tol &&
        Math.abs(d[i + 1]! - e.g) <= tol &&
        Math.abs(d[i + 2]! - e.b) <= tol &&
        (!alpha || Math.abs(d[i + 3]! - e.a) <= tol)
      ) {
        hits++;
      }
    }
  }
  return hits / total;
}

/** True when every pixel of `rect` matches `colour` within the tolerance (and the rect is inside the image). */
export function regionEquals(image: Image, rect: Rect, colour: ColourLike, options: CompareOptions = {}): boolean {
  if (rect.x < 0 || rect.y < 0 || rect.x + rect.width > image.width || rect.y + rect.height > image.height) return false;
  return matchFraction(image, rect, colour, options) === 1;
}

/** The most frequent colours of a region, most frequent first: for readable failure messages. */
export function histogram(image: Image, rect: Rect = { x: 0, y: 0, width: image.width, height: image.height }, top = 5): { colour: string; fraction: number }[] {
  const r = clip(rect, image.width, image.height);
  const counts = new Map<number, number>();
  const d = image.data;
  for (let y = r.y; y < r.y + r.height; y++) {
    let i = (y * image.width + r.x) * 4;
    for (let x = 0; x < r.width; x++, i += 4) {
      const key = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const total = Math.max(1, r.width * r.height);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, n]) => ({ colour: formatColour(k), fraction: Math.round((n / total) * 1000) / 1000 }));
}

/** A one-line description of a region's colours: `#ff0000 0.98, #204060 0.02`. */
export function describeRegion(image: Image, rect: Rect, top = 4): string {
  return histogram(image, rect, top)
    .map((h) => `${h.colour} ${h.fraction}`)
    .join(', ');
}

/**
 * Throws with a readable message (expected colour, what the region holds)
 * unless at least `minFraction` (default 1) of `rect` matches `colour`.
 */
export function expectRegion(image: Image, rect: Rect, colour: ColourLike, options: CompareOptions & { minFraction?: number; label?: string } = {}): void {
  const min = options.minFraction ?? 1;
  const inside = rect.x >= 0 && rect.y >= 0 && rect.x + rect.width <= image.width && rect.y + rect.height <= image.height;
  const f = matchFraction(image, rect, colour, options);
  if (!inside || f < min) {
    const where = `${options.label ?? 'region'} (${rect.x}, ${rect.y}) ${rect.width}x${rect.height}`;
    throw new Error(
      `${where}: expected ${formatColour(colour)} on ${min * 100}% (tolerance ${options.tolerance ?? 0}), ` +
        `matched ${(f * 100).toFixed(1)}%${inside ? '' : ' (partly outside the image)'}; holds ${describeRegion(image, rect)}`,
    );
  }
}

/** Number of pixels that differ between two images of the same size (beyond `tolerance`). */
export function diffCount(a: Image, b: Image, tolerance = 0): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (
      Math.abs(a.data[i]! - b.data[i]!) > tolerance ||
      Math.abs(a.data[i + 1]! - b.data[i + 1]!) > tolerance ||
      Math.abs(a.data[i + 2]! - b.data[i + 2]!) > tolerance
    ) {
      n++;
    }
  }
  return n;
}

/** The bounding box of the pixels that differ between two same-size images, or null. */
export function diffBounds(a: Image, b: Image, tolerance = 0): Rect | null {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 4;
      if (
        Math.abs(a.data[i]! - b.data[i]!) > tolerance ||
        Math.abs(a.data[i + 1]! - b.data[i + 1]!) > tolerance ||
        Math.abs(a.data[i + 2]! - b.data[i + 2]!) > tolerance
      ) {
        if (x < x1) x1 = x;
        if (y < y1) y1 = y;
        if (x > x2) x2 = x;
        if (y > y2) y2 = y;
      }
    }
  }
  return x2 < 0 ? null : { x: x1, y: y1, width: x2 - x1 + 1, height: y2 - y1 + 1 };
}

/** Pixels of `colour` (within 4 per channel) in `rect`, and their bounding box. */
export function colourArea(shot: Image, rect: Rect, colour: number): { pixels: number; box: Rect | null } {
  let pixels = 0;
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  const xs = Math.max(0, Math.floor(rect.x));
  const ys = Math.max(0, Math.floor(rect.y));
  const xe = Math.min(shot.width, Math.floor(rect.x + rect.width));
  const ye = Math.min(shot.height, Math.floor(rect.y + rect.height));
  for (let y = ys; y < ye; y++) {
    for (let x = xs; x < xe; x++) {
      if (!colourMatches(shot.pixel(x, y), colour, 4)) continue;
      pixels++;
      x1 = Math.min(x1, x);
      y1 = Math.min(y1, y);
      x2 = Math.max(x2, x);
      y2 = Math.max(y2, y);
    }
  }
  return { pixels, box: pixels === 0 ? null : { x: x1, y: y1, width: x2 - x1 + 1, height: y2 - y1 + 1 } };
}
