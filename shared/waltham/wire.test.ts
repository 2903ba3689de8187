import { describe, expect, it } from 'vitest';
import { EncodeError, MalformedMessageError, ObjectError } from '../wire/errors.js';
import { ProtocolTable, defineInterface, defineProtocol, type ArgSpec } from '../wire/protocol.js';
import { concat, hex, msg, specOf, table } from './test/helpers.js';
import { MAX_MESSAGE_SIZE, encodeMessage, encodeWords, parseMessage, type ParseResult } from './wire.js';

const maxOpcode = Math.max(...table.byOpcode.keys());

function parse(bytes: Uint8Array): ParseResult {
  return parseMessage(bytes, 0, bytes.length, table);
}

function errorOf(r: ParseResult): { code: string; message: string } {
  if (r.kind !== 'error') throw new Error(`expected an error, got ${r.kind}`);
  return { code: r.error.code, message: r.error.message };
}

const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const u32s = (...values: number[]): Uint8Array => new Uint8Array(new Uint32Array(values).buffer);
const KEYS = u32s(30, 31, 32);

/**
 * `wthp_keyboard.enter(@10, serial 20, surface 9, keys 30, 31, 32)` as the
 * reference writer sends it (README 2.4, array-quirk capture at 0xd4): 8-byte
 * length, `sz` = 28 counting 8 bytes for the array, 12 payload bytes past `sz`.
 */
const WRITER_ENTER = fromHex('00001c00 30000000 0a000000 14000000 09000000 0c000000 00000000 1e000000 1f000000 20000000');

/** Rewrite the u16 size field of an encoded message. */
function withSz(bytes: Uint8Array, sz: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint16(2, sz, true);
  return copy;
}

