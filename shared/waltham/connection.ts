/**
 * One Waltham connection over any byte stream (TCP, Unix socket, TLS): frames
 * and validates what arrives with the codec in wire.ts, checks it against the
 * object map, and dispatches it to the objects of the class table; queues and
 * coalesces what is sent, respecting the stream's backpressure.
 *
 * The connection knows the protocol only through its descriptor tables. The
 * one interface it relies on is the core `wth_display` (id 1 on both sides),
 * through which the server reports errors and acknowledges destroyed ids.
 *
 * Every invalid input from the peer ends the same way: a log line naming
 * `iface@id.message`, `wth_display.error` sent to the peer when we are the
 * server, the queued bytes flushed, then the stream ended. Nothing thrown by
 * the parser, the checks or a handler escapes a stream event handler.
 *
 * `data` arguments reach handlers as views of the input buffer, valid while
 * the handler runs: a handler that keeps the bytes copies them.
 *
 * A handler that finishes its work later (an asynchronous decode) calls
 * `suspend()`: no further message of the peer is dispatched until the matching
 * `resume()`; what arrives meanwhile stays buffered and the stream is paused.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ConnectionClosedError,
  EncodeError,
  LimitExceededError,
  limitText,
  ObjectError,
  PeerError,
  WireError,
} from '../wire/errors.js';
import { Fd } from '../fd.js';
import { ObjectMap } from '../wire/object-map.js';
import { WireObject, type ObjectConnection, type OutArg, type Role, type WireObjectClass } from '../wire/object.js';
import type { ArgSpec, InterfaceSpec, MessageSpec, UntypedNewId, WireValue } from '../wire/protocol.js';
import { ProtocolTable } from '../wire/protocol.js';
import { formatTrace, stderrSink, traceEnabled, type TraceArg, type TraceSink } from '../wire/trace.js';
import { createLogger } from '../log.js';
import { MAX_FDS, MAX_SEND_PARTS, recvMsgInto, sendMsg, sendParts, socketLowWater } from '../native.js';
import { HANGUP, NOTICE, READABLE, rearmFd, unwatchFd, watchFd } from '../wayland/fd-watch.js';
import { protocols, allProxyClasses, allResourceClasses } from '../generated/waltham/index.js';
import { WthDisplayError } from '../generated/waltham/waltham.js';
import {
  encodeMessage,
  encodeWords,
  HEADER_SIZE,
  LITTLE_ENDIAN,
  MIN_MESSAGE_SIZE,
  parseMessage,
  type DecodedMessage,
} from './wire.js';
import { soon } from '../microtask.js';
import { probeEnd, probeStart, probing } from '../probe.js';

/** The logger interface the connection uses (pino's). */
export interface WalthamLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface WalthamConnectionOptions {
  /** Descriptor tables of the dialect; default: every generated Waltham protocol. */
  readonly table?: ProtocolTable;
  /** Class per interface name for the objects of this side; default: the generated proxies (client) or resources (server). */
  readonly classes?: Readonly<Record<string, WireObjectClass>>;
  /** Default: a pino logger named `waltham`. */
  readonly logger?: WalthamLogger;
  /** Name of the peer in logs; default: its address. */
  readonly label?: string;
  /** Most live objects the peer may have on this connection (DESIGN 8). Default 65536. */
  readonly maxObjects?: number;
  /** Most bytes queued for the peer (ours plus the stream's buffer) before it is dropped (DESIGN 8). Default 32 MiB. */
  readonly maxOutgoingBytes?: number;
  /** The setting `maxOutgoingBytes` comes from, named in the error that drops a peer (e.g. a weston.ini key). */
  readonly maxOutgoingLimit?: string;
  /**
   * Client side: destroyed ids kept until the server's `delete_id`. The
   * reference server never sends `delete_id`, so the oldest are forgotten past
   * this count. Default 4096.
   */
  readonly maxZombies?: number;
  /** Reject messages newer than their object's version (`since`). Default true. */
  readonly strictVersions?: boolean;
  /** Traces of every message (libwayland format); default: from WALTHAM_DEBUG. `true` prints to stderr. */
  readonly trace?: boolean | TraceSink;
  /** After an error or close(), how long to wait for the peer to close before destroying the stream. Default 5000 ms. */
  readonly closeTimeoutMs?: number;
  /**
   * Asked before the peer creates `count` objects (after maxObjects): null
   * lets them be created, a LimitExceededError refuses them and drops the
   * peer with wth_display.error (a budget shared by several connections).
   */
  readonly objectBudget?: (count: number) => LimitExceededError | null;
}

export const DEFAULT_MAX_OBJECTS = 65536;
export const DEFAULT_MAX_OUTGOING_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_ZOMBIES = 4096;
/** The longest error text we send (the message limit is 64 KiB; long texts help nobody). */
const MAX_ERROR_TEXT = 1024;
/** Up to this many bytes left for the stream (the socket took the rest) are copied into one buffer; more go out as a writev. */
const GATHER_BYTES = 16 * 1024;
/**
 * Outgoing messages are encoded into slabs of this size, which are reused
 * once the stream has written them: tiles are ~64 KiB each, and fresh memory
 * for every message costs page faults and zeroing.
 */
const SLAB_BYTES = 1024 * 1024;
/** Free slabs kept for reuse. */
const MAX_SPARE_SLABS = 8;
/** Where sockets read through the poller (readNatively) are read, one read at a time (an unfinished message is copied out), and room for fds the peer should not send. */
const POLLED_READS = new Uint8Array(256 * 1024);
const POLLED_FDS = new Int32Array(MAX_FDS);
/**
 * Memory a queued message takes besides its bytes: its view, and once
 * written the stream's entry for it. Measured with a peer that never reads:
 * 24-byte input events took about 13 times their size.
 */
const QUEUED_MESSAGE_OVERHEAD = 288;

let sharedTable: ProtocolTable | undefined;
/** The table of every generated Waltham protocol, built once. */
export function defaultWalthamTable(): ProtocolTable {
  sharedTable ??= new ProtocolTable('waltham', protocols);
  return sharedTable;
}

let sharedLogger: WalthamLogger | undefined;
function defaultLogger(): WalthamLogger {
  sharedLogger ??= createLogger({ name: 'waltham' });
  return sharedLogger;
}

type State = 'open' | 'closing' | 'closed';

/** A message that fails a check before dispatch: what to log, what to send, on which object. */
class Rejection {
  constructor(
    readonly error: WireError,
    readonly wireCode: number,
    readonly reportOn: number,
  ) {}
}

export interface WalthamConnectionEvents {
  /** The connection failed: a protocol error either way, a PeerError, a limit, a transport error. */
  error: [err: Error];
  /** The stream is closed; `reason` is undefined after an orderly close. */
  close: [reason: Error | undefined];
}

export class WalthamConnection extends EventEmitter<WalthamConnectionEvents> implements ObjectConnection {
  readonly role: Role;
  readonly stream: Duplex;
  readonly table: ProtocolTable;
  readonly classes: Readonly<Record<string, WireObjectClass>>;
  readonly logger: WalthamLogger;
  readonly label: string;
  /** The `wth_display` singleton, id 1 on both sides, implicit from the start. */
  readonly display: WireObject;
  /** Resolves once the stream is closed, with the reason (undefined after an orderly close). */
  readonly closed: Promise<Error | undefined>;

