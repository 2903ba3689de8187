/**
 * The server side: a Wayland display that clients connect to, with the core
 * objects implemented (libwayland src/wayland-server.c):
 *
 * - wl_display.sync: wl_callback.done(current serial), then the callback is
 *   destroyed (and its id released with delete_id);
 * - wl_display.get_registry: a wl_registry that announces every global the
 *   client may see, then globals added or removed later;
 * - wl_registry.bind with libwayland's checks, each a wl_display.error
 *   (invalid_object) on the registry: an unknown name ("invalid global"), an
 *   interface other than the global's, version 0 or above the advertised one.
 *
 * Sockets follow libwayland's conventions: `$XDG_RUNTIME_DIR/NAME` guarded by
 * `NAME.lock` (wl_display_add_socket), `wayland-0`..`wayland-32` for
 * `listenAuto` (wl_display_add_socket_auto).
 *
 * When a client goes away, every one of its objects is marked destroyed, so
 * destroy listeners (`resource.onDestroy`) run and compositor code can clean up.
 */
import type { Logger } from '../log.js';
import type { WireError } from '../wire/errors.js';
import type { Resource, WireObjectClass } from '../wire/object.js';
import type { TraceSink } from '../wire/trace.js';
import { UnixListener, isNativeError, type UnixListener as Listener } from '../native.js';
import { WlDisplayError, WlDisplayResource, WlRegistryResource } from '../generated/wayland/index.js';
import { WaylandConnection } from './connection.js';
import { Emitter } from './emitter.js';
import { READABLE, rearmFd, unwatchFd, watchFd } from './fd-watch.js';
import { defaultLogger } from './log.js';

export interface WaylandServerOptions {
  readonly logger?: Logger;
  /** See `WaylandConnectionOptions.trace` (default: WAYLAND_DEBUG=1|server). */
  readonly trace?: boolean | TraceSink;
  /** Classes for objects clients create; default every generated Wayland Resource class. */
  readonly classes?: Readonly<Record<string, WireObjectClass>>;
  /** Per client: queued outgoing bytes above which the client is dropped (default 4 MiB). */
  readonly maxQueuedBytes?: number;
  /** Live objects per client (WaylandConnectionOptions.maxObjects). */
  readonly maxObjects?: number;
  /** Environment for XDG_RUNTIME_DIR (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A global's handle, returned by `addGlobal`. */
export interface GlobalHandle {
  readonly name: number;
  readonly interface: string;
  readonly version: number;
  /** True after `remove()`. */
  readonly removed: boolean;
  /**
   * Withdraw the global: wl_registry.global_remove goes to every client that
   * saw it. Objects already bound stay. A bind that crosses the removal on the
   * wire still succeeds, with an object that has no handlers (as the protocol
   * asks: "requests to the object will be ignored").
   */
  remove(): void;
}

export type BindHandler<T extends Resource> = (resource: T, client: WaylandServerClient) => void;
/** Whether `client` may see and bind the global. */
export type GlobalFilter = (client: WaylandServerClient) => boolean;

interface GlobalEntry {
  readonly name: number;
  readonly ctor: WireObjectClass<Resource>;
  readonly version: number;
  readonly bind: BindHandler<Resource>;
  readonly filter: GlobalFilter | undefined;
  removed: boolean;
  /** Clients that were sent wl_registry.global for it. */
  readonly announcedTo: WeakSet<WaylandServerClient>;
}

export interface WaylandServerClientEvents extends Record<string, unknown[]> {
  /** The client is gone; its objects are destroyed. `reason` is the protocol error, if one caused it. */
  gone: [reason: Error | undefined];
}

/** One connected client, as the server sees it. */
export class WaylandServerClient extends Emitter<WaylandServerClientEvents> {
  readonly display: WlDisplayResource;
  readonly registries = new Set<WlRegistryResource>();

  constructor(
    /** Sequence number within the server, from 1. */
    readonly id: number,
    readonly connection: WaylandConnection,
  ) {
    super();
    this.display = connection.display as WlDisplayResource;
  }

  get closed(): boolean {
    return this.connection.closed;
  }

  /** A new server-created object (ids from 0xff000000), e.g. for an event's new_id. */
  createResource<T extends Resource>(ctor: WireObjectClass<T>, version: number): T {
    return this.connection.createObject(ctor, version);
  }

  /** Report a protocol error on `resource` (wl_display.error) and drop the client once it is written. */
  postError(resource: Resource, code: number, message: string): void {
    this.connection.postError(resource, code, message);
  }