describe('encodeMessage', () => {
  it('writes the smallest message as the README shows it (surface.commit on object 9)', () => {
    expect(hex(msg('wthp_surface', 'commit', 9, []))).toBe('00000c001800000009000000');
  });

  it('fills padding with the N rule (bind of wthp_blob_factory: N = 8)', () => {
    const bytes = msg('wthp_registry', 'bind', 2, [2, { id: 5, interface: 'wthp_blob_factory', version: 1 }]);
    expect(hex(bytes.subarray(24 + 18, 24 + 20))).toBe('0800');
    expect(bytes.length).toBe(48);
  });

  it('writes fixed values as 24.8 and negative ints in two\'s complement', () => {
    const bytes = msg('wthp_pointer', 'enter', 13, [10, 9, 1.5, -2.25]);
    expect(hex(bytes)).toBe('00001c00250000000d0000000a0000000900000080010000c0fdffff');
  });

  it('writes an empty array as the reference writer does: 8 zero bytes counted in sz', () => {
    const bytes = msg('wthp_keyboard', 'enter', 14, [13, 9, new Uint8Array(0)]);
    expect(hex(bytes)).toBe('00001c00300000000e0000000d000000090000000000000000000000');
  });

  it('refuses a message over 65535 bytes instead of truncating sz', () => {
    const data = new Uint8Array(70_036 - 40);
    expect(() => msg('wthp_blob_factory', 'create_buffer', 5, [11, data, 1, 1, 4, 0])).toThrow(EncodeError);
    expect(() => msg('wthp_blob_factory', 'create_buffer', 5, [11, data, 1, 1, 4, 0])).toThrow(/65535/);
    // The largest legal message still goes: 12 + 4 (id) + 4 + data + 16 = 65535 when data is 65499 bytes (pad to 65500 > limit).
    const fits = new Uint8Array(MAX_MESSAGE_SIZE - 12 - 4 - 4 - 16 - 3);
    expect(msg('wthp_blob_factory', 'create_buffer', 5, [11, fits, 1, 1, 4, 0]).length).toBe(MAX_MESSAGE_SIZE - 3);
  });

  it('writes a non-empty array in the reference reader\'s layout: u32 length, payload, padding, all counted in sz', () => {
    expect(hex(msg('wthp_keyboard', 'enter', 10, [20, 9, KEYS]))).toBe(
      '00002400' + '30000000' + '0a000000' + '14000000' + '09000000' + '0c000000' + '1e0000001f00000020000000',
    );
    // 3 bytes: N = 1 (header) + 1 (target) + 2 (serial, surface) + 3 (array, length not a multiple of 4) = 7.
    expect(hex(msg('wthp_keyboard', 'enter', 10, [20, 9, new Uint8Array([1, 2, 3])]))).toBe(
      '00001c00' + '30000000' + '0a000000' + '14000000' + '09000000' + '03000000' + '01020307',
    );
  });

  it('refuses a message with an array over 65535 bytes; the largest array that fits goes', () => {
    // 12 (header, target) + 4 (serial) + 4 (surface) + 4 (length) + pad4(L) <= 65535: L <= 65508.
    expect(msg('wthp_keyboard', 'enter', 14, [1, 9, new Uint8Array(65_508)]).length).toBe(65_532);
    expect(() => msg('wthp_keyboard', 'enter', 14, [1, 9, new Uint8Array(65_509)])).toThrow(/65535/);
    expect(() => msg('wthp_keyboard', 'enter', 14, [1, 9, new Uint8Array(65_520)])).toThrow(EncodeError);
  });

  it('refuses null where the protocol does not allow it, and accepts it where it does', () => {
    expect(() => msg('wthp_surface', 'enter', 9, [null])).toThrow(/null/);
    expect(() => msg('wthp_seat', 'name', 6, [null])).toThrow(/null/);
    expect(() => msg('wth_display', 'sync', 1, [null])).toThrow(EncodeError);
    expect(hex(msg('wthp_surface', 'attach', 9, [null, 0, 0]))).toBe('00001800130000000900000000000000' + '0000000000000000');
  });

  it('refuses values the wire type cannot hold', () => {
    expect(() => msg('wthp_buffer', 'complete', 17, [-1])).toThrow(/0\.\.2\^32-1/);
    expect(() => msg('wthp_buffer', 'complete', 17, [2 ** 32])).toThrow(EncodeError);
    expect(() => msg('wthp_region', 'add', 10, [1.5, 0, 0, 0])).toThrow(EncodeError);
    expect(() => msg('wthp_region', 'add', 10, [2 ** 31, 0, 0, 0])).toThrow(EncodeError);
    expect(() => msg('wthp_pointer', 'motion', 13, [0, Number.NaN, 0])).toThrow(EncodeError);
    expect(() => msg('wthp_pointer', 'motion', 13, [0, 2 ** 24, 0])).toThrow(EncodeError);
    expect(() => msg('wthp_seat', 'name', 6, ['a\0b'])).toThrow(/NUL/);
    expect(() => msg('wthp_keyboard', 'keymap', 14, [1, 'text' as never])).toThrow(/Uint8Array/);
    expect(() => msg('wthp_region', 'add', 10, [0, 0, 0])).toThrow(/expected 4 arguments/);
    expect(() => msg('wthp_region', 'destroy', 0, [])).toThrow(/target id 0/);
  });

  it('measures strings in UTF-8 bytes', () => {
    const bytes = msg('wthp_seat', 'name', 6, ['sïège']);
    expect(new DataView(bytes.buffer).getUint32(12, true)).toBe(Buffer.byteLength('sïège') + 1);
    const r = parse(bytes);
    expect(r.kind === 'message' && r.args[0]).toBe('sïège');
  });
});