  private readonly displaySpec: InterfaceSpec;
  /** wth_display.delete_id, sent for every object the server side forgets. */
  private readonly deleteIdSpec: MessageSpec | undefined;
  /**
   * Ids, their policy and zombies; Waltham's reference never reuses ids, so
   * the only id the peer may use for its next new object is known exactly.
   */
  private readonly objects: ObjectMap<WireObject>;
  private readonly peerSide: Role;
  private readonly pendingUntyped = new Set<number>();
  private readonly maxObjects: number;
  private readonly maxOutgoingBytes: number;
  private readonly maxOutgoingLimit: string | undefined;
  private readonly strictVersions: boolean;
  private readonly closeTimeoutMs: number;
  private readonly traceSink: TraceSink | null;
  private readonly objectBudget: ((count: number) => LimitExceededError | null) | undefined;
  /** When the last whole message arrived (Date.now()), or the connection was made. */
  lastMessageAt = Date.now();
  /** When bytes were last read here (Date.now()), or the connection was made; a native steady path's reads are not seen. */
  lastReadAt = Date.now();
  /** Whole messages received. */
  messagesIn = 0;
  /** Messages handed to the stream in a writev and not written yet. */
  private chunksWriting = 0;
  /** Slabs of those messages. */
  private slabsWriting = 0;

  private state: State = 'open';
  private reason: Error | undefined;
  private resolveClosed!: (reason: Error | undefined) => void;
  private closeTimer: NodeJS.Timeout | undefined;
  /** When closeTimer fires (performance.now() time). */
  private closeDeadline = Infinity;

  private inBuf = Buffer.alloc(16 * 1024);
  private inStart = 0;
  private inEnd = 0;
  private needed = HEADER_SIZE;

  private outQueue: Uint8Array[] = [];
  private outBytes = 0;
  /** The slab messages are encoded into, and how much of it is used. */
  private slab: Uint8Array | null = null;
  private slabUsed = 0;
  /** Slabs holding messages of outQueue. */
  private slabsQueued: Uint8Array[] = [];
  private readonly spareSlabs: Uint8Array[] = [];
  /** The socket's fd for direct writes (useDirectWrites), or -1. */
  private directFd = -1;
  /** The socket's low-water mark as last set (`lowWater`): 1, the kernel's default; 0: the socket does not take one. */
  private lowWaterSet = 1;
  /** The fd the poller reads, not the stream (readNatively), or -1 (kept apart from directFd, which a failed write clears). */
  private polledFd = -1;
  private bytesPolled = 0;
  /** What a native read of the socket left to do first (setNotice). */
  private notice: (() => void) | null = null;
  private directBytes = 0;
  private directCalls = 0;
  /** `written` callbacks of sendEncoded for what is in outQueue. */
  private outDone: Array<() => void> = [];
  private flushScheduled = false;
  private waitingDrain = false;
  /** suspend() calls not yet resumed; input is dispatched only at 0. */
  private suspended = 0;
  /** A first look at whole messages before they are parsed (see `setFastPath`). */
  private fastPath: ((buf: Uint8Array, start: number, end: number) => number) | null = null;
  /** processInput is on the stack (a resume from a handler needs no new pass). */
  private processing = false;
  /** The peer ended its side while input was suspended. */
  private endWhileSuspended = false;

