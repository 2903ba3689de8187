/**
 * Typed access to the native shim (`native/wayland-shim`, Rust + napi-rs): Unix sockets with fd
 * passing, a libwayland-style listening socket, fd readiness on Node's event loop, memfds and
 * shared-memory mappings that survive clients shrinking their files, and the pixel loops and the
 * lossless block codecs (LZ4, zstd) of the tile pipeline (shared/remote/tiles.ts).
 *
 * The addon is built by `npm run build:native` (outputs are not in git). The types below are
 * the contract the rest of the code is written against; `shared/native.test.ts` checks the loaded
 * addon against them and snapshots the generated `index.d.ts`.
 *
 * Ownership: the shim speaks plain numbers. A function that returns an fd (memfdCreate, dupFd,
 * unixConnect, socketPair, UnixListener.accept, recvMsg) hands it to the caller, who closes it
 * exactly once; above the shim, an owner wraps it in an `Fd` (shared/fd.ts), whose close is
 * idempotent, and `take()`s the number back only to hand it to something that closes it. Functions that take an fd (sendMsg, ShmMapping.map, Poller.add)
 * borrow it. A `Poller` must `remove` an fd before it is closed.
 *
 * Errors: a failed call throws an `Error` whose message names the call and the errno
 * ("sendmsg: Broken pipe (EPIPE)") and whose `code` is the errno name ('EPIPE'); bad arguments
 * throw with code 'EINVAL' (or 'ERANGE' for out-of-bounds copies and rectangles), malformed LZ4
 * blocks, zstd frames and span streams with code 'EBADMSG'.
 *
 * Pixel functions: pixels are 4 bytes, buffers have `stride` bytes per row, rectangles are
 * checked against the buffers' lengths, and a buffer written must not share memory with one read.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Most fds sent or received with one message (libwayland's limit). */
export const MAX_FDS = 28;

/** `Poller` interest bits. */
export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;
/** `Poller` event bit, in addition to the interest bits: hangup or error on the fd. */
export const POLL_HANGUP = 4;
/** `Poller` event bit: a native read of the fd (a steady path's hook) left a notice for its owner. */
export const POLL_NOTICE = 8;

/** What the shim throws. */
export interface NativeError extends Error {
  /** errno name, e.g. 'EPIPE', 'EAGAIN', 'EADDRINUSE'. */
  code: string;
}

export function isNativeError(error: unknown, code?: string): error is NativeError {
  return (
    error instanceof Error &&
    typeof (error as Partial<NativeError>).code === 'string' &&
    (code === undefined || (error as NativeError).code === code)
  );
}

/** Result of `recvMsg`: `bytes` 0 means the peer closed; the fds belong to the caller. */
export interface RecvResult {
  bytes: number;
  fds: number[];
}

/**
 * A listening Unix socket with libwayland's conventions: `${path}.lock` is locked first (a held
 * lock throws "socket PATH is in use by another compositor", code 'EADDRINUSE'), then a stale
 * socket at `path` is unlinked, then bind + listen(128).
 */
export interface UnixListener {
  /** The non-blocking listening fd (owned by the listener), -1 once closed. */
  readonly fd: number;
  readonly path: string;
  /** A pending connection (non-blocking, close-on-exec, owned by the caller), or null. */
  accept(): number | null;
  /** Unlinks the socket and lock files and closes both fds. Idempotent. */
  close(): void;
}

export interface UnixListenerStatic {
  bind(path: string): UnixListener;
}

/**
 * fd readiness reported from Node's event loop (an epoll set of the poller's own, watched by one
 * libuv poll handle; no thread). One-shot unless added as persistent: after a report
 * for an fd, the next one comes only after `rearm`. Interest bits: POLL_READABLE, POLL_WRITABLE;
 * event bits add POLL_HANGUP. Keeps the process alive only while some fd is watched.
 */
