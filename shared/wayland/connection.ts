/**
 * One Wayland connection over a Unix stream socket, client or server side.
 *
 * It owns the object map, marshals what objects send (queued, written when
 * the socket allows, never blocking), and reads, validates and dispatches what
 * arrives, with libwayland's checks (src/wayland-server.c,
 * wl_client_connection_data; src/connection.c, wl_connection_demarshal and
 * wl_closure_lookup_objects):
 *
 * - unknown target object          -> wl_display.error(invalid_object, "invalid object N")
 * - opcode not in the interface    -> invalid_method "invalid method N, object iface@id"
 * - message newer than the object  -> invalid_method "invalid method N (since V < S), object iface@id"
 * - malformed arguments, missing fd, null where not allowed, object argument
 *   unknown or of the wrong interface, new id out of range / in use / not the
 *   next free one -> invalid_method "invalid arguments for iface@id.message: detail"
 *
 * On the server side the error is logged, sent to the client as
 * wl_display.error, and the client is disconnected once it is written. On the
 * client side a protocol violation by the server, or wl_display.error from it,
 * closes the connection with the error.
 *
 * Ids (wayland.xml, wl_display.delete_id; libwayland src/wayland-util.c wl_map):
 * clients allocate 1.., servers 0xff000000..; freed ids are reused. A client
 * keeps a destroyed object of its own range as a zombie until the server
 * acknowledges with delete_id; messages addressed to zombies are consumed and
 * ignored, and their fds closed. The server sends delete_id for a client-range
 * object when it destroys it (after its destructor request, or on its own).
 *
 * Fds (shared/fd.ts): every received fd is an `Fd` owned by the connection's
 * queue until its message is decoded; the handler of that message gets the
 * `Fd` objects and owns them from then on (it keeps them, `take()`s them or
 * closes them). If the message is rejected, addressed to a zombie, has no
 * handler, or its handler throws, the connection closes the ones still open:
 * `close()` is idempotent, so one the handler already closed or took is left
 * alone. An fd argument of `sendMessage` (an `Fd` or a number) is borrowed: it
 * is duplicated at once, the caller keeps and closes its own, and the
 * duplicate is closed here once sendmsg has passed it to the kernel (or when
 * the message is dropped).
 */
import type { Logger } from '../log.js';
import { ConnectionClosedError, EncodeError, LimitExceededError, MalformedMessageError, ObjectError, PeerError, WireError } from '../wire/errors.js';
import type { ObjectConnection, OutArg, Role, WireObjectClass } from '../wire/object.js';
import { WireObject } from '../wire/object.js';
import { ObjectMap } from '../wire/object-map.js';
import type { MessageSpec, UntypedNewId, WireValue } from '../wire/protocol.js';
import { formatTrace, stderrSink, traceEnabled, type TraceArg, type TraceSink } from '../wire/trace.js';
import { Fd, closeAll } from '../fd.js';
import { doubleToFixed } from '../wire/fixed.js';
import { dupFd, MAX_FDS, recvMsgInto, sendMsg } from '../native.js';
import { allProxyClasses, allResourceClasses, WlDisplayError, WlDisplayProxy, WlDisplayResource } from '../generated/wayland/index.js';
import { Emitter } from './emitter.js';
import { HANGUP, NOTICE, READABLE, WRITABLE, rearmFd, unwatchFd, watchFd } from './fd-watch.js';
import { defaultLogger } from './log.js';
import { HEADER_SIZE, MAX_FDS_PER_SENDMSG, MAX_MESSAGE_SIZE, encodeMessage, parseMessage, type MessageHeader, type MessageTarget, type ParsedMessage } from './wire.js';
import { soon } from '../microtask.js';
import { KIND_FIXED, KIND_INT, KIND_OBJECT, KIND_UINT, wordLayout } from '../wire/word-layout.js';
import { probeEnd, probeStart, probing } from '../probe.js';

/** Input buffer: room for many messages per recvmsg, never less than one full message free. */
const INPUT_CAPACITY = 64 * 1024;
/** Bytes per sendmsg at most. */
const OUTPUT_BATCH = 64 * 1024;
/** The staging buffer of fixed-size messages (a new one when full). */
const STAGE_SIZE = 16 * 1024;
/** Received fds waiting for their message, at most (libwayland's fds_in ring holds 1024). */
const MAX_QUEUED_FDS = 1024;
/** recvmsg calls per readiness report before yielding to other connections. */
const READS_PER_WAKEUP = 64;
/** How long a connection that must close waits for its last messages (e.g. an error) to be written. */
const CLOSE_FLUSH_TIMEOUT_MS = 2000;

export interface WaylandConnectionOptions {
  readonly role: Role;
  /** A connected Unix stream socket. The connection owns it from now on and closes it. */
  readonly fd: number;
  /** Name in logs, e.g. "client 3 (pid 1234)". */
  readonly label?: string;
  readonly logger?: Logger;
  /**
   * Classes used for objects the peer creates (typed new_id arguments), by
   * interface name. Default: every generated Wayland protocol, Proxy classes on
   * the client side and Resource classes on the server side.
   */
  readonly classes?: Readonly<Record<string, WireObjectClass>>;
  /** Queued outgoing bytes above which the peer is considered stuck and dropped (default 4 MiB). */
  readonly maxQueuedBytes?: number;
  /** Live objects the peer may create (server side: wl_display.error no_memory past it). Default unlimited. */
  readonly maxObjects?: number;
  /**
   * WAYLAND_DEBUG-style traces: true for stderr, a sink of your own, false for
   * none. Default: on when WAYLAND_DEBUG asks for this role (1, client, server).
   */
  readonly trace?: boolean | TraceSink;
}