  constructor(stream: Duplex, role: Role, options: WalthamConnectionOptions = {}) {
    super();
    this.role = role;
    this.stream = stream;
    this.table = options.table ?? defaultWalthamTable();
    this.classes = options.classes ?? (role === 'client' ? allProxyClasses : allResourceClasses);
    this.logger = options.logger ?? defaultLogger();
    this.maxObjects = options.maxObjects ?? DEFAULT_MAX_OBJECTS;
    this.maxOutgoingBytes = options.maxOutgoingBytes ?? DEFAULT_MAX_OUTGOING_BYTES;
    this.maxOutgoingLimit = options.maxOutgoingLimit;
    this.objects = new ObjectMap<WireObject>(false, options.maxZombies ?? DEFAULT_MAX_ZOMBIES);
    this.strictVersions = options.strictVersions ?? true;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.objectBudget = options.objectBudget;
    const trace = options.trace ?? traceEnabled('waltham', role);
    this.traceSink = trace === true ? stderrSink : trace === false ? null : trace;
    this.label = options.label ?? describeStream(stream);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));

    const displaySpec = this.table.get('wth_display');
    const displayClass = this.classes['wth_display'];
    if (displaySpec === undefined || displayClass === undefined) {
      throw new Error('the protocol table and class table must define wth_display');
    }
    this.displaySpec = displaySpec;
    this.deleteIdSpec = displaySpec.events.find((m) => m.name === 'delete_id');
    this.display = new displayClass(this, 1, displaySpec.version);
    this.objects.insert(1, this.display);
    this.peerSide = role === 'client' ? 'server' : 'client';

    // DESIGN 3.5: Nagle plus delayed ACK costs ~40 ms per frame on a relay.
    if (stream instanceof net.Socket) stream.setNoDelay(true);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onStreamError);
    stream.on('close', this.onClose);
    if (stream.destroyed) soon(this.onClose);
  }

  /** True until an error or close() starts closing the connection. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Why the connection closed or is closing, if it failed. */
  get closeReason(): Error | undefined {
    return this.reason;
  }

  /** Live objects (the display included). */
  get objectCount(): number {
    return this.objects.liveCount;
  }

  /** The live object with this id. */
  getObject(id: number): WireObject | undefined {
    return this.objects.get(id);
  }

  /** Whether dispatch of input is suspended. */
  get isSuspended(): boolean {
    return this.suspended > 0;
  }

  /**
   * Stop dispatching the peer's messages after the one being handled, until
   * `resume()` (calls nest). The stream is paused; what was already read stays
   * buffered, in order.
   */
  suspend(): void {
    if (this.suspended++ === 0 && this.state === 'open') this.pauseReads();
  }

  /**
   * Undo one `suspend()`; the last one dispatches the buffered messages, in
   * order, from where processing stopped, and resumes the stream.
   */
  resume(): void {
    if (this.suspended === 0) return;
    if (--this.suspended > 0 || this.state !== 'open') return;
    if (this.processing) {
      // Called from a handler: the loop on the stack goes on by itself.
      this.resumeReads();
      return;
    }
    try {
      if (this.inEnd > this.inStart) this.processInput(this.inBuf, this.inStart, this.inEnd);
    } catch (err) {
      this.internalFailure(err);
      return;
    } finally {
      this.nativeState[1] = this.inEnd > this.inStart ? 1 : 0;
    }
    if (this.state !== 'open' || this.suspended > 0) return;
    if (this.endWhileSuspended) {
      this.endWhileSuspended = false;
      this.onEnd();
      return;
    }
    this.resumeReads();
  }

  /** Stop reading the socket: the stream pauses, or the poller stops watching it for input (what a native reader carried stays for later). */
  private pauseReads(): void {
    if (this.polledFd >= 0) rearmFd(this.polledFd, 0);
    else this.stream.pause();
  }

  /** Read the socket again, through whichever reads it. */
  private resumeReads(): void {
    if (this.polledFd >= 0) rearmFd(this.polledFd, READABLE);
    else this.stream.resume();
  }

  // ---- ObjectConnection -------------------------------------------------------------------

  createObject<T extends WireObject>(ctor: WireObjectClass<T>, version: number): T {
    const id = this.objects.allocate(this.role);
    const obj = new ctor(this, id, version);
    this.objects.insert(id, obj);
    return obj;
  }

  sendMessage(target: WireObject, message: MessageSpec, args: readonly OutArg[]): void {
    if (target.conn !== this) throw new EncodeError('the target object belongs to another connection', whereOf(target, message));
    if (this.state !== 'open' || target.destroyed || this.objects.get(target.id) !== target) {
      // Closed, or the object is gone (the peer destroyed it, or a callback is done): nothing to send.
      this.rollbackNewIds(message, args);
      const where = whereOf(target, message);
      this.logger.debug({ peer: this.label, where }, `${where}: not sent, ${this.state !== 'open' ? 'connection closed' : 'object destroyed'}`);
      return;
    }
    let bytes: Uint8Array;
    try {
      this.checkOutgoingObjects(message, args, target);
      bytes = encodeWords(message, target.id, args, this.allocateOut) ?? encodeMessage(message, target.id, args, target.spec.name, this.allocateOut);
    } catch (err) {
      this.rollbackNewIds(message, args);
      throw err;
    }
    if (this.traceSink !== null) {
      this.traceSink(formatTrace(target.spec.name, target.id, message, args.map((a, i) => outTraceArg(message.args[i], a)), true));
    }
    this.enqueue(bytes);
    if (message.destructor) {
      if (this.role === 'client') this.retire(target);
      else this.forget(target);
    }
  }

  /**
   * Queue messages encoded elsewhere (the native frame encoder's tile
   * messages), after everything sent so far. `bytes` must hold whole messages
   * to live objects of this connection; it is not copied: `written` is called
   * once the connection no longer needs it (the caller may then reuse it).
   * Nothing is sent when the connection is not open (`written` still runs).
   */
  sendEncoded(bytes: Uint8Array, written?: () => void): void {
    if (this.state !== 'open' || bytes.byteLength === 0) {
      written?.();
      return;
    }
    if (this.traceSink !== null) this.traceEncoded(bytes);
    if (written !== undefined) this.outDone.push(written);
    this.enqueue(bytes);
  }

  /** Trace lines for messages queued by sendEncoded. */
  private traceEncoded(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.byteLength; ) {
      const m = parseMessage(bytes, at, bytes.byteLength - at, this.table);
      if (m.kind !== 'message') return;
      const spec = m.entry.message;
      this.traceSink!(formatTrace(m.entry.iface.name, m.objectId, spec, m.args.map((v, i) => this.inTraceArg(spec.args[i], v)), true));
      at += m.length;
    }
  }

  /**
   * Report a protocol error on `target` and drop the peer once the error is
   * written. `message` is sent as is; name the message it concerns
   * (`iface@id.message: ...`). On the client side, which cannot send errors,
   * this only logs and closes.
   */
  postError(target: WireObject, code: number, message: string): void {
    if (this.state !== 'open') return;
    this.logger.warn({ peer: this.label, object: target.toString(), code }, message);
    if (this.role === 'server') this.sendDisplayError(this.objects.get(target.id) === target ? target.id : 1, code, message);
    this.closeWith(new ConnectionClosedError(`protocol error ${code} posted on ${target.toString()}: ${message}`));
  }

  // ---- Object lifetime --------------------------------------------------------------------

  /**
   * Register the object of an untyped new_id (e.g. `wthp_registry.bind`): only
   * valid while the message that carries `id` is being dispatched.
   */
  adoptObject<T extends WireObject>(ctor: WireObjectClass<T>, id: number, version: number): T {
    if (!this.pendingUntyped.has(id)) throw new Error(`id ${id} is not a new id of the message being dispatched`);
    this.pendingUntyped.delete(id);
    const obj = new ctor(this, id, version);
    this.objects.insert(id, obj);
    return obj;
  }

  /**
   * Destroy an object without a destructor message, as the protocol says for
   * some objects (a `wthp_callback` after `done`). Server side: forget it and
   * send `wth_display.delete_id`. Client side: keep the id as a zombie until
   * the server's `delete_id`.
   */
  destroyObject(obj: WireObject): void {
    if (obj.conn !== this || obj.id === 1 || this.objects.get(obj.id) !== obj) return;
    if (this.role === 'server') {
      this.forget(obj);
      this.sendDeleteId(obj.id);
    } else {
      this.retire(obj);
    }
  }

  /** Forget an object now (server: after a destructor request; client: after a destructor event). */
  private forget(obj: WireObject): void {
    this.objects.release(obj.id);
    this.markDestroyed(obj);
  }

  /** Client side: destroyed here, id kept until the server acknowledges (delete_id). */
  private retire(obj: WireObject): void {
    this.objects.markZombie(obj.id); // the map forgets the oldest past maxZombies
    this.markDestroyed(obj);
  }

  private markDestroyed(obj: WireObject): void {
    try {
      obj.markDestroyed();
    } catch (err) {
      this.logger.error({ peer: this.label, err }, `${obj.toString()}: a destroy listener threw`);
    }
  }

  private sendDeleteId(id: number): void {
    const spec = this.deleteIdSpec;
    if (spec === undefined || this.state !== 'open') return;
    this.sendRaw(spec, [id]);
  }

  private sendDisplayError(objectId: number, code: number, text: string): void {
    const spec = this.displaySpec.events.find((m) => m.name === 'error');
    if (spec === undefined) return;
    const clipped = text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}...` : text;
    this.sendRaw(spec, [objectId, code, clipped.replace(/\0/g, ' ')]);
  }

  /** A message on the display built here (raw ids allowed); never throws. */
  private sendRaw(spec: MessageSpec, args: readonly OutArg[]): void {
    try {
      const bytes = encodeWords(spec, 1, args) ?? encodeMessage(spec, 1, args, this.displaySpec.name);
      if (this.traceSink !== null) {
        this.traceSink(formatTrace(this.displaySpec.name, 1, spec, args.map((a, i) => outTraceArg(spec.args[i], a)), true));
      }
      this.enqueue(bytes);
    } catch (err) {
      this.logger.error({ peer: this.label, err }, `${this.displaySpec.name}@1.${spec.name}: could not be sent`);
    }
  }

  private checkOutgoingObjects(message: MessageSpec, args: readonly OutArg[], target: WireObject): void {
    for (let i = 0; i < message.args.length; i++) {
      const a = args[i];
      if (!(a instanceof WireObject)) continue;
      const spec = message.args[i]!;
      if (a.conn !== this) throw new EncodeError(`argument ${spec.name} (${a.toString()}) belongs to another connection`, whereOf(target, message));
      if (spec.type === 'object' && (a.destroyed || this.objects.get(a.id) !== a)) {
        throw new EncodeError(`argument ${spec.name} (${a.toString()}) is destroyed`, whereOf(target, message));
      }
    }
  }

  /**
   * A message that creates objects was not sent: give back their ids so the
   * next new id follows the last one the peer saw (the peer rejects gaps).
   */
  private rollbackNewIds(message: MessageSpec, args: readonly OutArg[]): void {
    for (let i = message.args.length - 1; i >= 0; i--) {
      const a = args[i];
      if (message.args[i]!.type !== 'new_id' || !(a instanceof WireObject) || a.conn !== this) continue;
      if (this.objects.get(a.id) === a && this.objects.unallocate(a.id)) this.markDestroyed(a);
    }
  }

  // ---- Output -------------------------------------------------------------------------------

  /**
   * Memory held for this peer, as it really is: what arrived and waits
   * (the input buffer), and what is queued or being written (the bytes, or
   * the slabs they live in when those are more, and each message's own cost).
   */
  get memory(): { readonly in: number; readonly out: number } {
    const bytes = this.outBytes + this.stream.writableLength;
    const slabs = (this.slabsQueued.length + this.slabsWriting + this.spareSlabs.length) * SLAB_BYTES;
    const messages = this.outQueue.length + this.chunksWriting;
    return { in: this.inBuf.length, out: Math.max(bytes, slabs) + messages * QUEUED_MESSAGE_OVERHEAD };
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.state === 'closed') return;
    this.nativeState[0] = 1;
    this.outQueue.push(bytes);
    this.outBytes += bytes.length;
    const buffered = this.outBytes + this.stream.writableLength + (this.outQueue.length + this.chunksWriting) * QUEUED_MESSAGE_OVERHEAD;
    if (buffered > this.maxOutgoingBytes) {
      const text = `${buffered} bytes of memory queued for a peer that does not read (limit ${this.maxOutgoingBytes})`;
      this.failHard(new LimitExceededError('maxOutgoingBytes', this.maxOutgoingLimit === undefined ? text : limitText(this.maxOutgoingLimit, text)));
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      soon(this.flush);
    }
  }

  /**
   * Write what is queued now rather than when this turn's microtasks end: a
   * frame goes out before what other sockets queued earlier in the turn.
   */
  flushNow(): void {
    if (this.flushScheduled) this.flush();
  }

  /** Write everything queued in one chunk, unless the stream asked us to wait for 'drain'. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.waitingDrain) return;
    this.writeQueued();
  };

  /** Room for one outgoing message of `size` bytes (at most 65535) in the current slab. */
  private readonly allocateOut = (size: number): Uint8Array => {
    if (this.slab === null || this.slabUsed + size > this.slab.length) {
      this.slab = this.spareSlabs.pop() ?? new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
      this.slabsQueued.push(this.slab);
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + size);
    this.slabUsed += size;
    return out;
  };

  private releaseSlabs(slabs: readonly Uint8Array[]): void {
    for (const s of slabs) if (this.spareSlabs.length < MAX_SPARE_SLABS) this.spareSlabs.push(s);
  }

  private writeQueued(): void {
    if (!probing) return this.writeQueuedNow();
    const start = probeStart();
    this.writeQueuedNow();
    probeEnd('waltham write', start);
  }

  private writeQueuedNow(): void {
    if (this.outQueue.length === 0) return;
    const queue = this.outQueue;
    const bytes = this.outBytes;
    const slabs = this.slabsQueued;
    const done = this.outDone;
    this.outQueue = [];
    this.outBytes = 0;
    this.slabsQueued = [];
    this.slab = null;
    this.outDone = [];
    const release = (): void => {
      this.releaseSlabs(slabs);
      for (const f of done) f();
    };
    if (this.stream.destroyed || !this.stream.writable) return release();
    // Straight to the socket while the stream has nothing queued: one gather write, no copy.
    const sent = this.writeDirect(queue);
    if (sent === bytes) return release();
    const rest = sent > 0 ? after(queue, sent) : queue;
    let ok: boolean;
    if (bytes - sent <= GATHER_BYTES) {
      // A copy: the slabs are free again at once.
      const data = Buffer.concat(rest, bytes - sent);
      release();
      ok = this.stream.write(data);
    } else {
      // One writev of the messages, no copy; the slabs are reused once it is done.
      this.stream.cork();
      ok = true;
      const chunks = rest.length;
      this.chunksWriting += chunks;
      this.slabsWriting += slabs.length;
      const written = (): void => {
        this.chunksWriting -= chunks;
        this.slabsWriting -= slabs.length;
        release();
      };
      for (const [i, m] of rest.entries()) {
        ok = this.stream.write(m, i === rest.length - 1 ? written : undefined) && ok;
      }
      this.stream.uncork();
    }
    if (!ok) {
      this.waitingDrain = true;
      this.stream.once('drain', this.onDrain);
    }
  }

  /**
   * Write `parts` straight to the socket's fd, in one gather write, when the
   * stream has nothing queued (no Writable machinery for a frame's messages);
   * returns the bytes written, 0 when the stream must do it (order is kept:
   * the rest goes through the stream after them).
   */
  private writeDirect(parts: readonly Uint8Array[]): number {
    // The fd is the stream's: once it is destroyed the number may belong to another file.
    if (this.directFd < 0 || this.stream.destroyed || this.stream.writableLength > 0 || parts.length > MAX_SEND_PARTS) return 0;
    try {
      const n = parts.length === 1 ? sendMsg(this.directFd, parts[0]!, []) : sendParts(this.directFd, parts as Uint8Array[]);
      this.directCalls++;
      if (n > 0) this.directBytes += n;
      return Math.max(0, n);
    } catch {
      // The stream reports the failure (EPIPE, ECONNRESET) when it writes.
      this.directFd = -1;
      return 0;
    }
  }

  /**
   * Give whole messages a first look before they are parsed (the receiver's
   * steady frames, handled natively): `fn` handles those it takes at the
   * start of `buf[start, end)` and returns where parsing goes on (`start`:
   * none). It runs before every message; null removes it.
   */
  setFastPath(fn: ((buf: Uint8Array, start: number, end: number) => number) | null): void {
    this.fastPath = fn;
  }

  /** Messages are traced (WALTHAM_DEBUG): a fast path must leave them to the parser. */
  get traced(): boolean {
    return this.traceSink !== null;
  }

  /** Messages a fast path handled, counted as received. */
  countFastMessages(n: number): void {
    this.messagesIn += n;
  }

  /** The socket's fd when writes may go straight to it (useDirectWrites), else -1. */
  get directWriteFd(): number {
    return this.state === 'open' ? this.directFd : -1;
  }

  /** Output waits here or in the stream: bytes written to the socket now would overtake it. */
  get outputQueued(): boolean {
    return this.outQueue.length > 0 || this.waitingDrain || this.stream.destroyed || this.stream.writableLength > 0;
  }

  /**
   * Cells shared with native paths: [0] is set when output is queued here
   * (a native path that writes to the socket without asking, a read of
   * another socket done natively, leaves the work to JavaScript while it is
   * set; a JavaScript fast path clears it once `outputQueued` is false);
   * [1] says part of a message (or input held while suspended) waits in the
   * input buffer (the socket's own native reader leaves the next bytes to
   * JavaScript then).
   */
  readonly nativeState = new Uint8Array(2);

  /** The next ids of each side (client, server), in a cell a native fast path shares: it hands out this side's ids in the same sequence. */
  get idCounters(): Float64Array {
    return this.objects.counters;
  }

  /** The id the next object created on this side takes (ids are not reused). */
  get nextOwnId(): number {
    return this.objects.nextId(this.role);
  }

  /** Ids up to `lastId` of this side were handed out elsewhere (a fast path's objects). */
  claimOwnIds(lastId: number): void {
    if (lastId >= this.nextOwnId) this.objects.claim(lastId);
  }

  /** The highest object id the peer created so far. */
  get lastPeerId(): number {
    return this.objects.nextId(this.peerSide) - 1;
  }

  /**
   * Objects created while a fast path handled messages (frame callbacks,
   * presentation feedbacks: by the peer on the receiver, by this side on the
   * transmitter), taken into this connection's map; `lastId`: the highest id
   * of their side handed out meanwhile.
   */
  takeObjects<T extends WireObject>(ctor: WireObjectClass<T>, ids: readonly number[], version: number, lastId: number): T[] {
    const out: T[] = [];
    for (const id of ids) {
      if (this.objects.get(id) !== undefined) throw new Error(`id ${id} is in use`);
      const obj = new ctor(this, id, version);
      this.objects.insert(id, obj);
      out.push(obj);
    }
    this.objects.claim(lastId);
    return out;
  }

  /**
   * Writes may go straight to `fd`, the stream's own socket (it stays the
   * stream's: only written here while the stream has nothing queued).
   */
  useDirectWrites(fd: number): void {
    this.directFd = fd;
  }

  /**
   * Read the socket through the process's poller instead of the stream, so
   * that a native path's hook on the fd (native/wayland-shim/src/reads.rs)
   * takes what it handles without a call into JavaScript; what it leaves
   * comes here as if the stream had read it, after its notice (`setNotice`).
   * Only a plain socket written directly (useDirectWrites), not suspended;
   * false when it cannot. `streamReads` gives the socket back to the stream.
   */
  readNatively(): boolean {
    if (this.polledFd >= 0) return true;
    const stream = this.stream;
    if (this.directFd < 0 || this.state !== 'open' || this.suspended > 0 || !(stream instanceof net.Socket) || stream.destroyed) return false;
    stream.pause();
    try {
      watchFd(this.directFd, READABLE, this.onPollerReport, true);
    } catch {
      stream.resume();
      return false;
    }
    this.polledFd = this.directFd;
    return true;
  }

  /** The stream reads the socket again; what is there now is read and handled first, in order. */
  streamReads(): void {
    if (this.polledFd < 0) return;
    this.readPolled();
    unwatchFd(this.polledFd);
    this.polledFd = -1;
    if (this.state === 'open' && this.suspended === 0 && !this.stream.destroyed) this.stream.resume();
  }

  /** Whether the poller reads the socket now (`readNatively`). */
  get readsNatively(): boolean {
    return this.polledFd >= 0;
  }

  /** Called first when the socket's native reader left something to do before the bytes it kept are handled. Null removes it. */
  setNotice(fn: (() => void) | null): void {
    this.notice = fn;
  }

  private readonly onPollerReport = (events: number): void => {
    if (events & NOTICE) this.notice?.();
    if (this.polledFd < 0) return;
    // The end of the stream or an error: the stream reads it and closes as usual.
    if (!this.readPolled() || events & HANGUP) this.streamReads();
  };

  /** Read what the socket has and handle it; false at its end or an error (left for the stream to find). */
  private readPolled(): boolean {
    for (;;) {
      if (this.state !== 'open') return false;
      let n: number;
      try {
        n = recvMsgInto(this.polledFd, POLLED_READS, 0, POLLED_FDS);
      } catch {
        return false;
      }
      if (n < 0) return true;
      if (n === 0) return false;
      this.bytesPolled += n;
      this.onData(POLLED_READS.subarray(0, n));
      if (n < POLLED_READS.byteLength) return true;
    }
  }

  /** Bytes read through the poller (not counted in the stream's bytesRead). */
  get polledBytes(): number {
    return this.bytesPolled;
  }

  /** Bytes written with direct writes (not counted in the stream's bytesWritten). */
  get directlyWritten(): number {
    return this.directBytes;
  }

  /** Direct writes tried (each one sendmsg). */
  get directWrites(): number {
    return this.directCalls;
  }

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    if (this.state === 'open') this.writeQueued();
  };

  // ---- Input --------------------------------------------------------------------------------

  /**
   * Bytes read by the owner of the stream (a socket reading into a static
   * buffer, which emits no 'data'): handled at once, so `chunk` may be reused
   * as soon as this returns.
   */
  receive(chunk: Uint8Array): void {
    this.onData(chunk);
  }

  private readonly onData = (chunk: Uint8Array | string): void => {
    if (this.state !== 'open') return; // after an error, the rest of the stream is ignored
    this.lastReadAt = Date.now();
    try {
      this.handleChunk(chunk);
    } finally {
      this.nativeState[1] = this.inEnd > this.inStart ? 1 : 0;
      this.lowWater();
    }
  };

  /**
   * While a message is unfinished, the socket (plain TCP, written directly) reports itself
   * readable only once the rest of it can be there (SO_RCVLOWAT): on a slow link a large
   * message comes in many segments, each a wake-up of the process otherwise. 1 (the default)
   * between messages and while suspended.
   */
  private lowWater(): void {
    const fd = this.directFd;
    if (fd < 0 || this.lowWaterSet === 0) return;
    const kept = this.inEnd - this.inStart;
    const want = kept > 0 && this.suspended === 0 && this.state === 'open' ? Math.max(1, this.needed - kept) : 1;
    if (want === this.lowWaterSet) return;
    try {
      socketLowWater(fd, want);
      this.lowWaterSet = want;
    } catch {
      // Not a socket that takes it: reads wake as before.
      this.lowWaterSet = 0;
    }
  }

  private handleChunk(chunk: Uint8Array | string): void {
    try {
      let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      // An unfinished message is completed in inBuf with just the bytes it lacks ...
      while (this.inStart !== this.inEnd && bytes.length > 0 && this.state === 'open' && this.suspended === 0) {
        const take = Math.min(bytes.length, Math.max(1, this.needed - (this.inEnd - this.inStart)));
        this.append(bytes.subarray(0, take));
        bytes = bytes.subarray(take);
        this.processInput(this.inBuf, this.inStart, this.inEnd);
      }
      if (bytes.length === 0 || this.state !== 'open') return;
      if (this.suspended > 0) {
        // Read before the pause took effect, or behind a message that suspended: kept for resume().
        this.append(bytes);
        return;
      }
      // ... and the rest is parsed where it is; only an unfinished message is copied.
      this.processInput(bytes, 0, bytes.length);
    } catch (err) {
      this.internalFailure(err);
    }
  }

  private append(chunk: Uint8Array): void {
    const pending = this.inEnd - this.inStart;
    if (this.inEnd + chunk.length > this.inBuf.length) {
      if (pending + chunk.length <= this.inBuf.length) {
        this.inBuf.copyWithin(0, this.inStart, this.inEnd);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(this.inBuf.length * 2, pending + chunk.length));
        this.inBuf.copy(grown, 0, this.inStart, this.inEnd);
        this.inBuf = grown;
      }
      this.inStart = 0;
      this.inEnd = pending;
    }
    this.inBuf.set(chunk, this.inEnd);
    this.inEnd += chunk.length;
  }

  /** Handle the whole messages in `buf[start, end)`; what is left of an unfinished one ends up in inBuf. */
  private processInput(buf: Uint8Array, start: number, end: number): void {
    this.processing = true;
    try {
      this.parseInput(buf, start, end);
    } finally {
      this.processing = false;
    }
  }

  private parseInput(buf: Uint8Array, start: number, end: number): void {
    const own = buf === this.inBuf;
    let at = start;
    // A suspend() from a handler stops the loop after that message; the rest is kept below.
    while (this.state === 'open' && this.suspended === 0) {
      if (this.fastPath !== null) {
        const next = this.fastPath(buf, at, end);
        if (next !== at) {
          at = next;
          if (own) this.inStart = at;
          this.lastMessageAt = Date.now();
          if (this.state !== 'open' || this.suspended !== 0) break;
        }
      }
      const avail = end - at;
      if (avail < this.needed) break;
      // Data arguments are views of the input: valid while the handler runs (they copy what they keep).
      const result = parseMessage(buf, at, avail, this.table, true);
      if (result.kind === 'more') {
        this.needed = result.needed;
        break;
      }
      if (result.kind === 'error') {
        if (!own) this.keep(buf, at, end);
        this.rejectParse(result.error, this.inEnd - this.inStart);
        return;
      }
      at += result.length;
      if (own) this.inStart = at;
      this.needed = HEADER_SIZE;
      this.handleMessage(result);
    }
    if (!own) {
      if (this.state === 'open' && at < end) this.keep(buf, at, end);
      return;
    }
    if (this.inStart === this.inEnd) {
      this.inStart = this.inEnd = 0;
      if (this.inBuf.length > 256 * 1024) this.inBuf = Buffer.alloc(16 * 1024);
    }
  }

  /** Keep `buf[start, end)` (an unfinished message) in inBuf, which is empty. */
  private keep(buf: Uint8Array, start: number, end: number): void {
    this.inStart = this.inEnd = 0;
    this.append(buf.subarray(start, end));
  }

  /** A framing error: report it on the target if the message names a live one, else on the display. */
  private rejectParse(error: WireError, avail: number): void {
    let targetId: number | undefined;
    const view = new DataView(this.inBuf.buffer, this.inBuf.byteOffset + this.inStart, avail);
    if (avail >= MIN_MESSAGE_SIZE && view.getUint16(2, LITTLE_ENDIAN) >= MIN_MESSAGE_SIZE) {
      targetId = view.getUint32(HEADER_SIZE, LITTLE_ENDIAN);
    }
    const target = targetId === undefined ? undefined : this.objects.get(targetId);
    let err = error;
    if (error instanceof ObjectError && error.code === 'ERR_UNKNOWN_OPCODE') {
      const opcode = view.getUint16(4, LITTLE_ENDIAN);
      err = new ObjectError(
        'ERR_UNKNOWN_OPCODE',
        `unknown opcode ${opcode}`,
        `${target?.spec.name ?? '[unknown]'}@${targetId ?? '?'}.opcode ${opcode}`,
        targetId,
      );
    }
    this.reject(new Rejection(err, WthDisplayError.InvalidMethod, target?.id ?? 1));
  }

  private handleMessage(m: DecodedMessage): void {
    const { entry, objectId } = m;
    this.messagesIn++;
    this.lastMessageAt = Date.now();
    const spec = entry.message;
    if (this.traceSink !== null) {
      this.traceSink(
        formatTrace(entry.iface.name, objectId, spec, m.args.map((v, i) => this.inTraceArg(spec.args[i], v)), false),
      );
    }
    // The message's names (`where`) are made only for an error or a log line.
    if (objectId === 0) {
      return this.reject(
        new Rejection(new ObjectError('ERR_NULL_OBJECT', 'message sent to object id 0 (null)', messageWhere(entry.iface.name, m), 0), WthDisplayError.InvalidObject, 1),
      );
    }
    const target = this.objects.get(objectId);
    const zombie = target === undefined && this.objects.isZombie(objectId);
    if (target === undefined && !zombie) {
      return this.reject(
        new Rejection(
          new ObjectError(
            'ERR_UNKNOWN_OBJECT',
            this.objects.wasAllocated(objectId) ? `object ${objectId} was destroyed` : `unknown object ${objectId}`,
            messageWhere(entry.iface.name, m),
            objectId,
          ),
          WthDisplayError.InvalidObject,
          1,
        ),
      );
    }
    const expected = this.role === 'server' ? 'request' : 'event';
    if (entry.kind !== expected) {
      const at = `${target?.spec.name ?? entry.iface.name}@${objectId}.${spec.name}`;
      return this.reject(
        new Rejection(
          new ObjectError(
            'ERR_WRONG_DIRECTION',
            `opcode ${m.opcode} is ${entry.kind === 'event' ? 'an event' : 'a request'} of ${entry.iface.name}; a ${this.peerSide} may not send it`,
            at,
            objectId,
          ),
          WthDisplayError.InvalidMethod,
          target === undefined ? 1 : objectId,
        ),
      );
    }
    if (target === undefined) return this.handleZombieMessage(m, messageWhere(entry.iface.name, m));
    if (entry.iface.name !== target.spec.name) {
      return this.reject(
        new Rejection(
          new ObjectError(
            'ERR_UNKNOWN_OPCODE',
            `opcode ${m.opcode} is ${entry.iface.name}.${spec.name}, not a message of ${target.spec.name}`,
            messageWhere(target.spec.name, m),
            objectId,
          ),
          WthDisplayError.InvalidMethod,
          objectId,
        ),
      );
    }
    if (this.strictVersions && spec.since > target.version) {
      return this.reject(
        new Rejection(
          new ObjectError('ERR_VERSION', `needs version ${spec.since}, the object has version ${target.version}`, messageWhere(target.spec.name, m), objectId),
          WthDisplayError.InvalidMethod,
          objectId,
        ),
      );
    }

    // Events the connection handles itself; they still go to the display's listener, if it has one.
    let handled = false;
    if (this.role === 'client' && target === this.display) {
      if (spec.name === 'error') return this.handlePeerError(m);
      if (spec.name === 'delete_id') {
        this.handleDeleteId(m.args[0] as number);
        handled = true;
      }
    }

    const resolved = this.resolveArgs(m, target);
    if (resolved instanceof Rejection) return this.reject(resolved);

    try {
      handled = target.dispatch(entry.index, resolved) || handled;
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      const at = messageWhere(target.spec.name, m);
      this.logger.error({ peer: this.label, where: at, err }, `${at}: handler failed: ${text}`);
      if (this.role === 'server') {
        this.sendDisplayError(this.objects.get(objectId) === target ? objectId : 1, WthDisplayError.Implementation, `${at}: implementation error: ${text}`);
      }
      this.closeWith(new ConnectionClosedError(`${at}: handler failed: ${text}`, undefined, { cause: err }));
      return;
    }
    if (!handled) {
      const at = messageWhere(target.spec.name, m);
      this.logger.debug({ peer: this.label, where: at }, `${at}: no handler`);
    }
    if (this.pendingUntyped.size > 0) {
      // The handler did not create the object (e.g. it reported an error): the id stays used.
      this.pendingUntyped.clear();
    }
    if (spec.destructor && this.objects.get(objectId) === target) {
      this.forget(target);
      if (this.role === 'server') this.sendDeleteId(objectId);
    }
  }

  /** Resolve object arguments and create the objects of new ids; a Rejection if any rule is broken. */
  private resolveArgs(m: DecodedMessage, target: WireObject): unknown[] | Rejection {
    const specs = m.entry.message.args;
    const resolved: unknown[] = [];
    let created: { index: number; ctor: WireObjectClass; id: number }[] | null = null;
    let untyped: number[] | null = null;
    let pending = 0;

    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      const value = m.args[i]!;
      if (spec.type === 'object') {
        const id = value as number;
        if (id === 0) {
          if (!spec.nullable) return invalidObject(m, target, 'ERR_NULL_OBJECT', `argument ${spec.name} is null but the protocol does not allow null`);
          resolved.push(null);
          continue;
        }
        const obj = this.objects.get(id);
        if (obj === undefined) {
          // libwayland's rule: an event naming an object the client already destroyed delivers null.
          if (this.role === 'client' && this.objects.isZombie(id)) {
            resolved.push(null);
            continue;
          }
          return invalidObject(
            m,
            target,
            'ERR_UNKNOWN_OBJECT',
            `argument ${spec.name}: ${this.objects.wasAllocated(id) ? `object ${id} was destroyed` : `unknown object ${id}`}`,
          );
        }
        if (spec.interface !== null && obj.spec.name !== spec.interface) {
          return invalidObject(m, target, 'ERR_WRONG_INTERFACE', `argument ${spec.name} must be a ${spec.interface}, got ${obj.toString()}`);
        }
        resolved.push(obj);
      } else if (spec.type === 'new_id') {
        const id = spec.interface === null ? (value as UntypedNewId).id : (value as number);
        const problem = this.checkPeerNewId(id, pending);
        if (problem !== null) return invalidObject(m, target, 'ERR_BAD_NEW_ID', `argument ${spec.name}: ${problem}`);
        pending++;
        if (spec.interface === null) {
          (untyped ??= []).push(id);
          resolved.push(value);
          continue;
        }
        const ctor = this.classes[spec.interface];
        if (ctor === undefined) {
          return invalidObject(m, target, 'ERR_UNKNOWN_INTERFACE', `argument ${spec.name}: no class for interface ${spec.interface}`);
        }
        (created ??= []).push({ index: i, ctor, id });
        resolved.push(undefined);
      } else {
        resolved.push(value);
      }
    }
    const count = (created?.length ?? 0) + (untyped?.length ?? 0);
    if (count === 0) return resolved;
    if (this.objectCount + count > this.maxObjects) {
      return new Rejection(
        new LimitExceededError('maxObjects', `the peer would have more than ${this.maxObjects} objects`, messageWhere(target.spec.name, m)),
        WthDisplayError.NoMemory,
        1,
      );
    }
    const refused = this.objectBudget !== undefined ? this.objectBudget(count) : null;
    if (refused !== null) return new Rejection(new LimitExceededError(refused.limit, refused.message, messageWhere(target.spec.name, m)), WthDisplayError.NoMemory, 1);
    for (const c of created ?? []) {
      const obj = new c.ctor(this, c.id, target.version);
      this.objects.insert(c.id, obj);
      resolved[c.index] = obj;
    }
    for (const id of untyped ?? []) {
      this.objects.claim(id);
      this.pendingUntyped.add(id);
    }
    return resolved;
  }

  /**
   * Waltham ids are allocated 2, 3, 4, ... (or 0xff000000, ...) without gaps
   * and never reused (vectors README 3), so the peer's next id is known exactly.
   */
  private checkPeerNewId(id: number, pending: number): string | null {
    const check = this.objects.checkNewId(id, this.peerSide, pending);
    const expected = this.objects.nextId(this.peerSide) + pending;
    if (check === 'out-of-range') return `new id ${id} is outside the ${this.peerSide}'s id range`;
    if (check === 'in-use') return `new id ${id} is already in use`;
    if (check === 'reuses') return `new id ${id} reuses an id (ids are never reused; expected ${expected})`;
    if (check === 'skips-ahead') return `new id ${id} skips ahead (expected ${expected})`;
    return null;
  }

  /** Client side: an event for an object we destroyed but the server had not heard of yet. */
  private handleZombieMessage(m: DecodedMessage, where: string): void {
    this.logger.debug({ peer: this.label, where }, `${where}: ignored, the object is destroyed`);
    // Objects the event creates still take their ids, and die at once.
    for (const [i, spec] of m.entry.message.args.entries()) {
      if (spec.type !== 'new_id' || spec.interface === null) continue;
      const id = m.args[i] as number;
      const problem = this.checkPeerNewId(id, 0);
      if (problem !== null) {
        return this.reject(new Rejection(new ObjectError('ERR_BAD_NEW_ID', `argument ${spec.name}: ${problem}`, where, m.objectId), WthDisplayError.InvalidObject, 1));
      }
      this.objects.claim(id);
      const ctor = this.classes[spec.interface];
      if (ctor !== undefined) {
        const obj = new ctor(this, id, 1);
        this.objects.insert(id, obj);
        this.retire(obj);
      }
    }
  }

  private handlePeerError(m: DecodedMessage): void {
    const [objectId, code, text] = m.args as [number, number, string | null];
    const obj = this.objects.get(objectId);
    const err = new PeerError(objectId, obj?.spec.name ?? 'unknown', code, text ?? '');
    this.logger.warn({ peer: this.label, objectId, errorCode: code }, `peer error on ${err.where ?? '?'}: ${text ?? ''}`);
    try {
      this.display.dispatch(m.entry.index, [obj ?? null, code, text]);
    } catch (e) {
      this.logger.error({ peer: this.label, err: e }, 'wth_display error handler failed');
    }
    this.closeWith(err);
  }

  private handleDeleteId(id: number): void {
    if (!this.objects.acknowledge(id)) this.logger.debug({ peer: this.label, id }, `wth_display@1.delete_id(${id}): no such destroyed object`);
  }

  private inTraceArg(spec: ArgSpec | undefined, value: WireValue): TraceArg {
    if (spec?.type === 'object' && typeof value === 'number') {
      return { value, objectInterface: this.objects.get(value)?.spec.name };
    }
    if (spec?.type === 'new_id' && typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Fd)) {
      return { value: value.id, objectInterface: value.interface };
    }
    return { value };
  }

  // ---- Failure and close --------------------------------------------------------------------

  private reject(r: Rejection): void {
    if (this.state !== 'open') return;
    this.logger.warn({ peer: this.label, code: r.error.code, where: r.error.where }, r.error.message);
    if (this.role === 'server') this.sendDisplayError(r.reportOn, r.wireCode, r.error.message);
    this.closeWith(r.error);
  }

  /** Unexpected failure inside the connection itself: log and drop the peer. */
  private internalFailure(err: unknown): void {
    this.logger.error({ peer: this.label, err }, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    this.failHard(err instanceof Error ? err : new Error(String(err)));
  }

  /** Drop the peer at once, without flushing (the queue is the problem, or the stream is). */
  private failHard(reason: Error): void {
    if (this.state === 'closed') return;
    if (this.reason === undefined) this.reason = reason;
    if (this.state === 'open' && reason instanceof WireError) {
      this.logger.warn({ peer: this.label, code: reason.code }, reason.message);
    }
    this.state = 'closing';
    this.outQueue = [];
    this.outBytes = 0;
    this.slabsQueued = [];
    this.slab = null;
    this.leavePoller();
    this.stream.destroy();
  }

  /**
   * The connection ends: native paths stop writing to its socket (they see
   * output queued), and the stream reads it again, to find its end.
   */
  private leavePoller(): void {
    this.nativeState[0] = 1;
    if (this.polledFd < 0) return;
    unwatchFd(this.polledFd);
    this.polledFd = -1;
    if (!this.stream.destroyed && this.suspended === 0) this.stream.resume();
  }

  /** Orderly close: flush what is queued, end the stream, destroy it if the peer lingers. */
  private closeWith(reason: Error | undefined, graceMs = this.closeTimeoutMs): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.reason = reason;
    this.leavePoller();
    // Nothing more is dispatched, but the peer's end must still be read, even if a handler had
    // suspended input: then the stream closes when the peer closes, not after the grace.
    if (this.suspended > 0) this.stream.resume();
    this.writeQueued();
    this.stream.end();
    this.destroyAfter(graceMs);
  }

  /** Destroy the stream `ms` from now, unless it is closed or set to be destroyed sooner. */
  private destroyAfter(ms: number): void {
    const deadline = performance.now() + ms;
    if (this.closeTimer !== undefined) {
      if (deadline >= this.closeDeadline) return;
      clearTimeout(this.closeTimer);
    }
    this.closeDeadline = deadline;
    this.closeTimer = setTimeout(() => {
      this.leavePoller();
      this.stream.destroy();
    }, Math.max(0, ms));
    this.closeTimer.unref();
  }

  /**
   * Close the connection in order: queued messages are written, our side is
   * ended, and the stream is destroyed when the peer closed its side too, or
   * `graceMs` later at most (default: the `closeTimeoutMs` option). A shorter
   * grace also cuts short a close already under way. Resolves when closed.
   */
  close(graceMs = this.closeTimeoutMs): Promise<Error | undefined> {
    if (this.state === 'open') this.closeWith(undefined, graceMs);
    else if (this.state === 'closing') this.destroyAfter(graceMs);
    return this.closed;
  }

  /** Close at once, dropping what is queued. */
  destroy(reason?: Error): void {
    if (reason !== undefined && this.reason === undefined) this.reason = reason;
    if (this.state !== 'closed') this.state = 'closing';
    this.leavePoller();
    this.stream.destroy();
  }

  private readonly onEnd = (): void => {
    const pending = this.inEnd - this.inStart;
    if (this.state !== 'open') return;
    if (this.suspended > 0) {
      // Handled once the buffered messages are dispatched.
      this.endWhileSuspended = true;
      return;
    }
    if (pending > 0) {
      const err = new ConnectionClosedError(`peer closed the connection in the middle of a message (${pending} bytes received)`);
      this.logger.warn({ peer: this.label, pending }, err.message);
      this.closeWith(err);
    } else {
      this.logger.debug({ peer: this.label }, 'peer closed the connection');
      this.closeWith(undefined);
    }
  };

  private readonly onStreamError = (err: Error): void => {
    try {
      const pending = this.inEnd - this.inStart;
      const code = (err as NodeJS.ErrnoException).code ?? err.name;
      const text = `connection failed (${code})${pending > 0 ? ` in the middle of a message (${pending} bytes received)` : ''}`;
      if (this.state === 'open') this.logger.warn({ peer: this.label, code, pending }, text);
      else this.logger.debug({ peer: this.label, code }, text);
      if (this.reason === undefined) this.reason = new ConnectionClosedError(text, undefined, { cause: err });
      if (this.state === 'open') this.state = 'closing';
      this.leavePoller();
      this.stream.destroy();
    } catch {
      // never throw out of a stream event handler
    }
  };

  private readonly onClose = (): void => {
    if (this.state === 'closed') return;
    this.leavePoller();
    this.state = 'closed';
    try {
      if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
      this.outQueue = [];
      this.outBytes = 0;
      this.slabsQueued = [];
      this.slab = null;
      this.spareSlabs.length = 0;
      this.inBuf = Buffer.alloc(0);
      this.inStart = this.inEnd = 0;
      this.stream.off('data', this.onData);
      for (const obj of this.objects.values()) this.markDestroyed(obj);
      const reason = this.reason;
      this.resolveClosed(reason);
      if (reason !== undefined && this.listenerCount('error') > 0) this.emit('error', reason);
      this.emit('close', reason);
    } catch (err) {
      this.logger.error({ peer: this.label, err }, 'a close or error listener threw');
    }
  };
}

