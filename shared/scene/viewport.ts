/**
 * Crop and scale of a surface's buffer (wp_viewporter semantics), shared by
 * every end: the viewport state a scene surface carries with its buffer, the
 * surface size it gives, the checks of a viewport against a buffer, and the
 * scaling itself for a consumer whose compositor cannot do it (nearest
 * neighbour; the result keeps the buffer scale and has no transform).
 *
 * Coordinates: the source rectangle is in surface-local coordinates of the
 * buffer (after its scale and transform), fractional like wl_fixed; the
 * destination is the surface size the viewport gives, in whole units.
 */
import { surfaceSize, type Content, type Rect } from './scene.js';
import { surfacePointToBuffer } from './transform.js';
import { pixelsPinned } from './pinned-pixels.js';

/** Crop and scale state of a surface; null fields are unset. */
export interface ViewportState {
  /** Source rectangle, surface-local coordinates before the viewport (wl_fixed values). */
  readonly source: Rect | null;
  /** Destination size, surface-local. */
  readonly destination: { readonly width: number; readonly height: number } | null;
}

export const NO_VIEWPORT: ViewportState = Object.freeze({ source: null, destination: null });

/** Whether `v` crops or scales at all. */
export function viewportActive(v: ViewportState | null): v is ViewportState {
  return v !== null && (v.source !== null || v.destination !== null);
}

export function sameViewport(a: ViewportState | null, b: ViewportState | null): boolean {
  const x = a ?? NO_VIEWPORT;
  const y = b ?? NO_VIEWPORT;
  const s = x.source;
  const t = y.source;
  const sameSource = s === null || t === null ? s === t : s.x === t.x && s.y === t.y && s.width === t.width && s.height === t.height;
  const d = x.destination;
  const e = y.destination;
  const sameDestination = d === null || e === null ? d === e : d.width === e.width && d.height === e.height;
  return sameSource && sameDestination;
}

/** The buffer fields the viewport depends on. */
export type ViewportBuffer = Pick<Content, 'width' | 'height' | 'transform' | 'scale'>;

/** Surface size of `buffer` shown through `v` (surface-local units). */
export function viewSize(buffer: ViewportBuffer, v: ViewportState | null): { width: number; height: number } {
  const surf = surfaceSize(buffer.width, buffer.height, buffer.transform, buffer.scale);
  if (v === null) return surf;
  if (v.destination !== null) return { width: v.destination.width, height: v.destination.height };
  if (v.source !== null) return { width: Math.trunc(v.source.width), height: Math.trunc(v.source.height) };
  return surf;
}

/** Largest destination width or height a peer may ask for (wl_fixed's integer range is far larger). */
export const MAX_VIEWPORT_SIZE = 32768;

/**
 * Why `v` cannot apply to `buffer` (null: it can): the source rectangle must
 * be inside the buffer's surface with a positive size, a destination must be
 * positive and at most `maxSize` (both in surface units), and a fractional
 * source size needs a destination (wp_viewport's out_of_buffer, bad_value
 * and bad_size).
 */
export function viewportProblem(v: ViewportState, buffer: ViewportBuffer | null, maxSize = MAX_VIEWPORT_SIZE): string | null {
  const src = v.source;
  if (src !== null) {
    if (![src.x, src.y, src.width, src.height].every(Number.isFinite) || src.x < 0 || src.y < 0 || src.width <= 0 || src.height <= 0) {
      return `source rectangle ${src.width}x${src.height}@${src.x},${src.y} is invalid`;
    }
    if (buffer !== null) {
      const size = surfaceSize(buffer.width, buffer.height, buffer.transform, buffer.scale);
      if (src.x + src.width > size.width || src.y + src.height > size.height) {
        return `source rectangle ${src.width}x${src.height}@${src.x},${src.y} extends outside the ${size.width}x${size.height} surface of the buffer`;
      }
    }
  }
  const dst = v.destination;
  if (dst !== null && (!Number.isInteger(dst.width) || !Number.isInteger(dst.height) || dst.width <= 0 || dst.height <= 0 || dst.width > maxSize || dst.height > maxSize)) {
    return `destination size ${dst.width}x${dst.height} is not in 1..${maxSize}`;
  }
  if (dst === null && src !== null && (!Number.isInteger(src.width) || !Number.isInteger(src.height))) {
    return `source size ${src.width}x${src.height} is not integer and no destination size is set`;
  }
  return null;
}

/**
 * `raw` cropped to the source rectangle and scaled to the destination size
 * (in buffer pixels of its scale); `previous`'s pixels are reused when they
 * have the size.
 */
export function scaleThroughViewport(raw: Content, v: ViewportState, previous: Content | null): Content {
  const surf = surfaceSize(raw.width, raw.height, raw.transform, raw.scale);
  const src = v.source ?? { x: 0, y: 0, width: surf.width, height: surf.height };
  const dst = viewSize(raw, v);
  const scale = raw.scale;
  const width = Math.max(1, dst.width * scale);
  const height = Math.max(1, dst.height * scale);
  const reuse = previous !== null && previous.width === width && previous.height === height && previous.pixels.byteLength === width * height * 4 && previous.shared === undefined && !pixelsPinned(previous.pixels);
  const pixels = reuse ? previous.pixels : new Uint8Array(width * height * 4);
  const from = new Uint32Array(raw.pixels.buffer, raw.pixels.byteOffset, raw.width * raw.height);
  const to = new Uint32Array(pixels.buffer, pixels.byteOffset, width * height);
  const fx = src.width / Math.max(1, dst.width);
  const fy = src.height / Math.max(1, dst.height);
  if (raw.transform === 0) {
    // Without a transform, columns and rows map independently: one lookup table per axis.
    const cols = new Int32Array(width);
    for (let ox = 0; ox < width; ox++) cols[ox] = Math.min(raw.width - 1, Math.max(0, Math.floor((src.x + ((ox + 0.5) / scale) * fx) * scale)));
    for (let oy = 0; oy < height; oy++) {
      const iy = Math.min(raw.height - 1, Math.max(0, Math.floor((src.y + ((oy + 0.5) / scale) * fy) * scale)));
      const rowIn = iy * raw.width;
      const rowOut = oy * width;
      for (let ox = 0; ox < width; ox++) to[rowOut + ox] = from[rowIn + cols[ox]!]!;
    }
    return { width, height, format: raw.format, pixels, scale, transform: 0 };
  }
  for (let oy = 0; oy < height; oy++) {
    const sy = src.y + ((oy + 0.5) / scale) * fy;
    for (let ox = 0; ox < width; ox++) {
      const sx = src.x + ((ox + 0.5) / scale) * fx;
      const [bx, by] = surfacePointToBuffer(sx, sy, surf.width, surf.height, raw.transform, scale);
      const ix = Math.min(raw.width - 1, Math.max(0, Math.floor(bx)));
      const iy = Math.min(raw.height - 1, Math.max(0, Math.floor(by)));
      to[oy * width + ox] = from[iy * raw.width + ix]!;
    }
  }
  return { width, height, format: raw.format, pixels, scale, transform: 0 };
}
