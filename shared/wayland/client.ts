/**
 * The client side: a connection to a Wayland compositor, found the way
 * libwayland's wl_display_connect finds it (src/wayland-client.c):
 *
 * 1. `WAYLAND_SOCKET` set: it is the number of an inherited, already connected
 *    socket; it is used as is, the name is ignored, and the variable is removed
 *    from the environment so that children do not inherit it.
 * 2. Otherwise the name: the argument, else `$WAYLAND_DISPLAY`, else `wayland-0`.
 *    An absolute path is used as is; a relative name is looked up in
 *    `$XDG_RUNTIME_DIR`, which must then be set (to an absolute path).
 */
import type { Logger } from '../log.js';
import { ConnectionClosedError, type WireError } from '../wire/errors.js';
import type { WireObject, WireObjectClass } from '../wire/object.js';
import type { TraceSink } from '../wire/trace.js';
import { fdSize, unixConnect } from '../native.js';
import { WlDisplayProxy, WlRegistryProxy } from '../generated/wayland/index.js';
import { WaylandConnection } from './connection.js';
import { Emitter } from './emitter.js';

/** A global as the registry announced it. */
export interface Global {
  /** The numeric name to bind. */
  readonly name: number;
  readonly interface: string;
  readonly version: number;
}

export interface WaylandClientOptions {
  /** Environment to read WAYLAND_SOCKET, WAYLAND_DISPLAY and XDG_RUNTIME_DIR from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /** See `WaylandConnectionOptions.trace` (default: WAYLAND_DEBUG=1|client). */
  readonly trace?: boolean | TraceSink;
  /** Classes for objects the compositor creates; default every generated Wayland Proxy class. */
  readonly classes?: Readonly<Record<string, WireObjectClass>>;
  /** Label in logs (default: the socket path). */
  readonly label?: string;
}

/** Finding or connecting to the compositor failed. `code` is an errno name (ENOENT, ECONNREFUSED, EBADF, ENAMETOOLONG...). */
export class WaylandConnectError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The socket path tried, when there was one. */
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  override get name(): string {
    return 'WaylandConnectError';
  }
}

/** sockaddr_un.sun_path holds 108 bytes, the NUL included. */
const SUN_PATH_MAX = 108;

/** Where `connect(name)` goes: an inherited fd (WAYLAND_SOCKET) or a socket path. */
export type DisplayTarget = { readonly kind: 'fd'; readonly fd: number } | { readonly kind: 'path'; readonly path: string };

/**
 * Apply libwayland's rules to find the compositor. Reads (and, for
 * WAYLAND_SOCKET, deletes) variables of `env`. Throws WaylandConnectError.
 */
export function resolveDisplay(name: string | undefined, env: NodeJS.ProcessEnv = process.env): DisplayTarget {
  const socket = env['WAYLAND_SOCKET'];
  if (socket !== undefined) {
    if (!/^[0-9]+$/.test(socket) || !Number.isSafeInteger(Number(socket))) {
      throw new WaylandConnectError('EINVAL', `WAYLAND_SOCKET is not an fd number: ${JSON.stringify(socket)}`);
    }
    delete env['WAYLAND_SOCKET'];
    return { kind: 'fd', fd: Number(socket) };
  }
  const display = name ?? env['WAYLAND_DISPLAY'] ?? 'wayland-0';
  let path: string;
  if (display.startsWith('/')) path = display;
  else {
    const runtime = env['XDG_RUNTIME_DIR'];
    if (runtime === undefined || !runtime.startsWith('/')) {
      throw new WaylandConnectError('ENOENT', 'XDG_RUNTIME_DIR is invalid or not set in the environment');
    }
    path = `${runtime}/${display}`;
  }
  if (Buffer.byteLength(path) + 1 > SUN_PATH_MAX) {
    throw new WaylandConnectError('ENAMETOOLONG', `socket path "${path}" plus null terminator exceeds ${SUN_PATH_MAX} bytes`, path);
  }
  return { kind: 'path', path };
}

export interface WaylandClientEvents extends Record<string, unknown[]> {
  /** A protocol error: wl_display.error from the compositor (PeerError) or a violation by it. The connection closes next. */
  error: [error: WireError];
  /** The connection closed; `reason` is undefined when it was closed locally or the compositor hung up. */
  close: [reason: Error | undefined];
}

export interface RegistryEvents extends Record<string, unknown[]> {
  global: [global: Global];
  'global-remove': [global: Global];
}

/** The globals of the compositor, kept up to date from wl_registry events. */
export class Registry extends Emitter<RegistryEvents> {
  /** By numeric name. */
  readonly globals = new Map<number, Global>();

  constructor(readonly proxy: WlRegistryProxy) {
    super();
    proxy.listen({
      global: (name, iface, version) => {
        const global = { name, interface: iface, version };
        this.globals.set(name, global);
        this.emit('global', global);
      },
      globalRemove: (name) => {
        const global = this.globals.get(name);
        if (global === undefined) return;
        this.globals.delete(name);
        this.emit('global-remove', global);
      },
    });
  }

  /** The first global of this interface. */
  find(iface: string): Global | undefined {
    for (const g of this.globals.values()) if (g.interface === iface) return g;
    return undefined;
  }

