/**
 * Typed wire errors. Each family is one class with a stable `code`; the
 * context (`where`: `iface@id.message`) names the message that failed so logs
 * and errors sent to the peer can point at it.
 */

export type MalformedCode =
  | 'ERR_SIZE_TOO_SMALL' // declared size below the header or the arguments
  | 'ERR_SIZE_TOO_LARGE' // declared size above the dialect's limit
  | 'ERR_SIZE_UNALIGNED' // declared size not a multiple of 4 (Wayland)
  | 'ERR_TRUNCATED_ARGS' // an argument runs past the declared size
  | 'ERR_BAD_STRING' // missing NUL, embedded length past the message, null where not allowed
  | 'ERR_BAD_ARRAY'
  | 'ERR_MISSING_FD'
  | 'ERR_TRAILING_BYTES';

export type ObjectCode =
  | 'ERR_UNKNOWN_OBJECT' // target or object argument not in the map (or already destroyed)
  | 'ERR_NULL_OBJECT' // id 0 where null is not allowed
  | 'ERR_WRONG_INTERFACE' // object argument of another interface than the XML says
  | 'ERR_UNKNOWN_OPCODE' // opcode not defined (for this interface)
  | 'ERR_WRONG_DIRECTION' // a request where an event belongs, or the reverse
  | 'ERR_BAD_NEW_ID' // new id out of range, in use, or not the next expected one
  | 'ERR_UNKNOWN_INTERFACE' // untyped new_id naming an interface we do not know
  | 'ERR_VERSION'; // message newer than the object's version

export abstract class WireError extends Error {
  abstract readonly code: string;
  /** `iface@id.message` (or as much of it as is known). */
  readonly where: string | undefined;

  constructor(message: string, where?: string, options?: { cause?: unknown }) {
    super(where === undefined ? message : `${where}: ${message}`, options);
    this.where = where;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** The bytes of a message do not form a valid message. */
export class MalformedMessageError extends WireError {
  constructor(readonly code: MalformedCode, message: string, where?: string) {
    super(message, where);
  }
}

/** The message is well formed but names objects or opcodes that break the protocol's rules. */
export class ObjectError extends WireError {
  constructor(
    readonly code: ObjectCode,
    message: string,
    where?: string,
    /** Id of the object the error is reported on (the target, or the display). */
    readonly objectId?: number,
  ) {
    super(message, where);
  }
}

/** The peer reported a protocol error on one of our objects (wl_display.error / wth_display.error). */
export class PeerError extends WireError {
  readonly code = 'ERR_PEER_ERROR';
  constructor(
    readonly objectId: number,
    readonly interfaceName: string,
    readonly errorCode: number,
    readonly text: string,
  ) {
    super(`error ${errorCode}: ${text}`, `${interfaceName}@${objectId}`);
  }
}

/** We were asked to send something the wire cannot carry (too long, bad id, null where not allowed). */
export class EncodeError extends WireError {
  readonly code = 'ERR_ENCODE';
}

/** The transport failed or the peer went away. */
export class ConnectionClosedError extends WireError {
  readonly code = 'ERR_CONNECTION_CLOSED';
}

/** A per-peer limit (objects, bytes buffered, ...) was exceeded; the peer is dropped. */
/** The text of an error that a limit set by configuration stopped something with: `limit KEY: text`, KEY its setting (a weston.ini key, for the receiver). */
export function limitText(key: string, text: string): string {
  return `limit ${key}: ${text}`;
}

export class LimitExceededError extends WireError {
  readonly code = 'ERR_LIMIT_EXCEEDED';
  constructor(
    /** Which limit: `maxObjects`, `maxOutgoingBytes`, ... */
    readonly limit: string,
    message: string,
    where?: string,
  ) {
    super(message, where);
  }
}
