/**
 * The `wth_display` and `wthp_registry` logic of both sides.
 *
 * Client (`WalthamClient`): `sync()`/`roundtrip()` on `wthp_callback.done`,
 * the registry's globals, `bind()`, and the optional version handshake.
 * `client_version` is sent only when asked: the reference server answers it
 * with a fatal error (vectors README 5).
 *
 * Server (`WalthamPeer`, one per connected client, sharing a `WalthamGlobals`):
 * answers `sync` with `callback.done(serial)` then `delete_id`, `get_registry`
 * with one `global` per global, `client_version` with `server_version`, and
 * checks every `bind` (name, interface, version) before creating the resource.
 */
import type { Duplex } from 'node:stream';
import { ConnectionClosedError } from '../wire/errors.js';
import type { Resource, WireObject, WireObjectClass } from '../wire/object.js';
import type { UntypedNewId } from '../wire/protocol.js';
import {
  WthDisplayProxy,
  WthDisplayError,
  WthDisplayResource,
  WthpCallbackProxy,
  WthpRegistryProxy,
  type WthpCallbackResource,
  type WthpRegistryResource,
} from '../generated/waltham/waltham.js';
import { WalthamConnection, type WalthamConnectionOptions } from './connection.js';

/** A global as the registry announces it. */
export interface GlobalInfo {
  readonly name: number;
  readonly interface: string;
  readonly version: number;
}

// ---- Client ---------------------------------------------------------------------------------

export interface WalthamClientOptions extends WalthamConnectionOptions {
  /**
   * Send `wth_display.client_version` and wait for `server_version` before the
   * connection is handed out (connectWaltham). Off by default: the reference
   * server treats `client_version` as a fatal error.
   */
  readonly negotiateVersion?: boolean;
  /** Version we announce in `client_version`; default: the table's wth_display version. */
  readonly clientVersion?: number;
}

export class WalthamClient extends WalthamConnection {
  declare readonly display: WthDisplayProxy;
  /** What we announce in `client_version`. */
  readonly clientVersion: number;
  /** The server's `server_version`, once received. */
  serverVersion: number | undefined;
  /** min(client, server) after negotiateVersion(); undefined before. */
  negotiatedVersion: number | undefined;

  private registry: WthpRegistryProxy | undefined;
  private readonly globalMap = new Map<number, GlobalInfo>();
  private readonly pending = new Set<(reason: Error) => void>();

  constructor(stream: Duplex, options: WalthamClientOptions = {}) {
    super(stream, 'client', options);
    if (!(this.display instanceof WthDisplayProxy)) throw new Error('the client class table must map wth_display to WthDisplayProxy');
    this.clientVersion = options.clientVersion ?? this.display.version;
    this.display.listen({
      serverVersion: (version) => {
        this.serverVersion = version;
      },
    });
    this.once('close', (reason) => {
      const err = reason ?? new ConnectionClosedError('connection closed');
      for (const fail of this.pending) fail(err);
      this.pending.clear();
    });
  }

  /**
   * `wth_display.sync`: resolves with the `callback_data` of `wthp_callback.done`
   * (0 from the reference server, a serial from ours), once the server has
   * handled every request sent before.
   */
  sync(): Promise<number> {
    if (!this.isOpen) return Promise.reject(this.closeReason ?? new ConnectionClosedError('connection closed'));
    const callback: WthpCallbackProxy = this.display.sync();
    return new Promise<number>((resolve, reject) => {
      const fail = (reason: Error): void => reject(reason);
      this.pending.add(fail);
      callback.listen({
        done: (data) => {
          this.pending.delete(fail);
          // wthp_callback is destroyed by its one event; the server acknowledges with delete_id.
          this.destroyObject(callback);
          resolve(data);
        },
      });
    });
  }

  /** Wait until the server has handled everything sent so far. */
  async roundtrip(): Promise<void> {
    await this.sync();
  }

