/**
 * Text input on the local compositor (zwp_text_input_v3): one text input on
 * the local seat follows the compositor's keyboard focus. While it is
 * entered on a window whose scene surface has an enabled text input
 * (`SceneSurface.textInput`), that state is mirrored to the compositor
 * (enable, the set_ requests, commit), so its input method composes for the
 * window; what the input method sends up to done goes to the surface's
 * producer (`feedback.textInputDone`). When focus leaves, or the producer
 * disables its text input, the compositor's is disabled.
 */
import type { WlSurfaceProxy, ZwpTextInputV3Proxy } from '../generated/wayland/index.js';
import type { SceneSurface } from '../scene/scene.js';
import { sameTextInputState, textInputEventsProblem, type Preedit, type TextInputEvents, type TextInputState } from '../scene/text-input.js';
import type { Mirror } from './mirror.js';
import type { DisplayState } from './state.js';

interface LocalTextInput {
  readonly proxy: ZwpTextInputV3Proxy;
  entered: WlSurfaceProxy | null;
  /** The state last committed to the compositor (null: disabled), and the scene surface it was for. */
  sent: TextInputState | null;
  sentFor: SceneSurface | null;
  /** Events of the input method since its last done. */
  preedit: Preedit | null;
  commit: string | null;
  deleteSurrounding: { before: number; after: number } | null;
}

const inputs = new WeakMap<DisplayState, LocalTextInput>();

/** Create the text input of the local seat, when the compositor has text-input v3 and a seat. */
export function startTextInput(d: DisplayState): void {
  if (d.textInputManager === null || d.seat === null || inputs.has(d)) return;
  const t: LocalTextInput = {
    proxy: d.textInputManager.getTextInput(d.seat),
    entered: null,
    sent: null,
    sentFor: null,
    preedit: null,
    commit: null,
    deleteSurrounding: null,
  };
  inputs.set(d, t);
  t.proxy.listen({
    enter: (surface) => {
      t.entered = surface;
      syncTextInput(d);
    },
    leave: () => {
      t.entered = null;
      syncTextInput(d);
    },
    preeditString: (text, cursorBegin, cursorEnd) => {
      t.preedit = text === null || text === '' ? null : { text, cursorBegin, cursorEnd };
    },
    commitString: (text) => {
      t.commit = text === null || text === '' ? null : text;
    },
    deleteSurroundingText: (before, after) => {
      t.deleteSurrounding = before === 0 && after === 0 ? null : { before, after };
    },
    done: () => {
      const events: TextInputEvents = { preedit: t.preedit, commit: t.commit, deleteSurrounding: t.deleteSurrounding };
      t.preedit = null;
      t.commit = null;
      t.deleteSurrounding = null;
      const s = t.sentFor;
      if (s === null || t.sent === null || s.destroyed) return;
      const problem = textInputEventsProblem(events);
      if (problem !== null) {
        d.logger.warn({ surface: s.id }, `the input method's text for surface ${s.id} is dropped: ${problem}`);
        return;
      }
      d.feedback(s, 'textInputDone', (f) => f.textInputDone?.(s, events));
    },
  });
}

function enteredMirror(d: DisplayState, t: LocalTextInput): Mirror | null {
  if (t.entered === null) return null;
  const m = d.byProxy.get(t.entered);
  return m !== undefined && d.mirrors.get(m.scene) === m ? m : null;
}

/**
 * Bring the compositor's text input in line with the window it is entered
 * on: after enter/leave, a `text-input` request of a surface, or a window
 * going away.
 */
export function syncTextInput(d: DisplayState): void {
  const t = inputs.get(d);
  if (t === undefined || d.isClosed || t.proxy.destroyed) return;
  const m = enteredMirror(d, t);
  const s = m === null || m.scene.destroyed ? null : m.scene;
  const want = s === null ? null : s.textInput;
  if (s === t.sentFor && sameTextInputState(want, t.sent)) return;
  const p = t.proxy;
  if (want === null || s === null) {
    if (t.sent !== null) {
      p.disable();
      p.commit();
      d.logger.debug({ surface: t.sentFor?.id }, `text input of surface ${t.sentFor?.id ?? '?'} disabled on the compositor`);
    }
    t.sent = null;
    t.sentFor = s;
    return;
  }
  p.enable();
  if (want.surrounding !== null) p.setSurroundingText(want.surrounding.text, want.surrounding.cursor, want.surrounding.anchor);
  p.setTextChangeCause(want.changeCause);
  p.setContentType(want.contentHint, want.contentPurpose);
  const r = want.cursorRect;
  if (r !== null) p.setCursorRectangle(r.x, r.y, r.width, r.height);
  p.commit();
  if (t.sent === null || t.sentFor !== s) d.logger.debug({ surface: s.id }, `text input of surface ${s.id} enabled on the compositor`);
  t.sent = want;
  t.sentFor = s;
}