export interface WaylandConnectionEvents extends Record<string, unknown[]> {
  /** A protocol error: detected here (the peer broke the protocol) or reported by the server (PeerError). */
  error: [error: WireError];
  /** The connection is closed; `reason` is undefined for an orderly close (local close or peer hangup). */
  close: [reason: Error | undefined];
}

interface OutEntry {
  readonly bytes: Uint8Array;
  /** Bytes of `bytes` already written. */
  offset: number;
  /** End of the message bytes in `bytes` (the staging entry grows as messages are appended). */
  end: number;
  /** Our duplicates of the message's fds, until they are sent. */
  fds: Fd[];
}

/** Server side: the reason a client was dropped after the server posted wl_display.error to it. */
export class ErrorPostedError extends WireError {
  readonly code = 'ERR_ERROR_POSTED';
  constructor(
    readonly objectId: number,
    readonly interfaceName: string,
    readonly errorCode: number,
    readonly text: string,
  ) {
    super(`error ${errorCode} posted: ${text}`, `${interfaceName}@${objectId}`);
  }
}

function isWireObject(v: unknown): v is WireObject {
  return v instanceof WireObject;
}

export class WaylandConnection extends Emitter<WaylandConnectionEvents> implements ObjectConnection {
  readonly role: Role;
  readonly label: string;
  readonly logger: Logger;
  /** wl_display, object 1: a WlDisplayProxy on the client side, a WlDisplayResource on the server side. */
  readonly display: WlDisplayProxy | WlDisplayResource;

  private readonly socket: Fd;
  private readonly fd: number;
  private readonly classes: Readonly<Record<string, WireObjectClass>>;
  private readonly maxQueuedBytes: number;
  private readonly maxObjects: number;
  private readonly trace: TraceSink | null;
  /** Ids, reuse and zombies (destroyed objects whose ids are still reserved: see the module comment). */
  private readonly objects = new ObjectMap<WireObject>(true);
  /** Ids the server freed (delete_id) that no object holds since (see `lendFreedObject`). */
  private readonly freedByServer = new Set<number>();
  /** A first look at whole messages before they are parsed (see `setFastPath`). */
  private fastPath: ((buf: Uint8Array, start: number, end: number) => number) | null = null;
  /** What a native read of the socket left to do first (see `setNotice`). */
  private notice: (() => void) | null = null;
  /**
   * Cells shared with native paths: [0] is set when output is queued here
   * (a native path that writes to the socket without asking, a read of
   * another socket done natively, leaves the work to JavaScript while it is
   * set; a JavaScript fast path clears it once `hasQueuedOutput` is false);
   * [1] says part of a message waits in the input buffer (the socket's own
   * native reader leaves the next bytes to JavaScript then).
   */
  readonly nativeState = new Uint8Array(2);

  private inBuf = new Uint8Array(INPUT_CAPACITY);
  private inStart = 0;
  private inEnd = 0;
  private inFds: Fd[] = [];

  private outQueue: OutEntry[] = [];
  private outBytes = 0;
  /** Where fixed-size messages are written (`stageFixed`); `stageEntry`, the queue entry over it, while it is the queue's last. */
  private stage = new Uint8Array(STAGE_SIZE);
  private stageView = new DataView(this.stage.buffer);
  private stageEnd = 0;
  private stageEntry: OutEntry | null = null;
  private flushScheduled = false;

  private inCallback = false;
  /**
   * The interest the fd is watched with. The watch is persistent: it stays
   * armed through reports, so only a change of interest calls the poller
   * (most reports change nothing: one call fewer a wake-up).
   */
  private armed = READABLE;
  /** recvmsg calls so far (`reads`). */
  private readCalls = 0;
  /** No more input is processed and nothing more is queued; the fd closes once the queue is written. */
  private closing = false;
  private closeReason: Error | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private isClosed = false;

  constructor(options: WaylandConnectionOptions) {
    super();
    this.role = options.role;
    this.socket = new Fd(options.fd);
    this.fd = options.fd;
    this.label = options.label ?? `wayland ${options.role} fd ${options.fd}`;
    this.logger = options.logger ?? defaultLogger();
    this.classes = options.classes ?? (options.role === 'client' ? allProxyClasses : allResourceClasses);
    this.maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.maxObjects = options.maxObjects ?? Infinity;
    const trace = options.trace ?? traceEnabled('wayland', options.role);
    this.trace = trace === true ? stderrSink : trace === false ? null : trace;

    const displayClass = this.role === 'client' ? WlDisplayProxy : WlDisplayResource;
    this.display = new displayClass(this, 1, 1);
    this.objects.insert(1, this.display);
    watchFd(this.fd, READABLE, (events) => this.onEvents(events), true);
  }

  /** True once the socket is closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The live object with this id, if any. */
  getObject(id: number): WireObject | undefined {
    return this.objects.get(id);
  }

  /** Every live object, wl_display included. */
  liveObjects(): WireObject[] {
    return this.objects.values();
  }

  // ---- ObjectConnection -------------------------------------------------