describe('parseMessage', () => {
  const sync = msg('wth_display', 'sync', 1, [2]);

  it('asks for more bytes, never throws, on every prefix of a message', () => {
    for (let n = 0; n < sync.length; n++) {
      const r = parseMessage(sync, 0, n, table);
      expect(r.kind).toBe('more');
      expect(r.kind === 'more' && r.needed).toBe(n < 8 ? 8 : 16);
    }
    expect(parse(sync).kind).toBe('message');
  });

  it('rejects sz 0', () => {
    expect(errorOf(parse(withSz(sync, 0)))).toMatchObject({ code: 'ERR_SIZE_TOO_SMALL' });
  });

  it('rejects sz below 8 and below 12 (no room for the target id), naming the message', () => {
    for (const sz of [4, 8, 11]) {
      const e = errorOf(parse(withSz(sync, sz)));
      expect(e.code).toBe('ERR_SIZE_TOO_SMALL');
      expect(e.message).toContain('wth_display.sync');
    }
  });

  it('rejects a size shorter than the arguments', () => {
    const add = msg('wthp_region', 'add', 10, [1, 2, 3, 4]);
    const e = errorOf(parse(withSz(add, 20)));
    expect(e).toMatchObject({ code: 'ERR_TRUNCATED_ARGS' });
    expect(e.message).toContain('wthp_region@10.add');
  });

  it('rejects a string or data length that runs past sz', () => {
    const name = msg('wthp_seat', 'name', 6, ['seat0']);
    new DataView(name.buffer).setUint32(12, 1000, true);
    expect(errorOf(parse(name))).toMatchObject({ code: 'ERR_TRUNCATED_ARGS' });
    const huge = msg('wthp_seat', 'name', 6, ['seat0']);
    new DataView(huge.buffer).setUint32(12, 0xffffffff, true);
    expect(errorOf(parse(huge))).toMatchObject({ code: 'ERR_TRUNCATED_ARGS' });
    const keymap = msg('wthp_keyboard', 'keymap', 14, [1, new Uint8Array(5)]);
    new DataView(keymap.buffer).setUint32(16, 9, true);
    expect(errorOf(parse(keymap))).toMatchObject({ code: 'ERR_TRUNCATED_ARGS' });
  });

  it('names the message, the argument and what is wrong in each error', () => {
    const set = (bytes: Uint8Array, at: number, value: number): Uint8Array => {
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value, true);
      return bytes;
    };
    const bind = (): Uint8Array => msg('wthp_registry', 'bind', 2, [7, { id: 3, interface: 'wthp_seat', version: 5 }]);
    const noNul = bind();
    noNul[24 + 'wthp_seat'.length] = 0x41; // the NUL of the interface name
    const cases = [
      withSz(msg('wthp_region', 'add', 10, [1, 2, 3, 4]), 20),
      set(msg('wthp_seat', 'name', 6, ['seat0']), 12, 1000),
      set(msg('wthp_seat', 'name', 6, ['seat0']), 12, 0),
      set(msg('wthp_keyboard', 'keymap', 14, [1, new Uint8Array(5)]), 16, 9),
      set(bind(), 20, 500),
      noNul,
      withSz(bind(), 16),
      withSz(bind(), 20),
      withSz(bind(), 32),
      withSz(bind(), 36),
    ];
    expect(cases.map((c) => errorOf(parse(c)).message)).toEqual([
      'wthp_region@10.add: argument width runs past the declared size 20',
      'wthp_seat@6.name: argument name (1000 bytes) runs past the declared size 24',
      'wthp_seat@6.name: argument name is null but the protocol does not allow null',
      'wthp_keyboard@14.keymap: argument keymap (9 bytes) runs past the declared size 28',
      'wthp_registry@2.bind: argument id interface (500 bytes) runs past the declared size 40',
      'wthp_registry@2.bind: argument id interface (10 bytes) is not NUL-terminated',
      'wthp_registry@2.bind: argument id runs past the declared size 16',
      'wthp_registry@2.bind: length of argument id interface runs past the declared size 20',
      'wthp_registry@2.bind: argument id interface (10 bytes) runs past the declared size 32',
      'wthp_registry@2.bind: argument id version runs past the declared size 36',
    ]);
  });

  it('rejects a string without its NUL, and a null string where null is not allowed', () => {
    const name = msg('wthp_seat', 'name', 6, ['abc']);
    name[19] = 0x41; // the NUL of "abc\0"
    expect(errorOf(parse(name))).toMatchObject({ code: 'ERR_BAD_STRING' });
    const empty = msg('wthp_seat', 'name', 6, ['abc']);
    new DataView(empty.buffer).setUint32(12, 0, true);
    expect(errorOf(parse(empty)).message).toMatch(/null/);
  });

  it('rejects unknown opcodes: 0 and past the last one', () => {
    for (const opcode of [0, maxOpcode + 1, 0xffff]) {
      const bytes = new Uint8Array(sync);
      new DataView(bytes.buffer).setUint16(4, opcode, true);
      const r = parse(bytes);
      expect(r.kind === 'error' && r.error).toBeInstanceOf(ObjectError);
      expect(errorOf(r).code).toBe('ERR_UNKNOWN_OPCODE');
    }
  });

  it('ignores the header id and pad fields and bytes inside sz after the last argument (as the reference does)', () => {
    const bytes = new Uint8Array(24);
    bytes.set(sync);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, 0xabcd, true);
    view.setUint16(6, 0x1234, true);
    view.setUint16(2, 24, true);
    const r = parse(bytes);
    if (r.kind !== 'message') throw new Error(r.kind);
    expect(r).toMatchObject({ headerId: 0xabcd, headerPad: 0x1234, sz: 24, length: 24, objectId: 1, args: [2] });
  });

  it('reads our array layout (u32 length, payload within sz)', () => {
    const enter = msg('wthp_keyboard', 'enter', 10, [20, 9, KEYS]);
    const r = parse(enter);
    if (r.kind !== 'message') throw new Error(r.kind);
    expect(r).toMatchObject({ sz: 36, length: 36, args: [20, 9, KEYS] });
    expect(parseMessage(enter, 0, 35, table)).toEqual({ kind: 'more', needed: 36 });
  });

  it('reads the reference writer\'s empty array: length 0, then 4 bytes inside sz that are ignored', () => {
    const enter = fromHex('00001c00 30000000 0e000000 0d000000 09000000 00000000 00000000');
    const r = parse(enter);
    if (r.kind !== 'message') throw new Error(r.kind);
    expect(r).toMatchObject({ sz: 28, length: 28, args: [13, 9, new Uint8Array(0)] });
    // As for the reference reader, the 4 bytes after length 0 are trailing bytes inside sz, whatever they hold.
    const odd = new Uint8Array(enter);
    new DataView(odd.buffer).setUint32(24, 0xdeadbeef, true);
    expect(parse(odd)).toMatchObject({ kind: 'message', length: 28, args: [13, 9, new Uint8Array(0)] });
  });

  it('reads the reference writer\'s non-empty layout and waits for the payload past sz', () => {
    expect(parseMessage(WRITER_ENTER, 0, 28, table)).toEqual({ kind: 'more', needed: 40 });
    expect(parseMessage(WRITER_ENTER, 0, 39, table)).toEqual({ kind: 'more', needed: 40 });
    const r = parse(WRITER_ENTER);
    if (r.kind !== 'message') throw new Error(r.kind);
    expect(r).toMatchObject({ sz: 28, length: 40, args: [20, 9, KEYS] });
    // What follows the payload is the next message.
    const stream = concat(WRITER_ENTER, msg('wthp_keyboard', 'key', 10, [21, 2000, 30, 1]));
    const next = parseMessage(stream, 40, stream.length - 40, table);
    expect(next.kind === 'message' && next.args).toEqual([21, 2000, 30, 1]);
  });

  it('resolves the one ambiguous case (pad4(L) = 4, e.g. one u32 key) as our layout, framing by sz', () => {
    // A one-key array fits in sz both ways: ours is `04000000 <key>`, the writer's `04000000 00000000`
    // inside sz (its 64-bit length) with the key past sz. Both have sz = 28.
    const ours = msg('wthp_keyboard', 'enter', 10, [20, 9, u32s(30)]);
    expect(hex(ours)).toBe('00001c00' + '30000000' + '0a000000' + '14000000' + '09000000' + '04000000' + '1e000000');
    expect(parse(ours)).toMatchObject({ kind: 'message', sz: 28, length: 28, args: [20, 9, u32s(30)] });
    // The rule: our layout wins. The writer's message therefore decodes as key 0 (its high half), and its
    // real key, outside sz, is read as the next header: id 0x1e, sz 0. The peer is reported there
    // (the reference reader reads the same key 0 and then stalls on "Invalid message size (0)").
    const writer = concat(fromHex('00001c00 30000000 0a000000 14000000 09000000 04000000 00000000 1e000000'), msg('wthp_keyboard', 'key', 10, [21, 2000, 30, 1]));
    expect(parseMessage(writer, 0, writer.length, table)).toMatchObject({ kind: 'message', sz: 28, length: 28, args: [20, 9, u32s(0)] });
    expect(errorOf(parseMessage(writer, 28, writer.length - 28, table)).code).toBe('ERR_SIZE_TOO_SMALL');
    // The same holds for 1 to 3 bytes (pad4(L) = 4 too); from 5 bytes on, the writer's layout is unambiguous.
    const two = fromHex('00001c00 30000000 0a000000 14000000 09000000 02000000 00000000 abcd0000');
    expect(parse(two)).toMatchObject({ kind: 'message', length: 28, args: [20, 9, new Uint8Array(2)] });
    const five = fromHex('00001c00 30000000 0a000000 14000000 09000000 05000000 00000000 0102030405000000');
    expect(parse(five)).toMatchObject({ kind: 'message', length: 36, args: [20, 9, new Uint8Array([1, 2, 3, 4, 5])] });
  });

  it('rejects an array that fits neither layout', () => {
    // Length past sz and a non-zero high half: not the writer's 64-bit length.
    const high = new Uint8Array(WRITER_ENTER);
    new DataView(high.buffer).setUint32(24, 1, true);
    expect(errorOf(parse(high)).code).toBe('ERR_BAD_ARRAY');
    // Writer's layout whose payload would take the message past 65535 bytes.
    const long = new Uint8Array(WRITER_ENTER);
    new DataView(long.buffer).setUint32(20, 0xfffffff0, true);
    expect(errorOf(parse(long)).code).toBe('ERR_BAD_ARRAY');
    const over = new Uint8Array(WRITER_ENTER);
    new DataView(over.buffer).setUint32(20, MAX_MESSAGE_SIZE - 28 + 1, true);
    expect(errorOf(parse(over)).message).toMatch(/65535/);
    // Length past sz with no room for an 8-byte length either.
    const short = withSz(msg('wthp_keyboard', 'enter', 10, [20, 9, KEYS]), 24);
    expect(errorOf(parse(short)).code).toBe('ERR_TRUNCATED_ARGS');
    // Our layout, but sz one word short of the payload: taken as the writer's layout, whose high half (the
    // first key) is not 0.
    expect(errorOf(parse(withSz(msg('wthp_keyboard', 'enter', 10, [20, 9, KEYS]), 32))).code).toBe('ERR_BAD_ARRAY');
  });

  it('types its errors (malformed vs object rules)', () => {
    expect((parse(withSz(sync, 0)) as { error: unknown }).error).toBeInstanceOf(MalformedMessageError);
  });

  it('decodes an untyped new_id as id, interface and version', () => {
    const r = parse(msg('wthp_registry', 'bind', 2, [1, { id: 4, interface: 'wthp_compositor', version: 4 }]));
    expect(r.kind === 'message' && r.args).toEqual([1, { id: 4, interface: 'wthp_compositor', version: 4 }]);
  });

  it('decodes from any offset in a larger buffer', () => {
    const two = new Uint8Array(3 + sync.length * 2);
    two.set(sync, 3);
    two.set(msg('wth_display', 'sync', 1, [3]), 3 + sync.length);
    const r = parseMessage(two, 3 + sync.length, sync.length, table);
    expect(r.kind === 'message' && r.args).toEqual([3]);
    expect(specOf('wth_display', 'sync').opcode).toBe(2);
  });
});

