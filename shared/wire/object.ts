/**
 * The object model shared by both dialects. Generated per-interface classes
 * extend `Proxy` (the client side of an object: sends requests, receives
 * events) or `Resource` (the server side: receives requests, sends events).
 * A dialect's connection implements `ObjectConnection`: it owns the object map,
 * marshals what objects send and dispatches what arrives to their handlers.
 */
import type { Fd } from '../fd.js';
import type { InterfaceSpec, MessageSpec } from './protocol.js';

export type { Fd } from '../fd.js';

export type Role = 'client' | 'server';

/**
 * An outgoing argument as generated wrappers pass it: numbers for
 * int/uint/fixed (fixed as a double); `Fd` or a number for fds (borrowed: the
 * connection duplicates the fd when it marshals, the caller keeps and closes
 * its own); `WireObject | null` for object
 * and new_id arguments (for an untyped new_id, the object's interface name and
 * version go on the wire too); strings; `Uint8Array` for array and data.
 */
export type OutArg = number | string | null | Uint8Array | WireObject | Fd;

export interface ObjectConnection {
  readonly role: Role;
  /** Marshal one message addressed to `target` (queued; written when the socket allows). */
  sendMessage(target: WireObject, message: MessageSpec, args: readonly OutArg[]): void;
  /** Allocate an id in this side's range and register a new object of `ctor`. */
  createObject<T extends WireObject>(ctor: WireObjectClass<T>, version: number): T;
  /** Server side: report a protocol error on `target` and drop the peer once the error is written. */
  postError(target: WireObject, code: number, message: string): void;
}

export interface WireObjectClass<T extends WireObject = WireObject> {
  new (conn: ObjectConnection, id: number, version: number): T;
  readonly spec: InterfaceSpec;
  /** camelCase handler name of each incoming message, indexed like the spec's list (events for a Proxy, requests for a Resource). */
  readonly handlerNames: readonly string[];
}

export abstract class WireObject<H extends object = object> {
  /** Filled by each generated subclass. */
  static readonly spec: InterfaceSpec;
  static readonly handlerNames: readonly string[] = [];

  /** Handlers for incoming messages, by camelCase message name. */
  handlers: Partial<H> = {};
  /** Set once the object is destroyed (destructor sent or received, or the peer went away). */
  destroyed = false;
  private destroyListeners: (() => void)[] = [];

  constructor(
    readonly conn: ObjectConnection,
    readonly id: number,
    readonly version: number,
  ) {}

  get spec(): InterfaceSpec {
    return (this.constructor as WireObjectClass).spec;
  }

  /** Install handlers (merged with those already set); returns this, for chaining. */
  listen(handlers: Partial<H>): this {
    Object.assign(this.handlers, handlers);
    return this;
  }

  /** Run `fn` once when the object is destroyed, whatever the cause. */
  onDestroy(fn: () => void): void {
    if (this.destroyed) fn();
    else this.destroyListeners.push(fn);
  }

  toString(): string {
    return `${this.spec.name}@${this.id}`;
  }

  /**
   * Called by the connection with arguments already resolved to objects.
   * Returns false when no handler is installed for the message.
   * @internal
   */
  dispatch(index: number, args: readonly unknown[]): boolean {
    const name = (this.constructor as WireObjectClass).handlerNames[index];
    // Own properties only: a message named like an Object.prototype member
    // (toString, constructor, valueOf...) must never reach the built-in.
    if (name === undefined || !Object.hasOwn(this.handlers, name)) return false;
    const fn = (this.handlers as Record<string, unknown>)[name];
    if (typeof fn !== 'function') return false;
    (fn as (...a: unknown[]) => unknown).apply(this.handlers, args as unknown[]);
    return true;
  }

  /**
   * Mark destroyed and run the destroy listeners. Called by the connection.
   * @internal
   */
  markDestroyed(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const listeners = this.destroyListeners;
    this.destroyListeners = [];
    for (const fn of listeners) fn();
  }
}

/** Client side of an object. Generated subclasses add one method per request. */
export abstract class Proxy<Events extends object = object> extends WireObject<Events> {
  protected marshal(index: number, args: readonly OutArg[]): void {
    this.conn.sendMessage(this, this.spec.requests[index]!, args);
  }

  /** Create the object of a typed new_id argument of a request. */
  protected child<T extends WireObject>(ctor: WireObjectClass<T>, version = this.version): T {
    return this.conn.createObject(ctor, version);
  }
}

/** Server side of an object. Generated subclasses add one `sendX` method per event. */
export abstract class Resource<Requests extends object = object> extends WireObject<Requests> {
  protected post(index: number, args: readonly OutArg[]): void {
    this.conn.sendMessage(this, this.spec.events[index]!, args);
  }

  /** Create the object of a typed new_id argument of an event. */
  protected child<T extends WireObject>(ctor: WireObjectClass<T>, version = this.version): T {
    return this.conn.createObject(ctor, version);
  }

  /** Report a protocol error on this object; the peer is dropped. */
  postError(code: number, message: string): void {
    this.conn.postError(this, code, message);
  }
}
