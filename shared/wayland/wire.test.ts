import { describe, expect, it } from 'vitest';
import { EncodeError, MalformedMessageError, ObjectError, WireError } from '../wire/errors.js';
import type { ArgSpec, ArgType, MessageSpec, UntypedNewId, WireValue } from '../wire/protocol.js';
import { wlRegistryInterface, wlShmInterface, wlSurfaceInterface } from '../generated/wayland/wayland.js';
import {
  HEADER_SIZE,
  MAX_MESSAGE_SIZE,
  decodeArgs,
  doubleToFixed,
  encodeMessage,
  formatFixed,
  parseMessage,
  readHeader,
  type MessageLookup,
  type ParseResult,
} from './wire.js';

function arg(name: string, type: ArgType, extra: Partial<ArgSpec> = {}): ArgSpec {
  return { name, type, interface: null, nullable: false, enum: null, ...extra };
}

/** A message with every Wayland argument type, nullable variants and two fds. */
const everything: MessageSpec = {
  name: 'everything',
  opcode: 3,
  since: 1,
  destructor: false,
  args: [
    arg('i', 'int'),
    arg('u', 'uint'),
    arg('f', 'fixed'),
    arg('s', 'string'),
    arg('ns', 'string', { nullable: true }),
    arg('o', 'object', { interface: 'wl_surface' }),
    arg('no', 'object', { interface: 'wl_surface', nullable: true }),
    arg('n', 'new_id', { interface: 'wl_callback' }),
    arg('a', 'array'),
    arg('fd1', 'fd'),
    arg('un', 'new_id'),
    arg('fd2', 'fd'),
  ],
};

const lookupFor =
  (message: MessageSpec, interfaceName = 'test_iface'): MessageLookup =>
  () => ({ interfaceName, message });

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v >>> 0, true));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

/** A raw message: header with the given (or computed) size, then the body. */
function raw(objectId: number, opcode: number, body: Uint8Array, size = HEADER_SIZE + body.byteLength): Uint8Array {
  return concat(words(objectId, ((size << 16) | opcode) >>> 0), body);
}

function expectError(result: ParseResult, ctor: typeof MalformedMessageError | typeof ObjectError, code: string): WireError {
  expect(result.kind).toBe('error');
  if (result.kind !== 'error') throw new Error('unreachable');
  expect(result.error).toBeInstanceOf(ctor);
  expect(result.error.code).toBe(code);
  return result.error;
}

const sample: WireValue[] = [
  -42,
  0xfffffffe,
  -3.5,
  'héllo',
  null,
  7,
  0,
  8,
  new Uint8Array([1, 2, 3, 4, 5]),
  40,
  { id: 9, interface: 'wl_seat', version: 7 } satisfies UntypedNewId,
  41,
];

