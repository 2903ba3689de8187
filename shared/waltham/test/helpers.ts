/** Helpers shared by the Waltham library tests. */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { MessageSpec } from '../../wire/protocol.js';
import { WthpCompositorResource, WthpIviApplicationResource, WthpRegionResource } from '../../generated/waltham/waltham.js';
import { defaultWalthamTable, type WalthamLogger } from '../connection.js';
import type { WalthamClient, WalthamPeer } from '../display.js';
import { WalthamServer, type WalthamServerOptions } from '../tcp.js';
import { encodeMessage, parseMessage, type DecodedMessage, type EncodeArg } from '../wire.js';

export { captureLogger, prng, sleep, waitFor, type LogLine } from '../../test/helpers.js';

/**
 * The reference libwaltham captures, kept with the tests (./vectors: the
 * wire spec, opcode table and byte captures, as published beside the
 * project in `../shared/vectors/waltham`; vectors-copy.test.ts checks the
 * two agree when that folder is there).
 */
export const VECTORS_DIR = fileURLToPath(new URL('./vectors', import.meta.url));
export const vectorsPresent = existsSync(VECTORS_DIR);
/** The published captures beside the checkout, when present. */
export const PUBLISHED_VECTORS_DIR = fileURLToPath(new URL('../../../../shared/vectors/waltham', import.meta.url));

export const table = defaultWalthamTable();

export function specOf(iface: string, name: string): MessageSpec {
  const spec = table.get(iface);
  const message = spec?.requests.find((m) => m.name === name) ?? spec?.events.find((m) => m.name === name);
  if (message === undefined) throw new Error(`no message ${iface}.${name}`);
  return message;
}

/** Encode `iface.name` addressed to `target`. */
export function msg(iface: string, name: string, target: number, args: readonly EncodeArg[]): Uint8Array {
  return encodeMessage(specOf(iface, name), target, args, iface);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Decode every message of a complete capture; throws on anything else. */
export function decodeAll(buf: Uint8Array): (DecodedMessage & { offset: number })[] {
  const out: (DecodedMessage & { offset: number })[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const r = parseMessage(buf, offset, buf.length - offset, table);
    if (r.kind !== 'message') throw new Error(`at ${offset}: ${r.kind === 'error' ? r.error.message : 'incomplete'}`);
    out.push({ ...r, offset });
    offset += r.length;
  }
  return out;
}

export const silentLogger: WalthamLogger = { error() {}, warn() {}, info() {}, debug() {} };

/** A peer that writes hand-made bytes and collects what comes back. */
export class RawPeer {
  readonly received: Buffer[] = [];
  readonly closed: Promise<void>;
  ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received.push(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('end', () => (this.ended = true));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  static wrap(socket: net.Socket): RawPeer {
    return new RawPeer(socket);
  }

  write(...parts: Uint8Array[]): void {
    this.socket.write(concat(...parts));
  }

  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.received));
  }

  /** The complete messages received so far. */
  messages(): DecodedMessage[] {
    const buf = this.bytes();
    const out: DecodedMessage[] = [];
    let offset = 0;
    for (;;) {
      const r = parseMessage(buf, offset, buf.length - offset, table);
      if (r.kind !== 'message') return out;
      out.push(r);
      offset += r.length;
    }
  }

  /** Wait until `predicate` holds on the messages received (or time out). */
  async waitFor(predicate: (messages: DecodedMessage[]) => boolean, timeoutMs = 5000): Promise<DecodedMessage[]> {
    const start = Date.now();
    for (;;) {
      const messages = this.messages();
      if (predicate(messages)) return messages;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out; got ${messages.map(name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Wait for the server to close the connection; resolves with everything received. */
  async waitClosed(timeoutMs = 5000): Promise<DecodedMessage[]> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('peer was not closed')), timeoutMs))),
    ]);
    clearTimeout(timer);
    return this.messages();
  }
}

export function name(m: DecodedMessage): string {
  return `${m.entry.iface.name}@${m.objectId}.${m.entry.message.name}`;
}

/**
 * A server configured like the reference example server (vectors README 8):
 * one global `wthp_compositor` v4; regions with add/subtract/destroy;
 * `create_surface` answered with the reference's error.
 */
export async function startExampleServer(
  options: WalthamServerOptions = {},
  /** Also accept surfaces and offer wthp_ivi_application (for object-argument checks). */
  extended = false,
): Promise<{ server: WalthamServer; port: number; peers: WalthamPeer[] }> {
  const server = new WalthamServer(options);
  const peers: WalthamPeer[] = [];
  server.on('peer', (peer) => peers.push(peer));
  server.addGlobal(WthpCompositorResource, 4, (compositor) => {
    compositor.listen({
      createRegion: (region: WthpRegionResource) => {
        region.listen({ add: () => {}, subtract: () => {}, destroy: () => {} });
      },
      createSurface: () => {
        if (!extended) compositor.postError(0, 'unimplemented: compositor_handle_create_surface');
      },
    });
  });
  if (extended) server.addGlobal(WthpIviApplicationResource, 1, () => {});
  const address = await server.listen(0, '127.0.0.1');
  return { server, port: address.port, peers };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Binds `client`'s globals by proxy class, at the version the server announced (each global named once). */
export async function globalBinder(client: WalthamClient): Promise<<T>(ctor: Parameters<WalthamClient['bind']>[0] & { spec: { name: string } }) => T> {
  const globals = await client.globals();
  return <T>(ctor: Parameters<WalthamClient['bind']>[0] & { spec: { name: string } }): T => {
    const g = globals.find((x) => x.interface === ctor.spec.name);
    if (g === undefined) throw new Error(`no ${ctor.spec.name} global`);
    return client.bind(ctor, g.name, g.version) as unknown as T;
  };
}
