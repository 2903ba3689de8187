import { describe, expect, it } from 'vitest';
import type { ArgSpec, ArgType, MessageSpec } from './protocol.js';
import { formatTrace, traceEnabled } from './trace.js';

function message(name: string, ...args: [string, ArgType, string?][]): MessageSpec {
  const specs: ArgSpec[] = args.map(([n, type, iface]) => ({ name: n, type, interface: iface ?? null, nullable: false, enum: null }));
  return { name, opcode: 0, since: 1, destructor: false, args: specs };
}

const body = (line: string): string => line.replace(/^\[[ \d.]+\] /, '');

describe('trace lines', () => {
  it('print an untyped new_id given with its interface as one argument (Waltham)', () => {
    const bind = message('bind', ['name', 'uint'], ['id', 'new_id']);
    expect(body(formatTrace('wthp_registry', 2, bind, [{ value: 1 }, { value: 4, objectInterface: 'wthp_compositor' }], true))).toBe(
      ' -> wthp_registry@2.bind(1, new id wthp_compositor@4)',
    );
  });

  it('print data like an array, and an id that names no live object as nil', () => {
    const chunk = message('chunk', ['data', 'data'], ['buffer', 'object', 'wthp_buffer']);
    expect(body(formatTrace('wthp_blob', 9, chunk, [{ value: new Uint8Array(12) }, { value: 77 }], false))).toBe('wthp_blob@9.chunk(data[12], nil)');
  });

  it('are switched on per dialect and role', () => {
    expect(traceEnabled('waltham', 'client', { WALTHAM_DEBUG: 'client' })).toBe(true);
    expect(traceEnabled('waltham', 'server', { WALTHAM_DEBUG: 'client' })).toBe(false);
    expect(traceEnabled('wayland', 'server', { WAYLAND_DEBUG: '1' })).toBe(true);
    expect(traceEnabled('wayland', 'client', { WALTHAM_DEBUG: '1' })).toBe(false);
  });
});
