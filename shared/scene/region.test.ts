import { describe, expect, it } from 'vitest';
import { Region, rect, subtract } from './region.js';

describe('regions', () => {
  it('adds and subtracts rectangles', () => {
    const r = new Region();
    r.add(rect(0, 0, 10, 10));
    r.add(rect(5, 5, 10, 10)); // overlaps: only the new part is added
    const area = (rs: readonly { width: number; height: number }[]): number => rs.reduce((a, x) => a + x.width * x.height, 0);
    expect(area(r.rects)).toBe(100 + 100 - 25);
    r.subtract(rect(0, 0, 15, 5));
    expect(area(r.rects)).toBe(175 - 50);
    expect(subtract(rect(0, 0, 10, 10), rect(2, 2, 2, 2))).toHaveLength(4);
  });

  it('past its limit, collapses to the bounding box, or throws when asked to', () => {
    const collapsing = new Region(3);
    for (let i = 0; i < 4; i++) collapsing.add(rect(i * 10, 0, 5, 5));
    expect(collapsing.rects).toEqual([{ x: 0, y: 0, width: 35, height: 5 }]);
    const strict = new Region(3, 'throw');
    for (let i = 0; i < 3; i++) strict.add(rect(i * 10, 0, 5, 5));
    expect(() => strict.add(rect(30, 0, 5, 5))).toThrow(RangeError);
  });
});