export interface Poller {
  /** `persistent`: the fd stays armed after a report; `rearm` then only changes its interest. */
  add(fd: number, interest: number, persistent?: boolean): void;
  rearm(fd: number, interest: number): void;
  /** Call before closing the fd; no report for it arrives afterwards. */
  remove(fd: number): void;
  /** Forgets every fd (they are not closed); the process may exit. Idempotent. */
  close(): void;
  /**
   * While every report is handled natively (a steady path's hooks), wait for the next one inside
   * the loop's callback instead of going back to the loop for each; on by default.
   */
  nesting: boolean;
  /** Wake-ups handled natively inside the loop's callback so far. */
  readonly nestedWakes: number;
  /** Read and drop what arrives on the watched `fd` natively (tests and diagnostics of the poller). */
  drain(fd: number): void;
}

export interface PollerConstructor {
  new (callback: (fd: number, events: number) => void): Poller;
}

/**
 * A mapping of `[offset, offset + length)` of a shared-memory fd, seen from JS through an
 * external ArrayBuffer (no copy). Writable mappings share writes with the file; read-only ones
 * are private (a write from JS stays local). If the client shrinks the file, the mapping turns
 * into zeros instead of crashing the process, and `truncated` becomes true.
 */
export interface ShmMapping {
  readonly length: number;
  /** The same ArrayBuffer on every call; detached by `unmap()`; throws (EBADF) after it. */
  readonly buffer: ArrayBuffer;
  /** Idempotent. */
  unmap(): void;
  readonly truncated: boolean;
  clearTruncated(): void;
  /** Copies into `dst`; false (and `dst` zeroed) if the mapping was found truncated. */
  copyTo(offset: number, dst: Uint8Array): boolean;
}

export interface ShmMappingStatic {
  map(fd: number, offset: number, length: number, writable: boolean): ShmMapping;
}

/** Wire numbers for the native frame encoder, from the generated protocol tables. */
export interface FrameWire {
  readonly tileOpcode: number;
  readonly codecRaw: number;
  readonly codecLz4: number;
  readonly codecZstd: number;
  readonly codecSolid: number;
  readonly codecLz4Spans: number;
  readonly codecCopy: number;
  /** 3-byte pixels: allowed in an encode's codec mask only for xrgb8888 sources. */
  readonly codecRawRgb: number;
  readonly codecLz4Rgb: number;
}

/** What one `FrameEncoder.encodeAsync` wrote (`encode` writes the same numbers, in this order, to its `stats` array). */
export interface FrameStats {
  readonly bytes: number;
  readonly tiles: number;
  readonly changedTiles: number;
  readonly unchangedTiles: number;
  readonly rawBytes: number;
  /** Pixels sent as a copy of pixels the receiver had (a scroll). */
  readonly copiedPixels: number;
  /** The receiver's buffer starts over (a new size, or the first encode after `reset`): all of it was sent. `encode` writes it as 1 or 0. */
  readonly reset: boolean;
}

/** `FrameEncoder.encode`'s arguments: the source, its stride and size, the damage (x, y, width, height quadruples; null: all), the codec mask, the content and surface object ids, the output. */
type EncodeArgs = [
  src: Uint8Array,
  srcStride: number,
  width: number,
  height: number,
  damage: Int32Array | null,
  codecs: number,
  target: number,
  surface: number,
  out: Uint8Array,
];

/** The mirror of one surface on one receiver and its one-pass tile encoder (src/frame.rs). */
export interface FrameEncoder {
  reset(): void;
  /** Marks the mirror inside the rectangles (x, y, width, height quadruples) as unknown. */
  forget(rects: Int32Array): void;
  needsReset(width: number, height: number): boolean;
  readonly mirrorBytes: number;
  outputBound(width: number, height: number): number;
  /** Writes what it wrote to `stats` (at least `FRAME_STATS_LENGTH` numbers: the fields of FrameStats in their order). */
  encode(...args: [...EncodeArgs, stats: Float64Array]): void;
  /**
   * `encode` on a worker thread: until the promise settles, `src` and `out` must not be written
   * and every other call throws EBUSY.
   */
  encodeAsync(...args: EncodeArgs): Promise<FrameStats>;
}

