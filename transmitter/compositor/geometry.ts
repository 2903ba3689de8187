/**
 * The surface-to-buffer coordinate conversion that wl_surface.damage needs
 * once a buffer scale or transform is set. Rectangle and region arithmetic is
 * shared/scene/region.ts.
 */
import { intersect, rectFromCorners } from '../../shared/scene/region.js';
import { surfaceSize, type Rect } from '../../shared/scene/scene.js';

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
