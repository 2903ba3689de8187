/**
 * wl_seat v7 with pointer, keyboard and touch: one virtual seat for the whole
 * display, driven by consumers through `SceneFeedback` (the receiver's seat,
 * or the local display's).
 *
 * Focus rules (as weston applies them):
 * - pointer: enter/leave with a new serial; motion, button and axis (with its
 *   source, stop and discrete steps for v5+) go to the surface that has the
 *   pointer; each group of events ends with a frame (v5+), sent by
 *   `pointerFrame` or, if the consumer sends none, at the end of the current
 *   tick;
 * - keyboard: leave on the old surface, then the clipboard selection and
 *   enter (with the pressed keys) and modifiers on the new one. Focus follows
 *   the consumer's keyboardEnter; until a consumer drives focus, a newly
 *   mapped toplevel gets it, and when the focused surface goes away it moves to
 *   the most recently mapped toplevel left;
 * - resources created while their client has focus get enter at once;
 * - set_cursor is honoured from the client that has the pointer, with a serial
 *   not older than the enter.
 */
import { EventEmitter } from 'node:events';
import { axisSourceFor, isAxisSource, type CursorRole } from '../../shared/scene/scene.js';
import { encodeU32Array } from '../../shared/wire/array.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  WlKeyboardKeymapFormat,
  WlKeyboardResource,
  WlPointerError,
  WlPointerResource,
  WlSeatResource,
  WlSurfaceResource,
  WlTouchResource,
} from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import { Surface, type SurfaceRoleHandler, type SurfaceState } from './compositor.js';
import type { DisplayContext } from './context.js';
import { KeymapFile } from './keymap.js';
import { seatCapabilities } from './seat-capabilities.js';
import type { Drag } from './drag.js';
import { soon } from '../../shared/microtask.js';

export const SEAT_VERSION = 7;
export const SEAT_NAME = 'seat0';

export interface SeatEvents {
  /** Keyboard focus moved (either may be null). */
  'keyboard-focus': [previous: Surface | null, current: Surface | null];
  /** The pointer entered a surface. */
  'pointer-enter': [surface: Surface];
  /** A button was pressed (after it was delivered). */
  'button-press': [focus: Surface | null];
  /** The pointer left `surface` (leave sent, or the surface unmapped or destroyed). */
  'pointer-leave': [surface: Surface];
  /** The pointer moved on the focused surface by (dx, dy) surface-local units (before `pointerLockedOn` is checked). */
  'pointer-motion': [focus: Surface, timeMs: number, dx: number, dy: number];
}

/** The cursor role (wl_pointer.set_cursor): the attach offset moves the hotspot. */
class CursorHandler implements SurfaceRoleHandler {
  constructor(readonly role: CursorRole) {}

  apply(state: SurfaceState): boolean {
    if (state.dx === 0 && state.dy === 0) return false;
    this.role.hotspotX -= state.dx;
    this.role.hotspotY -= state.dy;
    return true;
  }
}

export class Seat extends EventEmitter<SeatEvents> {
  keymap: KeymapFile;
  repeatRate = 40;
  repeatDelay = 400;
  private mods = { depressed: 0, latched: 0, locked: 0, group: 0 };
  private readonly pressedKeys = new Set<number>();

  keyboardFocus: Surface | null = null;
  /** Serial of the keyboard enter of the current focus (selection requests must not be older). */
  keyboardFocusSerial = 0;
  pointerFocus: Surface | null = null;
  /** Every bound wl_seat (capabilities go to all of them). */
  readonly seatResources = new Set<WlSeatResource>();
  /** A surface whose pointer is locked (zwp_locked_pointer_v1): it gets no wl_pointer.motion while it has the pointer. */
  pointerLockedOn: Surface | null = null;
  private pointerEnterSerial = 0;
  private readonly touchPoints = new Map<number, Surface>();
  /** Set once a consumer sent keyboardEnter or keyboardLeave: focus is theirs from then on. */
  consumerDrivesFocus = false;
  /** Mapped toplevels (and ivi surfaces), most recently mapped last. */
  private focusOrder: Surface[] = [];

  private readonly pointerFramePending = new Set<ClientState>();
  private readonly touchFramePending = new Set<ClientState>();
  private pointerFrameScheduled = false;
  private touchFrameScheduled = false;

  constructor(
    private readonly ctx: DisplayContext,
    keymapText: string,
  ) {
    super();
    this.keymap = KeymapFile.create(keymapText);
  }

