/**
 * The surface-to-buffer coordinate conversion that wl_surface.damage needs
 * once a buffer scale or transform is set. Rectangle and region arithmetic is
 * shared/scene/region.ts.
 */
import { intersect, rectFromCorners } from '../../shared/scene/region.js';
import { surfaceSize, type Rect } from '../../shared/scene/scene.js';
import { surfacePointToBuffer } from '../../shared/scene/transform.js';

export { surfacePointToBuffer };

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