  /** The registry (created on first use); its globals are collected as they are announced. */
  getRegistry(): WthpRegistryProxy {
    if (this.registry === undefined) {
      const registry = this.display.getRegistry();
      registry.listen({
        global: (name, iface, version) => {
          this.globalMap.set(name, { name, interface: iface, version });
        },
        globalRemove: (name) => {
          this.globalMap.delete(name);
        },
      });
      this.registry = registry;
    }
    return this.registry;
  }

  /** The globals the server announced, after a roundtrip (the registry is created if needed). */
  async globals(): Promise<GlobalInfo[]> {
    this.getRegistry();
    await this.roundtrip();
    return [...this.globalMap.values()];
  }

  /** A global already announced, by interface name. */
  findGlobal(interfaceName: string): GlobalInfo | undefined {
    for (const g of this.globalMap.values()) if (g.interface === interfaceName) return g;
    return undefined;
  }

  /** `wthp_registry.bind`: a new object of `ctor` bound to global `name` at `version`. */
  bind<T extends WireObject>(ctor: WireObjectClass<T>, name: number, version: number): T {
    return this.getRegistry().bind(name, ctor, version);
  }

  /**
   * Announce our version with `client_version` and wait for `server_version`.
   * Resolves with the negotiated version, min(ours, theirs); a server that
   * does not answer counts as version 1. Never call this on a reference server.
   */
  async negotiateVersion(version: number = this.clientVersion): Promise<number> {
    this.display.clientVersion(version);
    await this.roundtrip(); // our server answers client_version before the callback
    this.negotiatedVersion = Math.min(version, this.serverVersion ?? 1);
    return this.negotiatedVersion;
  }
}

// ---- Server ---------------------------------------------------------------------------------

/** Called when a client binds a global, with the new resource (version already negotiated). */
export type BindHandler<T extends Resource = Resource> = (resource: T, peer: WalthamPeer) => void;

interface GlobalEntry {
  readonly name: number;
  readonly ctor: WireObjectClass<Resource>;
  readonly version: number;
  readonly bind: BindHandler;
  removed: boolean;
}

/** The globals of a server, shared by all its peers; changes are announced to every registry. */
export class WalthamGlobals {
  private nextName = 1;
  private readonly entries = new Map<number, GlobalEntry>();
  /** Removed globals a client may still bind (it may not have seen global_remove yet). */
  private readonly removed = new Map<number, GlobalEntry>();
  private readonly peers = new Set<WalthamPeer>();

  /** Advertise a global of the resource class `ctor` at `version`; returns its name. */
  add<T extends Resource>(ctor: WireObjectClass<T>, version: number, bind: BindHandler<T>): number {
    if (!Number.isInteger(version) || version < 1 || version > ctor.spec.version) {
      throw new RangeError(`${ctor.spec.name}: version ${version} is not in 1..${ctor.spec.version}`);
    }
    const entry: GlobalEntry = { name: this.nextName++, ctor, version, bind: bind as BindHandler, removed: false };
    this.entries.set(entry.name, entry);
    for (const peer of this.peers) peer.announceGlobal(entry.name, ctor.spec.name, version);
    return entry.name;
  }

  /** Withdraw a global (`global_remove` to every registry). Returns false if there is no such global. */
  remove(name: number): boolean {
    const entry = this.entries.get(name);
    if (entry === undefined) return false;
    this.entries.delete(name);
    entry.removed = true;
    this.removed.set(name, entry);
    for (const peer of this.peers) peer.announceGlobalRemove(name);
    return true;
  }

  list(): GlobalInfo[] {
    return [...this.entries.values()].map((e) => ({ name: e.name, interface: e.ctor.spec.name, version: e.version }));
  }

  /** @internal */
  lookup(name: number): GlobalEntry | undefined {
    return this.entries.get(name) ?? this.removed.get(name);
  }

  /** @internal */
  attach(peer: WalthamPeer): void {
    this.peers.add(peer);
  }

  /** @internal */
  detach(peer: WalthamPeer): void {
    this.peers.delete(peer);
  }
}

export interface WalthamPeerOptions extends WalthamConnectionOptions {
  /** Version we answer `client_version` with; default: the table's wth_display version. */
  readonly serverVersion?: number;
  /** Who the client proved to be (certificate common name or token name); null when it proved nothing. */
  readonly identity?: string | null;
}

