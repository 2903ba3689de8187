import { describe, expect, it } from 'vitest';
import { Resource, type ObjectConnection } from './object.js';
import type { InterfaceSpec } from './protocol.js';

const spec: InterfaceSpec = { name: 'test_object', version: 1, requests: [], events: [], enums: [] };

interface Requests {
  toString(): void;
  hello(n: number): void;
}

class TestObject extends Resource<Requests> {
  static override readonly spec = spec;
  static override readonly handlerNames = ['toString', 'constructor', 'hello', 'valueOf'];
}

const conn: ObjectConnection = {
  role: 'server',
  sendMessage() {},
  createObject() {
    throw new Error('not used');
  },
  postError() {},
};

describe('WireObject.dispatch', () => {
  it('finds only installed handlers, never an Object.prototype member of the same name', () => {
    const object = new TestObject(conn, 3, 1);
    expect([0, 1, 2, 3, 4].map((i) => object.dispatch(i, []))).toEqual([false, false, false, false, false]);
    const seen: unknown[] = [];
    object.listen({ hello: (n) => seen.push(n), toString: () => seen.push('toString') });
    expect(object.dispatch(2, [7])).toBe(true);
    expect(object.dispatch(0, [])).toBe(true);
    expect(object.dispatch(1, [])).toBe(false);
    expect(seen).toEqual([7, 'toString']);
  });
});
