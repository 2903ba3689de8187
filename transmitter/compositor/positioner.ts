/**
 * xdg_positioner state and the placement it describes (xdg-shell.xml,
 * xdg_positioner): a point on the anchor rectangle chosen by `anchor`, the
 * popup extended from that point in the direction of `gravity`, then moved by
 * `offset`. The result is relative to the parent's window geometry, as
 * xdg_popup.configure reports it.
 *
 * Constraint adjustment (slide, flip, resize) is not applied: the virtual
 * display does not know where the parent sits on the remote output, so the
 * receiver's compositor is the one that can keep popups on screen.
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
