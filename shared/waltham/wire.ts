/**
 * The Waltham wire codec: the one handwritten module that writes and reads
 * every Waltham message from the descriptor tables. The layout is specified in
 * ../shared/vectors/waltham/README.md (sections 2 and 4):
 *
 *   offset 0  u16  header id   (0 when sent, ignored on receipt)
 *   offset 2  u16  sz          (whole message, header included)
 *   offset 4  u16  opcode      (global message number, 1-based)
 *   offset 6  u16  header pad  (0 when sent, ignored on receipt)
 *   offset 8  u32  target object id
 *   offset 12 ...  arguments in XML order, each 4-byte aligned
 *
 * Every cursor here is a byte offset used through a DataView.
 */
import { EncodeError, MalformedMessageError, ObjectError, type WireError } from '../wire/errors.js';
import { WireObject, type OutArg } from '../wire/object.js';
import { KIND_FIXED, KIND_INT, KIND_OBJECT, KIND_UINT, wordLayout } from '../wire/word-layout.js';
import type { ArgSpec, MessageSpec, OpcodeEntry, ProtocolTable, UntypedNewId, WireValue } from '../wire/protocol.js';

/**
 * Waltham byte order. The reference writes host order and reads the size field
 * as little-endian; every deployed peer is little-endian (README 2).
 */
export const LITTLE_ENDIAN = true;
export const HEADER_SIZE = 8;
/** Header plus target object id: the smallest valid message (no arguments). */
export const MIN_MESSAGE_SIZE = 12;
/** `sz` is a u16: no message, header included, may exceed this (README 2.3). */
export const MAX_MESSAGE_SIZE = 0xffff;

/** What `encodeMessage` accepts per argument: what generated code passes, plus raw ids and untyped new ids. */
export type EncodeArg = OutArg | UntypedNewId;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** Round up to a multiple of 4, exact for any u32 (no 32-bit bitwise overflow). */
const pad4 = (n: number): number => n + ((4 - (n % 4)) % 4);

/** One argument, ready to be written. */
type Planned =
  | { kind: 'u32'; value: number }
  | { kind: 'i32'; value: number }
  | { kind: 'bytes'; bytes: Uint8Array } // string (with NUL) or data: u32 length + bytes + pad
  /**
   * Array, in the reference reader's layout: u32 length + bytes + pad, all in `sz`.
   * `wide`: an empty array in last position, written as the reference writer's
   * 8 zero bytes (see `encodeMessage`).
   */
  | { kind: 'array'; bytes: Uint8Array; wide: boolean }
  | { kind: 'untyped'; id: number; iface: Uint8Array; version: number };

function isUntypedNewId(v: unknown): v is UntypedNewId {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof WireObject) &&
    !(v instanceof Uint8Array) &&
    typeof (v as UntypedNewId).id === 'number' &&
    typeof (v as UntypedNewId).interface === 'string' &&
    typeof (v as UntypedNewId).version === 'number'
  );
}

function checkU32(value: unknown, what: string, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new EncodeError(`${what} must be an integer in 0..2^32-1, got ${String(value)}`, where);
  }
  return value;
}

function checkI32(value: unknown, what: string, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new EncodeError(`${what} must be an integer in -2^31..2^31-1, got ${String(value)}`, where);
  }
  return value;
}

function encodeString(text: string, what: string, where: string): Uint8Array {
  if (text.includes('\0')) throw new EncodeError(`${what} contains a NUL character`, where);
  const utf8 = textEncoder.encode(text);
  const bytes = new Uint8Array(utf8.length + 1);
  bytes.set(utf8);
  return bytes;
}

