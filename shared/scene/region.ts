/**
 * Rectangle arithmetic for both ends: regions (wl_region and wthp_region add
 * and subtract; opaque and input regions), damage clipping and merging.
 * Rectangles with a width or height of 0 or less are empty.
 */
import type { Rect } from './scene.js';

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

/** A rectangle from a request's x, y, width, height, clamped (negative sizes give an empty rect). */
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

/** Whether `inner` lies inside `outer`. */
export function contains(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

/** Whether `a` and `b` overlap or share an edge. */
export function touches(a: Rect, b: Rect): boolean {
  return a.x <= b.x + b.width && b.x <= a.x + a.width && a.y <= b.y + b.height && b.y <= a.y + a.height;
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

/** Bounding box of the non-empty rectangles, or null when there are none. */
export function boundingBox(rects: readonly Rect[]): Rect | null {
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
  return x1 === Infinity ? null : { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** Rectangles replaced by their bounding box (a superset: enough for damage and regions alike); [] when they cover nothing. */
export function collapse(rects: readonly Rect[]): Rect[] {
  const box = boundingBox(rects);
  return box === null ? [] : [box];
}

/** `r` clipped to a `width` x `height` area at the origin, widened to whole pixels; null when nothing is left. */
export function clipRect(r: Rect, width: number, height: number): Rect | null {
  const x1 = Math.max(0, Math.floor(r.x));
  const y1 = Math.max(0, Math.floor(r.y));
  const x2 = Math.min(width, Math.ceil(r.x + r.width));
  const y2 = Math.min(height, Math.ceil(r.y + r.height));
  return x2 > x1 && y2 > y1 ? { x: x1, y: y1, width: x2 - x1, height: y2 - y1 } : null;
}

/** Rectangles clipped to a `width` x `height` area, empty ones dropped. */
export function clipRects(rects: readonly Rect[], width: number, height: number): Rect[] {
  const out: Rect[] = [];
  for (const r of rects) {
    const c = clipRect(r, width, height);
    if (c !== null) out.push(c);
  }
  return out;
}

/** Same rectangles in the same order (null, for an input region, meaning the whole surface). */
export function sameRects(a: readonly Rect[] | null, b: readonly Rect[] | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  return a.every((r, i) => {
    const s = b[i]!;
    return r.x === s.x && r.y === s.y && r.width === s.width && r.height === s.height;
  });
}

/**
 * A set of pixels as disjoint rectangles (wl_region semantics: add and
 * subtract in any order), so its area is exact and two regions can be
 * compared by coverage. A region past `maxRects` rectangles either collapses
 * to its bounding box (a superset is acceptable for damage and regions alike)
 * or, with `overflow: 'throw'`, throws a RangeError (for a peer to be told).
 */
export class Region {
  /** Guards against a client growing a region without bound. */
  static readonly MAX_RECTS = 4096;

  private list: Rect[] = [];

  constructor(
    readonly maxRects = Region.MAX_RECTS,
    private readonly overflow: 'collapse' | 'throw' = 'collapse',
  ) {}

  get rects(): readonly Rect[] {
    return this.list;
  }

  add(r: Rect): void {
    if (isEmpty(r)) return;
    let pieces: Rect[] = [{ x: r.x, y: r.y, width: r.width, height: r.height }];
    for (const e of this.list) pieces = pieces.flatMap((p) => subtract(p, e));
    this.list.push(...pieces);
    this.limit();
  }

  subtract(r: Rect): void {
    if (isEmpty(r)) return;
    this.list = this.list.flatMap((e) => subtract(e, r));
    this.limit();
  }

  clear(): void {
    this.list = [];
  }

  copy(): Rect[] {
    return this.list.map((r) => ({ ...r }));
  }

  private limit(): void {
    if (this.list.length <= this.maxRects) return;
    if (this.overflow === 'throw') throw new RangeError(`a region may hold at most ${this.maxRects} rectangles`);
    this.list = collapse(this.list);
  }
}
