/**
 * Rectangle arithmetic for the virtual display: regions (wl_region), damage
 * clipping, and the surface-to-buffer coordinate conversion that
 * wl_surface.damage needs once a buffer scale or transform is set.
 */
import type { Rect } from '../../shared/scene/scene.js';

/** Coordinates are clamped to this range so that sums never leave int32 (clients send INT32_MAX damage). */
const LIMIT = 0x3fffffff;

function clamp(v: number): number {
  return v < -LIMIT ? -LIMIT : v > LIMIT ? LIMIT : v;
}

/** A rectangle from two corners (x1 <= x2, y1 <= y2 after clamping); empty when degenerate. */
export function rectFromCorners(x1: number, y1: number, x2: number, y2: number): Rect {
  const ax = clamp(Math.min(x1, x2));
  const ay = clamp(Math.min(y1, y2));
  const bx = clamp(Math.max(x1, x2));
  const by = clamp(Math.max(y1, y2));
  return { x: ax, y: ay, width: bx - ax, height: by - ay };
}

/** A rectangle from a request's x, y, width, height (negative sizes give an empty rect). */
export function rect(x: number, y: number, width: number, height: number): Rect {
  if (width <= 0 || height <= 0) return { x: clamp(x), y: clamp(y), width: 0, height: 0 };
  const x1 = clamp(x);
  const y1 = clamp(y);
  return { x: x1, y: y1, width: clamp(x + width) - x1, height: clamp(y + height) - y1 };
}

export function isEmpty(r: Rect): boolean {
  return r.width <= 0 || r.height <= 0;
}