describe('encodeMessage and parseMessage together', () => {
  it('round-trip every message of the table with typical values', () => {
    for (const [opcode, entry] of table.byOpcode) {
      const args = entry.message.args.map((a) => {
        switch (a.type) {
          case 'int':
            return -7;
          case 'uint':
            return 7;
          case 'fixed':
            return -1.25;
          case 'object':
            return 3;
          case 'new_id':
            return a.interface === null ? { id: 4, interface: 'wthp_seat', version: 5 } : 4;
          case 'string':
            return 'hello';
          default:
            return new Uint8Array([1, 2, 3]);
        }
      });
      const bytes = encodeMessage(entry.message, 5, args, entry.iface.name);
      const r = parse(bytes);
      if (r.kind !== 'message') throw new Error(`opcode ${opcode}`);
      expect(r.opcode).toBe(opcode);
      expect(r.objectId).toBe(5);
      expect(r.args).toEqual(args);
      expect(r.length).toBe(bytes.length);
    }
  });
});

describe('encodeWords', () => {
  const oneWord = (a: ArgSpec): boolean => ['int', 'uint', 'fixed', 'object'].includes(a.type) || (a.type === 'new_id' && a.interface !== null);

  it('writes every message of one-word arguments as encodeMessage does, edge values included, and leaves the others to it', () => {
    const pick = <T>(values: readonly T[], i: number): T => values[i % values.length]!;
    let words = 0;
    for (const entry of table.byOpcode.values()) {
      const spec = entry.message;
      for (let round = 0; round < 6; round++) {
        const args = spec.args.map((a, i) => {
          const k = round + 3 * i;
          switch (a.type) {
            case 'int':
              return pick([0, -1, 2 ** 31 - 1, -(2 ** 31), 12345, -7], k);
            case 'uint':
              return pick([0, 1, 2 ** 32 - 1, 2 ** 31, 65536, 7], k);
            case 'fixed':
              return pick([0, -1.25, 0.003, 8388607.99, -8388608, -0.003], k);
            case 'object':
              return a.nullable && k % 2 === 0 ? null : pick([1, 9, 2 ** 32 - 1], k);
            case 'new_id':
              return a.interface === null ? { id: 4, interface: 'wthp_seat', version: 5 } : pick([4, 0xff000000], k);
            case 'string':
              return 'hello';
            default:
              return new Uint8Array([1, 2, 3]);
          }
        });
        const target = pick([1, 5, 2 ** 32 - 1], round);
        const fast = encodeWords(spec, target, args);
        if (!spec.args.every(oneWord)) {
          expect(fast, `${entry.iface.name}.${spec.name}`).toBeNull();
          continue;
        }
        words++;
        expect(fast, `${entry.iface.name}.${spec.name}`).not.toBeNull();
        expect(hex(fast!)).toBe(hex(encodeMessage(spec, target, args, entry.iface.name)));
      }
    }
    expect(words).toBeGreaterThan(100);
  });

  it('leaves every value encodeMessage refuses to it, without allocating', () => {
    let allocated = 0;
    const allocate = (n: number): Uint8Array => (allocated++, new Uint8Array(n));
    const refused: [string, string, number, unknown[]][] = [
      ['wthp_buffer', 'complete', 17, [-1]],
      ['wthp_buffer', 'complete', 17, [2 ** 32]],
      ['wthp_buffer', 'complete', 17, [1.5]],
      ['wthp_buffer', 'complete', 17, ['1']],
      ['wthp_region', 'add', 10, [1.5, 0, 0, 0]],
      ['wthp_region', 'add', 10, [2 ** 31, 0, 0, 0]],
      ['wthp_region', 'add', 10, [0, 0, 0]],
      ['wthp_region', 'add', 10, [0, 0, 0, 0, 0]],
      ['wthp_region', 'destroy', 0, []],
      ['wthp_region', 'destroy', 2 ** 32, []],
      ['wthp_pointer', 'motion', 13, [0, Number.NaN, 0]],
      ['wthp_pointer', 'motion', 13, [0, Number.POSITIVE_INFINITY, 0]],
      ['wthp_pointer', 'motion', 13, [0, 2 ** 24, 0]],
      ['wthp_surface', 'enter', 9, [null]],
      ['wthp_surface', 'enter', 9, [0]],
      ['wthp_surface', 'enter', 9, [-3]],
      ['wth_display', 'sync', 1, [null]],
      ['wth_display', 'sync', 1, [0]],
    ];
    for (const [iface, name, target, args] of refused) {
      expect(encodeWords(specOf(iface, name), target, args as never, allocate), `${iface}.${name}(${args.map(String).join(', ')})`).toBeNull();
      expect(() => msg(iface, name, target, args as never)).toThrow(EncodeError);
    }
    expect(allocated).toBe(0);
  });
});