  register(): void {
    this.ctx.server.addGlobal(WlSeatResource, SEAT_VERSION, (seat, client) => this.bind(seat, client));
  }

  private bind(seat: WlSeatResource, wsClient: WaylandServerClient): void {
    const client = this.ctx.clientOf(wsClient);
    seat.listen({
      getPointer: (pointer) => this.addPointer(client, pointer),
      getKeyboard: (keyboard) => this.addKeyboard(client, keyboard),
      getTouch: (touch) => this.addTouch(client, touch),
      release: () => {},
    });
    this.seatResources.add(seat);
    seat.onDestroy(() => this.seatResources.delete(seat));
    seat.sendCapabilities(seatCapabilities(this.ctx.scene));
    if (seat.version >= 2) seat.sendName(SEAT_NAME);
  }

  private addPointer(client: ClientState, pointer: WlPointerResource): void {
    client.pointers.add(pointer);
    pointer.onDestroy(() => client.pointers.delete(pointer));
    pointer.listen({
      setCursor: (serial, surface, hotspotX, hotspotY) => this.setCursor(client, pointer, serial, surface, hotspotX, hotspotY),
      release: () => {},
    });
    const focus = this.pointerFocus;
    if (focus !== null && focus.client === client && !focus.isDestroyed) {
      pointer.sendEnter(this.pointerEnterSerial, focus.resource, this.pointerX, this.pointerY);
      this.markPointerFrame(client);
    }
  }

  private addKeyboard(client: ClientState, keyboard: WlKeyboardResource): void {
    client.keyboards.add(keyboard);
    keyboard.onDestroy(() => client.keyboards.delete(keyboard));
    keyboard.listen({ release: () => {} });
    if (keyboard.version >= 4) keyboard.sendRepeatInfo(this.repeatRate, this.repeatDelay);
    keyboard.sendKeymap(WlKeyboardKeymapFormat.XkbV1, this.keymap.fd, this.keymap.size);
    const focus = this.keyboardFocus;
    if (focus !== null && focus.client === client && !focus.isDestroyed) {
      const serial = this.ctx.serial();
      keyboard.sendEnter(serial, focus.resource, encodeU32Array([...this.pressedKeys]));
      keyboard.sendModifiers(serial, this.mods.depressed, this.mods.latched, this.mods.locked, this.mods.group);
    }
  }

  private addTouch(client: ClientState, touch: WlTouchResource): void {
    client.touches.add(touch);
    touch.onDestroy(() => client.touches.delete(touch));
    touch.listen({ release: () => {} });
  }

  private setCursor(
    client: ClientState,
    pointer: WlPointerResource,
    serial: number,
    surfaceResource: WlSurfaceResource | null,
    hotspotX: number,
    hotspotY: number,
  ): void {
    const focus = this.pointerFocus;
    if (focus === null || focus.client !== client) return;
    if (((serial - this.pointerEnterSerial) >>> 0) > 0x7fffffff) return; // older than the enter
    if (surfaceResource === null) {
      this.ctx.scene.setCursor(client, null);
      return;
    }
    const surface = Surface.fromResource(surfaceResource);
    if (surface === undefined) return;
    if (!surface.setRoleType('cursor')) {
      pointer.postError(WlPointerError.Role, `${surfaceResource.toString()} already has the ${surface.roleType} role`);
      return;
    }
    const role = surface.scene.role;
    if (role !== null && role.kind === 'cursor') {
      if (role.hotspotX !== hotspotX || role.hotspotY !== hotspotY) {
        role.hotspotX = hotspotX;
        role.hotspotY = hotspotY;
        surface.markRoleChanged();
      }
    } else {
      const cursor: CursorRole = { kind: 'cursor', hotspotX, hotspotY };
      surface.scene.role = cursor;
      surface.handler = new CursorHandler(cursor);
      surface.markRoleChanged();
    }
    if (this.ctx.scene.cursors.get(client) !== surface.scene) this.ctx.scene.setCursor(client, surface.scene);
  }

  // ---- keyboard -----------------------------------------------------------