function describeStream(stream: Duplex): string {
  if (stream instanceof net.Socket) {
    const addr = stream.remoteAddress;
    if (addr !== undefined) return `${addr}:${stream.remotePort ?? '?'}`;
    return 'socket';
  }
  return 'stream';
}

/** Waltham traces print an untyped new_id (wthp_registry.bind) as one argument, `new id iface@N`. */
function outTraceArg(spec: ArgSpec | undefined, value: OutArg | UntypedNewId | undefined): TraceArg {
  if (value instanceof WireObject) return { value: value.id, objectInterface: value.spec.name };
  if (spec?.type === 'new_id' && typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && !(value instanceof Fd)) {
    return { value: value.id, objectInterface: value.interface };
  }
  return { value };
}

/** `parts` without their first `n` bytes (fewer than their total). */
function after(parts: readonly Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (n >= parts[i]!.byteLength) n -= parts[i++]!.byteLength;
  return [parts[i]!.subarray(n), ...parts.slice(i + 1)];
}

/** A message's name in errors and logs: `interface@id.message`, with the interface named as given. */
/** `iface@id.message`, naming an outgoing message in errors and logs. */
function whereOf(target: WireObject, message: MessageSpec): string {
  return `${target.spec.name}@${target.id}.${message.name}`;
}

function messageWhere(iface: string, m: DecodedMessage): string {
  return `${iface}@${m.objectId}.${m.entry.message.name}`;
}

/** An argument of `m` to `target` broke a rule about objects. */
function invalidObject(m: DecodedMessage, target: WireObject, code: ObjectError['code'], text: string): Rejection {
  return new Rejection(new ObjectError(code, text, messageWhere(target.spec.name, m), target.id), WthDisplayError.InvalidObject, target.id);
}
