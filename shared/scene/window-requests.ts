/**
 * Window management a producer's client asks of whoever shows its surface:
 * requests that take effect at once (xdg_toplevel.set_minimized, move,
 * resize), and the positioner of a popup, for the consumer's compositor to
 * keep the popup inside its output (xdg_positioner constraint adjustment).
 */
import type { Rect } from './scene.js';

/**
 * `serial` is the producer's serial of the press that started a move or
 * resize (as SceneFeedback.pointerButton / touchDown returned it); the
 * consumer maps it back to its own serial of that press.
 */
export type WindowRequest =
  | { readonly kind: 'minimize' }
  | { readonly kind: 'move'; readonly serial: number }
  | { readonly kind: 'resize'; readonly serial: number; readonly edges: number }
  /** `SceneSurface.textInput` changed. */
  | { readonly kind: 'text-input' };

/** An xdg_positioner, with the anchor rectangle relative to the parent surface's origin (as PopupRole.rect). */
export interface PopupPositioner {
  readonly width: number;
  readonly height: number;
  readonly anchorRect: Rect;
  readonly anchor: number;
  readonly gravity: number;
  readonly constraintAdjustment: number;
  readonly offsetX: number;
  readonly offsetY: number;
}

export function samePositioner(a: PopupPositioner | null | undefined, b: PopupPositioner | null | undefined): boolean {
  if (a === b) return true;
  if (a == null || b == null) return false;
  const r = a.anchorRect;
  const q = b.anchorRect;
  return (
    a.width === b.width &&
    a.height === b.height &&
    r.x === q.x &&
    r.y === q.y &&
    r.width === q.width &&
    r.height === q.height &&
    a.anchor === b.anchor &&
    a.gravity === b.gravity &&
    a.constraintAdjustment === b.constraintAdjustment &&
    a.offsetX === b.offsetX &&
    a.offsetY === b.offsetY
  );
}
