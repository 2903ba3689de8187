/**
 * Input for the surfaces of a Scene, from wherever they are shown: the
 * transmitter's link turns the receiver's Waltham input events into these
 * calls, the local display its wl_seat's. The relay keeps the focus (pointer,
 * keyboard, touch points), the serials, and which producers have the current
 * keymap and repeat rate, and calls the surfaces' SceneFeedback.
 *
 * Surfaces are named by the caller's lookup of its own objects; null is a
 * surface that is not shown (any more). Destroyed surfaces get no calls.
 */
import { decodeU32Array } from '../wire/array.js';
import type { SceneFeedback, SceneOwner, SceneSurface } from './scene.js';

export interface InputRelayHost {
  /** Where the input for `s` goes (errors it throws must be contained by the feedback itself). */
  feedbackFor(s: SceneSurface): SceneFeedback;
  /**
   * The feedbacks that get a new keymap or repeat rate at once; the others get
   * it before their next keyboard focus.
   */
  keyboardAudience(): Iterable<SceneFeedback>;
}

/** Touch points at most; no screen has that many fingers. */
const MAX_TOUCH_POINTS = 64;
/** Presses remembered per producer for WindowRequest serials (a move starts on a recent press). */
const MAX_PRESSES = 16;

export class InputRelay {
  private pointer: SceneSurface | null = null;
  private keyboard: SceneSurface | null = null;
  /** Serial of the last wl_pointer.enter (for set_cursor). */
  pointerSerial = 0;
  /** Serial of the last button or key press or touch down (for popup grabs). */
  pressSerial = 0;
  private keymapText: string | null = null;
  private repeat: { rate: number; delay: number } | null = null;
  private keymapGiven = new WeakSet<SceneFeedback>();
  private repeatGiven = new WeakSet<SceneFeedback>();
  private readonly touchPoints = new Map<number, SceneSurface>();
  /** Feedbacks with touch events in the current touch frame. */
  private readonly touched = new Set<SceneFeedback>();
  /** Per producer: its serials of the latest presses, with this side's serial of each. */
  private readonly presses = new WeakMap<SceneOwner, { theirs: number; ours: number }[]>();

  constructor(private readonly host: InputRelayHost) {}

  /** The surface under the pointer, if it is alive. */
  get pointerFocus(): SceneSurface | null {
    return alive(this.pointer);
  }

  /** The surface with keyboard focus, if it is alive. */
  get keyboardFocus(): SceneSurface | null {
    return alive(this.keyboard);
  }

  private focused(s: SceneSurface | null): SceneFeedback | null {
    const a = alive(s);
    return a === null ? null : this.host.feedbackFor(a);
  }

  // ---- pointer

  pointerEnter(serial: number, s: SceneSurface | null, x: number, y: number): void {
    this.pointerSerial = serial;
    this.pointer = alive(s);
    if (this.pointer !== null) this.host.feedbackFor(this.pointer).pointerEnter(this.pointer, x, y);
  }

  /** `s`: the surface the pointer left, when known; default the focus. */
  pointerLeave(s: SceneSurface | null = null): void {
    const left = alive(s ?? this.pointer);
    this.pointer = null;
    if (left !== null) this.host.feedbackFor(left).pointerLeave(left);
  }

  pointerMotion(time: number, x: number, y: number): void {
    this.focused(this.pointer)?.pointerMotion(time, x, y);
  }

  pointerButton(serial: number, time: number, button: number, pressed: boolean): void {
    if (pressed) this.pressSerial = serial;
    const target = alive(this.pointer);
    const theirs = target === null ? undefined : this.host.feedbackFor(target).pointerButton(time, button, pressed ? 'pressed' : 'released');
    if (pressed && target !== null) this.rememberPress(target.owner, theirs, serial);
  }

  private rememberPress(owner: SceneOwner, theirs: number | void, ours: number): void {
    if (typeof theirs !== 'number') return;
    let list = this.presses.get(owner);
    if (list === undefined) this.presses.set(owner, (list = []));
    list.push({ theirs, ours });
    if (list.length > MAX_PRESSES) list.shift();
  }