/** The server side of one client connection. */
export class WalthamPeer extends WalthamConnection {
  declare readonly display: WthDisplayResource;
  readonly globals: WalthamGlobals;
  readonly serverVersion: number;
  /** The client's `client_version`, if it sent one. */
  clientVersion: number | undefined;
  /** min(client, server) once the client announced its version. */
  negotiatedVersion: number | undefined;
  /** Who the client proved to be (certificate common name or token name); null when it proved nothing. */
  readonly identity: string | null;

  /** When the client last sent wth_display.sync (ms, Date.now()); undefined before its first. */
  get lastSync(): number | undefined {
    const at = this.serialCell[1]!;
    return at === 0 ? undefined : at;
  }

  private readonly registries = new Set<WthpRegistryResource>();
  /**
   * The last serial given (`nextSerial`) and when the last ping came (`lastSync`, 0 before the
   * first), in cells a native fast path shares: it answers pings too, without JavaScript.
   */
  readonly serialCell = new Float64Array(2);

  constructor(stream: Duplex, globals: WalthamGlobals, options: WalthamPeerOptions = {}) {
    super(stream, 'server', options);
    if (!(this.display instanceof WthDisplayResource)) throw new Error('the server class table must map wth_display to WthDisplayResource');
    this.globals = globals;
    this.serverVersion = options.serverVersion ?? this.display.version;
    this.identity = options.identity ?? null;
    this.display.listen({
      clientVersion: (version) => {
        this.clientVersion = version;
        this.negotiatedVersion = Math.min(version, this.serverVersion);
        this.display.sendServerVersion(this.serverVersion);
      },
      sync: (callback: WthpCallbackResource) => {
        this.serialCell[1] = Date.now();
        callback.sendDone(this.nextSerial());
        this.destroyObject(callback); // sends delete_id
      },
      getRegistry: (registry: WthpRegistryResource) => this.serveRegistry(registry),
    });
    globals.attach(this);
    this.once('close', () => globals.detach(this));
  }

  /** A serial for events (and sync callbacks): 1, 2, 3, ... modulo 2^32. */
  nextSerial(): number {
    const serial = ((this.serialCell[0]! + 1) >>> 0);
    this.serialCell[0] = serial;
    return serial;
  }

  /** @internal */
  announceGlobal(name: number, iface: string, version: number): void {
    for (const registry of this.registries) registry.sendGlobal(name, iface, version);
  }

  /** @internal */
  announceGlobalRemove(name: number): void {
    for (const registry of this.registries) registry.sendGlobalRemove(name);
  }

  private serveRegistry(registry: WthpRegistryResource): void {
    this.registries.add(registry);
    registry.onDestroy(() => this.registries.delete(registry));
    registry.listen({
      destroy: () => {},
      bind: (name, id) => this.bind(registry, name, id),
    });
    for (const g of this.globals.list()) registry.sendGlobal(g.name, g.interface, g.version);
  }

  private bind(registry: WthpRegistryResource, name: number, id: UntypedNewId): void {
    const where = `${registry.toString()}.bind`;
    const entry = this.globals.lookup(name);
    if (entry === undefined) {
      return this.postError(registry, WthDisplayError.InvalidObject, `${where}: no global named ${name}`);
    }
    const iface = entry.ctor.spec.name;
    if (id.interface !== iface) {
      return this.postError(registry, WthDisplayError.InvalidObject, `${where}: global ${name} is ${iface}, not ${id.interface}`);
    }
    if (id.version < 1 || id.version > entry.version) {
      return this.postError(
        registry,
        WthDisplayError.InvalidObject,
        `${where}: version ${id.version} of ${iface} is not available (global ${name} has version ${entry.version})`,
      );
    }
    const resource = this.adoptObject(entry.ctor, id.id, Math.min(id.version, entry.version));
    // A global removed after the client saw it: the resource exists but stays inert.
    if (!entry.removed) entry.bind(resource, this);
  }
}