export function intersect(a: Rect, b: Rect): Rect | null {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  if (x2 <= x1 || y2 <= y1) return null;
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** `a` minus `b`: up to four disjoint rectangles (bands above, below, left and right of the overlap). */
export function subtract(a: Rect, b: Rect): Rect[] {
  const o = intersect(a, b);
  if (o === null) return isEmpty(a) ? [] : [a];
  const out: Rect[] = [];
  const ax2 = a.x + a.width;
  const ay2 = a.y + a.height;
  const ox2 = o.x + o.width;
  const oy2 = o.y + o.height;
  if (o.y > a.y) out.push({ x: a.x, y: a.y, width: a.width, height: o.y - a.y });
  if (oy2 < ay2) out.push({ x: a.x, y: oy2, width: a.width, height: ay2 - oy2 });
  if (o.x > a.x) out.push({ x: a.x, y: o.y, width: o.x - a.x, height: o.height });
  if (ox2 < ax2) out.push({ x: ox2, y: o.y, width: ax2 - ox2, height: o.height });
  return out;
}

/**
 * A set of pixels as disjoint rectangles (wl_region semantics: add and
 * subtract in any order). Small: clients send a handful of rectangles.
 */
export class Region {
  private list: Rect[] = [];

  /** Guards against a client growing a region without bound. */
  static readonly MAX_RECTS = 4096;

  get rects(): readonly Rect[] {
    return this.list;
  }

  add(r: Rect): void {
    if (isEmpty(r)) return;
    let pieces = [r];
    for (const e of this.list) pieces = pieces.flatMap((p) => subtract(p, e));
    this.list.push(...pieces);
    this.compact();
  }

  subtract(r: Rect): void {
    if (isEmpty(r)) return;
    this.list = this.list.flatMap((e) => subtract(e, r));
  }

  clear(): void {
    this.list = [];
  }

  copy(): Rect[] {
    return this.list.map((r) => ({ ...r }));
  }

  /** Past the limit, collapse to the bounding box (a superset is acceptable for damage and regions alike). */
  private compact(): void {
    if (this.list.length <= Region.MAX_RECTS) return;
    this.list = [boundingBox(this.list)];
  }
}

export function boundingBox(rects: readonly Rect[]): Rect {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const r of rects) {
    if (isEmpty(r)) continue;
    x1 = Math.min(x1, r.x);
    y1 = Math.min(y1, r.y);
    x2 = Math.max(x2, r.x + r.width);
    y2 = Math.max(y2, r.y + r.height);
  }
  if (x1 === Infinity) return { x: 0, y: 0, width: 0, height: 0 };
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** Surface size (surface-local units) of a buffer of `width` x `height` pixels shown with `transform` and `scale`. */
export function surfaceSize(width: number, height: number, transform: number, scale: number): { width: number; height: number } {
  const swap = (transform & 1) === 1;
  return {
    width: Math.floor((swap ? height : width) / scale),
    height: Math.floor((swap ? width : height) / scale),
  };
}

/**
 * Converts a point from surface-local coordinates to buffer pixels
 * (wl_output.transform semantics: the buffer holds the surface's content
 * rotated counter-clockwise by the transform's angle, flipped first for the
 * flipped variants). `sw` x `sh` is the surface size.
 */
export function surfacePointToBuffer(
  sx: number,
  sy: number,
  sw: number,
  sh: number,
  transform: number,
  scale: number,
): [number, number] {
  let bx: number;
  let by: number;
  switch (transform) {
    case 1: // 90
      bx = sy;
      by = sw - sx;
      break;
    case 2: // 180
      bx = sw - sx;
      by = sh - sy;
      break;
    case 3: // 270
      bx = sh - sy;
      by = sx;
      break;
    case 4: // flipped
      bx = sw - sx;
      by = sy;
      break;
    case 5: // flipped-90
      bx = sy;
      by = sx;
      break;
    case 6: // flipped-180
      bx = sx;
      by = sh - sy;
      break;
    case 7: // flipped-270
      bx = sh - sy;
      by = sw - sx;
      break;
    default: // normal
      bx = sx;
      by = sy;
  }
  return [bx * scale, by * scale];
}

/**
 * Converts damage given in surface-local coordinates (wl_surface.damage) to
 * buffer pixels, clipped to the buffer. Returns null when nothing of it lies
 * on the buffer.
 */
export function surfaceRectToBuffer(
  r: Rect,
  bufferWidth: number,
  bufferHeight: number,
  transform: number,
  scale: number,
): Rect | null {
  const { width: sw, height: sh } = surfaceSize(bufferWidth, bufferHeight, transform, scale);
  // Clip in surface space first: clients damage (0, 0, INT32_MAX, INT32_MAX).
  const c = intersect(r, { x: 0, y: 0, width: sw, height: sh });
  if (c === null) return null;
  const [x1, y1] = surfacePointToBuffer(c.x, c.y, sw, sh, transform, scale);
  const [x2, y2] = surfacePointToBuffer(c.x + c.width, c.y + c.height, sw, sh, transform, scale);
  return intersect(rectFromCorners(x1, y1, x2, y2), { x: 0, y: 0, width: bufferWidth, height: bufferHeight });
}

/** Clips rectangles to a `width` x `height` area, dropping empty ones. */
export function clipRects(rects: readonly Rect[], width: number, height: number): Rect[] {
  const bounds = { x: 0, y: 0, width, height };
  const out: Rect[] = [];
  for (const r of rects) {
    const c = intersect(r, bounds);
    if (c !== null) out.push(c);
  }
  return out;
}

/**
 * Accumulated damage: a list of rectangles, collapsed to its bounding box
 * when it grows long (consumers only need a superset of what changed).
 */
export class Damage {
  private list: Rect[] = [];
  static readonly MAX_RECTS = 256;

  add(r: Rect): void {
    if (isEmpty(r)) return;
    this.list.push(r);
    if (this.list.length > Damage.MAX_RECTS) this.list = [boundingBox(this.list)];
  }

  addAll(rects: readonly Rect[]): void {
    for (const r of rects) this.add(r);
  }

  get rects(): readonly Rect[] {
    return this.list;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  take(): Rect[] {
    const out = this.list;
    this.list = [];
    return out;
  }

  clear(): void {
    this.list = [];
  }
}