/**
 * A model of the reference reader as README 2.4 (and 7) describes it, for
 * `wthp_keyboard.enter` only: messages are framed by `sz` alone (`sz` 0 stops
 * it for good: "Invalid message size (0)"); the array is a 4-byte length at its
 * position with the payload starting 4 bytes later, read without any check
 * against `sz`.
 */
function referenceReader(stream: Uint8Array): { enters: { serial: number; surface: number; keys: string; inSz: boolean }[]; opcodes: number[]; stalled: boolean } {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const enters: { serial: number; surface: number; keys: string; inSz: boolean }[] = [];
  const opcodes: number[] = [];
  let at = 0;
  while (at + 8 <= stream.length) {
    const sz = view.getUint16(at + 2, true);
    if (sz === 0) return { enters, opcodes, stalled: true };
    const opcode = view.getUint16(at + 4, true);
    opcodes.push(opcode);
    if (opcode === 48) {
      const length = view.getUint32(at + 20, true);
      enters.push({
        serial: view.getUint32(at + 12, true),
        surface: view.getUint32(at + 16, true),
        keys: hex(stream.subarray(at + 24, at + 24 + length)),
        inSz: 24 + length <= sz,
      });
    }
    at += sz;
  }
  return { enters, opcodes, stalled: false };
}

