/**
 * wthp_text_input_manager on the receiver: the text input state a
 * transmitter sends for one of its surfaces becomes that scene surface's
 * `textInput` at each commit (announced with a `text-input` request, which
 * the local display mirrors to its compositor's text input while the window
 * has keyboard focus), and what the compositor's input method composes for
 * the surface goes back as wthp_text_input events (`textInputDone`).
 *
 * Everything is checked before it reaches the compositor, whose libwayland
 * drops us on a message over 4 KiB: a surrounding text over 4000 bytes,
 * offsets outside it, unknown enum values or a second text input on a
 * surface end the transmitter's connection with an error naming the request.
 */
import type { WthpTextInputManagerResource, WthpTextInputResource, WthpSurfaceResource } from '../shared/generated/waltham/waltham.js';
import type { SceneSurface } from '../shared/scene/scene.js';
import { MAX_TEXT_BYTES, textInputStateProblem, utf8Length, type SurroundingText, type TextInputEvents, type TextInputState } from '../shared/scene/text-input.js';

type Fail = (message: string) => void;

interface Pending {
  enabled: boolean;
  surrounding: SurroundingText | null;
  changeCause: number;
  contentHint: number;
  contentPurpose: number;
  cursorRect: TextInputState['cursorRect'];
}

export class RemoteTextInputs {
  private readonly bySurface = new Map<SceneSurface, WthpTextInputResource>();

  constructor(
    /** The scene surface of a transmitter's wthp_surface (throws for one without surface state). */
    private readonly sceneOf: (surface: WthpSurfaceResource) => SceneSurface,
    /** Drop the transmitter with an error naming `resource.message`. */
    private readonly failer: (resource: WthpTextInputResource | WthpTextInputManagerResource, message: string) => Fail,
  ) {}

  bind(manager: WthpTextInputManagerResource): void {
    manager.listen({
      destroy: () => {},
      getTextInput: (id, surface) => {
        const scene = this.sceneOf(surface);
        const had = this.bySurface.get(scene);
        if (had !== undefined && !had.destroyed) return this.failer(manager, 'get_text_input')(`${surface.toString()} already has ${had.toString()}`);
        this.bySurface.set(scene, id);
        scene.once('destroy', () => {
          if (this.bySurface.get(scene) === id) this.bySurface.delete(scene);
        });
        this.listen(id, scene);
      },
    });
  }

  private listen(ti: WthpTextInputResource, scene: SceneSurface): void {
    const pending: Pending = { enabled: false, surrounding: null, changeCause: 0, contentHint: 0, contentPurpose: 0, cursorRect: null };
    const set = (state: TextInputState | null): void => {
      if (scene.destroyed || (scene.textInput === null && state === null)) return;
      scene.textInput = state;
      scene.request({ kind: 'text-input' });
    };
    ti.listen({
      destroy: () => {},
      enable: () => {
        // zwp_text_input_v3.enable: the state starts over.
        Object.assign(pending, { enabled: true, surrounding: null, changeCause: 0, contentHint: 0, contentPurpose: 0, cursorRect: null });
      },
      disable: () => {
        pending.enabled = false;
      },
      setSurroundingText: (text, cursor, anchor) => {
        const n = utf8Length(text);
        if (n > MAX_TEXT_BYTES) return this.failer(ti, 'set_surrounding_text')(`text of ${n} bytes (at most ${MAX_TEXT_BYTES})`);
        pending.surrounding = { text, cursor, anchor };
      },
      setTextChangeCause: (cause) => {
        pending.changeCause = cause;
      },
      setContentType: (hint, purpose) => {
        pending.contentHint = hint;
        pending.contentPurpose = purpose;
      },
      setCursorRectangle: (x, y, width, height) => {
        pending.cursorRect = { x, y, width, height };
      },
      commit: () => {
        if (!pending.enabled) return set(null);
        const { enabled: _enabled, ...state } = pending;
        const problem = textInputStateProblem(state);
        if (problem !== null) return this.failer(ti, 'commit')(problem);
        set(state);
      },
    });
    ti.onDestroy(() => {
      if (this.bySurface.get(scene) === ti) this.bySurface.delete(scene);
      set(null);
    });
  }

  /** What the compositor's input method composed for `scene`, to its transmitter. */
  done(scene: SceneSurface, events: TextInputEvents): void {
    const ti = this.bySurface.get(scene);
    if (ti === undefined || ti.destroyed) return;
    const p = events.preedit;
    if (p !== null) ti.sendPreeditString(p.text, p.cursorBegin, p.cursorEnd);
    if (events.commit !== null) ti.sendCommitString(events.commit);
    const d = events.deleteSurrounding;
    if (d !== null) ti.sendDeleteSurroundingText(d.before, d.after);
    ti.sendDone();
  }
}
