import { beforeEach, describe, expect, it } from 'vitest';
import { InputRelay } from './input-relay.js';
import { Scene, type SceneFeedback, type SceneSurface } from './scene.js';
import { TestOwner } from '../display/test-owner.js';
import { encodeU32Array } from '../wire/array.js';

describe('InputRelay', () => {
  let scene: Scene;
  let a: TestOwner;
  let b: TestOwner;
  let sa: SceneSurface;
  let sb: SceneSurface;
  /** Who gets a new keymap at once; the tests change it. */
  let audience: SceneFeedback[];
  let relay: InputRelay;

  beforeEach(() => {
    scene = new Scene();
    a = new TestOwner('a');
    b = new TestOwner('b');
    sa = a.toplevel(scene, { title: 'a' });
    sb = b.toplevel(scene, { title: 'b' });
    audience = [];
    relay = new InputRelay({ feedbackFor: (s) => s.owner.feedback, keyboardAudience: () => audience });
  });

  it('sends pointer events to the surface under the pointer, between enter and leave', () => {
    relay.pointerEnter(7, sa, 10, 20);
    relay.pointerMotion(100, 11, 21);
    relay.pointerButton(8, 101, 272, true);
    relay.pointerAxis(102, 0, 5);
    relay.pointerFrame();
    relay.pointerLeave();
    relay.pointerMotion(103, 1, 1); // no focus: dropped
    expect(a.methods()).toEqual(['pointerEnter', 'pointerMotion', 'pointerButton', 'pointerAxis', 'pointerFrame', 'pointerLeave']);
    expect(a.callsOf('pointerEnter')[0]!.args).toEqual([10, 20]);
    expect(a.callsOf('pointerButton')[0]!.args).toEqual([101, 272, 'pressed']);
    expect(b.calls).toHaveLength(0);
    expect(relay.pointerSerial).toBe(7);
    expect(relay.pressSerial).toBe(8);
    expect(relay.pointerFocus).toBeNull();
  });

  it('an enter on a surface that is not shown leaves nobody in focus', () => {
    relay.pointerEnter(1, sa, 0, 0);
    relay.pointerLeave(sa);
    relay.pointerEnter(2, null, 0, 0);
    relay.pointerMotion(1, 2, 3);
    expect(a.count('pointerMotion')).toBe(0);
    expect(relay.pointerSerial).toBe(2);
  });

  it('gives the keymap and repeat rate to the audience at once and to others before their first keyboard focus, once', () => {
    audience = [a];
    relay.keymap('xkb_keymap { a };');
    relay.repeatInfo(25, 600);
    expect(a.methods()).toEqual(['keymap', 'repeatInfo']);
    relay.keyboardEnter(sb, encodeU32Array([30, 31]));
    expect(b.methods()).toEqual(['keymap', 'repeatInfo', 'keyboardEnter']);
    expect(b.callsOf('keyboardEnter')[0]!.args).toEqual([[30, 31]]);
    relay.key(9, 200, 30, true);
    relay.modifiers(1, 0, 0, 0);
    relay.keyboardLeave();
    relay.keyboardEnter(sb, encodeU32Array([]));
    expect(b.methods()).toEqual(['keymap', 'repeatInfo', 'keyboardEnter', 'key', 'modifiers', 'keyboardLeave', 'keyboardEnter']);
    expect(b.callsOf('key')[0]!.args).toEqual([200, 30, 'pressed']);
    expect(relay.pressSerial).toBe(9);
    // A new keymap reaches b before its next focus, the unchanged repeat rate does not.
    relay.keyboardLeave();
    relay.keymap('xkb_keymap { b };');
    b.clear();
    relay.keyboardEnter(sb, encodeU32Array([]));
    expect(b.methods()).toEqual(['keymap', 'keyboardEnter']);
    expect(b.callsOf('keymap')[0]!.args).toEqual(['xkb_keymap { b };']);
  });

  it('sends touch points to the surface they went down on, with one frame per producer involved, and cancels them all', () => {
    relay.touchDown(3, 10, sa, 0, 1, 1);
    relay.touchDown(4, 10, sb, 1, 2, 2);
    relay.touchFrame();
    relay.touchMotion(11, 0, 5, 5);
    relay.touchFrame();
    expect(a.methods()).toEqual(['touchDown', 'touchFrame', 'touchMotion', 'touchFrame']);
    expect(b.methods()).toEqual(['touchDown', 'touchFrame']);
    relay.touchCancel();
    expect(a.count('touchCancel')).toBe(1);
    expect(b.count('touchCancel')).toBe(1);
    relay.touchUp(12, 0); // cancelled points are gone
    expect(a.count('touchUp')).toBe(0);
    expect(relay.pressSerial).toBe(4);
  });

  it('forgets a surface that is shown no more, telling its producer when asked', () => {
    relay.pointerEnter(1, sa, 0, 0);
    relay.keyboardEnter(sa, encodeU32Array([]));
    relay.touchDown(2, 0, sa, 5, 0, 0);
    relay.forget(sa, true);
    expect(a.count('pointerLeave')).toBe(1);
    expect(a.count('keyboardLeave')).toBe(1);
    relay.pointerMotion(1, 1, 1);
    relay.touchUp(1, 5);
    expect(a.count('pointerMotion') + a.count('touchUp')).toBe(0);
    relay.pointerEnter(3, sb, 0, 0);
    relay.forget(sb, false);
    expect(b.count('pointerLeave')).toBe(0);
    expect(relay.pointerFocus).toBeNull();
  });

  it('sends nothing to destroyed surfaces', () => {
    relay.pointerEnter(1, sa, 0, 0);
    relay.touchDown(2, 0, sa, 0, 0, 0);
    relay.touchFrame();
    sa.destroy();
    a.clear();
    relay.pointerMotion(1, 1, 1);
    relay.pointerLeave();
    relay.touchUp(1, 0);
    relay.touchCancel();
    relay.keyboardEnter(sa, encodeU32Array([]));
    expect(a.calls).toHaveLength(0);
  });

  it('follows at most 64 touch points', () => {
    for (let id = 0; id < 70; id++) relay.touchDown(id + 1, 0, sa, id, 0, 0);
    expect(a.count('touchDown')).toBe(64);
    relay.touchUp(1, 0);
    relay.touchDown(100, 1, sa, 69, 0, 0);
    expect(a.count('touchDown')).toBe(65);
  });
});
