/**
 * xdg_positioner state and the placement it describes (xdg-shell.xml,
 * xdg_positioner): a point on the anchor rectangle chosen by `anchor`, the
 * popup extended from that point in the direction of `gravity`, then moved by
 * `offset`. The result is relative to the parent's window geometry, as
 * xdg_popup.configure reports it.
 *
 * Constraint adjustment (flip, slide, resize: `constrainPopup`) needs to
 * know where the parent sits on the output. The virtual display knows it only
 * for a popup tree whose toplevel is fullscreen (its window geometry at the
 * output's origin); otherwise the positioner goes to the receiver, whose
 * compositor keeps the popup on its output (wthp_window_manager).
 */
import type { Rect } from '../../shared/scene/scene.js';

export interface PositionerState {
  width: number;
  height: number;
  anchorRect: Rect | null;
  anchor: number;
  gravity: number;
  constraintAdjustment: number;
  offsetX: number;
  offsetY: number;
  reactive: boolean;
  parentWidth: number;
  parentHeight: number;
  parentConfigure: number | null;
}

export function emptyPositioner(): PositionerState {
  return {
    width: 0,
    height: 0,
    anchorRect: null,
    anchor: 0,
    gravity: 0,
    constraintAdjustment: 0,
    offsetX: 0,
    offsetY: 0,
    reactive: false,
    parentWidth: 0,
    parentHeight: 0,
    parentConfigure: null,
  };
}

/** A positioner is complete once it has a size and an anchor rectangle (xdg_wm_base.error.invalid_positioner otherwise). */
export function positionerComplete(p: PositionerState): boolean {
  return p.width > 0 && p.height > 0 && p.anchorRect !== null;
}

// Anchor and gravity share their values: none 0, top 1, bottom 2, left 3,
// right 4, top_left 5, bottom_left 6, top_right 7, bottom_right 8.
const TOP = new Set([1, 5, 7]);
const BOTTOM = new Set([2, 6, 8]);
const LEFT = new Set([3, 5, 6]);
const RIGHT = new Set([4, 7, 8]);

export const MAX_EDGE_VALUE = 8;

/** The popup's window geometry relative to the parent's window geometry. */
export function placePopup(p: PositionerState): Rect {
  const a = p.anchorRect ?? { x: 0, y: 0, width: 0, height: 0 };
  let ax: number;
  let ay: number;
  if (LEFT.has(p.anchor)) ax = a.x;
  else if (RIGHT.has(p.anchor)) ax = a.x + a.width;
  else ax = a.x + Math.floor(a.width / 2);
  if (TOP.has(p.anchor)) ay = a.y;
  else if (BOTTOM.has(p.anchor)) ay = a.y + a.height;
  else ay = a.y + Math.floor(a.height / 2);

  let x: number;
  let y: number;
  if (LEFT.has(p.gravity)) x = ax - p.width;
  else if (RIGHT.has(p.gravity)) x = ax;
  else x = ax - Math.floor(p.width / 2);
  if (TOP.has(p.gravity)) y = ay - p.height;
  else if (BOTTOM.has(p.gravity)) y = ay;
  else y = ay - Math.floor(p.height / 2);

  return { x: x + p.offsetX, y: y + p.offsetY, width: p.width, height: p.height };
}

// xdg_positioner.constraint_adjustment bits.
const SLIDE_X = 1;
const SLIDE_Y = 2;
const FLIP_X = 4;
const FLIP_Y = 8;
const RESIZE_X = 16;
const RESIZE_Y = 32;

/** An anchor or gravity mirrored on one axis (top_left <-> top_right for x, ...). */
function flipEdge(v: number, axis: 'x' | 'y'): number {
  const [a, b] = axis === 'x' ? [LEFT, RIGHT] : [TOP, BOTTOM];
  if (!a.has(v) && !b.has(v)) return v;
  // The same value with the other side on this axis: none 0, top 1, bottom 2, left 3, right 4,
  // top_left 5, bottom_left 6, top_right 7, bottom_right 8.
  const other: Record<number, Record<'x' | 'y', number>> = {
    1: { x: 1, y: 2 },
    2: { x: 2, y: 1 },
    3: { x: 4, y: 3 },
    4: { x: 3, y: 4 },
    5: { x: 7, y: 6 },
    6: { x: 8, y: 5 },
    7: { x: 5, y: 8 },
    8: { x: 6, y: 7 },
  };
  return other[v]![axis];
}

/** How far `g` goes past `bounds` on an axis: [before its start, after its end], each >= 0. */
function overflow(g: Rect, bounds: Rect, axis: 'x' | 'y'): [number, number] {
  const [start, size, bStart, bSize] = axis === 'x' ? [g.x, g.width, bounds.x, bounds.width] : [g.y, g.height, bounds.y, bounds.height];
  return [Math.max(0, bStart - start), Math.max(0, start + size - (bStart + bSize))];
}

/**
 * The placement of `placePopup(p)` adjusted to stay inside `bounds` (both
 * relative to the parent's window geometry), as xdg_positioner's
 * constraint_adjustment asks, axis by axis: flip (anchor and gravity
 * mirrored, kept only if that is no longer constrained), then slide (towards
 * the inside; the start edge wins when both stick out), then resize (cut to
 * the bounds).
 */
export function constrainPopup(p: PositionerState, bounds: Rect): Rect {
  let g = placePopup(p);
  for (const axis of ['x', 'y'] as const) {
    const adj = p.constraintAdjustment;
    const [flip, slide, resize] = axis === 'x' ? [FLIP_X, SLIDE_X, RESIZE_X] : [FLIP_Y, SLIDE_Y, RESIZE_Y];
    let [before, after] = overflow(g, bounds, axis);
    if (before === 0 && after === 0) continue;
    if (adj & flip) {
      const flipped = placePopup({ ...p, anchor: flipEdge(p.anchor, axis), gravity: flipEdge(p.gravity, axis) });
      const [fb, fa] = overflow(flipped, bounds, axis);
      if (fb === 0 && fa === 0) {
        g = axis === 'x' ? { ...g, x: flipped.x } : { ...g, y: flipped.y };
        continue;
      }
    }
    if (adj & slide) {
      // Slide back inside; when it sticks out on both sides, its start edge goes to the bounds' start.
      const shift = before > 0 ? before : -Math.min(after, Math.max(0, (axis === 'x' ? g.x - bounds.x : g.y - bounds.y)));
      g = axis === 'x' ? { ...g, x: g.x + shift } : { ...g, y: g.y + shift };
      [before, after] = overflow(g, bounds, axis);
      if (before === 0 && after === 0) continue;
    }
    if (adj & resize) {
      if (axis === 'x') {
        const x = g.x + before;
        const width = g.width - before - after;
        if (width > 0) g = { ...g, x, width };
      } else {
        const y = g.y + before;
        const height = g.height - before - after;
        if (height > 0) g = { ...g, y, height };
      }
    }
  }
  return g;
}
