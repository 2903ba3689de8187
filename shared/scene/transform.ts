/**
 * Surface-local coordinates to buffer pixels, as wl_surface's buffer scale
 * and transform define them (used by damage conversion and by crop and
 * scale through a viewport).
 */

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