function planArg(spec: ArgSpec, value: EncodeArg | undefined, where: string): Planned {
  const what = `argument ${spec.name} (${spec.type})`;
  switch (spec.type) {
    case 'int':
      return { kind: 'i32', value: checkI32(value, what, where) };
    case 'uint':
      return { kind: 'u32', value: checkU32(value, what, where) };
    case 'fixed': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new EncodeError(`${what} must be a finite number, got ${String(value)}`, where);
      }
      return { kind: 'i32', value: checkI32(Math.round(value * 256), what, where) };
    }
    case 'object': {
      if (value === null || value === 0) {
        if (!spec.nullable) throw new EncodeError(`${what} is null but the protocol does not allow null`, where);
        return { kind: 'u32', value: 0 };
      }
      if (value instanceof WireObject) {
        if (spec.interface !== null && value.spec.name !== spec.interface) {
          throw new EncodeError(`${what} must be a ${spec.interface}, got ${value.toString()}`, where);
        }
        return { kind: 'u32', value: value.id };
      }
      return { kind: 'u32', value: checkU32(value, what, where) };
    }
    case 'new_id': {
      if (spec.interface === null) {
        // Untyped new_id (wthp_registry.bind): id, then interface string, then version (README 2.1).
        let id: number;
        let iface: string;
        let version: number;
        if (value instanceof WireObject) {
          id = value.id;
          iface = value.spec.name;
          version = value.version;
        } else if (isUntypedNewId(value)) {
          id = value.id;
          iface = value.interface;
          version = value.version;
        } else {
          throw new EncodeError(`${what} must be an object or {id, interface, version}`, where);
        }
        if (id === 0) throw new EncodeError(`${what} has id 0`, where);
        return {
          kind: 'untyped',
          id: checkU32(id, what, where),
          iface: encodeString(iface, `${what} interface`, where),
          version: checkU32(version, `${what} version`, where),
        };
      }
      if (value instanceof WireObject) {
        if (value.spec.name !== spec.interface) {
          throw new EncodeError(`${what} must be a new ${spec.interface}, got ${value.toString()}`, where);
        }
        return { kind: 'u32', value: value.id };
      }
      if (value === null || value === 0) throw new EncodeError(`${what} cannot be null`, where);
      return { kind: 'u32', value: checkU32(value, what, where) };
    }
    case 'string': {
      if (value === null) {
        if (!spec.nullable) throw new EncodeError(`${what} is null but the protocol does not allow null`, where);
        return { kind: 'bytes', bytes: new Uint8Array(0) };
      }
      if (typeof value !== 'string') throw new EncodeError(`${what} must be a string`, where);
      return { kind: 'bytes', bytes: encodeString(value, what, where) };
    }
    case 'data':
    case 'array': {
      if (!(value instanceof Uint8Array)) throw new EncodeError(`${what} must be a Uint8Array`, where);
      return spec.type === 'data' ? { kind: 'bytes', bytes: value } : { kind: 'array', bytes: value, wide: false };
    }
    case 'fd':
      throw new EncodeError(`${what}: Waltham cannot carry file descriptors`, where);
  }
}

/**
 * Encode one message. `sz` follows the reference writer (README 2.3) and
 * padding bytes follow its "N rule" (README 2.2), so the vectors are
 * reproduced byte for byte, except for non-empty arrays, where the reference
 * writer is broken (README 2.4).
 *
 * Arrays are written the way the reference *reader* decodes them (a u32
 * length at the array position, the payload right after it, all within `sz`):
 *  - a non-empty array is `u32 length, payload, padding`, all counted in `sz`
 *    (`4 + pad4(length)` bytes). The reference writer instead sends an 8-byte
 *    length counted as 8 in `sz` and leaves payload and padding outside `sz`,
 *    which breaks every reference reader's stream;
 *  - an empty array in last position (the only array of the Waltham protocol,
 *    the keys of `wthp_keyboard.enter`, is one) is 8 zero bytes counted in
 *    `sz`, exactly what the reference writer sends: the reference reader reads
 *    length 0 and ignores the 4 bytes after it as trailing bytes inside `sz`,
 *    and the captured `keyboard.enter` with no keys is reproduced byte for byte;
 *  - an empty array followed by further arguments (only possible in protocols
 *    other than the reference one) is the 4-byte length 0 alone: the reader
 *    would take 4 more bytes for the next argument.
 * An array counts in N as the reference counts it (2, plus 1 if its length is
 * not a multiple of 4), so the padding of strings and data in the same message
 * is the one the reference writer would give them, and the array's own padding
 * is filled with the same N.
 *
 * Throws EncodeError for anything the wire cannot carry, including a message
 * longer than 65535 bytes (the reference silently truncates `sz`).
 *
 * @param ifaceName only used to name the message in errors (`iface@id.message`).
 * @param allocate where the message goes: `size` bytes, not necessarily zeroed
 *   (every byte is written). Default: a new array.
 */
