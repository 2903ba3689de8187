/**
 * Conversions between the scene model (shared/scene/scene.ts) and the
 * remoting messages of protocol/waltham.xml, used by both ends.
 */
import type { ToplevelState } from '../scene/scene.js';
import { WthpToplevelState } from '../generated/waltham/waltham.js';

/** wthp_toplevel.state bits. */
const STATE_BITS: Readonly<Record<ToplevelState, number>> = {
  maximized: WthpToplevelState.Maximized,
  fullscreen: WthpToplevelState.Fullscreen,
  resizing: WthpToplevelState.Resizing,
  activated: WthpToplevelState.Activated,
};

export function statesToBits(states: readonly ToplevelState[]): number {
  let bits = 0;
  for (const s of states) bits |= STATE_BITS[s] ?? 0;
  return bits;
}

export function bitsToStates(bits: number): ToplevelState[] {
  return (Object.keys(STATE_BITS) as ToplevelState[]).filter((s) => (bits & STATE_BITS[s]) !== 0);
}

/** A time in milliseconds as a wire `uint` (wrapping like wl_pointer times). */
export function wireTime(ms: number): number {
  return Number.isFinite(ms) ? Math.trunc(ms) >>> 0 : 0;
}

/**
 * Bytes of keymap text per wthp_keymap.chunk: the message (header 8, target
 * 4, data length 4, data, padding) stays well below 65535 bytes.
 */
export const KEYMAP_CHUNK = 60000;
/** Largest keymap text either side accepts (XKB keymaps are ~64-70 KB). */
export const MAX_KEYMAP_BYTES = 4 * 1024 * 1024;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** Split keymap text into wthp_keymap.chunk payloads; returns them with the total size for done. */
export function keymapChunks(text: string): { chunks: Uint8Array[]; size: number } {
  const bytes = utf8.encode(text);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += KEYMAP_CHUNK) chunks.push(bytes.subarray(at, at + KEYMAP_CHUNK));
  return { chunks, size: bytes.byteLength };
}

/** Collects wthp_keymap chunks until done. */
export class KeymapAssembler {
  private parts: Uint8Array[] = [];
  private length = 0;

  /** Throws RangeError when the keymap grows past MAX_KEYMAP_BYTES. */
  chunk(data: Uint8Array): void {
    this.length += data.byteLength;
    if (this.length > MAX_KEYMAP_BYTES) {
      this.parts = [];
      this.length = 0;
      throw new RangeError(`keymap larger than ${MAX_KEYMAP_BYTES} bytes`);
    }
    // A copy: the caller's bytes may be a view of a buffer that is reused.
    this.parts.push(new Uint8Array(data));
  }

  /** The keymap text; throws when `size` does not match what arrived. */
  done(size: number): string {
    const parts = this.parts;
    const length = this.length;
    this.parts = [];
    this.length = 0;
    if (length !== size) throw new RangeError(`keymap announced ${size} bytes, ${length} arrived`);
    const all = Buffer.concat(parts, length);
    // XKB keymaps travel NUL-terminated in Wayland; the text stops at the first NUL.
    const nul = all.indexOf(0);
    return utf8Decoder.decode(nul >= 0 ? all.subarray(0, nul) : all);
  }
}