/** Numbers `FrameEncoder.encode` writes to its `stats` array. */
export const FRAME_STATS_LENGTH = 7;

export interface FrameEncoderConstructor {
  new (wire: FrameWire, tileSize: number, maxData: number): FrameEncoder;
}

/** Writes one tile of any codec into a surface's pixels (src/frame.rs). */
export interface TileWriter {
  write(codec: number, data: Uint8Array, dst: Uint8Array, stride: number, x: number, y: number, width: number, height: number): void;
}

export interface TileWriterConstructor {
  new (wire: FrameWire): TileWriter;
}

/** Wire numbers `SteadyFrames` uses, from the generated protocol tables (src/steady.rs). */
export interface SteadyWire {
  begin: number;
  tile: number;
  frame: number;
  feedback: number;
  commit: number;
  sync: number;
  callbackDone: number;
  feedbackPresented: number;
  deleteId: number;
  wlAttach: number;
  wlDamageBuffer: number;
  wlFrame: number;
  wlCommit: number;
  wlCallbackDone: number;
  wlBufferRelease: number;
  wlDeleteId: number;
  wpFeedback: number;
  wpSyncOutput: number;
  wpPresented: number;
  wpDiscarded: number;
  wpKindVsync: number;
  formatXrgb: number;
  tiles: FrameWire;
}

/** A surface handed to `SteadyFrames.adopt` (src/steady.rs says what each field is). */
export interface SteadySurface {
  key: number;
  peer: number;
  peerFd: number;
  /** The transmitter's connection's next object ids (WalthamConnection.idCounters): the ids its messages create are checked in this one sequence, natively and in JavaScript. */
  ids: Float64Array;
  /** The nativeState cells of the transmitter's Waltham connection and of the compositor's Wayland connection. */
  peerDirty: Uint8Array;
  displayDirty: Uint8Array;
  /** The transmitter's connection's serial cell (WalthamPeer.serialCell): pings are answered natively with the next one. */
  serial: Float64Array;
  surface: number;
  contents: number[];
  presentations: number[];
  width: number;
  height: number;
  format: number;
  codecs: number;
  maxCallbacks: number;
  maxFeedbacks: number;
  displayFd: number;
  wlSurface: number;
  callbackIds: number[];
  buffers: Uint8Array[];
  wlBuffers: number[];
  busy: boolean[];
  stale: number[];
  current: number;
  presentation: number;
  lastTimeNs: number;
  refreshNs: number;
  seqHi: number;
  seqLo: number;
  flags: number;
  lagNs: number;
  holdMs: number;
  /** The compositor's wp_presentation (0: no checks) and its clock, feedback ids lent for checks of the predictions, and how often (ms). */
  wpPresentation: number;
  clock: number;
  feedbackIds: number[];
  checkMs: number;
}

/** What `SteadyFrames.release` gives back of a surface. */
export interface SteadyState {
  key: number;
  peer: number;
  lastId: number;
  current: number;
  busy: boolean[];
  stale: number[];
  pending: number;
  pendingDamage: number[];
  pendingCallbacks: number[];
  pendingFeedbacks: number[];
  inFlight: number;
  flightCallbacks: number[];
  flightFeedbacks: number[];
  freeCallbackIds: number[];
  deletingCallbackIds: number[];
  freeFeedbackIds: number[];
  checks: number;
  commits: number;
  tiles: number;
  tileBytes: number;
  presented: number;
}

