/**
 * Waltham over TCP: a server that serves many peers at once (one bad peer is
 * dropped, the others go on) and a client connect function. Both also take an
 * existing Duplex (a Unix socket, a TLS socket) through `accept()` and
 * `openWalthamClient()`.
 *
 * Optionally secured (shared/security): mutual TLS, and a token handshake
 * before the first Waltham message. A peer that fails either is refused
 * before a WalthamPeer exists for it. Both sides turn TCP keepalive on.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { closeFd, dupFd } from '../native.js';
import type { Duplex } from 'node:stream';
import type { Resource, WireObjectClass } from '../wire/object.js';
import { WalthamClient, WalthamGlobals, WalthamPeer, type BindHandler, type WalthamClientOptions, type WalthamPeerOptions } from './display.js';
import { certificateIdentity, clientTlsOptions, describeTlsError, serverTlsOptions, type TlsCredentials } from '../security/tls.js';
import { TokenClientHandshake, TokenRefused, TokenServerHandshake, walthamError, type Token, type TokenResult } from '../security/token.js';
import { probeAfterMicrotasks, probeStart, probing } from '../probe.js';

/** What a peer must prove before it is served. */
export interface ServerSecurity {
  /** Mutual TLS: the peer must present a certificate signed by `ca`. */
  readonly tls?: TlsCredentials;
  /** The peer must prove one of these tokens. */
  readonly tokens?: readonly Token[];
}

/** What we prove to the server. */
export interface ClientSecurity {
  readonly tls?: TlsCredentials;
  readonly token?: Token;
}

/** TCP keepalive: probes start after this long without traffic (then 1 s apart, Node's default). */
export const KEEPALIVE_MS = 1000;
/** Longest time a peer may take over the TLS handshake, and over the token handshake. */
export const TOKEN_HANDSHAKE_MS = 5000;

export interface WalthamServerOptions extends WalthamPeerOptions {
  readonly security?: ServerSecurity;
}

export interface WalthamServerCloseOptions {
  /** How long each peer may take to close its side once ours is ended; then its connection is destroyed. */
  readonly graceMs?: number;
}

export interface WalthamServerEvents {
  /** A client connected; the peer is ready (globals are served by the server). */
  peer: [peer: WalthamPeer];
  /** A client failed TLS or the token handshake (already logged); no peer was made for it. */
  refused: [address: string, reason: string];
  /** The listening socket failed after listen() resolved. */
  error: [err: Error];
}

export class WalthamServer extends EventEmitter<WalthamServerEvents> {
  readonly globals = new WalthamGlobals();
  private readonly server: net.Server;
  private readonly peerSet = new Set<WalthamPeer>();
  /** Connections still proving who they are. */
  private readonly gates = new Set<Duplex>();
  private closing = false;
  private readonly tokens: readonly Token[] | null;

