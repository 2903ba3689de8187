/**
 * The press serials an InputRelay keeps for window requests (move, resize):
 * the producer's serial of a press, as its feedback returns it, maps back to
 * the serial this side gave that press.
 */
import { describe, expect, it } from 'vitest';
import { InputRelay } from './input-relay.js';
import { Scene, type SceneFeedback, type SceneOwner } from './scene.js';
import { TestOwner } from '../display/test-owner.js';

/** An owner whose feedback numbers button presses and touch downs from `first`. */
function numberingOwner(name: string, first: number): SceneOwner & { next: number } {
  const owner = { name, next: first, feedback: null as unknown as SceneFeedback };
  // Every other feedback method does nothing.
  owner.feedback = new Proxy({} as SceneFeedback, {
    get: (_t, prop) => (prop === 'pointerButton' || prop === 'touchDown' ? () => owner.next++ : () => undefined),
  });
  return owner;
}

describe('press serials for window requests', () => {
  it("maps a producer's serial of a press (button or touch) back to this side's serial of it, per producer", () => {
    const scene = new Scene();
    const a = numberingOwner('a', 500);
    const b = numberingOwner('b', 500);
    const sa = new TestOwner('unused').toplevel(scene, { title: 'a' });
    const relay = new InputRelay({ feedbackFor: (s) => s.owner.feedback, keyboardAudience: () => [] });
    // Surfaces of owners a and b.
    Object.defineProperty(sa, 'owner', { value: a });
    const sb = new TestOwner('unused').toplevel(scene, { title: 'b' });
    Object.defineProperty(sb, 'owner', { value: b });

    relay.pointerEnter(1, sa, 5, 5);
    relay.pointerButton(10, 100, 272, true); // a numbers it 500
    relay.pointerButton(11, 101, 272, false); // a release: numbered 501, not a press
    relay.pointerLeave();
    relay.pointerEnter(12, sb, 5, 5);
    relay.pointerButton(13, 102, 272, true); // b numbers it 500 as well
    relay.touchDown(14, 103, sa, 0, 1, 1); // a numbers it 502

    expect(relay.pressSerialFor(a, 500)).toBe(10);
    expect(relay.pressSerialFor(b, 500)).toBe(13);
    expect(relay.pressSerialFor(a, 502)).toBe(14);
    expect(relay.pressSerialFor(a, 501)).toBeUndefined();
    expect(relay.pressSerialFor(b, 502)).toBeUndefined();
  });

  it('forgets old presses', () => {
    const scene = new Scene();
    const a = numberingOwner('a', 1);
    const s = new TestOwner('unused').toplevel(scene, { title: 'a' });
    Object.defineProperty(s, 'owner', { value: a });
    const relay = new InputRelay({ feedbackFor: (x) => x.owner.feedback, keyboardAudience: () => [] });
    relay.pointerEnter(1, s, 0, 0);
    for (let i = 0; i < 40; i++) relay.pointerButton(1000 + i, i, 272, true);
    expect(relay.pressSerialFor(a, 40)).toBe(1039);
    expect(relay.pressSerialFor(a, 1)).toBeUndefined();
  });
});