  setKeyboardFocus(surface: Surface | null): void {
    if (surface !== null && surface.isDestroyed) surface = null;
    if (surface === this.keyboardFocus) return;
    const previous = this.keyboardFocus;
    if (previous !== null && !previous.isDestroyed && previous.client.keyboards.size > 0) {
      const serial = this.ctx.serial();
      for (const kb of previous.client.keyboards) kb.sendLeave(serial, previous.resource);
    }
    this.keyboardFocus = surface;
    if (surface !== null) {
      if (previous === null || previous.client !== surface.client) this.ctx.clipboard.focusMoved(surface.client);
      const serial = this.ctx.serial();
      this.keyboardFocusSerial = serial;
      if (surface.client.keyboards.size > 0) {
        const keys = encodeU32Array([...this.pressedKeys]);
        for (const kb of surface.client.keyboards) {
          kb.sendEnter(serial, surface.resource, keys);
          kb.sendModifiers(serial, this.mods.depressed, this.mods.latched, this.mods.locked, this.mods.group);
        }
      }
    }
    this.emit('keyboard-focus', previous, surface);
  }

  /** The keys held down, as the next keyboard enter reports them. */
  setPressedKeys(keys: readonly number[]): void {
    this.pressedKeys.clear();
    for (const k of keys) this.pressedKeys.add(k >>> 0);
  }

  key(timeMs: number, key: number, pressed: boolean): void {
    if (pressed) this.pressedKeys.add(key);
    else this.pressedKeys.delete(key);
    const focus = this.keyboardFocus;
    if (focus === null || focus.client.keyboards.size === 0) return;
    const serial = this.ctx.serial();
    for (const kb of focus.client.keyboards) kb.sendKey(serial, timeMs >>> 0, key, pressed ? 1 : 0);
  }

  modifiers(depressed: number, latched: number, locked: number, group: number): void {
    this.mods = { depressed: depressed >>> 0, latched: latched >>> 0, locked: locked >>> 0, group: group >>> 0 };
    const focus = this.keyboardFocus;
    if (focus === null || focus.client.keyboards.size === 0) return;
    const serial = this.ctx.serial();
    for (const kb of focus.client.keyboards) kb.sendModifiers(serial, this.mods.depressed, this.mods.latched, this.mods.locked, this.mods.group);
  }

  /** A new keymap for every keyboard of every client (unchanged text: nothing is sent). */
  setKeymap(text: string): void {
    if (text === this.keymap.text) return;
    const old = this.keymap;
    this.keymap = KeymapFile.create(text);
    for (const client of this.ctx.clients()) {
      for (const kb of client.keyboards) kb.sendKeymap(WlKeyboardKeymapFormat.XkbV1, this.keymap.fd, this.keymap.size);
    }
    old.close(); // the fds sent are duplicates taken when the events were queued
  }

  setRepeatInfo(rate: number, delay: number): void {
    this.repeatRate = Math.max(0, rate | 0);
    this.repeatDelay = Math.max(0, delay | 0);
    for (const client of this.ctx.clients()) {
      for (const kb of client.keyboards) if (kb.version >= 4) kb.sendRepeatInfo(this.repeatRate, this.repeatDelay);
    }
  }

  /** A toplevel (or ivi surface) was mapped: it takes keyboard focus unless a consumer drives focus. */
  rootMapped(surface: Surface): void {
    this.focusOrder = this.focusOrder.filter((s) => s !== surface);
    this.focusOrder.push(surface);
    if (!this.consumerDrivesFocus) this.setKeyboardFocus(surface);
  }

  /** Where keyboard focus goes when `gone` loses it. */
  private fallbackFocus(gone: Surface): Surface | null {
    const role = gone.scene.role;
    if (role !== null && role.kind === 'popup') {
      const parent = Surface.fromScene(role.parent);
      if (parent !== undefined && !parent.isDestroyed && parent.scene.mapped) return parent;
    }
    if (this.consumerDrivesFocus) return null;
    return this.focusOrder.at(-1) ?? null;
  }

  surfaceUnmapped(surface: Surface): void {
    this.focusOrder = this.focusOrder.filter((s) => s !== surface);
    if (this.pointerFocus === surface) {
      const serial = this.ctx.serial();
      for (const p of surface.client.pointers) p.sendLeave(serial, surface.resource);
      this.markPointerFrame(surface.client);
      this.pointerFocus = null;
      this.emit('pointer-leave', surface);
    }
    if (this.keyboardFocus === surface) this.setKeyboardFocus(this.fallbackFocus(surface));
  }