  constructor(private readonly options: WalthamServerOptions = {}) {
    super();
    const { security } = options;
    this.tokens = security?.tokens !== undefined && security.tokens.length > 0 ? security.tokens : null;
    if (security?.tls !== undefined) {
      // TLS sockets read through the normal data path.
      // Not half-open: a TLS peer that gives up during the handshake must not leave its socket behind.
      const server = tls.createServer({ ...serverTlsOptions(security.tls), handshakeTimeout: TOKEN_HANDSHAKE_MS }, (socket) => {
        settled.add(parentOf(socket));
        if (this.closing) return void socket.destroy();
        if (!socket.authorized) {
          // Verified here rather than by node:tls, which would drop the peer without a word.
          const err = Object.assign(new Error(String(socket.authorizationError)), { code: String(socket.authorizationError) });
          const reason = describeTlsError(err, 'receiver');
          this.refuse(describeAddress(socket), reason);
          // The channel is encrypted and the peer knows who we are: it may learn why it was refused.
          socket.end(walthamError(`refused: ${reason}`));
          this.linger(socket);
          return;
        }
        const identity = certificateIdentity(socket);
        this.gate(socket, identity, (onBytes) => socket.on('data', onBytes), (onBytes) => socket.off('data', onBytes), (peer) => void peer);
      });
      // Raw sockets whose TLS handshake ended either way; one that closes before is a peer that gave up on us.
      const settled = new WeakSet<object>();
      const parentOf = (socket: tls.TLSSocket): object => (socket as unknown as { _parent?: object })._parent ?? socket;
      server.on('connection', (socket: net.Socket) => {
        socket.setKeepAlive(true, KEEPALIVE_MS);
        const address = describeAddress(socket);
        socket.once('close', () => {
          if (!settled.has(socket) && !this.closing) {
            this.refuse(address, 'TLS: the transmitter closed the connection during the TLS handshake (does it trust our certificate? Its --tls-ca must be the CA that signed ours)');
          }
        });
      });
      server.on('tlsClientError', (err, socket) => {
        const raw = parentOf(socket);
        settled.add(raw);
        this.refuse(raw instanceof net.Socket ? describeAddress(raw) : describeAddress(socket), describeTlsError(err, 'receiver'));
        socket.destroy();
      });
      this.server = server;
    } else {
      // allowHalfOpen: a client that shuts down its side still gets the replies to what it sent.
      // pauseOnConnect: nothing is read before the socket is rewrapped for static-buffer reads.
      this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
        if (this.closing) {
          socket.destroy();
          return;
        }
        const address = describeAddress(socket);
        const reads = staticReads(socket);
        if (reads === null) {
          socket.setKeepAlive(true, KEEPALIVE_MS);
          socket.resume();
          this.gate(socket, null, (onBytes) => socket.on('data', onBytes), (onBytes) => socket.off('data', onBytes), () => undefined, address);
          return;
        }
        reads.socket.setKeepAlive(true, KEEPALIVE_MS);
        let sink: (chunk: Uint8Array) => void = () => undefined;
        this.gate(
          reads.socket,
          null,
          (onBytes) => (sink = onBytes),
          () => (sink = () => undefined),
          (peer) => {
            sink = probing ? probedReceive(peer) : (chunk) => peer.receive(chunk);
            peer.useDirectWrites(reads.fd);
          },
          address,
        );
        // After the gate chose where bytes go: what arrived meanwhile is delivered now, in order.
        reads.deliver((chunk) => sink(chunk));
      });
    }
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

  /**
   * Serve `stream` once it passed the token handshake (when the server has
   * tokens). `listen(onBytes)` / `unlisten(onBytes)` route the stream's bytes
   * to the handshake; `served(peer)` routes them to the peer afterwards.
   */
  private gate(
    stream: Duplex,
    certName: string | null,
    listen: (onBytes: (chunk: Uint8Array) => void) => void,
    unlisten: (onBytes: (chunk: Uint8Array) => void) => void,
    served: (peer: WalthamPeer) => void,
    address = describeAddress(stream),
  ): void {
    const tokens = this.tokens;
    if (tokens === null) {
      const peer = this.accept(stream, certName);
      served(peer);
      return;
    }
    this.gates.add(stream);
    const onBytes = (chunk: Uint8Array): void => handshake.feed(chunk);
    const onEnd = (): void => handshake.ended();
    // Errors during the handshake (a reset) end it like a close; never unhandled.
    const onError = (): void => handshake.ended();
    const timer = setTimeout(() => handshake.timedOut(TOKEN_HANDSHAKE_MS), TOKEN_HANDSHAKE_MS);
    timer.unref();
    const handshake = new TokenServerHandshake(
      tokens,
      (bytes) => void stream.write(bytes),
      (err: TokenRefused | null, result: TokenResult | null) => {
        clearTimeout(timer);
        unlisten(onBytes);
        stream.off('end', onEnd);
        stream.off('close', onEnd);
        stream.off('error', onError);
        this.gates.delete(stream);
        if (err !== null || result === null || this.closing) {
          this.refuse(address, err?.message ?? 'the server is closing');
          stream.end();
          this.linger(stream);
          return;
        }
        const peer = this.accept(stream, certName ?? result.name);
        served(peer);
        if (result.rest.length > 0) peer.receive(result.rest);
      },
    );
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', onError);
    listen(onBytes);
  }

  /** A refused stream, ended: it has a second to take our last words, and close() does not wait for it. */
  private linger(stream: Duplex): void {
    this.gates.add(stream);
    stream.on('error', () => undefined); // a reset while our last words go out: nothing more to say
    const timer = setTimeout(() => stream.destroy(), 1000);
    timer.unref();
    stream.once('close', () => {
      clearTimeout(timer);
      this.gates.delete(stream);
    });
  }

  private refuse(address: string, reason: string): void {
    this.options.logger?.warn({ peer: address }, `transmitter ${address} refused: ${reason}`);
    this.emit('refused', address, reason);
  }

  /** Serve a connection that arrived some other way (Unix socket, TLS); `identity`: who the peer proved to be. */
  accept(stream: Duplex, identity: string | null = null): WalthamPeer {
    const label = identity === null ? undefined : `${identity}@${describeAddress(stream)}`;
    const peer = new WalthamPeer(stream, this.globals, { ...this.options, identity, ...(label !== undefined && this.options.label === undefined ? { label } : {}) });
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
    for (const stream of this.gates) stream.destroy();
    this.gates.clear();
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all([...this.peerSet].map((peer) => peer.close(options.graceMs)));
    await stopped;
  }
}