describe('arrays as the reference reader sees them (model of README 2.4)', () => {
  const key = msg('wthp_keyboard', 'key', 10, [21, 2000, 30, 1]);

  it('the model reproduces what the reference client logged for the writer\'s layout (array-quirk)', () => {
    // client-decoded.log: keys=array[12]:000000001e0000001f000000, then "Invalid message size (0)".
    expect(referenceReader(concat(WRITER_ENTER, key))).toEqual({
      enters: [{ serial: 20, surface: 9, keys: '000000001e0000001f000000', inSz: false }],
      opcodes: [48],
      stalled: true,
    });
  });

  it('reads our non-empty keyboard.enter correctly, and the message after it', () => {
    const ours = msg('wthp_keyboard', 'enter', 10, [20, 9, KEYS]);
    expect(referenceReader(concat(ours, key))).toEqual({
      enters: [{ serial: 20, surface: 9, keys: '1e0000001f00000020000000', inSz: true }],
      opcodes: [48, 50],
      stalled: false,
    });
    // Odd lengths too: the payload is followed by its padding, inside sz.
    const odd = msg('wthp_keyboard', 'enter', 10, [20, 9, new Uint8Array([1, 2, 3, 4, 5])]);
    expect(referenceReader(concat(odd, key))).toMatchObject({ enters: [{ keys: '0102030405', inSz: true }], opcodes: [48, 50], stalled: false });
  });

  it('reads our empty keyboard.enter as no keys, and the message after it', () => {
    const empty = msg('wthp_keyboard', 'enter', 14, [13, 9, new Uint8Array(0)]);
    expect(referenceReader(concat(empty, key))).toEqual({ enters: [{ serial: 13, surface: 9, keys: '', inSz: true }], opcodes: [48, 50], stalled: false });
  });
});

