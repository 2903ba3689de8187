/**
 * Damage as short lists of rectangles: clipped to the buffer, merged when
 * they overlap or touch, and collapsed to their bounding box past a few
 * entries (each rectangle costs a wl_surface.damage_buffer request and a
 * copy loop; a bounding box costs a few extra bytes copied).
 */
import type { Rect } from '../scene/scene.js';

/** More rectangles than this are replaced by their bounding box. */
export const MAX_DAMAGE_RECTS = 16;

export function clipRect(r: Rect, width: number, height: number): Rect | null {
  const x1 = Math.max(0, Math.floor(r.x));
  const y1 = Math.max(0, Math.floor(r.y));
  const x2 = Math.min(width, Math.ceil(r.x + r.width));
  const y2 = Math.min(height, Math.ceil(r.y + r.height));
  return x2 > x1 && y2 > y1 ? { x: x1, y: y1, width: x2 - x1, height: y2 - y1 } : null;
}

export function boundingBox(rects: readonly Rect[]): Rect | null {
  if (rects.length === 0) return null;
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const r of rects) {
    x1 = Math.min(x1, r.x);
    y1 = Math.min(y1, r.y);
    x2 = Math.max(x2, r.x + r.width);
    y2 = Math.max(y2, r.y + r.height);
  }
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

function touches(a: Rect, b: Rect): boolean {
  return a.x <= b.x + b.width && b.x <= a.x + a.width && a.y <= b.y + b.height && b.y <= a.y + a.height;
}

function contains(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

/**
 * A damage accumulator for one buffer of `width` x `height` pixels. Adding a
 * rectangle clips it; rectangles contained in another are dropped, and two
 * that overlap or touch are merged when their bounding box wastes little.
 */
export class Damage {
  private list: Rect[] = [];

  constructor(
    private width: number,
    private height: number,
  ) {}

  get rects(): readonly Rect[] {
    return this.list;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** The whole buffer. */
  get full(): boolean {
    const r = this.list[0];
    return this.list.length === 1 && r !== undefined && r.x === 0 && r.y === 0 && r.width === this.width && r.height === this.height;
  }

  add(rect: Rect): void {
    const clipped = clipRect(rect, this.width, this.height);
    if (clipped === null) return;
    let r: Rect = clipped;
    if (this.list.some((o) => contains(o, clipped))) return;
    // Merge with neighbours while the merge wastes at most a quarter of the box.
    for (let merged = true; merged; ) {
      merged = false;
      for (let i = 0; i < this.list.length; i++) {
        const o = this.list[i]!;
        if (!touches(o, r)) continue;
        const box: Rect = boundingBox([o, r])!;
        if (contains(r, o) || o.width * o.height + r.width * r.height >= 0.75 * box.width * box.height) {
          this.list.splice(i, 1);
          r = box;
          merged = true;
          break;
        }
      }
    }
    this.list.push(r);
    if (this.list.length > MAX_DAMAGE_RECTS) this.list = [boundingBox(this.list)!];
  }

  addAll(rects: readonly Rect[]): void {
    for (const r of rects) this.add(r);
  }

  addFull(): void {
    this.list = this.width > 0 && this.height > 0 ? [{ x: 0, y: 0, width: this.width, height: this.height }] : [];
  }

  clear(): void {
    this.list = [];
  }

  /** Forget everything and take a new size (the next frame is then fully damaged by the caller). */
  reset(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.list = [];
  }
}
