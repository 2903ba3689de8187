/**
 * Waltham over TCP: a server that serves many peers at once (one bad peer is
 * dropped, the others go on) and a client connect function. Both also take an
 * existing Duplex (a Unix socket, a TLS socket) through `accept()` and
 * `openWalthamClient()`.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { closeFd, dupFd } from '../native.js';
import type { Duplex } from 'node:stream';
import type { Resource, WireObjectClass } from '../wire/object.js';
import { WalthamClient, WalthamGlobals, WalthamPeer, type BindHandler, type WalthamClientOptions, type WalthamPeerOptions } from './display.js';

export type WalthamServerOptions = WalthamPeerOptions;

export interface WalthamServerCloseOptions {
  /** How long each peer may take to close its side once ours is ended; then its connection is destroyed. */
  readonly graceMs?: number;
}

export interface WalthamServerEvents {
  /** A client connected; the peer is ready (globals are served by the server). */
  peer: [peer: WalthamPeer];
  /** The listening socket failed after listen() resolved. */
  error: [err: Error];
}

export class WalthamServer extends EventEmitter<WalthamServerEvents> {
  readonly globals = new WalthamGlobals();
  private readonly server: net.Server;
  private readonly peerSet = new Set<WalthamPeer>();
  private closing = false;

  constructor(private readonly options: WalthamServerOptions = {}) {
    super();
    // allowHalfOpen: a client that shuts down its side still gets the replies to what it sent.
    // pauseOnConnect: nothing is read before the socket is rewrapped for static-buffer reads.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      const reads = staticReads(socket);
      if (reads === null) {
        socket.resume();
        this.accept(socket);
        return;
      }
      const peer = this.accept(reads.socket);
      reads.deliver((chunk) => peer.receive(chunk));
      peer.useDirectWrites(reads.fd);
    });
    this.server.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** Listen on `host:port` (port 0: an ephemeral port); resolves with the bound address. */
  listen(port = 0, host = '127.0.0.1'): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** The bound address, once listening. */
  address(): net.AddressInfo | null {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address : null;
  }

  /** Serve a connection that arrived some other way (Unix socket, TLS). */
  accept(stream: Duplex): WalthamPeer {
    const peer = new WalthamPeer(stream, this.globals, this.options);
    this.peerSet.add(peer);
    peer.once('close', () => this.peerSet.delete(peer));
    try {
      this.emit('peer', peer);
    } catch (err) {
      peer.logger.error({ peer: peer.label, err }, 'a peer listener threw');
    }
    return peer;
  }

  get peers(): ReadonlySet<WalthamPeer> {
    return this.peerSet;
  }

  /** Advertise a global to every peer, present and future; returns its name. */
  addGlobal<T extends Resource>(ctor: WireObjectClass<T>, version: number, bind: BindHandler<T>): number {
    return this.globals.add(ctor, version, bind);
  }

  removeGlobal(name: number): boolean {
    return this.globals.remove(name);
  }

  /**
   * Stop listening and close every peer in order. Each peer gets what is
   * queued for it and then has `graceMs` (default: the `closeTimeoutMs`
   * option, 5 s) to close its side before its connection is destroyed; a
   * command that is shutting down passes a short grace.
   */
  async close(options: WalthamServerCloseOptions = {}): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.peerSet].map((peer) => peer.close(options.graceMs)));
    await stopped;
  }
}

export interface ConnectWalthamOptions extends WalthamClientOptions {
  /** Aborting it abandons the connect while it is under way (the promise rejects with the abort reason). */
  readonly signal?: AbortSignal;
}

/** Connect to a Waltham server over TCP. */
export async function connectWaltham(host: string, port: number, options: ConnectWalthamOptions = {}): Promise<WalthamClient> {
  const { signal, ...clientOptions } = options;
  signal?.throwIfAborted();
  // Reads go into the shared static buffer and straight to the client.
  const reads = staticReader();
  const socket = net.connect({ host, port, noDelay: true, allowHalfOpen: true, onread: reads.onread });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = (): void => {
      socket.destroy();
      const reason: unknown = signal?.reason;
      onError(reason instanceof Error ? reason : new Error('the connect was aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
  const client = new WalthamClient(socket, clientOptions);
  reads.deliver((chunk) => client.receive(chunk));
  return negotiated(client, clientOptions);
}

/**
 * The client side of a Waltham connection over an already connected stream
 * (a Unix socket, a TLS socket). With `negotiateVersion`, resolves once the
 * versions are negotiated.
 */
export async function openWalthamClient(stream: Duplex, options: WalthamClientOptions = {}): Promise<WalthamClient> {
  return negotiated(new WalthamClient(stream, options), options);
}

/** `client`, once its versions are negotiated when `options` asks for it. */
async function negotiated(client: WalthamClient, options: WalthamClientOptions): Promise<WalthamClient> {
  if (options.negotiateVersion === true) {
    try {
      await client.negotiateVersion();
    } catch (err) {
      client.destroy();
      throw err;
    }
  }
  return client;
}

/**
 * One read buffer for every TCP connection. Each read is handled before
 * the next one starts (what is left of an unfinished message is copied out),
 * so the buffer is free again when the next read fills it: no allocation and
 * no stream machinery per read, and reads of up to 1 MiB at once.
 */
const READ_BUFFER = Buffer.allocUnsafe(1 << 20);

/**
 * An accepted TCP socket rewrapped so that reads go into READ_BUFFER and to
 * `deliver`'s callback (net.Socket's `onread`, which Node offers only to
 * sockets it does not accept itself): the connection is taken over through a
 * duplicate of its fd. Null when the socket has no fd to take over (the
 * caller keeps it as it is).
 */
function staticReads(socket: net.Socket): { socket: net.Socket; fd: number; deliver(to: (chunk: Uint8Array) => void): void } | null {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return null;
  let copy: number;
  try {
    copy = dupFd(fd);
  } catch {
    return null;
  }
  const reads = staticReader();
  let fast: net.Socket;
  try {
    // `onread` is taken by the constructor (Node >= 12); @types/node lists it for connect() only.
    const options: net.SocketConstructorOpts & { onread: net.OnReadOpts } = { fd: copy, readable: true, writable: true, allowHalfOpen: true, onread: reads.onread };
    fast = new net.Socket(options);
  } catch {
    closeFd(copy);
    return null;
  }
  // Only our duplicate stays open: closing the original fd does not end the connection.
  socket.destroy();
  return { socket: fast, fd: copy, deliver: reads.deliver };
}

/**
 * `onread` options reading into READ_BUFFER, and where the chunks go: what
 * arrives before `deliver` is called (the connection does not exist yet) is
 * kept, in order.
 */
function staticReader(): { onread: net.OnReadOpts; deliver(to: (chunk: Uint8Array) => void): void } {
  let sink: ((chunk: Uint8Array) => void) | null = null;
  const early: Uint8Array[] = [];
  return {
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Uint8Array): boolean => {
        if (sink !== null) sink(buf.subarray(0, n));
        else early.push(buf.slice(0, n));
        return true;
      },
    },
    deliver(to) {
      sink = to;
      for (const chunk of early.splice(0)) to(chunk);
    },
  };
}