/** Arrays in other positions, in a protocol of our own (the Waltham protocol has only the one last-position array). */
describe('arrays among other arguments', () => {
  const arg = (name: string, type: ArgSpec['type']): ArgSpec => ({ name, type, interface: null, nullable: false, enum: null });
  const iface = defineInterface({
    name: 'test_arrays',
    version: 1,
    requests: [
      { name: 'mixed', opcode: 300, since: 1, destructor: false, args: [arg('s', 'string'), arg('a', 'array'), arg('d', 'data'), arg('u', 'uint')] },
      { name: 'tail', opcode: 301, since: 1, destructor: false, args: [arg('a', 'array'), arg('u', 'uint')] },
    ],
    events: [],
    enums: [],
  });
  const own = new ProtocolTable('waltham', [defineProtocol({ name: 'test_arrays', dialect: 'waltham', interfaces: [iface] })]);
  const [mixed, tail] = iface.requests as [(typeof iface.requests)[0], (typeof iface.requests)[0]];

  it('pads strings and data by the N rule, counting the array as the reference does (2, +1 if unaligned)', () => {
    // N = 1 + 1 + 3 (string of 3) + 3 (array of 5) + 3 (data of 1) + 1 (uint) = 12.
    const bytes = encodeMessage(mixed, 5, ['ab', new Uint8Array([1, 2, 3, 4, 5]), new Uint8Array([9]), 7]);
    expect(hex(bytes)).toBe('00002c00' + '2c010000' + '05000000' + '03000000' + '6162000c' + '05000000' + '01020304050c0000' + '01000000' + '090c0000' + '07000000');
    expect(parseMessage(bytes, 0, bytes.length, own)).toMatchObject({ kind: 'message', length: 44, args: ['ab', new Uint8Array([1, 2, 3, 4, 5]), new Uint8Array([9]), 7] });
  });

  it('writes an empty array that is not last as the length alone, and reads it back', () => {
    // N = 1 + 1 + 3 + 2 + 2 + 1 = 10; the reader takes the next argument right after the length 0.
    const bytes = encodeMessage(mixed, 5, ['ab', new Uint8Array(0), new Uint8Array(0), 7]);
    expect(hex(bytes)).toBe('00002000' + '2c010000' + '05000000' + '03000000' + '6162000a' + '00000000' + '00000000' + '07000000');
    expect(parseMessage(bytes, 0, bytes.length, own)).toMatchObject({ kind: 'message', length: 32, args: ['ab', new Uint8Array(0), new Uint8Array(0), 7] });
    const last = encodeMessage(tail, 5, [new Uint8Array(0), 7]);
    expect(hex(last)).toBe('00001400' + '2d010000' + '05000000' + '00000000' + '07000000');
  });

  it('reads a writer\'s-layout array that is not last: the arguments after it follow its payload', () => {
    // sz counts 8 for the array and 4 for u; the 12 payload bytes come between them, outside sz.
    const bytes = fromHex('00001800 2d010000 05000000 0c000000 00000000 1e0000001f00000020000000 07000000');
    expect(parseMessage(bytes, 0, bytes.length - 1, own)).toEqual({ kind: 'more', needed: 36 });
    expect(parseMessage(bytes, 0, bytes.length, own)).toMatchObject({ kind: 'message', sz: 24, length: 36, args: [KEYS, 7] });
  });
});
