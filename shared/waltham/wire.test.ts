import { describe, expect, it } from 'vitest';
import { EncodeError, MalformedMessageError, ObjectError } from '../wire/errors.js';
import { hex, msg, specOf, table } from './test/helpers.js';
import { MAX_MESSAGE_SIZE, encodeMessage, parseMessage, type ParseResult } from './wire.js';

const maxOpcode = Math.max(...table.byOpcode.keys());

function parse(bytes: Uint8Array): ParseResult {
  return parseMessage(bytes, 0, bytes.length, table);
}

function errorOf(r: ParseResult): { code: string; message: string } {
  if (r.kind !== 'error') throw new Error(`expected an error, got ${r.kind}`);
  return { code: r.error.code, message: r.error.message };
}

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

  it('counts array payloads outside sz against the 65535-byte limit', () => {
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

  it('reads an array in the writer layout and waits for the payload past sz', () => {
    const enter = msg('wthp_keyboard', 'enter', 10, [20, 9, new Uint8Array([30, 0, 0, 0, 31, 0, 0, 0, 32, 0, 0, 0])]);
    expect(enter.length).toBe(40);
    expect(new DataView(enter.buffer).getUint16(2, true)).toBe(28);
    expect(parseMessage(enter, 0, 28, table)).toEqual({ kind: 'more', needed: 40 });
    const r = parse(enter);
    expect(r.kind === 'message' && r.length).toBe(40);
  });

  it('rejects an array whose 64-bit length has high bits or would pass 65535 bytes', () => {
    const enter = msg('wthp_keyboard', 'enter', 10, [20, 9, new Uint8Array(0)]);
    const high = new Uint8Array(enter);
    new DataView(high.buffer).setUint32(24, 1, true);
    expect(errorOf(parse(high)).code).toBe('ERR_BAD_ARRAY');
    const long = new Uint8Array(enter);
    new DataView(long.buffer).setUint32(20, 0xfffffff0, true);
    expect(errorOf(parse(long)).code).toBe('ERR_BAD_ARRAY');
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