export interface ConnectWalthamOptions extends WalthamClientOptions {
  /** Aborting it abandons the connect while it is under way (the promise rejects with the abort reason). */
  readonly signal?: AbortSignal;
  /** TLS and the token to prove. */
  readonly security?: ClientSecurity;
  /** Longest wait for the TCP connection itself (ms; TLS and the token handshake not included). Default: none. */
  readonly tcpTimeoutMs?: number;
}

/** Connect to a Waltham server over TCP (and TLS, and the token handshake, when `security` asks). */
export async function connectWaltham(host: string, port: number, options: ConnectWalthamOptions = {}): Promise<WalthamClient> {
  const { signal, security, tcpTimeoutMs, ...clientOptions } = options;
  signal?.throwIfAborted();
  // Plain TCP reads go into the shared static buffer and straight to the client; TLS uses the data path.
  const reads = security?.tls === undefined ? staticReader() : null;
  const socket =
    security?.tls === undefined
      ? net.connect({ host, port, noDelay: true, allowHalfOpen: true, onread: reads!.onread })
      : tls.connect({ host, port, ...clientTlsOptions(security.tls, host) });
  socket.setKeepAlive(true, KEEPALIVE_MS);
  await new Promise<void>((resolve, reject) => {
    const timer = tcpTimeoutMs === undefined ? undefined : setTimeout(() => fail(new Error(`no TCP connection within ${tcpTimeoutMs} ms`)), tcpTimeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      // A TLS failure gets words that say what to fix; the code stays for callers.
      fail(security?.tls !== undefined && !/^E[A-Z]+$/.test(code) ? Object.assign(new Error(describeTlsError(err, 'transmitter')), { code, cause: err }) : err);
    };
    const onAbort = (): void => {
      const reason: unknown = signal?.reason;
      fail(reason instanceof Error ? reason : new Error('the connect was aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => clearTimeout(timer));
    socket.once(security?.tls === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
  let sink: (chunk: Uint8Array) => void = () => undefined;
  const onData = (chunk: Uint8Array): void => sink(chunk);
  if (reads !== null) reads.deliver(onData);
  else socket.on('data', onData);
  let rest: Uint8Array = new Uint8Array(0);
  if (security?.token !== undefined) {
    const token = security.token;
    try {
      rest = await new Promise<Uint8Array>((resolve, reject) => {
        const onEnd = (): void => handshake.ended();
        const onError = (err: Error): void =>
          reject(security.tls !== undefined && !/^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code ?? '') ? new Error(describeTlsError(err, 'transmitter'), { cause: err }) : err);
        const onAbort = (): void => reject(signal?.reason instanceof Error ? signal.reason : new Error('the connect was aborted'));
        const cleanup = (): void => {
          socket.off('end', onEnd);
          socket.off('close', onEnd);
          socket.off('error', onError);
          signal?.removeEventListener('abort', onAbort);
        };
        const handshake = new TokenClientHandshake(
          token,
          (bytes) => void socket.write(bytes),
          (err, result) => {
            cleanup();
            if (err !== null || result === null) reject(err ?? new TokenRefused('token handshake failed'));
            else resolve(result.rest);
          },
        );
        sink = (chunk) => handshake.feed(chunk);
        socket.on('end', onEnd);
        socket.on('close', onEnd);
        socket.on('error', onError);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }
  if (reads === null) socket.off('data', onData);
  const client = new WalthamClient(socket, clientOptions);
  const fd = reads === null ? -1 : socketFd(socket as net.Socket);
  if (fd >= 0) client.useDirectWrites(fd);
  sink = probing ? probedReceive(client) : (chunk) => client.receive(chunk);
  if (rest.length > 0) client.receive(rest);
  return negotiated(client, clientOptions);
}

/** `ADDRESS:PORT` of a socket's peer, for logs. */
function describeAddress(stream: Duplex): string {
  if (stream instanceof net.Socket && stream.remoteAddress !== undefined) return `${stream.remoteAddress}:${stream.remotePort ?? '?'}`;
  return 'stream';
}

/**
 * The client side of a Waltham connection over an already connected stream
 * (a Unix socket, a TLS socket). With `negotiateVersion`, resolves once the
 * versions are negotiated.
 */
export async function openWalthamClient(stream: Duplex, options: WalthamClientOptions = {}): Promise<WalthamClient> {
  return negotiated(new WalthamClient(stream, options), options);
}

/** `connection.receive`, timed as a Waltham wake-up (WALTHAM_PROBE, shared/probe.ts). */
function probedReceive(connection: { receive(chunk: Uint8Array): void }): (chunk: Uint8Array) => void {
  return (chunk) => {
    const start = probeStart();
    connection.receive(chunk);
    probeAfterMicrotasks('waltham wake', start);
  };
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
  const fd = socketFd(socket);
  if (fd < 0) return null;
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

/** The fd of a connected socket (libuv's, which Node does not expose), or -1. */
export function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
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
