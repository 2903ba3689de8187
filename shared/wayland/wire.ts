/**
 * The Wayland wire dialect: the one place that reads and writes Wayland
 * messages, driven by the descriptor tables the scanner generates.
 *
 * A message is an 8-byte header, then the arguments, each padded to 4 bytes:
 *
 *   word 0   sender / target object id
 *   word 1   (size << 16) | opcode     size in bytes, header included
 *
 * Argument encodings (wayland.xml, "Wire Format"; libwayland src/connection.c):
 *   int, uint     32 bits
 *   fixed         signed 24.8
 *   object        32-bit id, 0 = null (only where allow-null="true")
 *   new_id        32-bit id; without interface= it is preceded by the interface
 *                 name (string) and the version (uint), as wl_registry.bind does
 *   string        u32 length including the NUL, the bytes, the NUL, padding;
 *                 length 0 is the null string
 *   array         u32 length, the bytes, padding
 *   fd            nothing in the bytes: taken in order from the fds that came
 *                 with the socket's ancillary data (SCM_RIGHTS)
 *
 * Byte order is the host's, which is little-endian on every target we build
 * for; it is declared once here.
 */
import { EncodeError, MalformedMessageError, ObjectError, WireError } from '../wire/errors.js';
import type { ArgSpec, MessageSpec, UntypedNewId, WireValue } from '../wire/protocol.js';
import { doubleToFixed } from '../wire/fixed.js';

export { doubleToFixed, formatFixed } from '../wire/fixed.js';

/** Host byte order of the Wayland wire (little-endian on every supported target). */
export const LITTLE_ENDIAN = true;
export const HEADER_SIZE = 8;
/**
 * The largest message libwayland 1.21 sends or accepts: its connection ring
 * buffers are 4096 bytes (`struct wl_buffer { char data[4096]; }`), a larger
 * message fails with E2BIG when sent and overflows the reader's buffer.
 */
export const MAX_MESSAGE_SIZE = 4096;
/** libwayland's MAX_FDS_OUT: fds carried by one sendmsg. */
export const MAX_FDS_PER_SENDMSG = 28;

export interface MessageHeader {
  readonly objectId: number;
  readonly opcode: number;
  /** Total size in bytes, header included. */
  readonly size: number;
}

/** What the reader learns about the target of a message: its interface name and the message descriptor. */
export interface MessageTarget {
  readonly interfaceName: string;
  readonly message: MessageSpec;
}

/**
 * Resolves a header to the message it carries (the reader knows which objects
 * exist and their interfaces). Returning an error rejects the message.
 */
export type MessageLookup = (header: MessageHeader) => MessageTarget | WireError;

export interface ParsedMessage {
  readonly kind: 'message';
  readonly header: MessageHeader;
  readonly interfaceName: string;
  readonly message: MessageSpec;
  /** Decoded values, one per `message.args` entry (see `WireValue`); object and new_id args are raw ids. */
  readonly args: WireValue[];
  /** How many fds from the front of the fd queue belong to this message. */
  readonly fdCount: number;
}

export interface NeedBytes {
  readonly kind: 'need-bytes';
  /** Bytes needed from the start of the message before parsing can go on. */
  readonly needed: number;
}

export interface NeedFds {
  readonly kind: 'need-fds';
  readonly header: MessageHeader;
  readonly interfaceName: string;
  readonly message: MessageSpec;
  /** Fds the message carries in total. */
  readonly needed: number;
}

export interface ParseFailure {
  readonly kind: 'error';
  /** Null when the header itself could not be read as a message. */
  readonly header: MessageHeader | null;
  readonly error: WireError;
}

export type ParseResult = ParsedMessage | NeedBytes | NeedFds | ParseFailure;

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** The header at the start of `bytes`, or null when fewer than 8 bytes are there. */
export function readHeader(bytes: Uint8Array): MessageHeader | null {
  if (bytes.byteLength < HEADER_SIZE) return null;
  const dv = view(bytes);
  const word = dv.getUint32(4, LITTLE_ENDIAN);
  return { objectId: dv.getUint32(0, LITTLE_ENDIAN), opcode: word & 0xffff, size: word >>> 16 };
}

