/**
 * Damage as short lists of rectangles: clipped to the buffer, merged when
 * they overlap or touch, and collapsed to their bounding box past a few
 * entries (each rectangle costs a wl_surface.damage_buffer request and a
 * copy loop; a bounding box costs a few extra bytes copied).
 */
import { boundingBox, clipRect, collapse, contains, touches } from '../scene/region.js';
import type { Rect } from '../scene/scene.js';

/** More rectangles than this are replaced by their bounding box. */
export const MAX_DAMAGE_RECTS = 16;

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
    if (this.list.length > MAX_DAMAGE_RECTS) this.list = collapse(this.list);
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
