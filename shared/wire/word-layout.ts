/**
 * Messages whose arguments are all one 32-bit word on the wire (ints, fixed,
 * objects, typed new ids): most of a frame's, on Wayland and Waltham alike.
 * Each connection writes them without planning each argument.
 */
import type { MessageSpec } from './protocol.js';

/** Argument kinds of such a message (`wordLayout`). */
export const KIND_INT = 0;
export const KIND_UINT = 1;
export const KIND_FIXED = 2;
export const KIND_OBJECT = 3;
export const KIND_NEW_ID = 4;

const layouts = new WeakMap<MessageSpec, Uint8Array | null>();

/** The argument kinds of a message whose arguments are all one 32-bit word, else null. */
export function wordLayout(message: MessageSpec): Uint8Array | null {
  let kinds = layouts.get(message);
  if (kinds !== undefined) return kinds;
  kinds = new Uint8Array(message.args.length);
  for (let i = 0; i < message.args.length && kinds !== null; i++) {
    const arg = message.args[i]!;
    if (arg.type === 'int') kinds[i] = KIND_INT;
    else if (arg.type === 'uint') kinds[i] = KIND_UINT;
    else if (arg.type === 'fixed') kinds[i] = KIND_FIXED;
    else if (arg.type === 'object') kinds[i] = KIND_OBJECT;
    else if (arg.type === 'new_id' && arg.interface !== null) kinds[i] = KIND_NEW_ID;
    else kinds = null;
  }
  layouts.set(message, kinds);
  return kinds;
}
