/**
 * Protocol descriptors: the data the scanner generates from XML and that each
 * dialect's wire module reads and writes messages from. Both dialects (Wayland
 * and Waltham) share these shapes; they differ only in how `opcode` is numbered
 * and how a message is framed.
 */

export type ArgType = 'int' | 'uint' | 'fixed' | 'string' | 'object' | 'new_id' | 'array' | 'fd' | 'data';

export interface ArgSpec {
  readonly name: string;
  readonly type: ArgType;
  /** Interface of an `object` or `new_id` argument; null when the XML names none (untyped). */
  readonly interface: string | null;
  /** `allow-null="true"`: object 0 or a null string is valid. */
  readonly nullable: boolean;
  /** `enum="..."` attribute, for traces and typed wrappers; the wire value is a plain int/uint. */
  readonly enum: string | null;
}

export interface MessageSpec {
  readonly name: string;
  /**
   * The opcode on the wire. Wayland: index of the message among its interface's
   * requests (or events). Waltham: the global message number (1-based, counted
   * over all requests and events of all interfaces in file order).
   */
  readonly opcode: number;
  readonly since: number;
  readonly destructor: boolean;
  readonly args: readonly ArgSpec[];
}

export interface EnumEntrySpec {
  readonly name: string;
  readonly value: number;
  readonly since: number;
}

export interface EnumSpec {
  readonly name: string;
  readonly bitfield: boolean;
  readonly since: number;
  readonly entries: readonly EnumEntrySpec[];
}

export interface InterfaceSpec {
  readonly name: string;
  readonly version: number;
  /** Client-to-server messages. */
  readonly requests: readonly MessageSpec[];
  /** Server-to-client messages. */
  readonly events: readonly MessageSpec[];
  readonly enums: readonly EnumSpec[];
}

export type Dialect = 'wayland' | 'waltham';

export interface ProtocolSpec {
  readonly name: string;
  readonly dialect: Dialect;
  readonly interfaces: readonly InterfaceSpec[];
}

/** A decoded untyped new_id (`new_id` without `interface=`, e.g. wl_registry.bind). */
export interface UntypedNewId {
  readonly id: number;
  readonly interface: string;
  readonly version: number;
}

/**
 * A decoded argument value, by type:
 * int, uint, fixed (as a double), object (id, 0 = null), new_id (id) -> number;
 * new_id without interface -> UntypedNewId; string -> string | null;
 * array, data -> Uint8Array; fd -> number (an fd now owned by the receiver).
 */
export type WireValue = number | string | null | Uint8Array | UntypedNewId;

/** Where a Waltham global opcode belongs. */
export interface OpcodeEntry {
  readonly iface: InterfaceSpec;
  readonly message: MessageSpec;
  readonly kind: 'request' | 'event';
  /** Position of the message in `iface.requests` or `iface.events`. */
  readonly index: number;
}

/** Lookup tables for one or more protocols of one dialect, built once. */
export class ProtocolTable {
  readonly interfaces = new Map<string, InterfaceSpec>();
  /** Waltham only: global opcode -> owning interface and message. */
  readonly byOpcode = new Map<number, OpcodeEntry>();

  constructor(readonly dialect: Dialect, protocols: readonly ProtocolSpec[]) {
    for (const protocol of protocols) {
      if (protocol.dialect !== dialect) {
        throw new Error(`protocol ${protocol.name} is ${protocol.dialect}, not ${dialect}`);
      }
      for (const iface of protocol.interfaces) {
        if (this.interfaces.has(iface.name)) throw new Error(`interface ${iface.name} defined twice`);
        this.interfaces.set(iface.name, iface);
        if (dialect !== 'waltham') continue;
        for (const [kind, list] of [['request', iface.requests], ['event', iface.events]] as const) {
          for (const [index, message] of list.entries()) {
            if (this.byOpcode.has(message.opcode)) {
              throw new Error(`opcode ${message.opcode} of ${iface.name}.${message.name} is already used`);
            }
            this.byOpcode.set(message.opcode, { iface, message, kind, index });
          }
        }
      }
    }
  }

  get(name: string): InterfaceSpec | undefined {
    return this.interfaces.get(name);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Used by generated code: freezes a descriptor so tables cannot change at run time. */
export function defineInterface(spec: InterfaceSpec): InterfaceSpec {
  return deepFreeze(spec);
}

/** Used by generated code. */
export function defineProtocol(spec: ProtocolSpec): ProtocolSpec {
  return deepFreeze(spec);
}