  /** Every global of this interface (several wl_output, wl_seat...). */
  findAll(iface: string): Global[] {
    return [...this.globals.values()].filter((g) => g.interface === iface);
  }

  /** All globals, in announcement order. */
  list(): Global[] {
    return [...this.globals.values()];
  }

  /**
   * Bind `global` as a `ctor` object at `version` (default: the highest both
   * sides know). Throws if the interface differs or the version is above what
   * the global or the class supports.
   */
  bind<T extends WireObject>(ctor: WireObjectClass<T>, global: Global, version?: number): T {
    const v = version ?? Math.min(global.version, ctor.spec.version);
    if (global.interface !== ctor.spec.name) {
      throw new TypeError(`global ${global.name} is a ${global.interface}, not a ${ctor.spec.name}`);
    }
    if (!Number.isInteger(v) || v < 1 || v > global.version || v > ctor.spec.version) {
      throw new RangeError(`cannot bind ${global.interface} version ${v}: the compositor offers ${global.version}, we know ${ctor.spec.version}`);
    }
    return this.proxy.bind(global.name, ctor, v);
  }

  /** Bind the first global of `ctor`'s interface, or return undefined if there is none. */
  bindFirst<T extends WireObject>(ctor: WireObjectClass<T>, version?: number): T | undefined {
    const global = this.find(ctor.spec.name);
    return global === undefined ? undefined : this.bind(ctor, global, version === undefined ? undefined : Math.min(version, global.version));
  }
}

export class WaylandClient extends Emitter<WaylandClientEvents> {
  readonly connection: WaylandConnection;
  readonly display: WlDisplayProxy;
  private registryPromise: Promise<Registry> | undefined;
  private registryObject: Registry | undefined;
  private reason: Error | undefined;

  /**
   * Connect to a compositor (see the module comment for how it is found).
   * Throws WaylandConnectError when there is no compositor to connect to.
   */
  static connect(name?: string, options: WaylandClientOptions = {}): WaylandClient {
    const target = resolveDisplay(name, options.env ?? process.env);
    if (target.kind === 'fd') {
      try {
        fdSize(target.fd); // fstat: is it an open fd at all?
      } catch (error) {
        throw new WaylandConnectError('EBADF', `WAYLAND_SOCKET ${target.fd} is not an open fd`, undefined, { cause: error });
      }
      return new WaylandClient(target.fd, { label: `compositor (WAYLAND_SOCKET=${target.fd})`, ...options });
    }
    let fd: number;
    try {
      fd = unixConnect(target.path);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'EIO';
      throw new WaylandConnectError(code, `cannot connect to ${target.path}: ${(error as Error).message}`, target.path, { cause: error });
    }
    return new WaylandClient(fd, { label: `compositor ${target.path}`, ...options });
  }

  /** A client over an already connected socket (owned from now on). */
  static fromFd(fd: number, options: WaylandClientOptions = {}): WaylandClient {
    return new WaylandClient(fd, options);
  }

  private constructor(fd: number, options: WaylandClientOptions) {
    super();
    this.connection = new WaylandConnection({
      role: 'client',
      fd,
      label: options.label ?? `compositor fd ${fd}`,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.trace !== undefined ? { trace: options.trace } : {}),
      ...(options.classes !== undefined ? { classes: options.classes } : {}),
    });
    this.display = this.connection.display as WlDisplayProxy;
    this.connection.on('error', (error) => this.emit('error', error));
    this.connection.on('close', (reason) => {
      this.reason = reason;
      this.emit('close', reason);
    });
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  /** Why the connection closed (undefined while open or after an orderly close). */
  get closeReason(): Error | undefined {
    return this.reason;
  }

  /**
   * wl_display.sync and wait for its done event: every request sent before has
   * been handled and every event it caused has been dispatched. Rejects if the
   * connection closes first (with the PeerError when the compositor reported one).
   */
  roundtrip(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) {
        reject(this.reason ?? new ConnectionClosedError('the connection is closed'));
        return;
      }
      const onClose = (reason: Error | undefined): void => {
        reject(reason ?? new ConnectionClosedError('the connection closed during a roundtrip'));
      };
      this.connection.once('close', onClose);
      this.display.sync().listen({
        done: () => {
          this.connection.off('close', onClose);
          resolve();
        },
      });
    });
  }

  /**
   * The registry, after the initial burst of globals (get_registry then a
   * roundtrip). Created once per client: the compositor keeps a wl_registry
   * until the client disconnects. It stays up to date afterwards.
   */
  registry(): Promise<Registry> {
    if (this.registryPromise === undefined) {
      const registry = new Registry(this.display.getRegistry());
      this.registryObject = registry;
      this.registryPromise = this.roundtrip().then(() => registry);
    }
    return this.registryPromise;
  }

  /** Bind a global found in `registry()` (see `Registry.bind`); call `registry()` first. */
  bind<T extends WireObject>(ctor: WireObjectClass<T>, global: Global, version?: number): T {
    if (this.registryObject === undefined) throw new Error('call registry() before bind()');
    return this.registryObject.bind(ctor, global, version);
  }

  /** Close the connection (pending requests are flushed first only if the socket takes them now). */
  close(): void {
    if (this.closed) return;
    this.connection.flush();
    this.connection.close();
  }
}
