/**
 * The local wl_seat: its devices as the compositor announces them, and their
 * events relayed to the surfaces' owners through the display's InputRelay.
 */
import {
  WlKeyboardKeyState,
  WlKeyboardKeymapFormat,
  type WlKeyboardProxy,
  WlPointerButtonState,
  type WlPointerProxy,
  WlSeatCapability,
  WlSeatProxy,
  type WlSurfaceProxy,
  type WlTouchProxy,
} from '../generated/wayland/index.js';
import { ShmMapping } from '../native.js';
import type { Global } from '../wayland/client.js';
import type { Mirror } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';
import { focusedPointerEvents } from '../scene/input-relay.js';
import { startTextInput } from './text-input.js';

export class Seat {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  bindSeat(g: Global): void {
    const seat = this.d.registry!.bind(WlSeatProxy, g, Math.min(7, g.version));
    this.d.seat = seat;
    seat.listen({ capabilities: (caps) => this.onCapabilities(caps) });
    this.p.selection.bind(this.d.registry!, seat, () => this.d.client!.roundtrip());
    startTextInput(this.d);
  }

  private onCapabilities(caps: number): void {
    this.d.seatCapabilities = caps;
    this.d.onSeatCapabilities?.(caps);
    const seat = this.d.seat!;
    const has = (bit: number): boolean => (caps & bit) !== 0;
    if (has(WlSeatCapability.Pointer) && this.d.pointer === null) this.d.pointer = this.listenPointer(seat.getPointer());
    else if (!has(WlSeatCapability.Pointer) && this.d.pointer !== null) {
      this.releaseDevice(this.d.pointer);
      this.d.pointer = null;
      this.d.input.dropPointer();
    }
    if (has(WlSeatCapability.Keyboard) && this.d.keyboard === null) this.d.keyboard = this.listenKeyboard(seat.getKeyboard());
    else if (!has(WlSeatCapability.Keyboard) && this.d.keyboard !== null) {
      this.releaseDevice(this.d.keyboard);
      this.d.keyboard = null;
      this.d.input.dropKeyboard();
    }
    if (has(WlSeatCapability.Touch) && this.d.touch === null) this.d.touch = this.listenTouch(seat.getTouch());
    else if (!has(WlSeatCapability.Touch) && this.d.touch !== null) {
      this.releaseDevice(this.d.touch);
      this.d.touch = null;
      this.d.input.dropTouch();
    }
  }

  private releaseDevice(device: WlPointerProxy | WlKeyboardProxy | WlTouchProxy): void {
    if (device.destroyed) return;
    if (device.version >= 3) device.release();
    else device.handlers = {};
  }

  private mirrorOf(wl: WlSurfaceProxy | null): Mirror | null {
    if (wl === null) return null;
    const m = this.d.byProxy.get(wl);
    return m !== undefined && this.d.mirrors.get(m.scene) === m ? m : null;
  }

  private listenPointer(pointer: WlPointerProxy): WlPointerProxy {
    const input = this.d.input;
    pointer.listen({
      enter: (serial, surface, x, y) => {
        this.p.selection.noteSerial(serial);
        input.pointerEnter(serial, this.mirrorOf(surface)?.scene ?? null, x, y);
        this.p.cursor.applyCursor();
      },
      leave: (serial) => {
        this.p.selection.noteSerial(serial);
        input.pointerLeave();
      },
      ...focusedPointerEvents(input, WlPointerButtonState.Pressed),
      button: (serial, time, button, state) => {
        this.p.selection.noteSerial(serial);
        input.pointerButton(serial, time, button, state === WlPointerButtonState.Pressed);
      },
    });
    return pointer;
  }

  private listenKeyboard(keyboard: WlKeyboardProxy): WlKeyboardProxy {
    const input = this.d.input;
    keyboard.listen({
      keymap: (format, fd, size) => {
        try {
          if (format !== WlKeyboardKeymapFormat.XkbV1 || size <= 0) return;
          input.keymap(readKeymap(fd.fd, size));
        } catch (error) {
          this.d.logger.warn({ err: error }, `cannot read the keymap: ${(error as Error).message}`);
        } finally {
          fd.close();
        }
      },
      repeatInfo: (rate, delay) => input.repeatInfo(rate, delay),
      enter: (serial, surface, keys) => {
        this.p.selection.noteSerial(serial);
        input.keyboardEnter(this.mirrorOf(surface)?.scene ?? null, keys);
      },
      leave: (serial) => {
        this.p.selection.noteSerial(serial);
        input.keyboardLeave();
      },
      key: (serial, time, key, state) => {
        this.p.selection.noteSerial(serial);
        input.key(serial, time, key, state === WlKeyboardKeyState.Pressed);
      },
      modifiers: (serial, depressed, latched, locked, group) => {
        this.p.selection.noteSerial(serial);
        input.modifiers(depressed, latched, locked, group);
      },
    });
    return keyboard;
  }

  private listenTouch(touch: WlTouchProxy): WlTouchProxy {
    const input = this.d.input;
    touch.listen({
      down: (serial, time, surface, id, x, y) => input.touchDown(serial, time, this.mirrorOf(surface)?.scene ?? null, id, x, y),
      up: (_serial, time, id) => input.touchUp(time, id),
      motion: (time, id, x, y) => input.touchMotion(time, id, x, y),
      frame: () => input.touchFrame(),
      cancel: () => input.touchCancel(),
    });
    return touch;
  }
}

/** The XKB keymap text behind a wl_keyboard.keymap fd (NUL-terminated, `size` bytes with the NUL). */
export function readKeymap(fd: number, size: number): string {
  const mapping = ShmMapping.map(fd, 0, size, false);
  try {
    const bytes = new Uint8Array(mapping.buffer, 0, size);
    let end = bytes.indexOf(0);
    if (end < 0) end = size;
    return Buffer.from(bytes.subarray(0, end)).toString('utf8');
  } finally {
    mapping.unmap();
  }
}