  /** The surface is destroyed: no leave events (the object is gone), focus moves on. */
  surfaceGone(surface: Surface): void {
    this.focusOrder = this.focusOrder.filter((s) => s !== surface);
    if (this.pointerFocus === surface) {
      this.pointerFocus = null;
      this.emit('pointer-leave', surface);
    }
    for (const [id, s] of this.touchPoints) if (s === surface) this.touchPoints.delete(id);
    if (this.ctx.scene.cursors.get(surface.client) === surface.scene) this.ctx.scene.setCursor(surface.client, null);
    if (this.keyboardFocus === surface) {
      const next = this.fallbackFocus(surface);
      this.keyboardFocus = null; // no leave for a destroyed surface
      this.emit('keyboard-focus', surface, null);
      this.setKeyboardFocus(next);
    }
  }

  // ---- drag and drop (drag.ts): pointer events go to the drag while it lasts ----

  /** The drag under way, if any. */
  drag: Drag | null = null;
  /** The surface the pointer is over during a drag. */
  private dragOver: Surface | null = null;
  private readonly buttonsHeld = new Set<number>();

  get buttonHeld(): boolean {
    return this.buttonsHeld.size > 0;
  }

  startDrag(drag: Drag): void {
    const over = this.pointerFocus;
    this.pointerLeave(); // the origin loses the pointer
    this.drag = drag;
    this.dragOver = over;
    drag.enter(over, this.pointerX, this.pointerY);
  }

  dragEnded(drag: Drag): void {
    if (this.drag !== drag) return;
    this.drag = null;
    const over = this.dragOver;
    this.dragOver = null;
    if (over !== null && !over.isDestroyed) this.pointerEnter(over, this.pointerX, this.pointerY);
  }

  // ---- pointer --------------------------------------------------------------

  private pointerX = 0;
  private pointerY = 0;

  pointerEnter(surface: Surface, x: number, y: number): void {
    if (surface.isDestroyed) return;
    if (this.drag !== null) {
      this.dragOver = surface;
      this.pointerX = x;
      this.pointerY = y;
      this.drag.enter(surface, x, y);
      return;
    }
    if (this.pointerFocus === surface) {
      this.pointerMotion(this.ctx.now(), x, y);
      return;
    }
    this.pointerLeave();
    this.pointerFocus = surface;
    this.pointerX = x;
    this.pointerY = y;
    this.pointerEnterSerial = this.ctx.serial();
    for (const p of surface.client.pointers) p.sendEnter(this.pointerEnterSerial, surface.resource, x, y);
    this.markPointerFrame(surface.client);
    this.emit('pointer-enter', surface);
  }

  pointerLeave(surface?: Surface): void {
    if (this.drag !== null) {
      if (surface === undefined || surface === this.dragOver) {
        this.dragOver = null;
        this.drag.enter(null, 0, 0);
      }
      return;
    }
    const focus = this.pointerFocus;
    if (focus === null || (surface !== undefined && surface !== focus)) return;
    this.pointerFocus = null;
    if (focus.isDestroyed) return;
    const serial = this.ctx.serial();
    for (const p of focus.client.pointers) p.sendLeave(serial, focus.resource);
    this.markPointerFrame(focus.client);
    this.emit('pointer-leave', focus);
  }

  pointerMotion(timeMs: number, x: number, y: number): void {
    const focus = this.pointerFocus;
    const dx = x - this.pointerX;
    const dy = y - this.pointerY;
    this.pointerX = x;
    this.pointerY = y;
    if (this.drag !== null) {
      this.drag.motion(timeMs, x, y);
      return;
    }
    if (focus === null || focus.isDestroyed) return;
    this.emit('pointer-motion', focus, timeMs, dx, dy);
    if (this.pointerLockedOn === focus) {
      this.markPointerFrame(focus.client);
      return;
    }
    for (const p of focus.client.pointers) p.sendMotion(timeMs >>> 0, x, y);
    this.markPointerFrame(focus.client);
  }

  /** Returns the serial of the event sent, if one was. */
  pointerButton(timeMs: number, button: number, pressed: boolean): number | undefined {
    if (pressed) this.buttonsHeld.add(button);
    else this.buttonsHeld.delete(button);
    if (this.drag !== null) {
      if (!pressed && this.buttonsHeld.size === 0) this.drag.drop();
      return undefined;
    }
    const focus = this.pointerFocus;
    let serial: number | undefined;
    if (focus !== null && !focus.isDestroyed) {
      serial = this.ctx.serial();
      if (pressed) focus.client.lastButtonSerial = serial;
      for (const p of focus.client.pointers) p.sendButton(serial, timeMs >>> 0, button, pressed ? 1 : 0);
      this.markPointerFrame(focus.client);
    }
    if (pressed) this.emit('button-press', focus);
    return serial;
  }