  createObject<T extends WireObject>(ctor: WireObjectClass<T>, version: number): T {
    const id = this.objects.allocate(this.role);
    return this.insertObject(ctor, id, version);
  }

  /**
   * Register an object under an id the peer chose in an untyped new_id
   * argument (wl_registry.bind). The id was checked when the message arrived.
   */
  createObjectWithId<T extends WireObject>(ctor: WireObjectClass<T>, id: number | UntypedNewId, version: number): T {
    const raw = typeof id === 'number' ? id : id.id;
    const peerSide = this.role === 'client' ? 'server' : 'client';
    const check = this.objects.checkNewId(raw, peerSide);
    if (check !== 'ok') throw new ObjectError('ERR_BAD_NEW_ID', `new id ${raw} is ${check}`, `${ctor.spec.name}@${raw}`, raw);
    return this.insertObject(ctor, raw, version);
  }

  sendMessage(target: WireObject, message: MessageSpec, args: readonly OutArg[]): void {
    if (this.closing || this.isClosed) {
      this.discardNewObjects(message, args);
      return;
    }
    if (target.conn !== this) throw new EncodeError('the object belongs to another connection', whereOf(target, message));
    if (target.destroyed) {
      this.logger.debug({ connection: this.label }, `${whereOf(target, message)}: not sent, the object is destroyed`);
      this.discardNewObjects(message, args);
      return;
    }
    if (message.since > target.version) {
      this.discardNewObjects(message, args);
      throw new EncodeError(`needs version ${message.since}, the object has version ${target.version}`, whereOf(target, message));
    }
    if (this.trace === null && this.stageFixed(target, message, args)) {
      if (message.destructor) this.destroyAfterDestructor(target, 'sent');
      return;
    }
    this.sendGeneral(target, message, args);
  }

