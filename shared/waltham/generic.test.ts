/**
 * The library is driven only by the tables it is given: a small synthetic
 * protocol on top of the Waltham core (display, registry, callback) works the
 * same, including objects the server creates (ids from 0xff000000).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_ID_START } from '../wire/object-map.js';
import { Proxy, Resource, type WireObjectClass } from '../wire/object.js';
import { ProtocolTable, defineInterface, defineProtocol, type ArgSpec } from '../wire/protocol.js';
import {
  WthDisplayProxy,
  WthDisplayResource,
  WthpCallbackProxy,
  WthpCallbackResource,
  WthpRegistryProxy,
  WthpRegistryResource,
  wthDisplayInterface,
  wthpCallbackInterface,
  wthpRegistryInterface,
} from '../generated/waltham/waltham.js';
import { WalthamServer, connectWaltham } from './tcp.js';
import { captureLogger, silentLogger } from './test/helpers.js';

const arg = (name: string, type: ArgSpec['type'], iface: string | null = null): ArgSpec => ({
  name,
  type,
  interface: iface,
  nullable: false,
  enum: null,
});

const factoryInterface = defineInterface({
  name: 'test_factory',
  version: 1,
  requests: [{ name: 'make', opcode: 200, since: 1, destructor: false, args: [arg('label', 'string')] }],
  events: [{ name: 'spawned', opcode: 201, since: 1, destructor: false, args: [arg('child', 'new_id', 'test_child'), arg('label', 'string')] }],
  enums: [],
});
const childInterface = defineInterface({
  name: 'test_child',
  version: 1,
  requests: [{ name: 'destroy', opcode: 202, since: 1, destructor: true, args: [] }],
  events: [{ name: 'hello', opcode: 203, since: 1, destructor: false, args: [arg('n', 'uint')] }],
  enums: [],
});

class TestChildProxy extends Proxy<{ hello(n: number): void }> {
  static override readonly spec = childInterface;
  static override readonly handlerNames: readonly string[] = ['hello'];
  destroy(): void {
    this.marshal(0, []);
  }
}
class TestChildResource extends Resource<{ destroy(): void }> {
  static override readonly spec = childInterface;
  static override readonly handlerNames: readonly string[] = ['destroy'];
  sendHello(n: number): void {
    this.post(0, [n]);
  }
}
class TestFactoryProxy extends Proxy<{ spawned(child: TestChildProxy, label: string): void }> {
  static override readonly spec = factoryInterface;
  static override readonly handlerNames: readonly string[] = ['spawned'];
  make(label: string): void {
    this.marshal(0, [label]);
  }
}
class TestFactoryResource extends Resource<{ make(label: string): void }> {
  static override readonly spec = factoryInterface;
  static override readonly handlerNames: readonly string[] = ['make'];
  sendSpawned(child: TestChildResource, label: string): void {
    this.post(0, [child, label]);
  }
}

const table = new ProtocolTable('waltham', [
  defineProtocol({ name: 'core', dialect: 'waltham', interfaces: [wthDisplayInterface, wthpRegistryInterface, wthpCallbackInterface] }),
  defineProtocol({ name: 'test', dialect: 'waltham', interfaces: [factoryInterface, childInterface] }),
]);
const proxies: Record<string, WireObjectClass> = {
  wth_display: WthDisplayProxy,
  wthp_registry: WthpRegistryProxy,
  wthp_callback: WthpCallbackProxy,
  test_factory: TestFactoryProxy,
  test_child: TestChildProxy,
};
const resources: Record<string, WireObjectClass> = {
  wth_display: WthDisplayResource,
  wthp_registry: WthpRegistryResource,
  wthp_callback: WthpCallbackResource,
  test_factory: TestFactoryResource,
  test_child: TestChildResource,
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('a WalthamConnection with another protocol\'s tables', () => {
  it('binds, creates server-side objects from 0xff000000 and destroys them with delete_id', async () => {
    const log = captureLogger();
    const server = new WalthamServer({ table, classes: resources, logger: log.logger });
    cleanups.push(() => server.close());
    const destroyed: number[] = [];
    server.addGlobal(TestFactoryResource, 1, (factory, peer) =>
      factory.listen({
        make: (label) => {
          const child = peer.createObject(TestChildResource, 1);
          child.listen({ destroy: () => destroyed.push(child.id) });
          factory.sendSpawned(child, label);
          child.sendHello(42);
        },
      }),
    );
    const { port } = await server.listen(0);
    const lines: string[] = [];
    const client = await connectWaltham('127.0.0.1', port, { table, classes: proxies, logger: silentLogger, trace: (l) => lines.push(l) });
    cleanups.push(() => client.close());
    const [global] = await client.globals();
    expect(global).toEqual({ name: 1, interface: 'test_factory', version: 1 });
    const factory = client.bind(TestFactoryProxy, 1, 1);
    const spawned: { child: TestChildProxy; label: string; hello: number[] }[] = [];
    factory.listen({
      spawned: (child, label) => {
        const entry = { child, label, hello: [] as number[] };
        child.listen({ hello: (n) => entry.hello.push(n) });
        spawned.push(entry);
      },
    });
    factory.make('first');
    factory.make('second');
    await client.roundtrip();
    expect(spawned.map((s) => [s.child.id, s.label, s.hello])).toEqual([
      [SERVER_ID_START, 'first', [42]],
      [SERVER_ID_START + 1, 'second', [42]],
    ]);
    expect(spawned[0]!.child).toBeInstanceOf(TestChildProxy);
    spawned[0]!.child.destroy();
    await client.roundtrip();
    expect(destroyed).toEqual([SERVER_ID_START]);
    expect(lines).toContain(lines.find((l) => l.endsWith(`wth_display@1.delete_id(${SERVER_ID_START})`)));
    expect(log.lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('rejects a server-side new id that skips ahead', async () => {
    const server = new WalthamServer({ table, classes: resources, logger: silentLogger });
    cleanups.push(() => server.close());
    server.addGlobal(TestFactoryResource, 1, (factory, peer) =>
      factory.listen({
        make: () => {
          // Forge an id past the next one: the client must refuse it.
          const child = new TestChildResource(peer, SERVER_ID_START + 5, 1);
          peer.sendMessage(factory, factoryInterface.events[0]!, [child.id, 'forged']);
        },
      }),
    );
    const { port } = await server.listen(0);
    const log = captureLogger();
    const client = await connectWaltham('127.0.0.1', port, { table, classes: proxies, logger: log.logger });
    cleanups.push(() => client.close());
    await client.globals();
    const factory = client.bind(TestFactoryProxy, 1, 1);
    factory.make('x');
    const reason = await client.closed;
    const where = `test_factory@${factory.id}.spawned`;
    expect(reason?.message).toContain(`${where}: argument child: new id ${SERVER_ID_START + 5} skips ahead (expected ${SERVER_ID_START})`);
    expect(log.text()).toContain(where);
  });
});
