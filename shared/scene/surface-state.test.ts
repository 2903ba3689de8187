import { describe, expect, it } from 'vitest';
import { emptyBufferedState, mergeBufferedStates } from './surface-state.js';

describe('double-buffered surface state', () => {
  it('accumulates damage and frames, and lets what the newer state sets win', () => {
    const older = { ...emptyBufferedState<string>(), bufferDamage: [{ x: 0, y: 0, width: 1, height: 1 }], frames: ['a'], scale: 2, input: null };
    const newer = { ...emptyBufferedState<string>(), bufferDamage: [{ x: 5, y: 5, width: 1, height: 1 }], frames: ['b'], transform: 1 };
    const merged = mergeBufferedStates(older, newer);
    expect(merged.bufferDamage).toHaveLength(2);
    expect(merged.frames).toEqual(['a', 'b']);
    expect([merged.scale, merged.transform]).toEqual([2, 1]);
    // null (an infinite input region) is a value set by the older state, kept when the newer sets none.
    expect(merged.input).toBeNull();
    expect(mergeBufferedStates(older, { ...newer, input: [] }).input).toEqual([]);
  });
});