  pointerAxis(timeMs: number, axis: number, value: number): void {
    const focus = this.pointerFocus;
    if (focus === null || focus.isDestroyed || (axis !== 0 && axis !== 1)) return;
    for (const p of focus.client.pointers) p.sendAxis(timeMs >>> 0, axis, value);
    this.markPointerFrame(focus.client);
  }

  /*
   * axis_source, axis_stop and axis_discrete (wl_pointer v5+) are passed on in
   * the order the consumer sends them, which wl_pointer prescribes: source and
   * discrete before the axis they describe, all before the frame that ends
   * the group. Pointers bound below v5 get the axis events alone.
   */

  pointerAxisSource(source: number): void {
    const focus = this.pointerFocus;
    if (focus === null || focus.isDestroyed || !isAxisSource(source)) return;
    for (const p of focus.client.pointers) if (p.version >= 5) p.sendAxisSource(axisSourceFor(p.version, source));
    this.markPointerFrame(focus.client);
  }

  pointerAxisStop(timeMs: number, axis: number): void {
    const focus = this.pointerFocus;
    if (focus === null || focus.isDestroyed || (axis !== 0 && axis !== 1)) return;
    for (const p of focus.client.pointers) if (p.version >= 5) p.sendAxisStop(timeMs >>> 0, axis);
    this.markPointerFrame(focus.client);
  }

  pointerAxisDiscrete(axis: number, discrete: number): void {
    const focus = this.pointerFocus;
    if (focus === null || focus.isDestroyed || (axis !== 0 && axis !== 1)) return;
    for (const p of focus.client.pointers) if (p.version >= 5) p.sendAxisDiscrete(axis, discrete | 0);
    this.markPointerFrame(focus.client);
  }

  pointerFrame(): void {
    const clients = [...this.pointerFramePending];
    this.pointerFramePending.clear();
    for (const client of clients) for (const p of client.pointers) if (p.version >= 5) p.sendFrame();
  }

  private markPointerFrame(client: ClientState): void {
    this.pointerFramePending.add(client);
    if (this.pointerFrameScheduled) return;
    this.pointerFrameScheduled = true;
    soon(() => {
      this.pointerFrameScheduled = false;
      this.pointerFrame();
    });
  }

  // ---- touch ----------------------------------------------------------------

  /** Returns the serial of the event sent. */
  touchDown(surface: Surface, timeMs: number, id: number, x: number, y: number): number | undefined {
    if (surface.isDestroyed) return undefined;
    this.touchPoints.set(id, surface);
    const serial = this.ctx.serial();
    // A touch down starts moves and resizes as a button press does.
    surface.client.lastButtonSerial = serial;
    for (const t of surface.client.touches) t.sendDown(serial, timeMs >>> 0, surface.resource, id, x, y);
    this.markTouchFrame(surface.client);
    return serial;
  }

  touchUp(timeMs: number, id: number): void {
    const surface = this.touchPoints.get(id);
    if (surface === undefined) return;
    this.touchPoints.delete(id);
    if (surface.isDestroyed) return;
    const serial = this.ctx.serial();
    for (const t of surface.client.touches) t.sendUp(serial, timeMs >>> 0, id);
    this.markTouchFrame(surface.client);
  }

  touchMotion(timeMs: number, id: number, x: number, y: number): void {
    const surface = this.touchPoints.get(id);
    if (surface === undefined || surface.isDestroyed) return;
    for (const t of surface.client.touches) t.sendMotion(timeMs >>> 0, id, x, y);
    this.markTouchFrame(surface.client);
  }

  touchFrame(): void {
    const clients = [...this.touchFramePending];
    this.touchFramePending.clear();
    for (const client of clients) for (const t of client.touches) t.sendFrame();
  }

  touchCancel(): void {
    const clients = new Set([...this.touchPoints.values()].map((s) => s.client));
    this.touchPoints.clear();
    this.touchFramePending.clear();
    for (const client of clients) for (const t of client.touches) t.sendCancel();
  }

  private markTouchFrame(client: ClientState): void {
    this.touchFramePending.add(client);
    if (this.touchFrameScheduled) return;
    this.touchFrameScheduled = true;
    soon(() => {
      this.touchFrameScheduled = false;
      this.touchFrame();
    });
  }

  close(): void {
    this.keymap.close();
  }
}
