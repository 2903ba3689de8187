/**
 * Input from the receiver: its wthp_seat's devices (pointer, keyboard with
 * the keymap of wthp_input_extension, touch) relayed to the surfaces'
 * producers through the connection's InputRelay.
 */
import {
  WthpKeyboardKeymapFormat,
  WthpKeyboardKeyState,
  WthpPointerButtonState,
  WthpSeatCapability,
  type WthpInputExtensionProxy,
  type WthpKeyboardProxy,
  type WthpPointerProxy,
  type WthpSeatProxy,
  type WthpTouchProxy,
} from '../../shared/generated/waltham/waltham.js';
import { KeymapAssembler } from '../../shared/remote/protocol.js';
import { focusedPointerEvents } from '../../shared/scene/input-relay.js';
import { sendCursor } from './cursor.js';
import type { SceneFollower } from './follow.js';
import { announceOffers } from './offers.js';
import type { ConnectionState, LinkContext } from './remote.js';

export class SeatListener {
  constructor(
    private readonly ctx: LinkContext,
    private readonly follower: SceneFollower,
  ) {}

  /** Relay the input of `seat` (and the keymaps of `ext`) on `conn`. */
  listen(conn: ConnectionState, seat: WthpSeatProxy, ext: WthpInputExtensionProxy | null): void {
    seat.listen({ capabilities: (caps) => this.onCapabilities(conn, seat, ext, caps) });
  }

  private onCapabilities(conn: ConnectionState, seat: WthpSeatProxy, ext: WthpInputExtensionProxy | null, caps: number): void {
    conn.seatCapabilities = caps;
    announceOffers(this.ctx.scene, conn);
    if (caps & WthpSeatCapability.Pointer && conn.pointer === null) {
      conn.pointer = seat.getPointer();
      this.listenPointer(conn, conn.pointer);
    }
    if (caps & WthpSeatCapability.Keyboard && conn.keyboard === null) {
      conn.keyboard = seat.getKeyboard();
      this.listenKeyboard(conn, conn.keyboard, ext !== null);
      if (ext !== null) {
        const keymap = ext.getKeymap(conn.keyboard);
        const assembler = new KeymapAssembler();
        keymap.listen({
          chunk: (data) => {
            try {
              assembler.chunk(data);
            } catch (err) {
              this.protocolProblem(conn, `wthp_keymap: ${(err as Error).message}`);
            }
          },
          done: (format, size) => {
            try {
              const text = assembler.done(size);
              if (format === WthpKeyboardKeymapFormat.XkbV1) conn.input.keymap(text);
            } catch (err) {
              this.protocolProblem(conn, `wthp_keymap: ${(err as Error).message}`);
            }
          },
        });
      }
    }
    if (caps & WthpSeatCapability.Touch && conn.touch === null) {
      conn.touch = seat.getTouch();
      this.listenTouch(conn, conn.touch);
    }
  }

  private protocolProblem(conn: ConnectionState, text: string): void {
    this.ctx.logger.warn({}, `${this.ctx.where}: ${text}`);
    conn.client.destroy(new Error(text));
  }

  private listenPointer(conn: ConnectionState, pointer: WthpPointerProxy): void {
    const input = conn.input;
    pointer.listen({
      enter: (serial, surface, x, y) => {
        const s = conn.sceneOf(surface);
        input.pointerEnter(serial, s, x, y);
        if (s !== null && this.ctx.scene.cursors.has(s.owner)) sendCursor(this.ctx, this.follower, conn, s.owner);
      },
      leave: (_serial, surface) => {
        conn.cursorSent = undefined;
        input.pointerLeave(conn.sceneOf(surface));
      },
      ...focusedPointerEvents(input, WthpPointerButtonState.Pressed),
    });
  }

  private listenKeyboard(conn: ConnectionState, keyboard: WthpKeyboardProxy, hasExtension: boolean): void {
    const input = conn.input;
    keyboard.listen({
      keymap: (format, data) => {
        // Only for receivers without wthp_input_extension (keymaps that fit one message).
        if (hasExtension || format !== WthpKeyboardKeymapFormat.XkbV1) return;
        try {
          const assembler = new KeymapAssembler();
          assembler.chunk(data);
          input.keymap(assembler.done(data.byteLength));
        } catch (err) {
          this.protocolProblem(conn, `wthp_keyboard.keymap: ${(err as Error).message}`);
        }
      },
      enter: (_serial, surface, keys) => input.keyboardEnter(conn.sceneOf(surface), keys),
      leave: (_serial, surface) => input.keyboardLeave(conn.sceneOf(surface)),
      key: (serial, time, key, state) => input.key(serial, time, key, state === WthpKeyboardKeyState.Pressed),
      modifiers: (_serial, depressed, latched, locked, group) => input.modifiers(depressed, latched, locked, group),
      repeatInfo: (rate, delay) => input.repeatInfo(rate, delay),
    });
  }

  private listenTouch(conn: ConnectionState, touch: WthpTouchProxy): void {
    const input = conn.input;
    touch.listen({
      down: (serial, time, surface, id, x, y) => input.touchDown(serial, time, conn.sceneOf(surface), id, x, y),
      up: (_serial, time, id) => input.touchUp(time, id),
      motion: (time, id, x, y) => input.touchMotion(time, id, x, y),
      frame: () => input.touchFrame(),
      cancel: () => input.touchCancel(),
    });
  }
}