/** The receiver's steady frames without JavaScript (src/steady.rs). */
export interface SteadyFrames {
  adopt(spec: SteadySurface): void;
  release(peer: number): SteadyState[];
  releaseSurface(key: number): SteadyState | null;
  forgetPeer(peer: number): void;
  counters(peer: number): number[];
  takeStaged(peer: number): Uint8Array | null;
  takeWaltham(peer: number, buf: Uint8Array, start: number, end: number, io: Float64Array): number;
  takeWayland(buf: Uint8Array, start: number, end: number, io: Float64Array): number;
  /** Read `peer`'s socket natively while it has surfaces handed over, within the budget of setBudget (until unhookPeer or forgetPeer). */
  hookPeer(peer: number, fd: number): void;
  unhookPeer(peer: number): void;
  /** The pixels native reads of `peer` may write from now on. */
  setBudget(peer: number, pixels: number): void;
  /** What native reads of `peer` left since the last call: flags (STEADY_*), pixels written, messages taken. */
  takePeerNotice(peer: number): number[];
  /** Read the compositor's socket natively while surfaces are handed over (until unhookDisplay). */
  hookDisplay(fd: number): void;
  unhookDisplay(): void;
  /** Flags native reads of the compositor's socket left (STEADY_PEER_STAGED); 0: none. */
  takeDisplayNotice(): number;
  /** Reads of sockets done natively so far. */
  readonly nativeReads: number;
}

export interface SteadyFramesConstructor {
  new (wire: SteadyWire): SteadyFrames;
}

/** `SteadyFrames` io slots (src/steady.rs IO_*). */
export const STEADY_IO = { budget: 0, displayQueued: 1, peerQueued: 2, pixels: 3, flags: 4, messages: 5, length: 6 } as const;
/** `SteadyFrames` io flags. */
export const STEADY_RELEASE = 1;
export const STEADY_DISPLAY_STAGED = 2;
export const STEADY_PEER_STAGED = 4;

/** Wire numbers `SteadyCommits` uses, from the generated protocol tables (src/commits.rs). */
export interface CommitWire {
  wlAttach: number;
  wlDamage: number;
  wlDamageBuffer: number;
  wlFrame: number;
  wlCommit: number;
  wpFeedback: number;
  wlBufferRelease: number;
  wlCallbackDone: number;
  wlDeleteId: number;
  wpPresented: number;
  begin: number;
  frame: number;
  feedback: number;
  commit: number;
  callbackDone: number;
  feedbackPresented: number;
  feedbackDiscarded: number;
  deleteId: number;
}

/** A window handed to `SteadyCommits.adopt` (src/commits.rs says what each field is). */
export interface CommitSurface {
  key: number;
  app: number;
  appFd: number;
  /** The application's Wayland connection's nativeState. */
  appDirty: Uint8Array;
  wlSurface: number;
  presentations: number[];
  freeIds: number[];
  link: number;
  linkFd: number;
  /** The link's Waltham connection's next ids (WalthamConnection.idCounters) and whether it queued output since a fast path looked (nativeState). */
  ids: Float64Array;
  dirty: Uint8Array;
  surface: number;
  content: number;
  presentation: number;
  width: number;
  height: number;
  format: number;
  codecs: number;
  pixels: Uint8Array;
  out: Uint8Array;
  holdMs: number;
}

/** What `SteadyCommits` gives back of a window. */
export interface CommitState {
  key: number;
  nextId: number;
  inFlight: number;
  flightFeedback: number;
  flightBuffer: number;
  flightCallbacks: number[];
  flightFeedbacks: number[];
  shown: number[];
  deleting: number[];
  flightMs: number;
  truncated: boolean;
  commits: number;
  presented: number;
  tiles: number;
  unchangedTiles: number;
  rawBytes: number;
  wireBytes: number;
}