export function encodeMessage(
  spec: MessageSpec,
  targetId: number,
  args: readonly EncodeArg[],
  ifaceName = '?',
  allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array {
  const where = `${ifaceName}@${targetId}.${spec.name}`;
  checkU32(targetId, 'target id', where);
  if (targetId === 0) throw new EncodeError('target id 0 is null', where);
  if (args.length !== spec.args.length) {
    throw new EncodeError(`expected ${spec.args.length} arguments, got ${args.length}`, where);
  }
  const planned = spec.args.map((argSpec, i) => planArg(argSpec, args[i], where));
  const last = planned[planned.length - 1];
  if (last !== undefined && last.kind === 'array' && last.bytes.length === 0) last.wide = true;

  // N: the reference's scatter-list count, whose LE bytes fill every padding run.
  let n = 2;
  let sz = MIN_MESSAGE_SIZE;
  for (const p of planned) {
    switch (p.kind) {
      case 'u32':
      case 'i32':
        n += 1;
        sz += 4;
        break;
      case 'bytes':
        n += p.bytes.length % 4 === 0 ? 2 : 3;
        sz += 4 + pad4(p.bytes.length);
        break;
      case 'array':
        n += p.bytes.length % 4 === 0 ? 2 : 3;
        sz += p.wide ? 8 : 4 + pad4(p.bytes.length);
        break;
      case 'untyped':
        n += 1 + (p.iface.length % 4 === 0 ? 2 : 3) + 1;
        sz += 4 + 4 + pad4(p.iface.length) + 4;
        break;
    }
  }
  if (sz > MAX_MESSAGE_SIZE) {
    throw new EncodeError(`message of ${sz} bytes exceeds the ${MAX_MESSAGE_SIZE}-byte Waltham limit`, where);
  }

  const out = allocate(sz);
  const view = new DataView(out.buffer, out.byteOffset, sz);
  const padBytes = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff];
  view.setUint16(0, 0, LITTLE_ENDIAN);
  view.setUint16(2, sz, LITTLE_ENDIAN);
  view.setUint16(4, spec.opcode, LITTLE_ENDIAN);
  view.setUint16(6, 0, LITTLE_ENDIAN);
  view.setUint32(8, targetId, LITTLE_ENDIAN);
  let at = MIN_MESSAGE_SIZE;

  const putPadded = (bytes: Uint8Array): void => {
    out.set(bytes, at);
    at += bytes.length;
    const pad = pad4(bytes.length) - bytes.length;
    for (let i = 0; i < pad; i++) out[at++] = padBytes[i]!;
  };

  for (const p of planned) {
    switch (p.kind) {
      case 'u32':
        view.setUint32(at, p.value, LITTLE_ENDIAN);
        at += 4;
        break;
      case 'i32':
        view.setInt32(at, p.value, LITTLE_ENDIAN);
        at += 4;
        break;
      case 'bytes':
        view.setUint32(at, p.bytes.length, LITTLE_ENDIAN);
        at += 4;
        putPadded(p.bytes);
        break;
      case 'array':
        view.setUint32(at, p.bytes.length, LITTLE_ENDIAN);
        at += 4;
        if (p.wide) {
          view.setUint32(at, 0, LITTLE_ENDIAN); // the high half of the reference writer's 64-bit length
          at += 4;
        }
        putPadded(p.bytes);
        break;
      case 'untyped':
        view.setUint32(at, p.id, LITTLE_ENDIAN);
        view.setUint32(at + 4, p.iface.length, LITTLE_ENDIAN);
        at += 8;
        putPadded(p.iface);
        view.setUint32(at, p.version, LITTLE_ENDIAN);
        at += 4;
        break;
    }
  }
  if (at < sz) out.fill(0, at, sz); // every byte is written above; this keeps reused memory from leaking if not
  return out;
}

/** `encodeWords` takes messages of up to this many arguments (every one-word message of the protocol). */
const WORDS_MAX = 32;
/** The words of the message being encoded, checked before anything is allocated. */
const words = new Array<number>(WORDS_MAX).fill(0);

/** The word of one argument of a one-word message, or -1 for a value only `encodeMessage` can judge. */
function wordOf(kind: number, spec: ArgSpec, value: EncodeArg | undefined): number {
  switch (kind) {
    case KIND_UINT:
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff ? value : -1;
    case KIND_INT:
      return typeof value === 'number' && Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff ? value >>> 0 : -1;
    case KIND_FIXED: {
      if (typeof value !== 'number') return -1;
      const v = Math.round(value * 256);
      return v >= -0x80000000 && v <= 0x7fffffff ? v >>> 0 : -1; // NaN and infinities fail both tests
    }
    default:
      // object, or a typed new_id: a live object of the named interface, a nullable object's null, or a raw id.
      if (value instanceof WireObject) return spec.interface === null || value.spec.name === spec.interface ? value.id : -1;
      if (value === null || value === 0) return kind === KIND_OBJECT && spec.nullable ? 0 : -1;
      return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 0xffffffff ? value : -1;
  }
}

