import { describe, expect, it } from 'vitest';
import { encodeU32Array } from '../wire/array.js';
import { decodeXdgStates, encodeXdgStates, isToplevelState } from './xdg-states.js';

describe('xdg_toplevel.state arrays', () => {
  it('carry the xdg-shell values and read back to the same states', () => {
    expect([...new Uint32Array(encodeXdgStates(['maximized', 'activated']).buffer)]).toEqual([1, 4]);
    expect(decodeXdgStates(encodeXdgStates(['fullscreen', 'resizing']))).toEqual(['fullscreen', 'resizing']);
  });

  it('skip values the scene does not know and repeated ones', () => {
    expect(decodeXdgStates(encodeU32Array([4, 9, 4, 1]))).toEqual(['activated', 'maximized']);
    expect(isToplevelState('tiled_left')).toBe(false);
    expect(isToplevelState('toString')).toBe(false);
  });
});