/** Checks that depend on the header alone. */
export function checkHeader(header: MessageHeader): MalformedMessageError | null {
  if (header.size >= HEADER_SIZE && header.size % 4 === 0 && header.size <= MAX_MESSAGE_SIZE) return null;
  const where = `object ${header.objectId} opcode ${header.opcode}`;
  if (header.size < HEADER_SIZE) {
    return new MalformedMessageError('ERR_SIZE_TOO_SMALL', `message size ${header.size} is below the 8-byte header`, where);
  }
  if (header.size % 4 !== 0) {
    return new MalformedMessageError('ERR_SIZE_UNALIGNED', `message size ${header.size} is not a multiple of 4`, where);
  }
  if (header.size > MAX_MESSAGE_SIZE) {
    return new MalformedMessageError(
      'ERR_SIZE_TOO_LARGE',
      `message size ${header.size} is above the ${MAX_MESSAGE_SIZE}-byte limit`,
      where,
    );
  }
  return null;
}

/** Fds a message carries. */
export function fdCountOf(message: MessageSpec): number {
  let n = 0;
  for (const arg of message.args) if (arg.type === 'fd') n++;
  return n;
}

/**
 * Parse the message at the start of `bytes`.
 *
 * - `need-bytes`: the header or the body is not complete yet.
 * - `need-fds`: the bytes are complete but fewer fds than the message carries
 *   are queued (the caller decides whether more can still come).
 * - `error`: a typed error; the caller reports it and drops the peer (there is
 *   no resynchronising on a byte stream).
 *
 * `fds` is the queue of received fds; fd arguments take them in order from its
 * front. Nothing is consumed: the caller removes `header.size` bytes and
 * `fdCount` fds for a message.
 */
export function parseMessage(bytes: Uint8Array, fds: readonly number[], lookup: MessageLookup): ParseResult {
  const header = readHeader(bytes);
  if (header === null) return { kind: 'need-bytes', needed: HEADER_SIZE };
  const bad = checkHeader(header);
  if (bad !== null) return { kind: 'error', header: null, error: bad };
  if (bytes.byteLength < header.size) return { kind: 'need-bytes', needed: header.size };

  const target = lookup(header);
  if (target instanceof WireError) return { kind: 'error', header, error: target };
  const { interfaceName, message } = target;
  const needed = fdCountOf(message);
  const decoded = decodeArgs(bytes.subarray(HEADER_SIZE, header.size), message, fds, () => `${interfaceName}@${header.objectId}.${message.name}`);
  if (decoded instanceof WireError) return { kind: 'error', header, error: decoded };
  if (decoded === null) return { kind: 'need-fds', header, interfaceName, message, needed };
  return { kind: 'message', header, interfaceName, message, args: decoded, fdCount: needed };
}

/**
 * Decode a message body (the bytes after the header). Returns the values, a
 * typed error, or null when the fd queue holds fewer fds than the message needs.
 * `where` names the message in errors (called only for one).
 */