/**
 * `encodeMessage` for a message of one-word arguments with plainly valid
 * values, without planning each argument: the same bytes. Null (nothing
 * allocated) for any other message or value; `encodeMessage` then encodes it
 * or says what is wrong.
 */
export function encodeWords(
  spec: MessageSpec,
  targetId: number,
  args: readonly EncodeArg[],
  allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array | null {
  const kinds = wordLayout(spec);
  const count = args.length;
  if (kinds === null || count !== kinds.length || count > WORDS_MAX) return null;
  if (!(Number.isInteger(targetId) && targetId > 0 && targetId <= 0xffffffff)) return null;
  for (let i = 0; i < count; i++) {
    const w = wordOf(kinds[i]!, spec.args[i]!, args[i]);
    if (w < 0) return null;
    words[i] = w;
  }
  const sz = MIN_MESSAGE_SIZE + 4 * count;
  const out = allocate(sz);
  const view = new DataView(out.buffer, out.byteOffset, sz);
  view.setUint16(0, 0, LITTLE_ENDIAN);
  view.setUint16(2, sz, LITTLE_ENDIAN);
  view.setUint16(4, spec.opcode, LITTLE_ENDIAN);
  view.setUint16(6, 0, LITTLE_ENDIAN);
  view.setUint32(8, targetId, LITTLE_ENDIAN);
  for (let i = 0; i < count; i++) view.setUint32(MIN_MESSAGE_SIZE + 4 * i, words[i]!, LITTLE_ENDIAN);
  return out;
}

/** A fully decoded message. */
export interface DecodedMessage {
  readonly opcode: number;
  /** Where the opcode belongs: interface, message descriptor, request or event, index in the interface. */
  readonly entry: OpcodeEntry;
  /** The target object id (first word of the body). */
  readonly objectId: number;
  /**
   * One value per descriptor argument: numbers for int/uint/object/new_id,
   * a double for fixed, `UntypedNewId` for an untyped new_id, `string | null`,
   * `Uint8Array` for data and array (a copy; with `views`, data is a view
   * of the input buffer instead, valid only while that buffer is unchanged).
   */
  readonly args: readonly WireValue[];
  /** The header's size field. */
  readonly sz: number;
  /**
   * Bytes the message occupies in the stream: `sz`, plus the payload and
   * padding of any array sent in the reference writer's layout, which lie
   * outside `sz` (README 2.4).
   */
  readonly length: number;
  readonly headerId: number;
  readonly headerPad: number;
}

export type ParseResult =
  | ({ readonly kind: 'message' } & DecodedMessage)
  /** Not enough bytes yet; `needed` is how many bytes from `offset` are needed before parsing can go on. */
  | { readonly kind: 'more'; readonly needed: number }
  | { readonly kind: 'error'; readonly error: WireError };

/** `iface@id.message`, the name logs and errors use for a message. */
/** How errors name an argument. */
function argument(spec: ArgSpec): string {
  return `argument ${spec.name}`;
}

export function messageName(entry: OpcodeEntry, objectId: number | undefined): string {
  return `${entry.iface.name}@${objectId === undefined ? '?' : objectId}.${entry.message.name}`;
}

/**
 * Parse one message at `buf[offset .. offset + length)`. Short input never
 * throws: it returns `more`. Anything the peer could not have meant returns
 * `error` with a typed WireError naming the message; the caller reports it and
 * drops the peer (there is no resynchronisation).
 *
 * Checks: `sz` of at least 12 bytes (header plus target id), known opcode,
 * every argument inside `sz` (string/data lengths and their padding included),
 * the terminating NUL of strings, null strings only where allowed. Bytes inside
 * `sz` after the last argument are ignored, as the reference does. Object ids,
 * new-id rules and the opcode's interface/direction are the connection's to
 * check.
 *
 * Arrays (only `wthp_keyboard.enter`, opcode 48, in the reference protocol)
 * are read in either of two layouts (README 2.4), told apart by `sz`:
 *  - ours, which is the reference reader's: u32 length L at the array
 *    position, then L bytes and their padding, within `sz`. It is taken
 *    whenever `sz` covers those `4 + pad4(L)` bytes. This includes the empty
 *    array as the reference writer and we send it in last position (length 0
 *    and 4 zero bytes inside `sz`): only the length is taken, and the 4 zero
 *    bytes are trailing bytes inside `sz`, ignored as the reference reader
 *    ignores them.
 *  - the reference writer's for a non-empty array: u32 L and u32 0 (its
 *    64-bit length), counted as 8 bytes in `sz`, then L bytes and their
 *    padding that `sz` does not count. It is taken only when `sz` does not
 *    cover `4 + pad4(L)` bytes from the length but covers the 8-byte length,
 *    whose high half is 0; the message then occupies `sz + pad4(L)` bytes of
 *    the stream (`more` until they are there), and arguments after the array,
 *    if any, follow its padding.
 *
 * The one ambiguous case: a reference writer's array with `pad4(L) = 4`
 * (L = 1..4; for the u32 keys of `keyboard.enter`, one key, L = 4) in last
 * position has `sz` ending right after its 8-byte length, so `sz` covers
 * `4 + pad4(L)` bytes and both layouts fit. The rule is the one above: our
 * layout wins, since that is how the reference reader frames it and how we
 * send it. Such a message decodes as L zero bytes (the writer's high half),
 * and the real payload, outside `sz`, is then read as the next message's
 * header; a key code below 65536 makes that header's `sz` 0, so the peer is
 * reported (ERR_SIZE_TOO_SMALL) and dropped, where the reference reader stalls
 * on the same bytes. Taking the writer's layout instead would misframe our own
 * peers' one-key arrays, whose keys may be any value.
 *
 * `views`: `data` arguments are views of `buf`, not copies (what a
 * connection hands its handlers during dispatch; see WalthamConnection).
 */
export function parseMessage(buf: Uint8Array, offset: number, length: number, table: ProtocolTable, views = false): ParseResult {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > buf.length) {
    throw new RangeError(`parseMessage: window ${offset}+${length} outside a buffer of ${buf.length} bytes`);
  }
  if (length < HEADER_SIZE) return { kind: 'more', needed: HEADER_SIZE };
  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  const headerId = view.getUint16(0, LITTLE_ENDIAN);
  const sz = view.getUint16(2, LITTLE_ENDIAN);
  const opcode = view.getUint16(4, LITTLE_ENDIAN);
  const headerPad = view.getUint16(6, LITTLE_ENDIAN);
  const entry = table.byOpcode.get(opcode);

  if (sz < MIN_MESSAGE_SIZE) {
    // The target id is not part of such a message, so the error names the opcode only.
    const label = entry === undefined ? `opcode ${opcode}` : `${entry.iface.name}.${entry.message.name} (opcode ${opcode})`;
    return {
      kind: 'error',
      error: new MalformedMessageError(
        'ERR_SIZE_TOO_SMALL',
        `declared size ${sz} is below the ${MIN_MESSAGE_SIZE}-byte minimum (header and target id)`,
        label,
      ),
    };
  }
  if (length < sz) return { kind: 'more', needed: sz };
  const objectId = view.getUint32(HEADER_SIZE, LITTLE_ENDIAN);
  if (entry === undefined) {
    return {
      kind: 'error',
      error: new ObjectError('ERR_UNKNOWN_OPCODE', `unknown opcode ${opcode}`, `@${objectId}.opcode ${opcode}`, objectId),
    };
  }
  // Names for errors are built only when there is one.
  const where = (): string => messageName(entry, objectId);
  const truncated = (what: string): ParseResult => ({
    kind: 'error',
    error: new MalformedMessageError('ERR_TRUNCATED_ARGS', `${what} runs past the declared size ${sz}`, where()),
  });

  let at = MIN_MESSAGE_SIZE;
  let limit = sz; // grows past sz only for arrays in the reference writer's layout (README 2.4)
  const args: WireValue[] = [];
  const readBytes = (spec: ArgSpec, suffix = ''): Uint8Array | ParseResult => {
    if (at + 4 > limit) return truncated(`length of ${argument(spec)}${suffix}`);
    const len = view.getUint32(at, LITTLE_ENDIAN);
    at += 4;
    // Compare before adding: len can be up to 2^32-1.
    if (len > limit - at || pad4(len) > limit - at) return truncated(`${argument(spec)}${suffix} (${len} bytes)`);
    const bytes = views ? buf.subarray(offset + at, offset + at + len) : buf.slice(offset + at, offset + at + len);
    at += pad4(len);
    return bytes;
  };
  const readString = (spec: ArgSpec, suffix = '', nullable = spec.nullable): string | null | ParseResult => {
    const bytes = readBytes(spec, suffix);
    if (!(bytes instanceof Uint8Array)) return bytes;
    const what = `${argument(spec)}${suffix}`;
    if (bytes.length === 0) {
      if (nullable) return null;
      return {
        kind: 'error',
        error: new MalformedMessageError('ERR_BAD_STRING', `${what} is null but the protocol does not allow null`, where()),
      };
    }
    if (bytes[bytes.length - 1] !== 0) {
      return {
        kind: 'error',
        error: new MalformedMessageError('ERR_BAD_STRING', `${what} (${bytes.length} bytes) is not NUL-terminated`, where()),
      };
    }
    return textDecoder.decode(bytes.subarray(0, bytes.length - 1));
  };

  for (const spec of entry.message.args) {
    switch (spec.type) {
      case 'int':
      case 'uint':
      case 'fixed':
      case 'object':
      case 'new_id': {
        if (spec.type === 'new_id' && spec.interface === null) {
          if (at + 4 > limit) return truncated(argument(spec));
          const id = view.getUint32(at, LITTLE_ENDIAN);
          at += 4;
          const iface = readString(spec, ' interface', false);
          if (typeof iface !== 'string') return iface as ParseResult;
          if (at + 4 > limit) return truncated(`${argument(spec)} version`);
          const version = view.getUint32(at, LITTLE_ENDIAN);
          at += 4;
          args.push({ id, interface: iface, version });
          break;
        }
        if (at + 4 > limit) return truncated(argument(spec));
        if (spec.type === 'int') args.push(view.getInt32(at, LITTLE_ENDIAN));
        else if (spec.type === 'fixed') args.push(view.getInt32(at, LITTLE_ENDIAN) / 256);
        else args.push(view.getUint32(at, LITTLE_ENDIAN));
        at += 4;
        break;
      }
      case 'string': {
        const s = readString(spec);
        if (s !== null && typeof s === 'object') return s;
        args.push(s);
        break;
      }
      case 'data': {
        const bytes = readBytes(spec);
        if (!(bytes instanceof Uint8Array)) return bytes;
        args.push(bytes);
        break;
      }
      case 'array': {
        if (at + 4 > limit) return truncated(`length of ${argument(spec)}`);
        const len = view.getUint32(at, LITTLE_ENDIAN);
        // Our layout, the reference reader's: the payload follows the u32 length, within sz.
        // Compare before adding: len can be up to 2^32-1.
        if (pad4(len) <= limit - at - 4) {
          at += 4;
          args.push(buf.slice(offset + at, offset + at + len));
          at += pad4(len);
          break;
        }
        // Otherwise only the reference writer's layout can hold it: a 64-bit length in sz, payload past sz.
        if (at + 8 > limit) return truncated(`${argument(spec)} (${len} bytes)`);
        const high = view.getUint32(at + 4, LITTLE_ENDIAN);
        if (high !== 0) {
          return {
            kind: 'error',
            error: new MalformedMessageError(
              'ERR_BAD_ARRAY',
              `${argument(spec)} of ${len} bytes runs past the declared size ${sz} and is not in the reference writer's layout (high half of its 64-bit length is ${high})`,
              where(),
            ),
          };
        }
        if (pad4(len) > MAX_MESSAGE_SIZE - limit) {
          return {
            kind: 'error',
            error: new MalformedMessageError(
              'ERR_BAD_ARRAY',
              `${argument(spec)} of ${len} bytes past the declared size ${sz} makes the message longer than ${MAX_MESSAGE_SIZE} bytes`,
              where(),
            ),
          };
        }
        at += 8;
        limit += pad4(len);
        if (limit > length) return { kind: 'more', needed: limit };
        args.push(buf.slice(offset + at, offset + at + len));
        at += pad4(len);
        break;
      }
      case 'fd':
        return {
          kind: 'error',
          error: new MalformedMessageError('ERR_MISSING_FD', `${argument(spec)}: Waltham cannot carry file descriptors`, where()),
        };
    }
  }
  return { kind: 'message', opcode, entry, objectId, args, sz, length: limit, headerId, headerPad };
}
