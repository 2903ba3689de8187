import { describe, expect, it } from 'vitest';
import { constrainPopup, emptyPositioner, placePopup, type PositionerState } from './positioner.js';

// xdg_positioner values.
const BOTTOM_RIGHT = 8;
const BOTTOM = 2;
const SLIDE_X = 1;
const SLIDE_Y = 2;
const FLIP_X = 4;
const FLIP_Y = 8;
const RESIZE_X = 16;

const OUTPUT = { x: 0, y: 0, width: 800, height: 600 };

/** A 100x100 popup hanging below-right of a 1x1 anchor rectangle at (x, y). */
function below(x: number, y: number, adjustment: number, fields: Partial<PositionerState> = {}): PositionerState {
  return { ...emptyPositioner(), width: 100, height: 100, anchorRect: { x, y, width: 1, height: 1 }, anchor: BOTTOM_RIGHT, gravity: BOTTOM_RIGHT, constraintAdjustment: adjustment, ...fields };
}

describe('popup constraint adjustment', () => {
  it('leaves a popup that fits, and one without adjustments, where the positioner puts it', () => {
    expect(constrainPopup(below(100, 100, FLIP_X | SLIDE_X), OUTPUT)).toEqual({ x: 101, y: 101, width: 100, height: 100 });
    expect(constrainPopup(below(790, 10, 0), OUTPUT)).toEqual(placePopup(below(790, 10, 0)));
  });

  it('flips across the anchor on the constrained axis only', () => {
    expect(constrainPopup(below(790, 10, FLIP_X | FLIP_Y), OUTPUT)).toEqual({ x: 690, y: 11, width: 100, height: 100 });
    expect(constrainPopup(below(10, 590, FLIP_X | FLIP_Y), OUTPUT)).toEqual({ x: 11, y: 490, width: 100, height: 100 });
    // Centred horizontally (gravity bottom): only y can flip.
    expect(constrainPopup(below(400, 590, FLIP_Y, { anchor: BOTTOM, gravity: BOTTOM }), OUTPUT)).toEqual({ x: 350, y: 490, width: 100, height: 100 });
  });

  it('keeps the first place when the flipped one is constrained too, and then slides or resizes if allowed', () => {
    const narrow = { x: 0, y: 0, width: 150, height: 600 };
    expect(constrainPopup(below(70, 10, FLIP_X), narrow)).toEqual({ x: 71, y: 11, width: 100, height: 100 });
    expect(constrainPopup(below(70, 10, FLIP_X | SLIDE_X), narrow)).toEqual({ x: 50, y: 11, width: 100, height: 100 });
    expect(constrainPopup(below(70, 10, FLIP_X | RESIZE_X), narrow)).toEqual({ x: 71, y: 11, width: 79, height: 100 });
  });

  it('slides inside; a popup larger than the bounds starts at their start edge', () => {
    expect(constrainPopup(below(790, 10, SLIDE_X), OUTPUT)).toEqual({ x: 700, y: 11, width: 100, height: 100 });
    expect(constrainPopup(below(-50, 550, SLIDE_X | SLIDE_Y), OUTPUT)).toEqual({ x: 0, y: 500, width: 100, height: 100 });
    expect(constrainPopup(below(10, 10, SLIDE_X, { width: 900 }), OUTPUT)).toEqual({ x: 0, y: 11, width: 900, height: 100 });
  });

  it('works in the parent window geometry coordinates: bounds of a parent placed at (300, 200)', () => {
    const bounds = { x: -300, y: -200, width: 800, height: 600 };
    expect(constrainPopup(below(490, 10, FLIP_X), bounds)).toEqual({ x: 390, y: 11, width: 100, height: 100 });
    expect(constrainPopup(below(-310, 10, SLIDE_X), bounds)).toEqual({ x: -300, y: 11, width: 100, height: 100 });
  });
});
