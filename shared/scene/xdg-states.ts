/**
 * Toplevel states as xdg_toplevel.configure carries them: an array of u32
 * xdg_toplevel.state values (xdg-shell.xml). The scene's state names are
 * xdg-shell's.
 */
import { XdgToplevelState } from '../generated/wayland/index.js';
import { decodeU32Array, encodeU32Array } from '../wire/array.js';
import type { ToplevelState } from './scene.js';

const CODES: Readonly<Record<ToplevelState, number>> = {
  maximized: XdgToplevelState.Maximized,
  fullscreen: XdgToplevelState.Fullscreen,
  resizing: XdgToplevelState.Resizing,
  activated: XdgToplevelState.Activated,
};

const NAMES: ReadonlyMap<number, ToplevelState> = new Map(Object.entries(CODES).map(([name, code]) => [code, name as ToplevelState]));

export function isToplevelState(s: string): s is ToplevelState {
  return Object.hasOwn(CODES, s);
}

export function encodeXdgStates(states: readonly ToplevelState[]): Uint8Array {
  return encodeU32Array(states.map((s) => CODES[s]));
}

/** The states of an xdg_toplevel.configure array, each once; values the scene does not know are skipped. */
export function decodeXdgStates(bytes: Uint8Array): ToplevelState[] {
  const out: ToplevelState[] = [];
  for (const code of decodeU32Array(bytes)) {
    const name = NAMES.get(code);
    if (name !== undefined && !out.includes(name)) out.push(name);
  }
  return out;
}
