/**
 * Text input (zwp_text_input_v3) as it travels through the scene: the state
 * an application committed on its focused surface (`SceneSurface.textInput`,
 * announced with a `text-input` window request), and what the consumer's
 * input method composed for it (`SceneFeedback.textInputDone`).
 *
 * Both come from peers or applications, so the checks below run wherever
 * they cross a boundary: a Wayland message is at most 4096 bytes, and
 * text-input v3 asks for surrounding text below 4000 bytes.
 */
import type { Rect } from './scene.js';
import { ZwpTextInputV3ChangeCause, ZwpTextInputV3ContentHint, ZwpTextInputV3ContentPurpose } from '../generated/wayland/index.js';

const ALL_HINTS = Object.values(ZwpTextInputV3ContentHint).reduce<number>((a, b) => a | b, 0);
const MAX_PURPOSE = Math.max(...Object.values(ZwpTextInputV3ContentPurpose));
const MAX_CAUSE = Math.max(...Object.values(ZwpTextInputV3ChangeCause));
/** The largest cursor rectangle coordinate or size carried (surface-local). */
const MAX_COORD = 1 << 20;

/** The longest text (UTF-8 bytes) carried: surrounding, preedit and commit strings. */
export const MAX_TEXT_BYTES = 4000;
/** The most bytes of surrounding text one delete_surrounding_text may remove on either side. */
export const MAX_DELETE_BYTES = 65536;

export interface SurroundingText {
  readonly text: string;
  /** Byte offsets into `text`. */
  readonly cursor: number;
  readonly anchor: number;
}

/** An enabled text input's committed state (zwp_text_input_v3 after commit). */
export interface TextInputState {
  readonly surrounding: SurroundingText | null;
  /** zwp_text_input_v3.change_cause. */
  readonly changeCause: number;
  /** zwp_text_input_v3.content_hint bits and content_purpose. */
  readonly contentHint: number;
  readonly contentPurpose: number;
  /** Surface-local; null until the application sets one. */
  readonly cursorRect: Rect | null;
}

export interface Preedit {
  readonly text: string;
  /** Byte offsets into `text`; both -1: no cursor. */
  readonly cursorBegin: number;
  readonly cursorEnd: number;
}

/** What an input method composed, applied together (zwp_text_input_v3.done). */
export interface TextInputEvents {
  readonly preedit: Preedit | null;
  readonly commit: string | null;
  readonly deleteSurrounding: { readonly before: number; readonly after: number } | null;
}

export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Why `state` cannot be carried, or null when it can. */
export function textInputStateProblem(state: TextInputState): string | null {
  const s = state.surrounding;
  if (s !== null) {
    const n = utf8Length(s.text);
    if (n > MAX_TEXT_BYTES) return `surrounding text of ${n} bytes (at most ${MAX_TEXT_BYTES})`;
    if (!offsetIn(s.cursor, n) || !offsetIn(s.anchor, n)) return `cursor ${s.cursor} or anchor ${s.anchor} outside the surrounding text of ${n} bytes`;
  }
  if (!inRange(state.changeCause, 0, MAX_CAUSE)) return `unknown change cause ${state.changeCause}`;
  if (!inRange(state.contentHint, 0, ALL_HINTS) || (state.contentHint & ~ALL_HINTS) !== 0) return `unknown content hint bits ${state.contentHint}`;
  if (!inRange(state.contentPurpose, 0, MAX_PURPOSE)) return `unknown content purpose ${state.contentPurpose}`;
  const r = state.cursorRect;
  if (r !== null && !(inRange(r.x, -MAX_COORD, MAX_COORD) && inRange(r.y, -MAX_COORD, MAX_COORD) && inRange(r.width, 0, MAX_COORD) && inRange(r.height, 0, MAX_COORD))) {
    return `cursor rectangle ${r.x},${r.y} ${r.width}x${r.height} out of range`;
  }
  return null;
}

/** Why `events` cannot be carried, or null when they can. */
export function textInputEventsProblem(events: TextInputEvents): string | null {
  const p = events.preedit;
  if (p !== null) {
    const n = utf8Length(p.text);
    if (n > MAX_TEXT_BYTES) return `preedit string of ${n} bytes (at most ${MAX_TEXT_BYTES})`;
    const none = p.cursorBegin === -1 && p.cursorEnd === -1;
    if (!none && (!offsetIn(p.cursorBegin, n) || !offsetIn(p.cursorEnd, n))) return `preedit cursor ${p.cursorBegin}..${p.cursorEnd} outside the preedit string of ${n} bytes`;
  }
  if (events.commit !== null) {
    const n = utf8Length(events.commit);
    if (n > MAX_TEXT_BYTES) return `commit string of ${n} bytes (at most ${MAX_TEXT_BYTES})`;
  }
  const d = events.deleteSurrounding;
  if (d !== null && (!offsetIn(d.before, MAX_DELETE_BYTES) || !offsetIn(d.after, MAX_DELETE_BYTES))) return `delete_surrounding_text of ${d.before}/${d.after} bytes (at most ${MAX_DELETE_BYTES})`;
  return null;
}

function offsetIn(v: number, length: number): boolean {
  return inRange(v, 0, length);
}

function inRange(v: number, min: number, max: number): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

export function sameTextInputState(a: TextInputState | null, b: TextInputState | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  const s = a.surrounding;
  const t = b.surrounding;
  const r = a.cursorRect;
  const q = b.cursorRect;
  return (
    (s === t || (s !== null && t !== null && s.text === t.text && s.cursor === t.cursor && s.anchor === t.anchor)) &&
    a.changeCause === b.changeCause &&
    a.contentHint === b.contentHint &&
    a.contentPurpose === b.contentPurpose &&
    (r === q || (r !== null && q !== null && r.x === q.x && r.y === q.y && r.width === q.width && r.height === q.height))
  );
}
