import { describe, expect, it } from 'vitest';
import { rect } from '../../shared/scene/region.js';
import { surfaceSize } from '../../shared/scene/scene.js';
import { surfacePointToBuffer, surfaceRectToBuffer } from './geometry.js';
import { emptyPositioner, placePopup } from './positioner.js';

describe('surface to buffer conversion', () => {
  it('scales damage by the buffer scale', () => {
    expect(surfaceRectToBuffer({ x: 3, y: 4, width: 10, height: 5 }, 200, 100, 0, 2)).toEqual({ x: 6, y: 8, width: 20, height: 10 });
  });

  it('rotates damage for transform 90 (buffer holds the surface turned counter-clockwise)', () => {
    // 200x100 buffer, transform 90, scale 2: the surface is 50x100.
    expect(surfaceSize(200, 100, 1, 2)).toEqual({ width: 50, height: 100 });
    // The surface's top-left corner is the buffer's bottom-left corner.
    expect(surfacePointToBuffer(0, 0, 50, 100, 1, 2)).toEqual([0, 100]);
    expect(surfaceRectToBuffer({ x: 0, y: 0, width: 10, height: 20 }, 200, 100, 1, 2)).toEqual({ x: 0, y: 80, width: 40, height: 20 });
    // The top-right corner of the surface ends up at the buffer's top-left.
    expect(surfaceRectToBuffer({ x: 40, y: 0, width: 10, height: 10 }, 200, 100, 1, 2)).toEqual({ x: 0, y: 0, width: 20, height: 20 });
  });

  it('handles every transform as an involution-free mapping of the corners', () => {
    // A 1x1 rect at the surface origin of a 4x2 surface lands on a distinct buffer corner for each rotation.
    const corners = [0, 1, 2, 3].map((t) => {
      const { width, height } = surfaceSize(t & 1 ? 2 : 4, t & 1 ? 4 : 2, t, 1);
      expect([width, height]).toEqual([4, 2]);
      return surfaceRectToBuffer({ x: 0, y: 0, width: 1, height: 1 }, t & 1 ? 2 : 4, t & 1 ? 4 : 2, t, 1);
    });
    expect(corners).toEqual([
      { x: 0, y: 0, width: 1, height: 1 }, // normal
      { x: 0, y: 3, width: 1, height: 1 }, // 90: bottom-left of the 2x4 buffer
      { x: 3, y: 1, width: 1, height: 1 }, // 180: bottom-right
      { x: 1, y: 0, width: 1, height: 1 }, // 270: top-right
    ]);
    expect(surfaceRectToBuffer({ x: 0, y: 0, width: 1, height: 1 }, 4, 2, 4, 1)).toEqual({ x: 3, y: 0, width: 1, height: 1 }); // flipped
  });

  it('clips huge damage (INT32_MAX) to the buffer without overflowing', () => {
    expect(surfaceRectToBuffer(rect(0, 0, 0x7fffffff, 0x7fffffff), 64, 32, 0, 1)).toEqual({ x: 0, y: 0, width: 64, height: 32 });
    expect(surfaceRectToBuffer(rect(-100, -100, 50, 50), 64, 32, 0, 1)).toBeNull();
  });
});

describe('positioner placement', () => {
  it('places from anchor, gravity and offset', () => {
    const p = { ...emptyPositioner(), width: 100, height: 50, anchorRect: { x: 10, y: 20, width: 30, height: 40 } };
    // anchor bottom_left (6), gravity bottom_right (8): the popup hangs below the rect's bottom-left corner.
    expect(placePopup({ ...p, anchor: 6, gravity: 8 })).toEqual({ x: 10, y: 60, width: 100, height: 50 });
    // anchor top_right (7), gravity top_left (5): above and to the left of the top-right corner.
    expect(placePopup({ ...p, anchor: 7, gravity: 5 })).toEqual({ x: -60, y: -30, width: 100, height: 50 });
    // none/none: centred on the rect's centre, then moved by the offset.
    expect(placePopup({ ...p, offsetX: 3, offsetY: -4 })).toEqual({ x: 25 - 50 + 3, y: 40 - 25 - 4, width: 100, height: 50 });
  });
});