describe('Wayland wire codec', () => {
  it('encodes the header as object id then size << 16 | opcode, little-endian', () => {
    const { bytes } = encodeMessage(5, wlSurfaceInterface.requests[1]!, [3, 10, -20]); // attach(buffer, x, y)
    expect([...bytes]).toEqual([5, 0, 0, 0, 1, 0, 20, 0, 3, 0, 0, 0, 10, 0, 0, 0, 0xec, 0xff, 0xff, 0xff]);
    expect(readHeader(bytes)).toEqual({ objectId: 5, opcode: 1, size: 20 });
  });

  it('round-trips every argument type, with the fds out of band in order', () => {
    const { bytes, fds } = encodeMessage(0xff000001, everything, sample);
    expect(fds).toEqual([40, 41]);
    expect(bytes.byteLength % 4).toBe(0);
    const result = parseMessage(bytes, [100, 101, 102], lookupFor(everything));
    expect(result.kind).toBe('message');
    if (result.kind !== 'message') return;
    expect(result.header).toEqual({ objectId: 0xff000001, opcode: 3, size: bytes.byteLength });
    expect(result.fdCount).toBe(2);
    const expected = [...sample];
    expected[9] = 100; // fds come from the queue, not the bytes
    expected[11] = 101;
    expect(result.args).toEqual(expected);
  });

  it('lays out strings with the NUL counted, arrays with padding, untyped new_id as interface, version, id', () => {
    const message: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('s', 'string'), arg('a', 'array'), arg('id', 'new_id')] };
    const { bytes } = encodeMessage(2, message, ['abc', new Uint8Array([9]), { id: 4, interface: 'wl_shm', version: 1 }]);
    expect([...bytes.subarray(8)]).toEqual([
      4, 0, 0, 0, 0x61, 0x62, 0x63, 0, // "abc\0"
      1, 0, 0, 0, 9, 0, 0, 0, // array [9] + padding
      7, 0, 0, 0, 0x77, 0x6c, 0x5f, 0x73, 0x68, 0x6d, 0, 0, // "wl_shm\0" + padding
      1, 0, 0, 0, // version
      4, 0, 0, 0, // id
    ]);
    // The bind request from the generated table has the same shape.
    const bind = encodeMessage(2, wlRegistryInterface.requests[0]!, [1, { id: 4, interface: 'wl_shm', version: 1 }]).bytes;
    expect(bind.byteLength).toBe(8 + 4 + 12 + 8);
  });

  it('encodes a string whose length is a multiple of 4 with a full padding word for the NUL', () => {
    const message: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('s', 'string')] };
    const { bytes } = encodeMessage(1, message, ['abcd']);
    expect(bytes.byteLength).toBe(8 + 4 + 8);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(5);
  });

  it('converts 24.8 fixed like libwayland and prints it like WAYLAND_DEBUG', () => {
    expect(doubleToFixed(1.5)).toBe(384);
    expect(doubleToFixed(-1.5)).toBe(-384);
    expect(doubleToFixed(0.001)).toBe(0);
    expect(formatFixed(384)).toBe('1.50000000');
    expect(formatFixed(-384)).toBe('-1.50000000');
    expect(formatFixed(-1)).toBe('-0.00390625');
    expect(formatFixed(100 * 256)).toBe('100.00000000');
  });

  it('asks for more bytes while the header or the body is incomplete, at every split point', () => {
    const { bytes } = encodeMessage(3, everything, sample);
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      const result = parseMessage(bytes.subarray(0, cut), [1, 2], lookupFor(everything));
      expect(result.kind).toBe('need-bytes');
      if (result.kind === 'need-bytes') expect(result.needed).toBe(cut < 8 ? 8 : bytes.byteLength);
    }
  });

  it('asks for more fds when the bytes are complete but the fd queue is short', () => {
    const { bytes } = encodeMessage(3, everything, sample);
    const none = parseMessage(bytes, [], lookupFor(everything));
    expect(none.kind).toBe('need-fds');
    if (none.kind === 'need-fds') expect(none.needed).toBe(2);
    expect(parseMessage(bytes, [5], lookupFor(everything)).kind).toBe('need-fds');
    expect(parseMessage(bytes, [5, 6], lookupFor(everything)).kind).toBe('message');
  });

  it('parses only the first of two messages in the buffer', () => {
    const one = encodeMessage(1, wlShmInterface.events[0]!, [1]).bytes;
    const two = encodeMessage(1, wlShmInterface.events[0]!, [2]).bytes;
    const result = parseMessage(concat(one, two), [], lookupFor(wlShmInterface.events[0]!, 'wl_shm'));
    expect(result.kind === 'message' && result.args).toEqual([1]);
  });

  describe('rejects malformed messages with typed errors', () => {
    const lookup = lookupFor(everything);
    it('size below the header', () => {
      for (const size of [0, 4]) expectError(parseMessage(raw(1, 0, new Uint8Array(0), size), [], lookup), MalformedMessageError, 'ERR_SIZE_TOO_SMALL');
    });
    it('size not a multiple of 4', () => {
      expectError(parseMessage(raw(1, 0, new Uint8Array(8), 13), [], lookup), MalformedMessageError, 'ERR_SIZE_UNALIGNED');
    });
    it('size above libwayland’s 4096-byte limit, before the body arrives', () => {
      expectError(parseMessage(raw(1, 0, new Uint8Array(0), MAX_MESSAGE_SIZE + 4), [], lookup), MalformedMessageError, 'ERR_SIZE_TOO_LARGE');
    });
    it('arguments running past the declared size', () => {
      const short: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('a', 'uint'), arg('b', 'uint')] };
      expectError(parseMessage(raw(1, 0, words(1)), [], lookupFor(short)), MalformedMessageError, 'ERR_TRUNCATED_ARGS');
    });
    it('bytes left after the last argument', () => {
      const one: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('a', 'uint')] };
      expectError(parseMessage(raw(1, 0, words(1, 2)), [], lookupFor(one)), MalformedMessageError, 'ERR_TRAILING_BYTES');
    });
    const str: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('s', 'string')] };
    it('a string without its NUL', () => {
      const body = concat(words(4), new Uint8Array([0x61, 0x62, 0x63, 0x64]));
      const error = expectError(parseMessage(raw(1, 0, body), [], lookupFor(str, 'wl_x')), MalformedMessageError, 'ERR_BAD_STRING');
      expect(error.where).toBe('wl_x@1.m');
      expect(error.message).toMatch(/not NUL-terminated/);
    });
    it('a string length past the end of the message', () => {
      const body = concat(words(100), new Uint8Array([0x61, 0, 0, 0]));
      expectError(parseMessage(raw(1, 0, body), [], lookupFor(str)), MalformedMessageError, 'ERR_BAD_STRING');
    });
    it('a null string where null is not allowed', () => {
      expectError(parseMessage(raw(1, 0, words(0)), [], lookupFor(str)), MalformedMessageError, 'ERR_BAD_STRING');
    });
    it('an array length past the end of the message', () => {
      const arr: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('a', 'array')] };
      expectError(parseMessage(raw(1, 0, words(0xfffffff0, 0)), [], lookupFor(arr)), MalformedMessageError, 'ERR_BAD_ARRAY');
    });
    it('a null object where null is not allowed', () => {
      const obj: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('o', 'object', { interface: 'wl_surface' })] };
      expectError(parseMessage(raw(1, 0, words(0)), [], lookupFor(obj)), ObjectError, 'ERR_NULL_OBJECT');
      const nullable: MessageSpec = { ...obj, args: [arg('o', 'object', { nullable: true })] };
      const ok = parseMessage(raw(1, 0, words(0)), [], lookupFor(nullable));
      expect(ok.kind === 'message' && ok.args).toEqual([0]);
    });
    it('a null new id', () => {
      const typed: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('n', 'new_id', { interface: 'wl_callback' })] };
      expectError(parseMessage(raw(1, 0, words(0)), [], lookupFor(typed)), ObjectError, 'ERR_BAD_NEW_ID');
      const bind = wlRegistryInterface.requests[0]!;
      const body = concat(words(1, 4), new Uint8Array([0x61, 0x62, 0x63, 0]), words(1, 0));
      expectError(parseMessage(raw(2, 0, body), [], lookupFor(bind)), ObjectError, 'ERR_BAD_NEW_ID');
    });
    it('what the lookup rejects (unknown object or opcode), unchanged', () => {
      const error = new ObjectError('ERR_UNKNOWN_OBJECT', 'no object 9', undefined, 9);
      expect(parseMessage(raw(9, 0, new Uint8Array(0)), [], () => error)).toEqual({ kind: 'error', header: { objectId: 9, opcode: 0, size: 8 }, error });
    });
  });

  it('decodes a string up to its first NUL, like C', () => {
    const str: MessageSpec = { name: 'm', opcode: 0, since: 1, destructor: false, args: [arg('s', 'string')] };
    const body = concat(words(8), new Uint8Array([0x61, 0, 0x62, 0x63, 0, 0, 0, 0]));
    expect(decodeArgs(body, str, [], () => 'x')).toEqual(['a']);
  });

  describe('refuses to encode what the wire cannot carry', () => {
    const cases: [string, MessageSpec, WireValue[]][] = [
      ['an int out of range', { ...everything, args: [arg('i', 'int')] }, [2 ** 31]],
      ['a negative uint', { ...everything, args: [arg('u', 'uint')] }, [-1]],
      ['a non-integer uint', { ...everything, args: [arg('u', 'uint')] }, [1.5]],
      ['a fixed out of the 24.8 range', { ...everything, args: [arg('f', 'fixed')] }, [2 ** 24]],
      ['a NaN fixed', { ...everything, args: [arg('f', 'fixed')] }, [Number.NaN]],
      ['a null non-nullable string', { ...everything, args: [arg('s', 'string')] }, [null]],
      ['a string with a NUL inside', { ...everything, args: [arg('s', 'string')] }, ['a\0b']],
      ['a null non-nullable object', { ...everything, args: [arg('o', 'object')] }, [null]],
      ['a null typed new_id', { ...everything, args: [arg('n', 'new_id', { interface: 'wl_callback' })] }, [0]],
      ['an untyped new_id without interface', { ...everything, args: [arg('n', 'new_id')] }, [5]],
      ['a negative fd', { ...everything, args: [arg('fd', 'fd')] }, [-1]],
      ['a message above 4096 bytes', { ...everything, args: [arg('a', 'array')] }, [new Uint8Array(4096)]],
      ['the wrong number of arguments', { ...everything, args: [arg('a', 'uint')] }, []],
    ];
    for (const [what, message, args] of cases) {
      it(what, () => {
        expect(() => encodeMessage(1, message, args)).toThrow(EncodeError);
      });
    }
    it('but accepts a message of exactly 4096 bytes', () => {
      const message: MessageSpec = { ...everything, args: [arg('a', 'array')] };
      expect(encodeMessage(1, message, [new Uint8Array(4096 - 12)]).bytes.byteLength).toBe(4096);
    });
  });
});
