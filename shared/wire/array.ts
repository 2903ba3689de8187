/**
 * `array` arguments that carry a list of 32-bit values (wl_keyboard.enter and
 * wthp_keyboard.enter keys, xdg_toplevel.configure states). Both dialects
 * write them little-endian, the host order of every target we build for.
 */

export function encodeU32Array(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

/** The whole 32-bit values of `bytes` (a trailing partial value is ignored). */
export function decodeU32Array(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.byteLength; i += 4) out.push(view.getUint32(i, true));
  return out;
}