  /** Destroy a resource from the server side (delete_id is sent for client-created ids). */
  destroyResource(resource: Resource): void {
    this.connection.destroyObject(resource);
  }

  /** Disconnect now. */
  disconnect(): void {
    this.connection.close();
  }

  /** @internal */
  notifyGone(reason: Error | undefined): void {
    this.emit('gone', reason);
  }

  override toString(): string {
    return this.connection.label;
  }
}

export interface WaylandServerEvents extends Record<string, unknown[]> {
  client: [client: WaylandServerClient];
  'client-gone': [client: WaylandServerClient, reason: Error | undefined];
  /** A client broke the protocol (it is being disconnected). */
  'protocol-error': [client: WaylandServerClient, error: WireError];
}

export class WaylandServer extends Emitter<WaylandServerEvents> {
  readonly logger: Logger;
  private readonly options: WaylandServerOptions;
  private readonly listeners: Listener[] = [];
  private readonly globals = new Map<number, GlobalEntry>();
  private readonly clientSet = new Set<WaylandServerClient>();
  private nextGlobalName = 1;
  private nextClientId = 1;
  private serialValue = 0;
  private isClosed = false;

  constructor(options: WaylandServerOptions = {}) {
    super();
    this.options = options;
    this.logger = options.logger ?? defaultLogger();
  }

  /** Connected clients. */
  get clients(): ReadonlySet<WaylandServerClient> {
    return this.clientSet;
  }

  /** The socket paths listened on. */
  get socketPaths(): string[] {
    return this.listeners.map((l) => l.path);
  }

  /** The last serial handed out (what wl_display.sync reports). */
  get serial(): number {
    return this.serialValue;
  }

  /** A new serial for events that carry one (wl_display_next_serial). */
  nextSerial(): number {
    this.serialValue = (this.serialValue + 1) >>> 0;
    return this.serialValue;
  }

  private socketPath(name: string): string {
    if (name.startsWith('/')) return name;
    if (name.includes('/')) throw new Error(`socket name ${JSON.stringify(name)} must be a plain name or an absolute path`);
    const runtime = (this.options.env ?? process.env)['XDG_RUNTIME_DIR'];
    if (runtime === undefined || !runtime.startsWith('/')) {
      throw new Error('XDG_RUNTIME_DIR is invalid or not set in the environment');
    }
    return `${runtime}/${name}`;
  }

  /**
   * Listen on `$XDG_RUNTIME_DIR/NAME` (or an absolute path), with `NAME.lock`.
   * Throws (code EADDRINUSE) when another compositor holds the name. Returns the path.
   */
  listen(name: string): string {
    this.checkOpen();
    const path = this.socketPath(name);
    const listener = UnixListener.bind(path);
    this.addListener(listener);
    return path;
  }

  /** Listen on the first free `wayland-N` (N from 0 to 32), like wl_display_add_socket_auto. Returns the name. */
  listenAuto(): string {
    this.checkOpen();
    for (let n = 0; n <= 32; n++) {
      const name = `wayland-${n}`;
      try {
        this.listen(name);
        return name;
      } catch (error) {
        if (isNativeError(error, 'EADDRINUSE')) continue;
        throw error;
      }
    }
    throw new Error('no free wayland-N socket name (0 to 32 are taken)');
  }

  private addListener(listener: Listener): void {
    this.listeners.push(listener);
    const fd = listener.fd;
    watchFd(fd, READABLE, () => {
      for (;;) {
        let client: number | null;
        try {
          client = listener.accept();
        } catch (error) {
          this.logger.warn({ err: error }, `accept on ${listener.path} failed: ${(error as Error).message}`);
          break;
        }
        if (client === null) break;
        this.addClientFd(client);
      }
      if (!this.isClosed && listener.fd >= 0) rearmFd(fd, READABLE);
    });
  }

  /**
   * Serve a client over an already connected socket (owned from now on), e.g.
   * one end of a socketpair whose other end an application gets as WAYLAND_SOCKET.
   */
  addClientFd(fd: number, label?: string): WaylandServerClient {
    this.checkOpen();
    const id = this.nextClientId++;
    const connection = new WaylandConnection({
      role: 'server',
      fd,
      label: label ?? `client ${id}`,
      logger: this.logger,
      ...(this.options.trace !== undefined ? { trace: this.options.trace } : {}),
      ...(this.options.classes !== undefined ? { classes: this.options.classes } : {}),
      ...(this.options.maxQueuedBytes !== undefined ? { maxQueuedBytes: this.options.maxQueuedBytes } : {}),
      ...(this.options.maxObjects !== undefined ? { maxObjects: this.options.maxObjects } : {}),
    });
    const client = new WaylandServerClient(id, connection);
    this.clientSet.add(client);
    connection.on('error', (error) => this.emit('protocol-error', client, error));
    connection.on('close', (reason) => {
      this.clientSet.delete(client);
      client.registries.clear();
      client.notifyGone(reason);
      this.emit('client-gone', client, reason);
    });
    this.implementDisplay(client);
    this.emit('client', client);
    return client;
  }