/** The transmitter's steady commits without JavaScript (src/commits.rs). */
export interface SteadyCommits {
  adopt(spec: CommitSurface, encoder: FrameEncoder): void;
  addBuffer(key: number, wlBuffer: number, mapping: ShmMapping, stride: number): void;
  releaseApp(app: number): CommitState[];
  /** Give back the windows of application `app` that go back alone (COMMIT_BACK). */
  releaseBack(app: number): CommitState[];
  releaseLink(link: number): CommitState[];
  releaseSurface(key: number): CommitState | null;
  /** Bring the content of adopted window `key` up to date (commits encoded straight from the application's buffer leave it behind). */
  settle(key: number): void;
  counters(link: number): number[];
  forget(app: number, link: number): void;
  overdue(link: number, ms: number): number[];
  takeStaged(app: number, link: number): Uint8Array | null;
  takeApp(app: number, buf: Uint8Array, start: number, end: number, io: Float64Array): number;
  takeLink(link: number, buf: Uint8Array, start: number, end: number, io: Float64Array): number;
  /** Read application `app`'s socket natively while it has windows handed over (until releaseApp or forget). */
  hookApp(app: number, fd: number): void;
  /** Read application `app`'s socket in JavaScript again. */
  unhookApp(app: number): void;
  /** Read link `link`'s socket natively while it has windows handed over (until unhookLink or forget). */
  hookLink(link: number, fd: number): void;
  unhookLink(link: number): void;
  /** Flags a native read left for `link` (COMMIT_APP_STAGED); 0: none. */
  takeLinkNotice(link: number): number;
  /** Messages of `link` taken by native reads since the last call. */
  takeLinkMessages(link: number): number;
  /** Flags a native read left for `app` (COMMIT_RELEASE, COMMIT_LINK_STAGED, COMMIT_BACK); 0: none. */
  takeNotice(app: number): number;
  /** Reads of applications' and links' sockets done natively so far. */
  readonly nativeReads: number;
}

export interface SteadyCommitsConstructor {
  new (wire: CommitWire): SteadyCommits;
}

/** `SteadyCommits` io slots (src/commits.rs IO_*). */
export const COMMIT_IO = { linkQueued: 0, appQueued: 1, flags: 2, messages: 3, linkBytes: 4, length: 5 } as const;
/** `SteadyCommits` io flags. */
export const COMMIT_RELEASE = 1;
export const COMMIT_APP_STAGED = 2;
export const COMMIT_LINK_STAGED = 4;
export const COMMIT_OTHER = 8;
export const COMMIT_BACK = 16;

/** The addon's exports. */
export interface NativeShim {
  tuneAllocator(): boolean;
  FrameEncoder: FrameEncoderConstructor;
  TileWriter: TileWriterConstructor;
  SteadyFrames: SteadyFramesConstructor;
  SteadyCommits: SteadyCommitsConstructor;
  memfdCreate(name: string, size: number): number;
  closeFd(fd: number): void;
  ftruncateFd(fd: number, size: number): void;
  fdSize(fd: number): number;
  discardFdPages(fd: number): void;
  dupFd(fd: number): number;
  unixConnect(path: string): number;
  sendMsg(fd: number, data: Uint8Array, fds: number[]): number;
  sendParts(fd: number, parts: Uint8Array[]): number;
  recvMsgInto(fd: number, buf: Uint8Array, offset: number, fds: Int32Array): number;
  socketUnackedBytes(fd: number): number;
  socketBytesAcked(fd: number): number;
  socketLowWater(fd: number, bytes: number): void;
  socketPair(): [number, number];
  pipe(): [number, number];
  UnixListener: UnixListenerStatic;
  Poller: PollerConstructor;
  ShmMapping: ShmMappingStatic;
  copyPixels(
    src: Uint8Array,
    srcStride: number,
    sx: number,
    sy: number,
    dst: Uint8Array,
    dstStride: number,
    dx: number,
    dy: number,
    width: number,
    height: number,
  ): void;
  applySpans(stream: Uint8Array, dst: Uint8Array, stride: number, x: number, y: number, width: number, height: number): void;
  copyChanged(
    src: Uint8Array,
    srcStride: number,
    dst: Uint8Array,
    dstStride: number,
    x: number,
    y: number,
    width: number,
    height: number,
    grid: number,
    out: Int32Array,
  ): number;
  packRgb(src: Uint8Array, stride: number, x: number, y: number, width: number, height: number, dst: Uint8Array): void;
  unpackRgb(src: Uint8Array, dst: Uint8Array, stride: number, x: number, y: number, width: number, height: number): void;
  compress(codec: BlockCodec, src: Uint8Array, dst: Uint8Array, level?: number): number;
  decompress(codec: BlockCodec, src: Uint8Array, dst: Uint8Array): number;
  lz4Compress(input: Uint8Array, output: Uint8Array): number;
  lz4Decompress(input: Uint8Array, output: Uint8Array): number;
}

