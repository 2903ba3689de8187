/**
 * Text input over the link: a surface whose application has an enabled
 * text input (`SceneSurface.textInput`) gets a wthp_text_input when the
 * receiver offers wthp_text_input_manager, and its state is sent at each
 * change; what the receiver's input method composes comes back at each
 * done, is checked (a receiver is a peer on the network), and goes to the
 * application (`feedback.textInputDone`).
 */
import type { WthpTextInputProxy } from '../../shared/generated/waltham/waltham.js';
import { sameTextInputState, textInputEventsProblem, type Preedit, type TextInputEvents, type TextInputState } from '../../shared/scene/text-input.js';
import type { ConnectionState, LinkContext, Remote } from './remote.js';

interface Sent {
  readonly proxy: WthpTextInputProxy;
  state: TextInputState | null;
}

const sent = new WeakMap<Remote, Sent>();

export function sendTextInput(ctx: LinkContext, conn: ConnectionState, r: Remote): void {
  if (conn.textInput === null || r.kind === 'cursor') return;
  const s = r.scene;
  const want = s.textInput;
  let have = sent.get(r);
  if (have === undefined) {
    if (want === null) return;
    have = { proxy: conn.textInput.getTextInput(r.surface), state: null };
    sent.set(r, have);
    listen(ctx, r, have.proxy);
  }
  if (sameTextInputState(want, have.state) || have.proxy.destroyed) return;
  const p = have.proxy;
  have.state = want;
  if (want === null) {
    p.disable();
    p.commit();
    return;
  }
  p.enable();
  if (want.surrounding !== null) p.setSurroundingText(want.surrounding.text, want.surrounding.cursor, want.surrounding.anchor);
  p.setTextChangeCause(want.changeCause >>> 0);
  p.setContentType(want.contentHint >>> 0, want.contentPurpose >>> 0);
  const c = want.cursorRect;
  if (c !== null) p.setCursorRectangle(c.x, c.y, c.width, c.height);
  p.commit();
}

function listen(ctx: LinkContext, r: Remote, proxy: WthpTextInputProxy): void {
  const s = r.scene;
  let preedit: Preedit | null = null;
  let commit: string | null = null;
  let deleteSurrounding: { before: number; after: number } | null = null;
  proxy.listen({
    preeditString: (text, cursorBegin, cursorEnd) => {
      preedit = text === '' ? null : { text, cursorBegin, cursorEnd };
    },
    commitString: (text) => {
      commit = text === '' ? null : text;
    },
    deleteSurroundingText: (before, after) => {
      deleteSurrounding = before === 0 && after === 0 ? null : { before, after };
    },
    done: () => {
      const events: TextInputEvents = { preedit, commit, deleteSurrounding };
      preedit = null;
      commit = null;
      deleteSurrounding = null;
      const problem = textInputEventsProblem(events);
      if (problem !== null) {
        ctx.logger.warn({ surface: s.id }, `${ctx.where}: text for surface ${s.id} dropped: ${problem}`);
        return;
      }
      if (!s.destroyed && s.textInput !== null) ctx.feedbackFor(s).textInputDone?.(s, events);
    },
  });
}

/** `r` goes: its text input goes first. */
export function dropTextInput(r: Remote): void {
  const have = sent.get(r);
  sent.delete(r);
  if (have !== undefined && !have.proxy.destroyed) have.proxy.destroy();
}