  private implementDisplay(client: WaylandServerClient): void {
    client.display.listen({
      sync: (callback) => {
        callback.sendDone(this.serialValue); // a destructor event: the callback is destroyed with it
      },
      getRegistry: (registry) => {
        client.registries.add(registry);
        registry.onDestroy(() => client.registries.delete(registry));
        registry.listen({ bind: (name, id) => this.bind(client, registry, name, id) });
        for (const global of this.globals.values()) {
          if (!global.removed && this.visible(global, client)) {
            global.announcedTo.add(client);
            registry.sendGlobal(global.name, global.ctor.spec.name, global.version);
          }
        }
      },
    });
  }

  private visible(global: GlobalEntry, client: WaylandServerClient): boolean {
    return global.filter === undefined || global.filter(client);
  }

  private bind(client: WaylandServerClient, registry: WlRegistryResource, name: number, id: { id: number; interface: string; version: number }): void {
    const global = this.globals.get(name);
    const { interface: iface, version } = id;
    if (global === undefined || !this.visible(global, client)) {
      registry.postError(WlDisplayError.InvalidObject, `invalid global ${iface} (${name})`);
      return;
    }
    const ifaceName = global.ctor.spec.name;
    if (iface !== ifaceName) {
      registry.postError(WlDisplayError.InvalidObject, `invalid interface for global ${name}: have ${iface}, wanted ${ifaceName}`);
      return;
    }
    if (version === 0) {
      registry.postError(WlDisplayError.InvalidObject, `invalid version for global ${iface} (${name}): 0 is not a valid version`);
      return;
    }
    if (version > global.version) {
      registry.postError(WlDisplayError.InvalidObject, `invalid version for global ${iface} (${name}): have ${global.version}, wanted ${version}`);
      return;
    }
    const resource = client.connection.createObjectWithId(global.ctor, id.id, version);
    if (global.removed) return; // an inert object: the global went away while the bind was on the wire
    global.bind(resource, client);
  }

  /**
   * Advertise a global implemented by `ctor` (a generated Resource class) at
   * `version`; `bind` is called with each new resource a client binds. With
   * `filter`, only the clients it accepts see and may bind the global.
   */
  addGlobal<T extends Resource>(ctor: WireObjectClass<T>, version: number, bind: BindHandler<T>, filter?: GlobalFilter): GlobalHandle {
    this.checkOpen();
    if (!Number.isInteger(version) || version < 1 || version > ctor.spec.version) {
      throw new RangeError(`${ctor.spec.name} version ${version}: must be 1 to ${ctor.spec.version}`);
    }
    const entry: GlobalEntry = {
      name: this.nextGlobalName++,
      ctor: ctor as unknown as WireObjectClass<Resource>,
      version,
      bind: bind as BindHandler<Resource>,
      filter,
      removed: false,
      announcedTo: new WeakSet(),
    };
    this.globals.set(entry.name, entry);
    for (const client of this.clientSet) {
      if (client.registries.size === 0 || !this.visible(entry, client)) continue;
      entry.announcedTo.add(client);
      for (const registry of client.registries) registry.sendGlobal(entry.name, ctor.spec.name, version);
    }
    const clients = this.clientSet;
    return {
      name: entry.name,
      interface: ctor.spec.name,
      version,
      get removed() {
        return entry.removed;
      },
      remove: () => {
        if (entry.removed) return;
        entry.removed = true;
        for (const client of clients) {
          if (!entry.announcedTo.has(client)) continue;
          for (const registry of client.registries) registry.sendGlobalRemove(entry.name);
        }
      },
    };
  }

  private checkOpen(): void {
    if (this.isClosed) throw new Error('the server is closed');
  }

  /** Stop listening (sockets and lock files are removed) and disconnect every client. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const listener of this.listeners) {
      unwatchFd(listener.fd);
      listener.close();
    }
    this.listeners.length = 0;
    for (const client of [...this.clientSet]) client.disconnect();
  }
}