  /**
   * A message whose arguments all have a fixed size (int, uint, fixed, object,
   * typed new_id: most of those sent every frame), written straight into the
   * staging buffer at the end of the output queue. False, with nothing
   * written, for any other message or any argument the general path must
   * check (it throws the precise error).
   */
  private stageFixed(target: WireObject, message: MessageSpec, args: readonly OutArg[]): boolean {
    const kinds = wordLayout(message);
    if (kinds === null || args.length !== kinds.length) return false;
    const size = HEADER_SIZE + 4 * kinds.length;
    const at = this.stageRoom(size);
    const dv = this.stageView;
    let pos = at + HEADER_SIZE;
    for (let i = 0; i < kinds.length; i++, pos += 4) {
      const a = args[i];
      const kind = kinds[i]!;
      if (kind === KIND_INT) {
        if (typeof a !== 'number' || !Number.isInteger(a) || a < -0x80000000 || a > 0x7fffffff) return false;
        dv.setInt32(pos, a, true);
      } else if (kind === KIND_UINT) {
        if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a > 0xffffffff) return false;
        dv.setUint32(pos, a, true);
      } else if (kind === KIND_FIXED) {
        if (typeof a !== 'number' || !Number.isFinite(a)) return false;
        const f = doubleToFixed(a);
        if (f < -0x80000000 || f > 0x7fffffff) return false;
        dv.setInt32(pos, f, true);
      } else if (a === null || a === undefined) {
        if (!message.args[i]!.nullable) return false;
        dv.setUint32(pos, 0, true);
      } else {
        if (!(a instanceof WireObject) || a.conn !== this) return false;
        const iface = message.args[i]!.interface;
        if (kind === KIND_OBJECT && iface !== null && a.spec.name !== iface) return false;
        dv.setUint32(pos, a.id, true);
      }
    }
    dv.setUint32(at, target.id, true);
    dv.setUint32(at + 4, ((size << 16) | message.opcode) >>> 0, true);
    if (this.stageEntry === null) {
      this.stageEntry = { bytes: this.stage, offset: 0, end: 0, fds: [] };
      this.outQueue.push(this.stageEntry);
    }
    this.stageEnd += size;
    this.stageEntry.end = this.stageEnd;
    this.queued(size);
    return true;
  }

  /**
   * Where the next `size` bytes go in the staging buffer: after those of the
   * last entry of the output queue, else at the start of the buffer (reused
   * once the queue is empty, a new one otherwise).
   */
  private stageRoom(size: number): number {
    const last = this.outQueue.length > 0 ? this.outQueue[this.outQueue.length - 1] : undefined;
    if (this.stageEntry !== null && last === this.stageEntry && this.stageEnd + size <= this.stage.byteLength) return this.stageEnd;
    if (this.outQueue.length > 0) {
      // The queue may still hold the current staging buffer: start a new one.
      this.stage = new Uint8Array(STAGE_SIZE);
      this.stageView = new DataView(this.stage.buffer);
    }
    // Its entry joins the queue with the first message written (stageFixed).
    this.stageEntry = null;
    this.stageEnd = 0;
    return 0;
  }

  private sendGeneral(target: WireObject, message: MessageSpec, args: readonly OutArg[]): void {
    const where = whereOf(target, message);
    const values: WireValue[] = [];
    const traced: TraceArg[] = [];
    const dups: Fd[] = [];
    try {
      message.args.forEach((spec, i) => {
        const a = args[i];
        switch (spec.type) {
          case 'object': {
            if (a === null || a === undefined) {
              values.push(null);
              traced.push({ value: 0 });
              break;
            }
            if (!isWireObject(a) || a.conn !== this) throw new EncodeError(`argument ${spec.name} is not an object of this connection`, where);
            if (spec.interface !== null && a.spec.name !== spec.interface) {
              throw new EncodeError(`argument ${spec.name} must be a ${spec.interface}, got ${a.spec.name}`, where);
            }
            values.push(a.id);
            traced.push({ value: a.id, objectInterface: a.spec.name });
            break;
          }
          case 'new_id': {
            if (a === null || a === undefined) {
              values.push(null);
              traced.push({ value: 0 });
              break;
            }
            if (!isWireObject(a) || a.conn !== this) throw new EncodeError(`argument ${spec.name} must be the new object`, where);
            const v: WireValue = spec.interface === null ? { id: a.id, interface: a.spec.name, version: a.version } : a.id;
            values.push(v);
            traced.push({ value: v });
            break;
          }
          case 'fd': {
            // Borrowed: we send a duplicate of our own (closed once sent), the caller keeps its fd.
            if (a instanceof Fd && a.closed) throw new EncodeError(`argument ${spec.name}: ${a.toString()}`, where);
            const n = a instanceof Fd ? a.fd : a;
            if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new EncodeError(`argument ${spec.name} must be an fd`, where);
            let dup: Fd;
            try {
              dup = new Fd(dupFd(n));
            } catch (error) {
              throw new EncodeError(`argument ${spec.name}: fd ${n} cannot be duplicated: ${(error as Error).message}`, where, { cause: error });
            }
            dups.push(dup);
            values.push(dup.fd);
            traced.push({ value: dup.fd });
            break;
          }
          default:
            values.push(a as WireValue);
            traced.push({ value: a });
        }
      });
      if (dups.length > MAX_FDS_PER_SENDMSG) throw new EncodeError(`more than ${MAX_FDS_PER_SENDMSG} fds in one message`, where);
      const { bytes } = encodeMessage(target.id, message, values, where);
      this.enqueue(bytes, dups);
    } catch (error) {
      closeAll(dups);
      this.discardNewObjects(message, args);
      throw error;
    }
    if (this.trace !== null) this.trace(formatTrace(target.spec.name, target.id, message, traced, true));
    if (message.destructor) this.destroyAfterDestructor(target, 'sent');
  }

  /**
   * A message that is not sent must not leave its new objects behind: their ids
   * would never reach the peer, and the next id sent would skip ahead.
   */
  private discardNewObjects(message: MessageSpec, args: readonly OutArg[]): void {
    message.args.forEach((spec, i) => {
      const a = args[i];
      if (spec.type !== 'new_id' || !isWireObject(a) || a.conn !== this || this.objects.get(a.id) !== a) return;
      this.objects.unallocate(a.id);
      a.markDestroyed();
    });
  }

  postError(target: WireObject, code: number, message: string): void {
    if (this.role !== 'server') throw new Error('only a server posts protocol errors');
    if (this.closing || this.isClosed) return;
    this.logger.warn({ connection: this.label, object: `${target.spec.name}@${target.id}`, code }, `protocol error posted to ${this.label}: ${target.spec.name}@${target.id}: error ${code}: ${message}`);
    (this.display as WlDisplayResource).sendError(target, code, message);
    this.closeAfterFlush(new ErrorPostedError(target.id, target.spec.name, code, message));
  }

  // ---- destroying objects -----------------------------------------------

  /**
   * Destroy an object locally, without sending anything for it.
   *
   * Server side: the resource is destroyed (destroy listeners run) and, for a
   * client-created id, wl_display.delete_id is sent. Requests the client sends
   * to it before it learns of the destruction are ignored.
   *
   * Client side: like wl_proxy_destroy for an object without a destructor
   * request (wl_callback, wl_registry): events still addressed to it are ignored.
   */
  destroyObject(object: WireObject): void {
    if (object.conn !== this || object.destroyed || object === this.display) return;
    if (this.role === 'server') this.destroyResource(object, false);
    else this.retire(object);
  }

  private destroyAfterDestructor(object: WireObject, how: 'sent' | 'received'): void {
    if (this.role === 'server') this.destroyResource(object, how === 'received');
    else this.retire(object);
  }

  /** Server side: destroy, then acknowledge a client id with delete_id (libwayland's order). */
  private destroyResource(object: WireObject, byClient: boolean): void {
    if (object.destroyed) return;
    if (byClient) this.objects.release(object.id);
    else this.objects.markZombie(object.id);
    object.markDestroyed();
    if (this.objects.needsDeleteId(object.id)) (this.display as WlDisplayResource).sendDeleteId(object.id);
  }

  /** Client side: keep the id as a zombie until the server's delete_id (or its reuse of a server id). */
  private retire(object: WireObject): void {
    if (object.destroyed) return;
    this.objects.markZombie(object.id);
    object.markDestroyed();
  }

  private insertObject<T extends WireObject>(ctor: WireObjectClass<T>, id: number, version: number): T {
    const object = new ctor(this, id, version);
    this.objects.insert(id, object);
    this.freedByServer.delete(id);
    return object;
  }

  /**
   * An object of ours under an id the server has used and freed (delete_id),
   * never a new one; null when there is none. A fast path creates it on the
   * server itself later: libwayland takes a client's new id only where the
   * ids below it exist, so an id the server never saw could not be used out
   * of turn.
   */
  lendFreedObject<T extends WireObject>(ctor: WireObjectClass<T>, version: number): T | null {
    for (const id of this.freedByServer) {
      this.freedByServer.delete(id);
      if (this.objects.get(id) === undefined && !this.objects.isZombie(id)) return this.insertObject(ctor, id, version);
    }
    return null;
  }

  // ---- output -----------------------------------------------------------

  private enqueue(bytes: Uint8Array, fds: Fd[]): void {
    this.outQueue.push({ bytes, offset: 0, end: bytes.byteLength, fds });
    this.queued(bytes.byteLength);
  }

  /** `size` more bytes are in the output queue. */
  private queued(size: number): void {
    this.nativeState[0] = 1;
    this.outBytes += size;
    if (this.outBytes > this.maxQueuedBytes) {
      this.fail(new LimitExceededError('maxQueuedBytes', `${this.outBytes} bytes queued for a peer that does not read`, this.label));
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      soon(this.flushSoon);
    }
  }

  /** `flush` as the microtask `queued` schedules (one function for every turn, not one each). */
  private readonly flushSoon = (): void => this.flush();

  /** Write what is queued, as far as the socket takes it now. Normally automatic. */
  flush(): void {
    if (!probing) return this.flushQueue();
    const start = probeStart();
    this.flushQueue();
    probeEnd('wayland write', start);
  }

  private flushQueue(): void {
    this.flushScheduled = false;
    if (this.isClosed) return;
    while (this.outQueue.length > 0) {
      const parts: Uint8Array[] = [];
      const fds: number[] = [];
      let total = 0;
      let count = 0;
      for (const entry of this.outQueue) {
        const rest = entry.end - entry.offset;
        if (count > 0 && (fds.length + entry.fds.length > MAX_FDS_PER_SENDMSG || total + rest > OUTPUT_BATCH)) break;
        parts.push(entry.offset === 0 && entry.end === entry.bytes.byteLength ? entry.bytes : entry.bytes.subarray(entry.offset, entry.end));
        for (const fd of entry.fds) fds.push(fd.fd);
        total += rest;
        count++;
      }
      const data = parts.length === 1 ? parts[0]! : concatBytes(parts, total);
      let written: number;
      try {
        written = sendMsg(this.fd, data, fds);
      } catch (error) {
        this.finish(new ConnectionClosedError(`sendmsg failed: ${(error as Error).message}`, this.label, { cause: error }));
        return;
      }
      if (written < 0) break; // socket buffer full: wait until writable
      // The fds went with the first byte written: the kernel holds its own references now.
      for (let i = 0; i < count; i++) {
        const entry = this.outQueue[i]!;
        closeAll(entry.fds);
        entry.fds = [];
      }
      this.outBytes -= written;
      while (written > 0) {
        const entry = this.outQueue[0]!;
        const rest = entry.end - entry.offset;
        if (written >= rest) {
          this.outQueue.shift();
          if (entry === this.stageEntry) this.stageEntry = null;
          written -= rest;
        } else {
          entry.offset += written;
          written = 0;
        }
      }
    }
    if (this.closing && this.outQueue.length === 0) {
      this.finish(this.closeReason);
      return;
    }
    if (!this.inCallback) this.rearm();
  }

  /**
   * What to watch the socket for. Output a flush is scheduled for does not
   * count: that flush comes before the next poll and watches for room itself
   * if the socket is full (output queued while handling input would otherwise
   * cost two epoll_ctl calls, one for the interest and one to drop it).
   */
  private interest(): number {
    return (this.closing ? 0 : READABLE) | (this.outQueue.length > 0 && !this.flushScheduled ? WRITABLE : 0);
  }

  private rearm(): void {
    if (this.isClosed) return;
    const interest = this.interest();
    if (interest === this.armed) return;
    rearmFd(this.fd, interest);
    this.armed = interest;
  }

  // ---- input ------------------------------------------------------------

  private onEvents(events: number): void {
    this.inCallback = true;
    try {
      if (events & NOTICE) this.notice?.();
      if (events & WRITABLE || (this.closing && events & HANGUP)) this.flush();
      if (this.closing && events & HANGUP) this.finish(this.closeReason);
      if (!this.closing && !this.isClosed && events & (READABLE | HANGUP)) this.readAll();
    } finally {
      this.inCallback = false;
      this.rearm();
    }
  }

  private readAll(): void {
    for (let i = 0; i < READS_PER_WAKEUP; i++) {
      if (this.inStart === this.inEnd) this.inStart = this.inEnd = 0;
      if (this.inBuf.byteLength - this.inEnd < MAX_MESSAGE_SIZE) {
        this.inBuf.copyWithin(0, this.inStart, this.inEnd);
        this.inEnd -= this.inStart;
        this.inStart = 0;
        if (this.inBuf.byteLength - this.inEnd < MAX_MESSAGE_SIZE) {
          // Only a message waiting for fds that never came can hold this much back.
          this.violation(new MalformedMessageError('ERR_MISSING_FD', 'file descriptor expected, too much data queued behind the message'), null);
          return;
        }
      }
      const room = this.inBuf.byteLength - this.inEnd;
      let bytes: number;
      this.readCalls++;
      try {
        bytes = recvMsgInto(this.fd, this.inBuf, this.inEnd, receivedFds);
      } catch (error) {
        this.finish(new ConnectionClosedError(`recvmsg failed: ${(error as Error).message}`, this.label, { cause: error }));
        return;
      }
      if (bytes < 0) {
        this.processInput(true);
        return;
      }
      if (receivedFds[0] !== -1) {
        const received: Fd[] = [];
        for (let k = 0; k < MAX_FDS && receivedFds[k] !== -1; k++) received.push(new Fd(receivedFds[k]!));
        if (this.closing) closeAll(received);
        else this.inFds.push(...received);
        if (this.inFds.length > MAX_QUEUED_FDS) {
          this.violation(new MalformedMessageError('ERR_MISSING_FD', `more than ${MAX_QUEUED_FDS} fds received ahead of their messages`), null);
          return;
        }
      }
      if (bytes === 0) {
        this.processInput(true);
        if (!this.closing) this.finish(undefined);
        return;
      }
      this.inEnd += bytes;
      this.processInput(false);
      this.nativeState[1] = this.inStart !== this.inEnd ? 1 : 0;
      if (this.closing || this.isClosed) return;
      // A read that left room took what the socket had (a stream socket returns less only when it
      // has no more, or before bytes that carry fds): no second read just to see EAGAIN. The
      // poller is level-triggered, so what came meanwhile is reported again after the rearm. A
      // message still incomplete reads on (one waiting for fds fails once the socket is drained).
      if (bytes < room && this.inStart === this.inEnd) return;
    }
  }

  /**
   * Give whole messages a first look before they are parsed (the receiver's
   * steady frames, handled natively): `fn` handles those it takes at the
   * start of `buf[start, end)` (messages without fds only) and returns where
   * parsing goes on (`start`: none). Null removes it.
   */
  setFastPath(fn: ((buf: Uint8Array, start: number, end: number) => number) | null): void {
    this.fastPath = fn;
  }

  /**
   * Called first when the socket's native reader (a steady path's hook on
   * the fd) left something to do before the bytes it kept are parsed. Null
   * removes it.
   */
  setNotice(fn: (() => void) | null): void {
    this.notice = fn;
  }

  /** Messages are traced (WAYLAND_DEBUG): a fast path must leave them to this connection. */
  get traced(): boolean {
    return this.trace !== null;
  }

  /** The socket, for a fast path's own writes while nothing is queued (`hasQueuedOutput`). */
  get socketFd(): number {
    return this.fd;
  }

  /** Output waits in the queue (a fast path must not write past it). */
  get hasQueuedOutput(): boolean {
    return this.outQueue.length > 0;
  }

  /** Queue whole messages encoded elsewhere (a fast path's), after everything queued so far. */
  sendRaw(bytes: Uint8Array): void {
    if (this.isClosed || bytes.byteLength === 0) return;
    this.enqueue(bytes, []);
  }

  /** recvmsg calls so far (diagnostics). */
  get reads(): number {
    return this.readCalls;
  }

  /** Parse and dispatch every complete message. `drained`: the socket had nothing more to read. */
  private processInput(drained: boolean): void {
    while (!this.closing && !this.isClosed) {
      // Nothing left (a fast path took it all): no call for nothing.
      if (this.inStart === this.inEnd) return;
      if (this.fastPath !== null) {
        const next = this.fastPath(this.inBuf, this.inStart, this.inEnd);
        if (next !== this.inStart) {
          this.inStart = next;
          continue;
        }
      }
      const bytes = this.inBuf.subarray(this.inStart, this.inEnd);
      const result = parseMessage(bytes, this.inFds.length === 0 ? NO_FDS : this.inFds.map((fd) => fd.fd), this.lookup);
      switch (result.kind) {
        case 'need-bytes':
          return;
        case 'need-fds':
          if (!drained) return;
          this.violation(
            new MalformedMessageError(
              'ERR_MISSING_FD',
              `file descriptor expected (${result.needed} needed, ${this.inFds.length} received)`,
              `${result.interfaceName}@${result.header.objectId}.${result.message.name}`,
            ),
            result.header,
          );
          return;
        case 'error':
          if (this.role === 'client' && result.error.code === 'ERR_UNKNOWN_OBJECT' && result.header !== null) {
            // libwayland clients drop events for objects they do not know.
            this.logger.debug({ connection: this.label }, `event for unknown object ${result.header.objectId} ignored`);
            this.inStart += result.header.size;
            continue;
          }
          this.violation(result.error, result.header);
          return;
        case 'message': {
          this.inStart += result.header.size;
          const fds = result.fdCount === 0 ? [] : this.inFds.splice(0, result.fdCount);
          this.handleMessage(result, fds);
          break;
        }
      }
    }
  }

  /** Resolve a header to its target's message (zombies included, so their fds can be counted). */
  private readonly lookup = (header: MessageHeader): MessageTarget | WireError => {
    const object = this.objects.get(header.objectId) ?? this.objects.zombie(header.objectId);
    if (object === undefined) {
      return new ObjectError('ERR_UNKNOWN_OBJECT', `invalid object ${header.objectId}`, undefined, header.objectId);
    }
    const iface = object.spec;
    const list = this.role === 'server' ? iface.requests : iface.events;
    const message = list[header.opcode];
    if (message === undefined) {
      return new ObjectError('ERR_UNKNOWN_OPCODE', `invalid method ${header.opcode}, object ${iface.name}@${object.id}`, undefined, object.id);
    }
    // libwayland checks `since` on requests only; clients accept what the server sends.
    if (this.role === 'server' && message.since > object.version) {
      return new ObjectError(
        'ERR_VERSION',
        `invalid method ${header.opcode} (since ${object.version} < ${message.since}), object ${iface.name}@${object.id}`,
        undefined,
        object.id,
      );
    }
    return { interfaceName: iface.name, message };
  };

  private handleMessage(parsed: ParsedMessage, fds: Fd[]): void {
    const { header, message } = parsed;
    const target = this.objects.get(header.objectId);
    if (target === undefined) {
      // A zombie: the peer had not seen the destruction yet.
      closeAll(fds);
      return;
    }
    const isDisplayError = this.role === 'client' && target === this.display && header.opcode === 0;

    // Resolve and check every argument before creating anything. The message's name (`where`)
    // and the trace's arguments are made only for an error or a trace.
    const resolved: unknown[] = [];
    const traced: TraceArg[] | null = this.trace === null ? null : [];
    let creations: { index: number; ctor: WireObjectClass; id: number }[] | null = null;
    let failure: WireError | null = null;
    let staleArg = false;
    let fdIndex = 0;
    const specs = message.args;
    for (let i = 0; i < specs.length && failure === null; i++) {
      const spec = specs[i]!;
      const v = parsed.args[i]!;
      switch (spec.type) {
        case 'object': {
          const id = v as number;
          if (id === 0) {
            resolved.push(null);
            traced?.push({ value: 0 });
            break;
          }
          const object = this.objects.get(id);
          if (object === undefined) {
            // libwayland passes NULL for a zombie; an id that was never there is an error.
            if (!this.objects.isZombie(id) && !isDisplayError) {
              failure = new ObjectError('ERR_UNKNOWN_OBJECT', `unknown object (${id}) in argument ${spec.name}`, messageName(parsed), id);
            } else if (this.role === 'server' && !spec.nullable) {
              // A request naming an object we destroyed where one is required (a late or a
              // hostile client): nothing can act on it, so it is dropped like a request to a zombie.
              staleArg = true;
            }
            resolved.push(null);
            traced?.push({ value: id });
            break;
          }
          if (spec.interface !== null && object.spec.name !== spec.interface) {
            failure = new ObjectError('ERR_WRONG_INTERFACE', `argument ${spec.name}: object ${object.spec.name}@${id} is not a ${spec.interface}`, messageName(parsed), id);
            break;
          }
          resolved.push(object);
          traced?.push({ value: id, objectInterface: object.spec.name });
          break;
        }
        case 'new_id': {
          const id = typeof v === 'number' ? v : (v as UntypedNewId).id;
          if (typeof v === 'number' && id === 0) {
            resolved.push(null);
            traced?.push({ value: 0 });
            break;
          }
          const check = this.objects.checkNewId(id, this.role === 'client' ? 'server' : 'client');
          if (check !== 'ok' || (creations !== null && creations.some((c) => c.id === id))) {
            failure = new ObjectError('ERR_BAD_NEW_ID', `invalid new id ${id} (${check === 'ok' ? 'in-use' : check})`, messageName(parsed), id);
            break;
          }
          if (spec.interface !== null) {
            const ctor = this.classes[spec.interface];
            if (ctor === undefined) {
              failure = new ObjectError('ERR_UNKNOWN_INTERFACE', `no implementation of interface ${spec.interface}`, messageName(parsed), id);
              break;
            }
            (creations ??= []).push({ index: i, ctor, id });
          }
          resolved.push(v);
          traced?.push({ value: v });
          break;
        }
        case 'fd':
          // The handler gets the owned Fd (the parser counted exactly fdCount of them).
          resolved.push(fds[fdIndex++]);
          traced?.push({ value: v });
          break;
        default:
          resolved.push(v);
          traced?.push({ value: v });
      }
    }
    if (failure === null && creations !== null && this.objects.liveCount + creations.length > this.maxObjects) {
      // Named by its weston.ini key ([transmitter] max-objects), as the other limits of an application are.
      failure = new LimitExceededError('maxObjects', `limit max-objects: more than ${this.maxObjects} objects`, messageName(parsed));
    }
    if (failure !== null) {
      closeAll(fds);
      this.violation(failure, header, messageName(parsed));
      return;
    }
    if (creations !== null) for (const c of creations) resolved[c.index] = this.insertObject(c.ctor, c.id, target.version);
    if (staleArg) {
      // Objects it creates exist (the client numbers its next ones after them) but stay inert.
      closeAll(fds);
      this.logger.debug({ connection: this.label }, `${messageName(parsed)}: names an object already destroyed, request ignored`);
      return;
    }

    if (this.trace !== null && traced !== null) this.trace(formatTrace(parsed.interfaceName, header.objectId, message, traced, false));

    if (this.role === 'client' && target === this.display) {
      if (header.opcode === 1) this.handleDeleteId(resolved[0] as number);
    }

    let handled: boolean;
    try {
      handled = target.dispatch(header.opcode, resolved);
    } catch (error) {
      // Ones the handler already closed or took are left alone (close is idempotent).
      this.closeReceived(fds, messageName(parsed));
      this.handlerFailed(messageName(parsed), error);
      return;
    }
    if (!handled) {
      closeAll(fds);
      if (this.role === 'server' && !message.destructor) {
        this.logger.debug({ connection: this.label }, `${messageName(parsed)}: no handler, request ignored`);
      }
    }
    if (isDisplayError) {
      const objectId = parsed.args[0] as number;
      const object = (resolved[0] as WireObject | null) ?? this.objects.zombie(objectId);
      const peer = new PeerError(objectId, object?.spec.name ?? '[unknown]', resolved[1] as number, resolved[2] as string);
      this.logger.warn({ connection: this.label }, `${this.label}: error from the compositor: ${peer.message}`);
      this.emit('error', peer);
      this.finish(peer);
      return;
    }
    if (message.destructor && !target.destroyed) this.destroyAfterDestructor(target, 'received');
  }

  /**
   * Close the fds of a message whose handler threw, the ones it did not close
   * or take. One closed behind its Fd's back (EBADF) is a bug of the handler: logged.
   */
  private closeReceived(fds: Fd[], where: string): void {
    try {
      closeAll(fds);
    } catch (error) {
      this.logger.error({ connection: this.label, err: error }, `${where}: ${(error as Error).message}`);
    }
  }

  /** Client side: the server acknowledged the destruction of one of our ids. */
  private handleDeleteId(id: number): void {
    if (this.objects.acknowledge(id)) {
      this.freedByServer.add(id);
      return;
    }
    const live = this.objects.get(id);
    if (live !== undefined && live !== this.display) {
      // The server destroyed it on its own: the id is free again.
      live.markDestroyed();
      this.objects.release(id);
      this.freedByServer.add(id);
    }
  }

  private handlerFailed(where: string, error: unknown): void {
    this.logger.error({ connection: this.label, err: error }, `${where}: handler threw: ${(error as Error)?.message ?? String(error)}`);
    const wrapped = new ConnectionClosedError(`handler of ${where} threw: ${(error as Error)?.message ?? String(error)}`, where, { cause: error });
    if (this.role === 'server') {
      if (!this.closing && !this.isClosed) {
        (this.display as WlDisplayResource).sendError(this.display, WlDisplayError.Implementation, `internal error handling ${where}`);
        this.closeAfterFlush(wrapped);
      }
    } else {
      this.finish(wrapped);
    }
  }

  /**
   * The peer broke the protocol. Server side: log, send wl_display.error, drop
   * the client once written. Client side: log and close.
   */
  private violation(error: WireError, header: MessageHeader | null, where?: string): void {
    closeAll(this.inFds);
    this.inFds = [];
    const code =
      error instanceof LimitExceededError ? WlDisplayError.NoMemory : error.code === 'ERR_UNKNOWN_OBJECT' && where === undefined ? WlDisplayError.InvalidObject : WlDisplayError.InvalidMethod;
    let text: string;
    if (header === null) {
      text = `malformed message: ${error.message}`;
    } else if (where !== undefined || error.where !== undefined) {
      const detail = error.where === undefined ? error.message : error.message.slice(error.where.length + 2);
      text = `invalid arguments for ${where ?? error.where}: ${detail}`;
    } else {
      text = error.message; // unknown object / opcode / version: libwayland's wording
    }
    this.logger.warn(
      { connection: this.label, code: error.code },
      `protocol error from ${this.label}: ${text}`,
    );
    this.emit('error', error);
    if (this.role === 'server') {
      if (this.closing || this.isClosed) return;
      (this.display as WlDisplayResource).sendError(this.display, code, text);
      this.closeAfterFlush(error);
    } else {
      this.finish(error);
    }
  }

  // ---- closing ------------------------------------------------------------

  /** Stop reading, write what is queued (bounded in time), then close with `reason`. */
  private closeAfterFlush(reason: Error): void {
    if (this.closing || this.isClosed) return;
    this.closing = true;
    this.closeReason = reason;
    closeAll(this.inFds);
    this.inFds = [];
    this.closeTimer = setTimeout(() => this.finish(reason), CLOSE_FLUSH_TIMEOUT_MS);
    this.closeTimer.unref();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      soon(this.flushSoon);
    }
  }

  /** Drop the peer now with `reason` (a local failure, not reported to the peer). */
  private fail(reason: WireError): void {
    this.logger.warn({ connection: this.label }, `${this.label}: ${reason.message}`);
    this.finish(reason);
  }

  /** Close the connection now. Queued messages that are not written yet are dropped. */
  close(): void {
    this.finish(undefined);
  }

  private finish(reason: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closing = true;
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    unwatchFd(this.fd);
    this.socket.close();
    closeAll(this.inFds);
    this.inFds = [];
    for (const entry of this.outQueue) closeAll(entry.fds);
    this.outQueue = [];
    this.stageEntry = null;
    this.outBytes = 0;
    this.inBuf = new Uint8Array(0);
    this.inStart = this.inEnd = 0;
    // Every object is gone with the connection: let their owners clean up.
    for (const object of this.objects.values()) {
      try {
        object.markDestroyed();
      } catch (error) {
        this.logger.error({ connection: this.label, err: error }, `destroy listener of ${object.toString()} threw`);
      }
    }
    this.emit('close', reason);
  }
}

const NO_FDS: readonly number[] = Object.freeze([]);
/** Where every connection's reads put the fds they receive (one thread: one array), taken at once. */
const receivedFds = new Int32Array(MAX_FDS);

/** A message's name in errors and logs: `interface@id.message`. */
function messageName(parsed: ParsedMessage): string {
  return `${parsed.interfaceName}@${parsed.header.objectId}.${parsed.message.name}`;
}

function whereOf(target: WireObject, message: MessageSpec): string {
  return `${target.spec.name}@${target.id}.${message.name}`;
}

function concatBytes(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}