export function decodeArgs(body: Uint8Array, message: MessageSpec, fds: readonly number[], where: () => string): WireValue[] | WireError | null {
  const dv = view(body);
  const end = body.byteLength;
  let pos = 0;
  let fdIndex = 0;
  let missingFd = false;
  const out: WireValue[] = [];

  const truncated = (arg: ArgSpec): MalformedMessageError =>
    new MalformedMessageError('ERR_TRUNCATED_ARGS', `argument ${arg.name} (${arg.type}) runs past the end of the message`, where());
  const u32 = (): number => {
    const v = dv.getUint32(pos, LITTLE_ENDIAN);
    pos += 4;
    return v;
  };
  /** A string at `pos`; `nullable` says whether length 0 is allowed. */
  const readString = (arg: ArgSpec, nullable: boolean): string | null | WireError => {
    if (end - pos < 4) return truncated(arg);
    const length = u32();
    if (length === 0) {
      if (nullable) return null;
      return new MalformedMessageError('ERR_BAD_STRING', `null string in non-nullable argument ${arg.name}`, where());
    }
    if (length > end - pos) {
      return new MalformedMessageError('ERR_BAD_STRING', `string ${arg.name} of length ${length} runs past the end of the message`, where());
    }
    if (body[pos + length - 1] !== 0) {
      return new MalformedMessageError('ERR_BAD_STRING', `string ${arg.name} is not NUL-terminated`, where());
    }
    // Like C, the string ends at its first NUL.
    let stop = body.indexOf(0, pos);
    if (stop < 0 || stop > pos + length - 1) stop = pos + length - 1;
    const s = utf8Decoder.decode(body.subarray(pos, stop));
    pos += pad4(length);
    return s;
  };

  for (const arg of message.args) {
    if (arg.type === 'fd') {
      if (fdIndex < fds.length) out.push(fds[fdIndex]!);
      else {
        missingFd = true;
        out.push(-1);
      }
      fdIndex++;
      continue;
    }
    if (end - pos < 4) return truncated(arg);
    switch (arg.type) {
      case 'int':
        out.push(dv.getInt32(pos, LITTLE_ENDIAN));
        pos += 4;
        break;
      case 'uint':
        out.push(u32());
        break;
      case 'fixed':
        out.push(dv.getInt32(pos, LITTLE_ENDIAN) / 256);
        pos += 4;
        break;
      case 'object': {
        const id = u32();
        if (id === 0 && !arg.nullable) return new ObjectError('ERR_NULL_OBJECT', `null object in non-nullable argument ${arg.name}`, where());
        out.push(id);
        break;
      }
      case 'new_id': {
        if (arg.interface === null) {
          const iface = readString(arg, false);
          if (iface instanceof WireError) return iface;
          if (end - pos < 8) return truncated(arg);
          const version = u32();
          const id = u32();
          if (id === 0) return new ObjectError('ERR_BAD_NEW_ID', `null new id in argument ${arg.name}`, where());
          const value: UntypedNewId = { id, interface: iface!, version };
          out.push(value);
          break;
        }
        const id = u32();
        if (id === 0 && !arg.nullable) return new ObjectError('ERR_BAD_NEW_ID', `null new id in argument ${arg.name}`, where());
        out.push(id);
        break;
      }
      case 'string': {
        const s = readString(arg, arg.nullable);
        if (s instanceof WireError) return s;
        out.push(s);
        break;
      }
      case 'array': {
        const length = u32();
        if (length > end - pos) {
          return new MalformedMessageError('ERR_BAD_ARRAY', `array ${arg.name} of length ${length} runs past the end of the message`, where());
        }
        out.push(body.slice(pos, pos + length));
        pos += pad4(length);
        break;
      }
      default:
        return new MalformedMessageError('ERR_TRUNCATED_ARGS', `argument type ${arg.type} does not exist in the Wayland dialect`, where());
    }
  }
  if (pos !== end) {
    return new MalformedMessageError('ERR_TRAILING_BYTES', `${end - pos} bytes after the last argument`, where());
  }
  return missingFd ? null : out;
}

function checkInt(v: unknown, arg: ArgSpec, where: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError(`argument ${arg.name} (${arg.type}) must be an integer in [${min}, ${max}], got ${String(v)}`, where);
  }
  return v;
}

export interface EncodedMessage {
  readonly bytes: Uint8Array;
  /** The fd arguments, in order; they travel out of band. */
  readonly fds: number[];
}

/**
 * Encode one message. `args` are wire values (object and new_id as ids, an
 * untyped new_id as `UntypedNewId`, fds as fd numbers). Throws `EncodeError`
 * for anything the wire cannot carry: values out of range, null where the XML
 * does not allow it, a string with a NUL inside, a message above 4096 bytes.
 */