/** The lossless block codecs of the shim: an LZ4 block (reference liblz4 format) or a zstd frame. */
export type BlockCodec = 'lz4' | 'zstd';

/** Where the addon's loader is, relative to this module: from the sources and from `dist/`. */
const LOADER_CANDIDATES = ['../native/wayland-shim/index.cjs', '../../native/wayland-shim/index.cjs'];

function load(): NativeShim {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const candidate of LOADER_CANDIDATES) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(file)) return require(file) as NativeShim;
    tried.push(file);
  }
  throw new Error(`native shim not built (run \`npm run build:native\`); looked for ${tried.join(', ')}`);
}

export const native: NativeShim = load();
// Frames allocate and free frame-sized buffers: keep freed memory for reuse (src/alloc.rs).
native.tuneAllocator();

/** `memfd_create(MFD_CLOEXEC | MFD_ALLOW_SEALING)` + `ftruncate(size)`; the caller owns the fd. */
export const memfdCreate = native.memfdCreate;
export const closeFd = native.closeFd;
export const ftruncateFd = native.ftruncateFd;
/** `fstat` st_size. */
export const fdSize = native.fdSize;
/** Frees a memfd's pages at once (fallocate PUNCH_HOLE, size kept): its mappings stay valid and read as zeros. */
export const discardFdPages = native.discardFdPages;
/** `F_DUPFD_CLOEXEC`; the caller owns the new fd. */
export const dupFd = native.dupFd;
/** Connected, non-blocking, close-on-exec Unix stream socket; the caller owns it. */
export const unixConnect = native.unixConnect;
/**
 * One non-blocking sendmsg with `fds` (at most MAX_FDS, else throws) as SCM_RIGHTS. Returns the
 * bytes written (the fds travel with the first of them), or -1 if the socket buffer is full
 * (nothing sent). The fds stay the caller's.
 */
export const sendMsg = native.sendMsg;
/**
 * One non-blocking sendmsg of `parts` (at most MAX_SEND_PARTS) in order, without joining them
 * first. Returns the bytes written, maybe fewer than their sum, or -1 if the socket buffer is
 * full (nothing sent).
 */
export const sendParts = native.sendParts;
/** Parts `sendParts` takes at most. */
export const MAX_SEND_PARTS = 1024;
/**
 * One non-blocking recvmsg into `buf` from byte `offset` on: the bytes read (0: the peer closed)
 * or -1 if nothing is available. The fds received (the caller's) are written to the start of
 * `fds` (room for MAX_FDS), followed by -1. Throws (code 'EMSGSIZE') if the peer sent more fds
 * than fit; those that arrived are closed. Allocates nothing: the read of every wake-up.
 */
export const recvMsgInto = native.recvMsgInto;

