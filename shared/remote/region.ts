/**
 * Rectangle lists for regions (wthp_region add/subtract, opaque and input
 * regions) and damage. A `Region` keeps disjoint rectangles, so its area is
 * exact and equality can be checked by comparing pixel coverage.
 */
import type { Rect } from '../scene/scene.js';

export function isEmpty(r: Rect): boolean {
  return r.width <= 0 || r.height <= 0;
}

export function intersect(a: Rect, b: Rect): Rect | null {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** `a` minus `b`: up to four disjoint rectangles. */
export function subtractRect(a: Rect, b: Rect): Rect[] {
  const i = intersect(a, b);
  if (i === null) return [a];
  const out: Rect[] = [];
  const aRight = a.x + a.width;
  const aBottom = a.y + a.height;
  const iRight = i.x + i.width;
  const iBottom = i.y + i.height;
  if (i.y > a.y) out.push({ x: a.x, y: a.y, width: a.width, height: i.y - a.y });
  if (iBottom < aBottom) out.push({ x: a.x, y: iBottom, width: a.width, height: aBottom - iBottom });
  if (i.x > a.x) out.push({ x: a.x, y: i.y, width: i.x - a.x, height: i.height });
  if (iRight < aRight) out.push({ x: iRight, y: i.y, width: aRight - iRight, height: i.height });
  return out;
}

export class Region {
  rects: Rect[] = [];

  constructor(private readonly maxRects = 1024) {}

  /** Throws RangeError when the region would hold more than `maxRects` rectangles. */
  add(r: Rect): void {
    if (isEmpty(r)) return;
    this.subtract(r);
    this.rects.push({ x: r.x, y: r.y, width: r.width, height: r.height });
    this.check();
  }

  subtract(r: Rect): void {
    if (isEmpty(r)) return;
    this.rects = this.rects.flatMap((a) => subtractRect(a, r));
    this.check();
  }

  private check(): void {
    if (this.rects.length > this.maxRects) throw new RangeError(`a region may hold at most ${this.maxRects} rectangles`);
  }
}

/** Bounding box of rectangles, or null when there are none. */
export function bounds(rects: readonly Rect[]): Rect | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rects) {
    if (isEmpty(r)) continue;
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return x1 > x0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

/** Same rectangles in the same order (regions as the transmitter last sent them). */
export function sameRects(a: readonly Rect[] | null, b: readonly Rect[] | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  return a.every((r, i) => {
    const s = b[i]!;
    return r.x === s.x && r.y === s.y && r.width === s.width && r.height === s.height;
  });
}