  /**
   * This side's serial of the press the producer `owner` numbered `theirs`
   * (a WindowRequest's serial), or undefined for a serial that was not one of
   * its latest presses.
   */
  pressSerialFor(owner: SceneOwner, theirs: number): number | undefined {
    const list = this.presses.get(owner) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.theirs === theirs) return list[i]!.ours;
    return undefined;
  }

  pointerAxis(time: number, axis: number, value: number): void {
    this.focused(this.pointer)?.pointerAxis(time, axis, value);
  }

  // wl_pointer v5+: these complete the axis events of the same frame; passed on in order.
  pointerAxisSource(source: number): void {
    this.focused(this.pointer)?.pointerAxisSource(source);
  }

  pointerAxisStop(time: number, axis: number): void {
    this.focused(this.pointer)?.pointerAxisStop(time, axis);
  }

  pointerAxisDiscrete(axis: number, discrete: number): void {
    this.focused(this.pointer)?.pointerAxisDiscrete(axis, discrete);
  }

  pointerFrame(): void {
    this.focused(this.pointer)?.pointerFrame();
  }

  // ---- keyboard

  /** A new keymap (XKB text): the audience gets it now, the others before their next focus. */
  keymap(text: string): void {
    this.keymapText = text;
    this.keymapGiven = new WeakSet();
    for (const fb of this.host.keyboardAudience()) {
      fb.keymap(text);
      this.keymapGiven.add(fb);
    }
  }

  repeatInfo(rate: number, delay: number): void {
    this.repeat = { rate, delay };
    this.repeatGiven = new WeakSet();
    for (const fb of this.host.keyboardAudience()) {
      fb.repeatInfo(rate, delay);
      this.repeatGiven.add(fb);
    }
  }

  /** The keymap and repeat rate, for a feedback that has not had the current ones. */
  private giveKeyboardSetup(fb: SceneFeedback): void {
    if (this.keymapText !== null && !this.keymapGiven.has(fb)) {
      fb.keymap(this.keymapText);
      this.keymapGiven.add(fb);
    }
    if (this.repeat !== null && !this.repeatGiven.has(fb)) {
      fb.repeatInfo(this.repeat.rate, this.repeat.delay);
      this.repeatGiven.add(fb);
    }
  }

  /** `keys`: the wire array of pressed keys (uint32 each). */
  keyboardEnter(s: SceneSurface | null, keys: Uint8Array): void {
    this.keyboard = alive(s);
    if (this.keyboard === null) return;
    const fb = this.host.feedbackFor(this.keyboard);
    this.giveKeyboardSetup(fb);
    fb.keyboardEnter(this.keyboard, decodeU32Array(keys));
  }

  /** `s`: the surface that lost focus, when known; default the focus. */
  keyboardLeave(s: SceneSurface | null = null): void {
    const left = alive(s ?? this.keyboard);
    this.keyboard = null;
    if (left !== null) this.host.feedbackFor(left).keyboardLeave(left);
  }

  key(serial: number, time: number, key: number, pressed: boolean): void {
    if (pressed) this.pressSerial = serial;
    this.focused(this.keyboard)?.key(time, key, pressed ? 'pressed' : 'released');
  }

  modifiers(depressed: number, latched: number, locked: number, group: number): void {
    this.focused(this.keyboard)?.modifiers(depressed, latched, locked, group);
  }

  // ---- touch

  private touchTarget(id: number): SceneSurface | null {
    return alive(this.touchPoints.get(id) ?? null);
  }

  touchDown(serial: number, time: number, s: SceneSurface | null, id: number, x: number, y: number): void {
    this.pressSerial = serial;
    const target = alive(s);
    if (target === null) return;
    if (this.touchPoints.size >= MAX_TOUCH_POINTS && !this.touchPoints.has(id)) return;
    this.touchPoints.set(id, target);
    const fb = this.host.feedbackFor(target);
    this.touched.add(fb);
    this.rememberPress(target.owner, fb.touchDown(target, time, id, x, y), serial);
  }

  touchUp(time: number, id: number): void {
    const s = this.touchTarget(id);
    this.touchPoints.delete(id);
    if (s === null) return;
    const fb = this.host.feedbackFor(s);
    this.touched.add(fb);
    fb.touchUp(time, id);
  }

  touchMotion(time: number, id: number, x: number, y: number): void {
    const s = this.touchTarget(id);
    if (s === null) return;
    const fb = this.host.feedbackFor(s);
    this.touched.add(fb);
    fb.touchMotion(time, id, x, y);
  }

  touchFrame(): void {
    const fbs = [...this.touched];
    this.touched.clear();
    for (const fb of fbs) fb.touchFrame();
  }

  touchCancel(): void {
    const fbs = new Set<SceneFeedback>(this.touched);
    for (const s of this.touchPoints.values()) if (!s.destroyed) fbs.add(this.host.feedbackFor(s));
    this.touchPoints.clear();
    this.touched.clear();
    for (const fb of fbs) fb.touchCancel();
  }

  // ---- surfaces and devices going away

  /**
   * `s` is shown no more: it loses the focus it had and its touch points.
   * With `leave`, its producer is told (pointer and keyboard leave) when `s` is alive.
   */
  forget(s: SceneSurface, leave: boolean): void {
    if (this.pointer === s) {
      if (leave) this.pointerLeave();
      this.pointer = null;
    }
    if (this.keyboard === s) {
      if (leave) this.keyboardLeave();
      this.keyboard = null;
    }
    for (const [id, t] of [...this.touchPoints]) if (t === s) this.touchPoints.delete(id);
  }

  /** The pointer device is gone (no leave: the seat took it away). */
  dropPointer(): void {
    this.pointer = null;
  }

  dropKeyboard(): void {
    this.keyboard = null;
  }

  dropTouch(): void {
    this.touchPoints.clear();
    this.touched.clear();
  }
}

/**
 * Handlers of the pointer events that only follow the focus, with the same
 * arguments in wl_pointer and wthp_pointer; `pressed` is the dialect's
 * button_state.pressed.
 */
export function focusedPointerEvents(relay: InputRelay, pressed: number) {
  return {
    motion: (time: number, x: number, y: number) => relay.pointerMotion(time, x, y),
    button: (serial: number, time: number, button: number, state: number) => relay.pointerButton(serial, time, button, state === pressed),
    axis: (time: number, axis: number, value: number) => relay.pointerAxis(time, axis, value),
    axisSource: (source: number) => relay.pointerAxisSource(source),
    axisStop: (time: number, axis: number) => relay.pointerAxisStop(time, axis),
    axisDiscrete: (axis: number, discrete: number) => relay.pointerAxisDiscrete(axis, discrete),
    frame: () => relay.pointerFrame(),
  };
}

function alive(s: SceneSurface | null): SceneSurface | null {
  return s === null || s.destroyed ? null : s;
}