/** `recvMsgInto` for callers that read now and then: the result as an object, null if nothing is available. */
export function recvMsg(fd: number, buf: Uint8Array): RecvResult | null {
  const fds = new Int32Array(MAX_FDS);
  const bytes = recvMsgInto(fd, buf, 0, fds);
  if (bytes < 0) return null;
  const end = fds.indexOf(-1);
  return { bytes, fds: [...fds.subarray(0, end < 0 ? MAX_FDS : end)] };
}
/** A connected pair of non-blocking, close-on-exec Unix stream sockets (for tests). */
export const socketPair = native.socketPair;
/** A blocking, close-on-exec pipe: [read end, write end] (selection data to and from applications). */
export const pipe = native.pipe;
/**
 * Bytes written to a socket that the peer has not acknowledged (SIOCOUTQ): for TCP, unsent or
 * in flight; what the writer sees of a link slower than itself.
 */
export const socketUnackedBytes = native.socketUnackedBytes;
/** Bytes of a TCP socket the peer has acknowledged so far (TCP_INFO tcpi_bytes_acked). */
export const socketBytesAcked = native.socketBytesAcked;
/** Readiness of a socket reported only once `bytes` are queued (SO_RCVLOWAT; TCP: an end of stream or an error whatever the mark). */
export const socketLowWater = native.socketLowWater;
export const UnixListener: UnixListenerStatic = native.UnixListener;
export const Poller: PollerConstructor = native.Poller;
export const ShmMapping: ShmMappingStatic = native.ShmMapping;
/** One-pass tile encoder: diff against the mirror, codec choice and finished tile messages in one call. */
export const FrameEncoder: FrameEncoderConstructor = native.FrameEncoder;
/** Writes tiles into pixels: validation of the payload and decoding in one call per tile. */
export const TileWriter: TileWriterConstructor = native.TileWriter;
/** The receiver's steady frames: adopted surfaces' frames handled without JavaScript. */
export const SteadyFrames: SteadyFramesConstructor = native.SteadyFrames;
/** The transmitter's steady commits: adopted windows' commits handled without JavaScript. */
export const SteadyCommits: SteadyCommitsConstructor = native.SteadyCommits;

/** Copies a `width` x `height` rectangle of pixels from (sx, sy) of `src` to (dx, dy) of `dst`. */
export const copyPixels = native.copyPixels;
/**
 * Copies a rectangle of `src` to the same place of `dst`, writing only what differs, and writes
 * where it differed to `out` (x, y, width, height quadruples cut to a grid); returns how many,
 * -1 when they do not fit (the copy is complete all the same). See src/refine.rs.
 */
export const copyChanged = native.copyChanged;
/** Applies a span stream to a rectangle of `dst`; throws (EBADMSG) without changing `dst` when malformed. */
export const applySpans = native.applySpans;
/**
 * The `width` x `height` rectangle at (x, y) of `src` (B, G, R, X) written to the start of `dst`
 * as packed R, G, B (`width * 3` bytes per row), for the lossy codecs (src/rgb.rs).
 */
export const packRgb = native.packRgb;
/** Packed R, G, B rows (`width * 3` bytes each) written into a rectangle of `dst` as B, G, R, 255. */
export const unpackRgb = native.unpackRgb;
/**
 * `src` compressed into `dst` with `codec` (`level`: zstd's, default 1, clamped to -7..22; LZ4
 * has one); returns the compressed length, or -1 when it does not fit (pass a `dst` shorter than
 * `src` to compress only when it saves bytes).
 */
export const compress = native.compress;
/**
 * Decompresses `src` into `dst`; returns the decoded length (bytes of `dst` past it may change
 * too). Throws (EBADMSG) on malformed input or input that decodes to more than `dst` holds.
 */
export const decompress = native.decompress;
/**
 * One LZ4 block of `input` written into `output`; returns its length, or -1 when it does not fit
 * (pass a view shorter than the input to compress only when it saves bytes).
 */
export const lz4Compress = native.lz4Compress;
/**
 * Decodes one LZ4 block into `output`; returns the decoded length (bytes of `output` past it may
 * change too). Throws (EBADMSG) on a malformed block or one that does not fit.
 */
export const lz4Decompress = native.lz4Decompress;