export function encodeMessage(objectId: number, message: MessageSpec, args: readonly WireValue[], where?: string): EncodedMessage {
  const at = where ?? `${objectId}.${message.name}`;
  if (args.length !== message.args.length) {
    throw new EncodeError(`expected ${message.args.length} arguments, got ${args.length}`, at);
  }
  checkInt(objectId, { name: 'target', type: 'object', interface: null, nullable: false, enum: null }, at, 1, 0xffffffff);
  // First pass: sizes and validation.
  const strings = new Map<number, Uint8Array>();
  const encodeString = (i: number, s: string): number => {
    const bytes = utf8Encoder.encode(s);
    if (bytes.includes(0)) throw new EncodeError(`string argument ${message.args[i]!.name} contains a NUL character`, at);
    strings.set(i, bytes);
    return 4 + pad4(bytes.byteLength + 1);
  };
  let size = HEADER_SIZE;
  const fds: number[] = [];
  message.args.forEach((arg, i) => {
    const v = args[i];
    switch (arg.type) {
      case 'int':
        checkInt(v, arg, at, -0x80000000, 0x7fffffff);
        size += 4;
        break;
      case 'uint':
        checkInt(v, arg, at, 0, 0xffffffff);
        size += 4;
        break;
      case 'fixed':
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new EncodeError(`argument ${arg.name} (fixed) must be a finite number`, at);
        checkInt(doubleToFixed(v), arg, at, -0x80000000, 0x7fffffff);
        size += 4;
        break;
      case 'object':
        if (v === null || v === 0) {
          if (!arg.nullable) throw new EncodeError(`argument ${arg.name} must not be null`, at);
        } else checkInt(v, arg, at, 1, 0xffffffff);
        size += 4;
        break;
      case 'new_id':
        if (arg.interface === null) {
          const u = v as UntypedNewId | null;
          if (u === null || typeof u !== 'object' || typeof u.interface !== 'string') {
            throw new EncodeError(`argument ${arg.name} (untyped new_id) needs an interface name, version and id`, at);
          }
          size += encodeString(i, u.interface);
          checkInt(u.version, arg, at, 1, 0xffffffff);
          checkInt(u.id, arg, at, 1, 0xffffffff);
          size += 8;
        } else {
          if (v === null || v === 0) {
            if (!arg.nullable) throw new EncodeError(`argument ${arg.name} (new_id) must not be null`, at);
          } else checkInt(v, arg, at, 1, 0xffffffff);
          size += 4;
        }
        break;
      case 'string':
        if (v === null) {
          if (!arg.nullable) throw new EncodeError(`argument ${arg.name} must not be null`, at);
          size += 4;
        } else if (typeof v === 'string') size += encodeString(i, v);
        else throw new EncodeError(`argument ${arg.name} must be a string`, at);
        break;
      case 'array':
        if (!(v instanceof Uint8Array)) throw new EncodeError(`argument ${arg.name} must be a Uint8Array`, at);
        size += 4 + pad4(v.byteLength);
        break;
      case 'fd':
        fds.push(checkInt(v, arg, at, 0, 0x7fffffff));
        break;
      default:
        throw new EncodeError(`argument type ${arg.type} does not exist in the Wayland dialect`, at);
    }
  });
  if (size > MAX_MESSAGE_SIZE) {
    throw new EncodeError(`message of ${size} bytes is above the ${MAX_MESSAGE_SIZE}-byte limit`, at);
  }
  checkInt(message.opcode, { name: 'opcode', type: 'uint', interface: null, nullable: false, enum: null }, at, 0, 0xffff);

  // Second pass: write.
  const bytes = new Uint8Array(size);
  const dv = view(bytes);
  dv.setUint32(0, objectId, LITTLE_ENDIAN);
  dv.setUint32(4, ((size << 16) | message.opcode) >>> 0, LITTLE_ENDIAN);
  let pos = HEADER_SIZE;
  const putString = (i: number): void => {
    const s = strings.get(i)!;
    dv.setUint32(pos, s.byteLength + 1, LITTLE_ENDIAN);
    bytes.set(s, pos + 4);
    pos += 4 + pad4(s.byteLength + 1); // the NUL and the padding are already zero
  };
  message.args.forEach((arg, i) => {
    const v = args[i];
    switch (arg.type) {
      case 'int':
        dv.setInt32(pos, v as number, LITTLE_ENDIAN);
        pos += 4;
        break;
      case 'uint':
        dv.setUint32(pos, v as number, LITTLE_ENDIAN);
        pos += 4;
        break;
      case 'fixed':
        dv.setInt32(pos, doubleToFixed(v as number), LITTLE_ENDIAN);
        pos += 4;
        break;
      case 'object':
        dv.setUint32(pos, v === null ? 0 : (v as number), LITTLE_ENDIAN);
        pos += 4;
        break;
      case 'new_id':
        if (arg.interface === null) {
          const u = v as UntypedNewId;
          putString(i);
          dv.setUint32(pos, u.version, LITTLE_ENDIAN);
          dv.setUint32(pos + 4, u.id, LITTLE_ENDIAN);
          pos += 8;
        } else {
          dv.setUint32(pos, v === null ? 0 : (v as number), LITTLE_ENDIAN);
          pos += 4;
        }
        break;
      case 'string':
        if (v === null) {
          dv.setUint32(pos, 0, LITTLE_ENDIAN);
          pos += 4;
        } else putString(i);
        break;
      case 'array': {
        const a = v as Uint8Array;
        dv.setUint32(pos, a.byteLength, LITTLE_ENDIAN);
        bytes.set(a, pos + 4);
        pos += 4 + pad4(a.byteLength);
        break;
      }
      case 'fd':
        break;
      default:
        break;
    }
  });
  return { bytes, fds };
}
