/**
 * The transmitter's link to one receiver. It mirrors the routed part of a
 * Scene on the receiver over Waltham, and turns what the receiver sends back
 * (presentation, configures, input, keymap, output) into calls of the
 * surfaces' SceneFeedback, so applications see a normal compositor.
 *
 * - Routing: a surface is sent when its root (toplevel or ivi surface) passes
 *   `filter`; subsurfaces and popups follow their root; a cursor surface is
 *   sent while it is the cursor of an application with routed surfaces.
 * - Content: per surface a TileEncoder keeps a mirror of what the receiver
 *   has; each commit sends wthp_content.begin, the changed tiles and
 *   wthp_surface.commit with a frame callback.
 * - Codecs: the codec policy (shared/remote/codec-policy.ts) picks each
 *   frame's codec from the measured link (LinkSampler) and frame statistics,
 *   within what the receiver announced: lz4, zstd on a bottlenecked link,
 *   lossy JPEG/WebP tiles when allowed (lossy-sender.ts).
 * - Pacing: at most `maxFramesInFlight` commits per surface wait for the
 *   receiver's frame callback, and none while its lossy frame is encoded.
 *   Commits beyond that are coalesced (the newest state, the union of
 *   damage) and sent when a callback comes back. The application's frame
 *   callbacks are answered (`presented`) when the receiver presented the
 *   newest frame sent, those of commits merged since then included, so an
 *   application that commits faster than the receiver shows keeps its pace.
 * - The network is invisible to applications: when the connection drops the
 *   link logs it, keeps answering frame callbacks at a slow pace, reconnects
 *   with exponential backoff (0.2 s doubling to 5 s, with jitter) and then
 *   sends the whole current scene again.
 */
import { EventEmitter } from 'node:events';
import type { Rect, Scene, SceneFeedback, SceneOwner, SceneSurface } from '../../shared/scene/scene.js';
import type { CommitInfo } from '../../shared/scene/scene.js';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpInputExtensionProxy,
  WthpIviApplicationProxy,
  WthpOutputProxy,
  WthpRemoteShellProxy,
  WthpSeatProxy,
  WthpWindowGeometryProxy,
  type WthpCallbackProxy,
  type WthpIviSurfaceProxy,
  type WthpKeyboardProxy,
  type WthpPointerProxy,
  type WthpPopupProxy,
  type WthpSubsurfaceProxy,
  type WthpSurfaceProxy,
  type WthpToplevelProxy,
  type WthpTouchProxy,
} from '../../shared/generated/waltham/waltham.js';
import { decodeU32Array } from '../../shared/wire/array.js';
import type { WireObject, WireObjectClass } from '../../shared/wire/object.js';
import type { WalthamLogger } from '../../shared/waltham/connection.js';
import type { WalthamClient, WalthamClientOptions } from '../../shared/waltham/display.js';
import { connectWaltham } from '../../shared/waltham/tcp.js';
import { guardFeedback } from '../../shared/remote/guard.js';
import { sameRects } from '../../shared/scene/region.js';
import {
  bitsToStates,
  KeymapAssembler,
  KEYMAP_FORMAT_XKB_V1,
  SEAT_KEYBOARD,
  SEAT_POINTER,
  SEAT_TOUCH,
} from '../../shared/remote/protocol.js';
import type { OutputInfo } from '../../shared/scene/output.js';
import {
  CODEC_LZ4,
  CODEC_LZ4_SPANS,
  CODEC_RAW,
  CODEC_SOLID,
  CODEC_ZSTD,
  codecBit,
  formatToWire,
  TileEncoder,
  tileMessageSize,
} from '../../shared/remote/tiles.js';
import type { Content, PixelFormat } from '../../shared/scene/scene.js';
import { CodecPolicy, type CodecChoice, type CodecPolicyOptions } from '../../shared/remote/codec-policy.js';
import { LOSSY_CODECS, type LossyCodec } from '../../shared/remote/lossy.js';
import { LinkSampler } from './link-sampler.js';
import { isOpaque, LossySender } from './lossy-sender.js';

export type LinkCodec = 'raw' | 'lz4' | 'zstd' | 'lossy' | 'auto';

export const LINK_CODECS: readonly LinkCodec[] = ['raw', 'lz4', 'zstd', 'lossy', 'auto'];

export interface ReceiverLinkOptions {
  readonly host: string;
  readonly port: number;
  readonly scene: Scene;
  /** Which roots (toplevel or ivi surfaces) go to this receiver; default: all. Usually by app_id. */
  readonly filter?: (root: SceneSurface) => boolean;
  /** Where the receiver's feedback for a surface goes; default `surface.owner.feedback`. */
  readonly feedbackFor?: (surface: SceneSurface) => SceneFeedback;
  readonly logger: WalthamLogger;
  /**
   * 'raw': raw tiles only; 'lz4': LZ4 of the pixels or of the changed pixels (lz4_spans) when
   * the receiver decodes it and it is smaller; 'zstd': zstd instead of LZ4 for the pixels;
   * 'lossy': JPEG/WebP tiles for what changes (the first frame of a buffer size is lossless);
   * 'auto': the codec policy chooses per frame (lz4; zstd when the link is the bottleneck;
   * lossy only with `allowLossy`). Always within the codecs the receiver announced. Default 'auto'.
   */
  readonly codec?: LinkCodec;
  /** Whether 'auto' may send lossy tiles (video-like content on a bottlenecked link). Default false. */
  readonly allowLossy?: boolean;
  /** Quality of lossy tiles when the link has room, 1..100. Default 80. */
  readonly lossyQuality?: number;
  readonly lossyCodec?: LossyCodec;
  /** Tuning of the codec policy. */
  readonly policy?: Omit<CodecPolicyOptions, 'mode' | 'allowLossy' | 'lossyQuality' | 'lossyCodec'>;
  /** A codec policy to use instead of one made from the options above (ignored with 'raw'). */
  readonly codecPolicy?: CodecPolicy;
  /** After this long without a lossy frame, a surface's lossy pixels are replaced by exact ones. Default 300. */
  readonly lossySettleMs?: number;
  /** Commits per surface waiting for the receiver's frame callback. Default 2. */
  readonly maxFramesInFlight?: number;
  /** Reconnection delays: first `initialMs` (0.2 s), doubling up to `maxMs` (5 s), with ±25 % jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** While disconnected, frame callbacks are answered this often (ms). Default 250. */
  readonly offlineFrameMs?: number;
  readonly tileSize?: number;
  /** Bytes waiting in the socket above which new frames wait for it to drain. Default 8 MiB. */
  readonly highWaterBytes?: number;
  /** Longest wait for the TCP connection and the handshake (ms). Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Liveness: a wth_display.sync goes out every `pingMs` (default 5000); a
   * receiver that has not answered one within `deadMs` (default 15000) is
   * taken for gone (powered off, cable pulled) and the link reconnects.
   */
  readonly liveness?: { readonly pingMs?: number; readonly deadMs?: number };
  /**
   * How often surfaces routed elsewhere are checked for a routing change
   * (ms; their commits are not listened to). Default 1000.
   */
  readonly recheckMs?: number;
  /** Options of the Waltham connection. */
  readonly connection?: Omit<WalthamClientOptions, 'logger'>;
}

export interface ReceiverLinkEvents {
  /** Connected and the globals are bound; the scene is being sent. */
  connected: [];
  /** The connection is gone; `reason` is set when it failed. A reconnection follows unless stopped. */
  disconnected: [reason: Error | undefined];
  /** The receiver described its output (after wthp_output.done). */
  output: [info: OutputInfo];
}

export interface LinkStats {
  readonly connected: boolean;
  readonly connects: number;
  readonly disconnects: number;
  /** Surfaces currently mirrored on the receiver. */
  readonly surfaces: number;
  readonly commitsSent: number;
  /** Producer commits merged into a later one because frames were in flight. */
  readonly commitsCoalesced: number;
  readonly framesPresented: number;
  readonly tiles: number;
  readonly unchangedTiles: number;
  /** Bytes of pixels the tiles carried, before encoding. */
  readonly rawBytes: number;
  /** Bytes of tile messages sent. */
  readonly wireBytes: number;
  /** Frames sent as lossy tiles. */
  readonly lossyFrames: number;
  /** Bytes waiting in the socket now. */
  readonly queuedBytes: number;
}

interface SentToplevel {
  title: string;
  appId: string;
  parent: SceneSurface | null;
  minW: number;
  minH: number;
  maxW: number;
  maxH: number;
  geometry: Rect | null;
  fullscreen: boolean;
  maximized: boolean;
}

/** A scene surface as the receiver knows it, for one connection. */
class Remote {
  role: WthpToplevelProxy | WthpPopupProxy | WthpSubsurfaceProxy | WthpIviSurfaceProxy | null = null;
  readonly kind: 'toplevel' | 'popup' | 'subsurface' | 'ivi' | 'cursor';
  /** A commit of the producer is not sent yet. */
  dirty = true;
  /** Damage (buffer pixels) since the last sent commit; null = the whole surface. */
  damage: Rect[] | null = null;
  /** Send a bare commit: state of children (position, synchronized commits) waits for it. */
  needsCommit = false;
  /** Frame callbacks of sent commits the receiver has not answered yet. */
  readonly frames = new Set<WthpCallbackProxy>();
  readonly encoder: TileEncoder;
  toplevel: SentToplevel | null = null;
  popupRect: Rect | null = null;
  /** Window geometry sent through wthp_window_geometry (popups). */
  geometry: Rect | null = null;
  position = { x: 0, y: 0 };
  sync = true;
  stack: SceneSurface[];
  opaque: readonly Rect[] = [];
  input: readonly Rect[] | null = null;
  scale = 1;
  transform = 0;
  size: { width: number; height: number; format: PixelFormat } | null = null;
  hotspot: { x: number; y: number } | null = null;

  constructor(
    readonly scene: SceneSurface,
    readonly surface: WthpSurfaceProxy,
    kind: Remote['kind'],
    encoder: TileEncoder,
  ) {
    this.kind = kind;
    this.encoder = encoder;
    this.stack = [scene];
  }
}

/** The objects of one connection to the receiver. */
class ConnectionState {
  readonly remotes = new Map<SceneSurface, Remote>();
  readonly byProxy = new Map<WthpSurfaceProxy, SceneSurface>();
  pointer: WthpPointerProxy | null = null;
  keyboard: WthpKeyboardProxy | null = null;
  touch: WthpTouchProxy | null = null;
  codecs = codecBit(CODEC_RAW);
  pointerFocus: SceneSurface | null = null;
  pointerSerial = 0;
  /** The cursor surface (or null) last given to set_cursor, per owner in focus. */
  cursorSent: SceneSurface | null | undefined = undefined;
  keyboardFocus: SceneSurface | null = null;
  readonly touchPoints = new Map<number, SceneSurface>();
  readonly touchTouched = new Set<SceneFeedback>();
  keymap: string | null = null;
  repeat: { rate: number; delay: number } | null = null;
  readonly keymapGiven = new Set<SceneFeedback>();
  readonly repeatGiven = new Set<SceneFeedback>();
  output: Partial<{ -readonly [K in keyof OutputInfo]: OutputInfo[K] }> = {};

  constructor(
    readonly client: WalthamClient,
    readonly compositor: WthpCompositorProxy,
    readonly shell: WthpRemoteShellProxy,
    readonly content: WthpContentProxy,
    readonly ivi: WthpIviApplicationProxy | null,
    readonly windowGeometry: WthpWindowGeometryProxy | null,
  ) {}
}

const MAX_DAMAGE_RECTS = 64;

export class ReceiverLink extends EventEmitter<ReceiverLinkEvents> {
  private readonly scene: Scene;
  private readonly filter: (root: SceneSurface) => boolean;
  private readonly feedbackFor: (surface: SceneSurface) => SceneFeedback;
  private readonly logger: WalthamLogger;
  private readonly maxInFlight: number;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly offlineFrameMs: number;
  private readonly highWater: number;
  private readonly connectTimeout: number;
  private readonly pingMs: number;
  private readonly deadMs: number;
  private readonly recheckMs: number;
  private readonly where: string;

  private conn: ConnectionState | null = null;
  private running = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | null = null;
  /** Aborts the TCP connect of the attempt under way. */
  private connectAbort: AbortController | null = null;
  /** The connection of the attempt under way, during its handshake. */
  private handshaking: WalthamClient | null = null;
  private flushScheduled = false;
  private waitingDrain = false;
  private readonly tracked = new Map<SceneSurface, { commit: (info: CommitInfo) => void; destroy: () => void }>();
  /** Tracked surfaces whose commits are listened to (see updateListening). */
  private readonly listening = new Set<SceneSurface>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private readonly offlineTimers = new Map<SceneSurface, NodeJS.Timeout>();
  private readonly counters = {
    connects: 0,
    disconnects: 0,
    commitsSent: 0,
    commitsCoalesced: 0,
    framesPresented: 0,
    tiles: 0,
    unchangedTiles: 0,
    rawBytes: 0,
    wireBytes: 0,
    lossyFrames: 0,
  };
  /** Chooses each frame's codec (null for 'raw'). */
  private readonly policy: CodecPolicy | null;
  private readonly lossy: LossySender;
  /** A lossy encode failed: this link sends lossless only. */
  private lossyBroken = false;
  private sampler: LinkSampler | null = null;

  constructor(private readonly options: ReceiverLinkOptions) {
    super();
    this.scene = options.scene;
    this.filter = options.filter ?? (() => true);
    const pick = options.feedbackFor ?? ((s: SceneSurface) => s.owner.feedback);
    // A producer's feedback that throws must not break the connection: log and go on.
    this.feedbackFor = (s) =>
      guardFeedback(pick(s), (method, err) =>
        this.logger.error({ err }, `${this.where}: feedback ${method} failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    this.logger = options.logger;
    this.maxInFlight = Math.max(1, options.maxFramesInFlight ?? 2);
    this.initialDelay = options.backoff?.initialMs ?? 200;
    this.maxDelay = options.backoff?.maxMs ?? 5000;
    this.offlineFrameMs = options.offlineFrameMs ?? 250;
    this.highWater = options.highWaterBytes ?? 8 * 1024 * 1024;
    this.connectTimeout = options.connectTimeoutMs ?? 5000;
    this.pingMs = options.liveness?.pingMs ?? 5000;
    this.deadMs = options.liveness?.deadMs ?? 15000;
    this.recheckMs = options.recheckMs ?? 1000;
    this.where = `receiver ${options.host}:${options.port}`;
    const codec = options.codec ?? 'auto';
    this.policy =
      codec === 'raw'
        ? null
        : options.codecPolicy ?? new CodecPolicy({
            ...options.policy,
            mode: codec,
            allowLossy: options.allowLossy ?? false,
            ...(options.lossyQuality !== undefined ? { lossyQuality: options.lossyQuality } : {}),
            ...(options.lossyCodec !== undefined ? { lossyCodec: options.lossyCodec } : {}),
          });
    this.lossy = new LossySender({
      logger: this.logger,
      where: this.where,
      ...(options.lossySettleMs !== undefined ? { settleMs: options.lossySettleMs } : {}),
      refine: (key) => this.refineLossy(key as Remote),
    });
  }

  get connected(): boolean {
    return this.conn !== null;
  }

  /** Start mirroring the scene; connects now and whenever the connection is lost. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.scene.on('surface', this.onSurface);
    this.scene.on('cursor', this.onCursor);
    for (const s of this.scene.surfaces) this.track(s);
    this.recheckTimer = setInterval(() => this.recheck(), this.recheckMs);
    this.recheckTimer.unref();
    this.connectSoon(0);
  }

  /**
   * Stop: close the connection (the receiver drops our surfaces) and stop
   * following the scene. A connection attempt under way is abandoned. The
   * receiver gets what is queued and then `graceMs` (default: the
   * connection's `closeTimeoutMs`, 5 s) to close its side before the
   * connection is dropped; a command that is shutting down passes a short grace.
   */
  async stop(options: { readonly graceMs?: number } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.connectAbort?.abort();
    this.handshaking?.destroy();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    clearInterval(this.recheckTimer);
    this.scene.off('surface', this.onSurface);
    this.scene.off('cursor', this.onCursor);
    for (const s of [...this.tracked.keys()]) this.untrack(s);
    for (const t of this.offlineTimers.values()) clearTimeout(t);
    this.offlineTimers.clear();
    await this.connecting?.catch(() => undefined);
    const conn = this.conn;
    if (conn !== null) await conn.client.close(options.graceMs);
  }

  stats(): LinkStats {
    const queuedBytes = this.conn?.client.stream.writableLength ?? 0;
    return { connected: this.connected, surfaces: this.conn?.remotes.size ?? 0, ...this.counters, queuedBytes };
  }

  // ---- Connection --------------------------------------------------------------------------

  private connectSoon(delay: number): void {
    if (!this.running || this.reconnectTimer !== undefined || this.connecting !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connecting = this.connect().then((retryIn) => {
        this.connecting = null;
        if (retryIn !== null) this.connectSoon(retryIn);
      });
    }, delay);
  }

  private nextDelay(): number {
    const base = Math.min(this.maxDelay, this.initialDelay * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** One connection attempt; resolves with the delay before the next one, or null. */
  private async connect(): Promise<number | null> {
    const { host, port } = this.options;
    let client: WalthamClient;
    const abort = new AbortController();
    this.connectAbort = abort;
    try {
      const connecting = connectWaltham(host, port, {
        maxOutgoingBytes: 256 * 1024 * 1024,
        ...this.options.connection,
        logger: this.logger,
        label: this.where,
        signal: abort.signal,
      });
      client = await withTimeout(connecting, this.connectTimeout, 'connection timed out', (late) => late.destroy());
    } catch (err) {
      abort.abort(); // a connect that timed out is dropped
      if (!this.running) return null; // stop() abandoned the attempt
      const delay = this.nextDelay();
      const text = `${this.where}: cannot connect (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); retrying in ${delay} ms`;
      if (this.attempt <= 1) this.logger.warn({ host, port }, text);
      else this.logger.debug({ host, port }, text);
      return delay;
    } finally {
      this.connectAbort = null;
    }
    if (!this.running) {
      client.destroy();
      return null;
    }
    this.handshaking = client;
    try {
      const conn = await withTimeout(this.handshake(client), this.connectTimeout, 'no answer from the receiver');
      this.handshaking = null;
      if (!this.running || !client.isOpen) {
        client.destroy();
        return this.running ? this.nextDelay() : null;
      }
      this.attempt = 0;
      this.conn = conn;
      this.counters.connects++;
      for (const t of this.offlineTimers.values()) clearTimeout(t);
      this.offlineTimers.clear();
      client.once('close', (reason) => this.onClosed(conn, reason));
      this.sampler?.stop();
      this.sampler = this.policy === null ? null : new LinkSampler(client.stream, (sample) => this.policy!.linkSample(sample));
      this.watch(conn);
      this.logger.info({ host, port }, `${this.where}: connected`);
      this.emit('connected');
      this.syncAll();
      this.scheduleFlush();
      return null;
    } catch (err) {
      this.handshaking = null;
      client.destroy();
      if (!this.running) return null; // stop() abandoned the attempt
      const delay = this.nextDelay();
      this.logger.warn({ host, port }, `${this.where}: handshake failed (${(err as Error).message}); retrying in ${delay} ms`);
      return delay;
    }
  }

  private async handshake(client: WalthamClient): Promise<ConnectionState> {
    const globals = await client.globals();
    const find = (name: string): { name: number; version: number } | undefined => globals.find((g) => g.interface === name);
    const bind = <T extends WireObject>(ctor: WireObjectClass<T>): T => {
      const g = find(ctor.spec.name);
      if (g === undefined) throw new Error(`the receiver has no ${ctor.spec.name}`);
      return client.bind(ctor, g.name, Math.min(g.version, ctor.spec.version));
    };
    const bindOptional = <T extends WireObject>(ctor: WireObjectClass<T>): T | null => {
      const g = find(ctor.spec.name);
      return g === undefined ? null : client.bind(ctor, g.name, Math.min(g.version, ctor.spec.version));
    };
    const compositor = bind(WthpCompositorProxy);
    const shell = bind(WthpRemoteShellProxy);
    const content = bind(WthpContentProxy);
    const ivi = bindOptional(WthpIviApplicationProxy);
    const windowGeometry = bindOptional(WthpWindowGeometryProxy);
    const conn = new ConnectionState(client, compositor, shell, content, ivi, windowGeometry);
    const basic = codecBit(CODEC_RAW) | codecBit(CODEC_SOLID);
    const lz4 = basic | codecBit(CODEC_LZ4) | codecBit(CODEC_LZ4_SPANS);
    const codec = this.options.codec ?? 'auto';
    const wanted = codec === 'raw' ? basic : codec === 'lz4' ? lz4 : codec === 'zstd' ? lz4 | codecBit(CODEC_ZSTD) : lz4 | codecBit(CODEC_ZSTD) | LOSSY_CODECS;
    content.listen({ codecs: (mask) => (conn.codecs = (mask & wanted) | codecBit(CODEC_RAW)) });
    const seat = bindOptional(WthpSeatProxy);
    const ext = bindOptional(WthpInputExtensionProxy);
    if (seat !== null) seat.listen({ capabilities: (caps) => this.onCapabilities(conn, seat, ext, caps) });
    const output = bindOptional(WthpOutputProxy);
    if (output !== null) this.listenOutput(conn, output);
    await client.roundtrip();
    return conn;
  }

  /** Ping the receiver with wth_display.sync; drop a connection that stopped answering. */
  private watch(conn: ConnectionState): void {
    let lastAnswer = Date.now();
    let waiting = false;
    const timer = setInterval(() => {
      if (this.conn !== conn || !conn.client.isOpen) {
        clearInterval(timer);
        return;
      }
      if (Date.now() - lastAnswer > this.deadMs) {
        clearInterval(timer);
        this.logger.warn({}, `${this.where}: no answer for ${this.deadMs} ms`);
        conn.client.destroy(new Error(`no answer for ${this.deadMs} ms`));
        return;
      }
      if (waiting) return;
      waiting = true;
      conn.client.sync().then(
        () => {
          waiting = false;
          lastAnswer = Date.now();
        },
        () => undefined,
      );
    }, Math.min(this.pingMs, this.deadMs / 2));
    timer.unref();
  }

  private onClosed(conn: ConnectionState, reason: Error | undefined): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.sampler?.stop();
    this.sampler = null;
    for (const r of conn.remotes.values()) this.lossy.forget(r);
    this.counters.disconnects++;
    const pending = [...conn.remotes.values()].filter((r) => r.frames.size > 0 || r.dirty).map((r) => r.scene);
    if (this.running) {
      const delay = this.nextDelay();
      this.logger.warn(
        { host: this.options.host, port: this.options.port },
        `${this.where}: connection lost${reason !== undefined ? ` (${reason.message})` : ''}; reconnecting in ${delay} ms`,
      );
      for (const s of pending) this.paceOffline(s);
      this.connectSoon(delay);
    }
    this.emit('disconnected', reason);
  }

  // ---- Scene following ---------------------------------------------------------------------

  private readonly onSurface = (s: SceneSurface): void => this.track(s);

  private readonly onCursor = (owner: SceneOwner): void => {
    const conn = this.conn;
    if (conn === null) return;
    this.syncAll();
    if (conn.pointerFocus !== null && conn.pointerFocus.owner === owner) this.sendCursor(conn, owner);
  };

  private track(s: SceneSurface): void {
    if (this.tracked.has(s) || s.destroyed) return;
    const listeners = {
      commit: (info: CommitInfo) => this.onCommit(s, info),
      destroy: () => this.onDestroyed(s),
    };
    this.tracked.set(s, listeners);
    s.on('destroy', listeners.destroy);
    this.updateListening(s);
    if (s.role !== null && this.conn !== null) {
      this.syncAll();
      this.scheduleFlush();
    }
  }

  /**
   * Listen to the commits of a surface only while it may come here: one
   * without a role (yet), a cursor, or a routed one. The virtual display
   * takes a surface whose commits someone listens to for shown, and waits
   * for that consumer's `presented`; surfaces routed elsewhere must not look
   * shown by this link. Routing changes of those are found by `recheck`.
   */
  private updateListening(s: SceneSurface): void {
    const l = this.tracked.get(s);
    if (l === undefined) return;
    const want = !s.destroyed && (s.role === null || s.role.kind === 'cursor' || this.routed(s, null));
    if (want && !this.listening.has(s)) {
      this.listening.add(s);
      s.on('commit', l.commit);
    } else if (!want && this.listening.has(s)) {
      this.listening.delete(s);
      s.off('commit', l.commit);
    }
  }

  /** Surfaces not listened to may have become routed (an app_id changed): look again. */
  private recheck(): void {
    let changed = false;
    for (const s of this.tracked.keys()) {
      if (this.listening.has(s) || !this.routed(s, null)) continue;
      this.updateListening(s);
      changed = true;
    }
    if (changed && this.conn !== null) {
      this.syncAll();
      this.scheduleFlush();
    }
  }

  private untrack(s: SceneSurface): void {
    const l = this.tracked.get(s);
    if (l === undefined) return;
    this.tracked.delete(s);
    if (this.listening.delete(s)) s.off('commit', l.commit);
    s.off('destroy', l.destroy);
    clearTimeout(this.offlineTimers.get(s));
    this.offlineTimers.delete(s);
  }

  private onDestroyed(s: SceneSurface): void {
    this.untrack(s);
    this.policy?.forget(s.id);
    const conn = this.conn;
    if (conn === null) return;
    const r = conn.remotes.get(s);
    if (r !== undefined) this.destroyRemote(conn, r);
    if (conn.pointerFocus === s) conn.pointerFocus = null;
    if (conn.keyboardFocus === s) conn.keyboardFocus = null;
    for (const [id, t] of conn.touchPoints) if (t === s) conn.touchPoints.delete(id);
  }

  private onCommit(s: SceneSurface, info: CommitInfo): void {
    const conn = this.conn;
    if (info.roleChanged || s.role === null || !this.listening.has(s)) this.updateListening(s);
    if (conn === null) {
      if (this.routed(s, null)) this.paceOffline(s);
      return;
    }
    if (info.roleChanged || !conn.remotes.has(s)) this.syncAll();
    const r = conn.remotes.get(s);
    if (r === undefined) return;
    if (r.dirty && (r.frames.size >= this.maxInFlight || this.lossy.busy(r))) this.counters.commitsCoalesced++;
    r.dirty = true;
    if (info.resized) r.damage = null;
    else if (r.damage !== null) {
      r.damage.push(...info.damage);
      if (r.damage.length > MAX_DAMAGE_RECTS) r.damage = null;
    }
    this.scheduleFlush();
  }

  /** Whether `s` goes to this receiver now. */
  private routed(s: SceneSurface, conn: ConnectionState | null): boolean {
    if (s.destroyed || s.role === null) return false;
    if (s.role.kind === 'cursor') {
      if (conn === null) return false;
      for (const [owner, cursor] of this.scene.cursors) {
        if (cursor !== s) continue;
        for (const r of conn.remotes.values()) if (r.kind !== 'cursor' && r.scene.owner === owner) return true;
      }
      return false;
    }
    const root = s.root;
    if (root.destroyed || root.role === null || (root.role.kind !== 'toplevel' && root.role.kind !== 'ivi')) return false;
    if (s !== root) {
      // Every surface between s and its root must still be alive.
      for (let p: SceneSurface = s; p !== root; ) {
        const role = p.role;
        if (role === null || (role.kind !== 'subsurface' && role.kind !== 'popup') || role.parent.destroyed) return false;
        p = role.parent;
      }
    }
    try {
      return this.filter(root);
    } catch (err) {
      this.logger.error({ err }, `${this.where}: routing filter failed`);
      return false;
    }
  }

  /** Create remote surfaces for what became routed, destroy those that no longer are. */
  private syncAll(): void {
    const conn = this.conn;
    if (conn === null) return;
    for (const r of [...conn.remotes.values()].sort((a, b) => depth(b.scene) - depth(a.scene))) {
      if (!this.routed(r.scene, conn) || kindOf(r.scene) !== r.kind) this.destroyRemote(conn, r);
    }
    for (const s of this.tracked.keys()) {
      this.updateListening(s);
      if (s.role !== null && s.role.kind !== 'cursor') this.ensure(conn, s);
    }
    // Cursors last: they are routed through the surfaces of their owner.
    for (const s of this.tracked.keys()) if (s.role !== null && s.role.kind === 'cursor') this.ensure(conn, s);
  }

  private ensure(conn: ConnectionState, s: SceneSurface): Remote | null {
    const existing = conn.remotes.get(s);
    if (existing !== undefined) return existing;
    if (!this.routed(s, conn)) return null;
    const role = s.role!;
    let parent: Remote | null = null;
    if (role.kind === 'subsurface' || role.kind === 'popup') {
      parent = this.ensure(conn, role.parent);
      if (parent === null) return null;
    }
    const kind = kindOf(s)!;
    const surface = conn.compositor.createSurface();
    const encoder = new TileEncoder({ codecs: conn.codecs, ...(this.options.tileSize !== undefined ? { tileSize: this.options.tileSize } : {}) });
    const r = new Remote(s, surface, kind, encoder);
    conn.remotes.set(s, r);
    conn.byProxy.set(surface, s);
    switch (role.kind) {
      case 'toplevel':
        r.role = this.makeToplevel(conn, s, surface);
        break;
      case 'ivi':
        if (conn.ivi !== null) {
          const ivi = conn.ivi.surfaceCreate(role.iviId >>> 0, surface);
          ivi.listen({ configure: (w, h) => this.feedbackFor(s).configure(s, w, h, []) });
          r.role = ivi;
        } else {
          this.logger.warn({ iviId: role.iviId }, `${this.where}: no wthp_ivi_application, ivi surface ${role.iviId} sent as a window`);
          r.role = this.makeToplevel(conn, s, surface);
        }
        break;
      case 'popup': {
        const rect = role.rect;
        const popup = conn.shell.getPopup(surface, parent!.surface, int(rect.x), int(rect.y), int(rect.width), int(rect.height), role.grab ? 1 : 0);
        popup.listen({
          configure: (x, y, width, height) => this.feedbackFor(s).popupConfigure(s, { x, y, width, height }),
          popupDone: () => this.feedbackFor(s).popupDone(s),
        });
        r.role = popup;
        r.popupRect = { ...rect };
        break;
      }
      case 'subsurface':
        r.role = conn.shell.getSubsurface(surface, parent!.surface);
        // The receiver puts a new subsurface on top of its parent's stack, applied on the parent's commit.
        parent!.stack = [...parent!.stack, s];
        parent!.needsCommit = true;
        break;
      case 'cursor':
        break;
    }
    return r;
  }

  private makeToplevel(conn: ConnectionState, s: SceneSurface, surface: WthpSurfaceProxy): WthpToplevelProxy {
    const toplevel = conn.shell.getToplevel(surface);
    toplevel.listen({
      configure: (width, height, states) => this.feedbackFor(s).configure(s, width, height, bitsToStates(states)),
      close: () => this.feedbackFor(s).close(s),
    });
    return toplevel;
  }

  private destroyRemote(conn: ConnectionState, r: Remote): void {
    if (conn.remotes.get(r.scene) !== r) return;
    conn.remotes.delete(r.scene);
    conn.byProxy.delete(r.surface);
    for (const other of conn.remotes.values()) {
      if (other.stack.includes(r.scene)) other.stack = other.stack.filter((c) => c !== r.scene);
    }
    if (conn.cursorSent === r.scene) conn.cursorSent = undefined;
    if (r.role !== null && !r.role.destroyed) r.role.destroy();
    if (!r.surface.destroyed) r.surface.destroy();
  }

  // ---- Sending -----------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.conn;
    if (conn === null || !conn.client.isOpen) return;
    const stream = conn.client.stream;
    if (stream.writableLength > this.highWater) {
      // The receiver (or the network) is slower than the applications: wait, then send the newest state.
      if (!this.waitingDrain) {
        this.waitingDrain = true;
        stream.once('drain', () => {
          this.waitingDrain = false;
          this.scheduleFlush();
        });
      }
      return;
    }
    // Children first: their state (positions, synchronized commits) is applied by the parent's commit.
    const remotes = [...conn.remotes.values()].sort((a, b) => depth(b.scene) - depth(a.scene));
    for (const r of remotes) {
      if (conn.remotes.get(r.scene) !== r) continue;
      // A surface whose lossy frame is being encoded waits for it; its commits merge meanwhile.
      if (this.lossy.busy(r)) continue;
      try {
        if (r.dirty && r.frames.size < this.maxInFlight) this.sendState(conn, r);
        else if (r.needsCommit) {
          this.sendChildren(conn, r);
          r.surface.commit();
          r.needsCommit = false;
        }
      } catch (err) {
        if (!conn.client.isOpen) return;
        // Something in this surface's state cannot be sent: start it over on the receiver.
        this.logger.error({ err }, `${this.where}: cannot send ${r.surface.toString()}: ${(err as Error).message}`);
        this.destroyRemote(conn, r);
      }
    }
    this.sampler?.sample();
  }

  private sendState(conn: ConnectionState, r: Remote): void {
    const s = r.scene;
    const role = s.role;
    const surface = r.surface;
    if (role !== null) {
      switch (role.kind) {
        case 'toplevel':
          if (r.kind === 'toplevel') this.sendToplevel(conn, r, role);
          break;
        case 'popup': {
          if (r.popupRect === null || !sameRects([r.popupRect], [role.rect])) {
            (r.role as WthpPopupProxy).reposition(int(role.rect.x), int(role.rect.y), int(role.rect.width), int(role.rect.height));
            r.popupRect = { ...role.rect };
          }
          const g = role.geometry ?? null;
          if (conn.windowGeometry !== null && !sameRects(g === null ? null : [g], r.geometry === null ? null : [r.geometry])) {
            conn.windowGeometry.setWindowGeometry(r.surface, int(g?.x ?? 0), int(g?.y ?? 0), int(g?.width ?? 0), int(g?.height ?? 0));
            r.geometry = g === null ? null : { ...g };
          }
          break;
        }
        case 'subsurface': {
          const sub = r.role as WthpSubsurfaceProxy;
          const parent = conn.remotes.get(role.parent);
          if (role.sync !== r.sync) {
            if (role.sync) sub.setSync();
            else sub.setDesync();
            r.sync = role.sync;
          }
          if (this.sendPosition(r, role.x, role.y) && parent !== undefined) parent.needsCommit = true;
          // A synchronized commit is cached by the receiver until the parent commits.
          if (role.sync && parent !== undefined) parent.needsCommit = true;
          break;
        }
        default:
          break;
      }
    }
    this.sendChildren(conn, r);

    if (!sameRects(r.opaque, s.opaque)) {
      surface.setOpaqueRegion(this.region(conn, s.opaque));
      r.opaque = s.opaque;
    }
    if (!sameRects(r.input, s.input)) {
      surface.setInputRegion(s.input === null ? null : this.region(conn, s.input));
      r.input = s.input;
    }

    const c = s.content;
    r.dirty = false;
    r.needsCommit = false;
    if (c === null) {
      if (r.size !== null) {
        surface.attach(null, 0, 0);
        r.encoder.reset();
        this.lossy.forget(r);
        r.size = null;
      }
    } else {
      if (c.scale !== r.scale) {
        surface.setBufferScale(c.scale);
        r.scale = c.scale;
      }
      if (c.transform !== r.transform) {
        surface.setBufferTransform(c.transform);
        r.transform = c.transform;
      }
      const now = performance.now();
      const choice = r.kind === 'cursor' ? null : (this.policy?.choose(s.id, now) ?? null);
      // Lossy: the frame is finished (commit included) once its tiles are encoded.
      if (choice !== null && choice.kind === 'lossy' && this.startLossy(conn, r, c, choice)) return;
      let damage = r.damage;
      const refine = this.lossy.takeRefinement(r);
      if (refine.length > 0 && damage !== null) {
        // Where the receiver has lossy pixels, the exact ones go out again.
        damage = [...damage, ...r.encoder.forget(refine, c.width, c.height)];
        if (damage.length > MAX_DAMAGE_RECTS) damage = null;
      }
      const zstd = choice !== null && choice.kind !== 'lz4' && (conn.codecs & codecBit(CODEC_ZSTD)) !== 0;
      r.encoder.setCodecs(zstd ? conn.codecs & ~LOSSY_CODECS : conn.codecs & ~LOSSY_CODECS & ~codecBit(CODEC_ZSTD));
      // One native pass writes the tile messages; they go out right after begin.
      const frame = r.encoder.encodeMessages(c, damage, conn.content.id, surface.id);
      const encodeMs = performance.now() - now;
      const newBuffer = r.size === null || r.size.width !== c.width || r.size.height !== c.height || r.size.format !== c.format;
      if (frame.tiles > 0 || frame.reset || newBuffer) conn.content.begin(surface, c.width, c.height, formatToWire(c.format));
      if (frame.reset) this.lossy.forget(r);
      conn.client.sendEncoded(frame.bytes, frame.release);
      r.size = { width: c.width, height: c.height, format: c.format };
      this.counters.tiles += frame.tiles;
      this.counters.unchangedTiles += frame.unchangedTiles;
      this.counters.rawBytes += frame.rawBytes;
      this.counters.wireBytes += frame.bytes.byteLength;
      this.policy?.frameEncoded({
        surface: s.id,
        now,
        pixels: c.width * c.height,
        changedPixels: frame.rawBytes / 4,
        rawBytes: frame.rawBytes,
        encodedBytes: frame.bytes.byteLength,
        family: zstd ? 'zstd' : 'lz4',
        encodeMs,
      });
    }
    r.damage = [];
    this.finishCommit(conn, r, c);
  }

  /**
   * Start a lossy frame of `r` if it can be one: the receiver decodes the
   * codec, the receiver's buffer has this size already (the first frame of
   * a size is lossless) and the content is opaque. Returns false otherwise.
   */
  private startLossy(conn: ConnectionState, r: Remote, c: Content, choice: Extract<CodecChoice, { kind: 'lossy' }>): boolean {
    const s = r.scene;
    const sameBuffer = r.size !== null && r.size.width === c.width && r.size.height === c.height && r.size.format === c.format && !r.encoder.needsReset(c.width, c.height);
    if (this.lossyBroken || !isOpaque(c, s.opaque) || !sameBuffer || (conn.codecs & codecBit(choice.codec)) === 0 || this.lossy.refineDue(r)) return false;
    if (r.damage !== null && r.damage.length === 0) return false;
    const damage = r.damage;
    r.damage = [];
    this.lossy.start(r, {
      width: c.width,
      height: c.height,
      pixels: c.pixels,
      damage,
      codec: choice.codec,
      quality: choice.quality,
      current: () => this.conn === conn && conn.client.isOpen && conn.remotes.get(s) === r,
      send: (frame) => {
        const surface = r.surface;
        conn.content.begin(surface, c.width, c.height, formatToWire(c.format));
        for (const t of frame.tiles) conn.content.tile(surface, t.x, t.y, t.width, t.height, t.codec, t.data);
        // The mirror does not hold what the receiver got: those pixels go out again losslessly later.
        r.encoder.forget(frame.rects, c.width, c.height);
        this.counters.tiles += frame.tiles.length;
        this.counters.rawBytes += frame.rawBytes;
        for (const t of frame.tiles) this.counters.wireBytes += tileMessageSize(t.data.byteLength);
        this.counters.lossyFrames++;
        this.policy?.frameEncoded({
          surface: s.id,
          now: performance.now(),
          pixels: c.width * c.height,
          changedPixels: frame.rawBytes / 4,
          rawBytes: frame.rawBytes,
          encodedBytes: frame.encodedBytes,
          family: 'lossy',
          encodeMs: frame.encodeMs,
        });
        this.finishCommit(conn, r, c);
        // A synchronized subsurface's commit waits for its parent's next one.
        const role = s.role;
        if (role !== null && role.kind === 'subsurface' && role.sync) {
          const parent = conn.remotes.get(role.parent);
          if (parent !== undefined) parent.needsCommit = true;
        }
        this.scheduleFlush();
      },
      dropped: (err) => {
        if (err !== null) {
          this.lossyBroken = true;
          r.damage = null;
          r.dirty = true;
          this.scheduleFlush();
        } else if (this.conn === null && this.routed(s, null)) {
          this.paceOffline(s);
        }
      },
    });
    return true;
  }

  /** A surface's lossy pixels settled: send the exact ones (a lossless frame over them). */
  private refineLossy(r: Remote): void {
    const conn = this.conn;
    if (conn === null || conn.remotes.get(r.scene) !== r) return;
    r.dirty = true;
    this.scheduleFlush();
  }

  /** The frame callback and the commit of a frame whose content went out. */
  private finishCommit(conn: ConnectionState, r: Remote, c: Content | null): void {
    const s = r.scene;
    const role = s.role;
    const surface = r.surface;
    if (c !== null && r.kind !== 'cursor') {
      // Only a mapped surface gets presented: an unmapped one would hold its slot forever.
      const callback = surface.frame();
      r.frames.add(callback);
      callback.listen({
        done: (time) => {
          conn.client.destroyObject(callback);
          this.onFrameDone(conn, r, callback, time);
        },
      });
    } else {
      // Nothing the receiver will present: frames waiting for an unmapped surface are void.
      r.frames.clear();
      if (c !== null) this.paceCursor(conn, r);
    }
    surface.commit();
    this.counters.commitsSent++;

    if (role !== null && role.kind === 'cursor') {
      const hs = { x: role.hotspotX, y: role.hotspotY };
      if (conn.cursorSent === s && (r.hotspot === null || r.hotspot.x !== hs.x || r.hotspot.y !== hs.y)) {
        this.sendCursor(conn, s.owner);
      }
    }
  }

  /** Stacking of the children of `r` and their positions: state the parent's commit applies. */
  private sendChildren(conn: ConnectionState, r: Remote): void {
    const s = r.scene;
    const desired = s.stack.filter((c) => {
      if (c === s) return true;
      const cr = conn.remotes.get(c);
      return cr !== undefined && cr.kind === 'subsurface' && c.role?.kind === 'subsurface' && c.role.parent === s;
    });
    for (const c of desired) {
      if (c === s) continue;
      const cr = conn.remotes.get(c)!;
      const role = c.role;
      if (role !== null && role.kind === 'subsurface') this.sendPosition(cr, role.x, role.y);
    }
    const same = desired.length === r.stack.length && desired.every((c, i) => c === r.stack[i]);
    if (same) return;
    const k = desired.indexOf(s);
    if (k >= 0) {
      const surfaceOf = (c: SceneSurface): WthpSurfaceProxy => conn.remotes.get(c)!.surface;
      const subOf = (c: SceneSurface): WthpSubsurfaceProxy => conn.remotes.get(c)!.role as WthpSubsurfaceProxy;
      for (let j = k - 1; j >= 0; j--) subOf(desired[j]!).placeBelow(surfaceOf(desired[j + 1]!));
      for (let j = k + 1; j < desired.length; j++) subOf(desired[j]!).placeAbove(surfaceOf(desired[j - 1]!));
    }
    r.stack = desired;
  }

  private sendPosition(r: Remote, x: number, y: number): boolean {
    if (r.position.x === x && r.position.y === y) return false;
    (r.role as WthpSubsurfaceProxy).setPosition(int(x), int(y));
    r.position = { x, y };
    return true;
  }

  private sendToplevel(conn: ConnectionState, r: Remote, role: Extract<SceneSurface['role'], { kind: 'toplevel' }>): void {
    const t = r.role as WthpToplevelProxy;
    const prev: SentToplevel = r.toplevel ?? {
      title: '',
      appId: '',
      parent: null,
      minW: 0,
      minH: 0,
      maxW: 0,
      maxH: 0,
      geometry: null,
      fullscreen: false,
      maximized: false,
    };
    if (role.title !== prev.title) t.setTitle(text(role.title));
    if (role.appId !== prev.appId) t.setAppId(text(role.appId));
    const parentRemote = role.parent === null ? undefined : conn.remotes.get(role.parent);
    const parent = parentRemote !== undefined && parentRemote.kind === 'toplevel' ? role.parent : null;
    if (parent !== prev.parent) t.setParent(parent === null ? null : (parentRemote!.role as WthpToplevelProxy));
    if (role.minSize.width !== prev.minW || role.minSize.height !== prev.minH) t.setMinSize(int(role.minSize.width), int(role.minSize.height));
    if (role.maxSize.width !== prev.maxW || role.maxSize.height !== prev.maxH) t.setMaxSize(int(role.maxSize.width), int(role.maxSize.height));
    if (!sameRects(role.geometry === null ? null : [role.geometry], prev.geometry === null ? null : [prev.geometry])) {
      const g = role.geometry ?? { x: 0, y: 0, width: 0, height: 0 };
      t.setWindowGeometry(int(g.x), int(g.y), int(g.width), int(g.height));
    }
    if (role.fullscreen !== prev.fullscreen) t.setFullscreen(role.fullscreen ? 1 : 0);
    if (role.maximized !== prev.maximized) t.setMaximized(role.maximized ? 1 : 0);
    r.toplevel = {
      title: role.title,
      appId: role.appId,
      parent,
      minW: role.minSize.width,
      minH: role.minSize.height,
      maxW: role.maxSize.width,
      maxH: role.maxSize.height,
      geometry: role.geometry === null ? null : { ...role.geometry },
      fullscreen: role.fullscreen,
      maximized: role.maximized,
    };
  }

  private region(conn: ConnectionState, rects: readonly Rect[]): ReturnType<WthpCompositorProxy['createRegion']> {
    const region = conn.compositor.createRegion();
    for (const r of rects) region.add(int(r.x), int(r.y), int(r.width), int(r.height));
    // The request that uses the region is sent right after; the region's content is copied by then.
    queueMicrotask(() => {
      if (!region.destroyed) region.destroy();
    });
    return region;
  }

  private onFrameDone(conn: ConnectionState, r: Remote, callback: WthpCallbackProxy, time: number): void {
    if (conn.remotes.get(r.scene) !== r || !r.frames.delete(callback)) return;
    if (r.dirty) this.scheduleFlush(); // a newer state waits for this slot
    if (r.frames.size > 0) return; // a newer frame is on its way; answer when it is shown
    // The newest frame sent is shown. Commits merged since then are answered too, at the
    // receiver's pace: an application that commits faster than the receiver shows is still
    // paced by the receiver, not by the frame clock's timeout.
    this.counters.framesPresented++;
    this.present(r.scene, time);
  }

  private present(s: SceneSurface, time: number): void {
    this.feedbackFor(s).presented(s, time);
  }

  /**
   * A cursor image is shown by the receiver's pointer, not presented like a
   * window: its frame callbacks are answered at about 60 Hz instead.
   */
  private paceCursor(conn: ConnectionState, r: Remote): void {
    const timer = setTimeout(() => {
      if (conn.remotes.get(r.scene) === r && !r.scene.destroyed) this.present(r.scene, Date.now());
    }, 16);
    timer.unref();
  }

  /** While disconnected: answer frame callbacks at a slow pace so applications keep running. */
  private paceOffline(s: SceneSurface): void {
    if (!this.running || this.offlineTimers.has(s)) return;
    const timer = setTimeout(() => {
      this.offlineTimers.delete(s);
      if (s.destroyed || this.conn !== null) return;
      this.present(s, Date.now());
    }, this.offlineFrameMs);
    timer.unref();
    this.offlineTimers.set(s, timer);
  }

  // ---- Cursor ------------------------------------------------------------------------------

  private sendCursor(conn: ConnectionState, owner: SceneOwner): void {
    const pointer = conn.pointer;
    if (pointer === null || pointer.destroyed) return;
    const cursor = this.scene.cursors.get(owner);
    if (cursor === undefined) return;
    if (cursor === null) {
      pointer.setCursor(conn.pointerSerial, null, 0, 0);
      conn.cursorSent = null;
      return;
    }
    const r = this.ensure(conn, cursor);
    if (r === null || cursor.role === null || cursor.role.kind !== 'cursor') return;
    r.hotspot = { x: cursor.role.hotspotX, y: cursor.role.hotspotY };
    pointer.setCursor(conn.pointerSerial, r.surface, int(r.hotspot.x), int(r.hotspot.y));
    conn.cursorSent = cursor;
    this.scheduleFlush();
  }

  // ---- Input from the receiver --------------------------------------------------------------

  private onCapabilities(conn: ConnectionState, seat: WthpSeatProxy, ext: WthpInputExtensionProxy | null, caps: number): void {
    if (caps & SEAT_POINTER && conn.pointer === null) {
      conn.pointer = seat.getPointer();
      this.listenPointer(conn, conn.pointer);
    }
    if (caps & SEAT_KEYBOARD && conn.keyboard === null) {
      conn.keyboard = seat.getKeyboard();
      this.listenKeyboard(conn, conn.keyboard, ext !== null);
      if (ext !== null) {
        const keymap = ext.getKeymap(conn.keyboard);
        const assembler = new KeymapAssembler();
        keymap.listen({
          chunk: (data) => {
            try {
              assembler.chunk(data);
            } catch (err) {
              this.protocolProblem(conn, `wthp_keymap: ${(err as Error).message}`);
            }
          },
          done: (format, size) => {
            try {
              const text = assembler.done(size);
              if (format === KEYMAP_FORMAT_XKB_V1) this.onKeymap(conn, text);
            } catch (err) {
              this.protocolProblem(conn, `wthp_keymap: ${(err as Error).message}`);
            }
          },
        });
      }
    }
    if (caps & SEAT_TOUCH && conn.touch === null) {
      conn.touch = seat.getTouch();
      this.listenTouch(conn, conn.touch);
    }
  }

  private protocolProblem(conn: ConnectionState, text: string): void {
    this.logger.warn({}, `${this.where}: ${text}`);
    conn.client.destroy(new Error(text));
  }

  /** The scene surface of a wthp_surface of this conn (null when it is gone). */
  private sceneOf(conn: ConnectionState, surface: WthpSurfaceProxy | null): SceneSurface | null {
    if (surface === null) return null;
    const s = conn.byProxy.get(surface);
    return s === undefined || s.destroyed ? null : s;
  }

  private focusFeedback(focus: SceneSurface | null): SceneFeedback | null {
    return focus === null || focus.destroyed ? null : this.feedbackFor(focus);
  }

  private listenPointer(conn: ConnectionState, pointer: WthpPointerProxy): void {
    pointer.listen({
      enter: (serial, surface, x, y) => {
        const s = this.sceneOf(conn, surface);
        conn.pointerSerial = serial;
        conn.pointerFocus = s;
        if (s === null) return;
        this.feedbackFor(s).pointerEnter(s, x, y);
        if (this.scene.cursors.has(s.owner)) this.sendCursor(conn, s.owner);
      },
      leave: (_serial, surface) => {
        const s = this.sceneOf(conn, surface) ?? conn.pointerFocus;
        conn.pointerFocus = null;
        conn.cursorSent = undefined;
        if (s !== null && !s.destroyed) this.feedbackFor(s).pointerLeave(s);
      },
      motion: (time, x, y) => this.focusFeedback(conn.pointerFocus)?.pointerMotion(time, x, y),
      button: (_serial, time, button, state) =>
        this.focusFeedback(conn.pointerFocus)?.pointerButton(time, button, state === 1 ? 'pressed' : 'released'),
      axis: (time, axis, value) => this.focusFeedback(conn.pointerFocus)?.pointerAxis(time, axis, value),
      axisSource: (source) => this.focusFeedback(conn.pointerFocus)?.pointerAxisSource(source),
      axisStop: (time, axis) => this.focusFeedback(conn.pointerFocus)?.pointerAxisStop(time, axis),
      axisDiscrete: (axis, discrete) => this.focusFeedback(conn.pointerFocus)?.pointerAxisDiscrete(axis, discrete),
      frame: () => this.focusFeedback(conn.pointerFocus)?.pointerFrame(),
    });
  }

  private listenKeyboard(conn: ConnectionState, keyboard: WthpKeyboardProxy, hasExtension: boolean): void {
    keyboard.listen({
      keymap: (format, data) => {
        // Only for receivers without wthp_input_extension (keymaps that fit one message).
        if (hasExtension || format !== KEYMAP_FORMAT_XKB_V1) return;
        try {
          const assembler = new KeymapAssembler();
          assembler.chunk(data);
          this.onKeymap(conn, assembler.done(data.byteLength));
        } catch (err) {
          this.protocolProblem(conn, `wthp_keyboard.keymap: ${(err as Error).message}`);
        }
      },
      enter: (_serial, surface, keys) => {
        const s = this.sceneOf(conn, surface);
        conn.keyboardFocus = s;
        if (s === null) return;
        const fb = this.feedbackFor(s);
        this.giveKeyboardSetup(conn, fb);
        fb.keyboardEnter(s, decodeU32Array(keys));
      },
      leave: (_serial, surface) => {
        const s = this.sceneOf(conn, surface) ?? conn.keyboardFocus;
        conn.keyboardFocus = null;
        if (s !== null && !s.destroyed) this.feedbackFor(s).keyboardLeave(s);
      },
      key: (_serial, time, key, state) => this.focusFeedback(conn.keyboardFocus)?.key(time, key, state === 1 ? 'pressed' : 'released'),
      modifiers: (_serial, depressed, latched, locked, group) =>
        this.focusFeedback(conn.keyboardFocus)?.modifiers(depressed, latched, locked, group),
      repeatInfo: (rate, delay) => {
        conn.repeat = { rate, delay };
        conn.repeatGiven.clear();
        for (const fb of this.routedFeedbacks(conn)) {
          fb.repeatInfo(rate, delay);
          conn.repeatGiven.add(fb);
        }
      },
    });
  }

  /** The keymap and repeat rate, for a feedback that has not had the current ones. */
  private giveKeyboardSetup(conn: ConnectionState, fb: SceneFeedback): void {
    if (conn.keymap !== null && !conn.keymapGiven.has(fb)) {
      fb.keymap(conn.keymap);
      conn.keymapGiven.add(fb);
    }
    if (conn.repeat !== null && !conn.repeatGiven.has(fb)) {
      fb.repeatInfo(conn.repeat.rate, conn.repeat.delay);
      conn.repeatGiven.add(fb);
    }
  }

  private onKeymap(conn: ConnectionState, text: string): void {
    conn.keymap = text;
    conn.keymapGiven.clear();
    for (const fb of this.routedFeedbacks(conn)) {
      fb.keymap(text);
      conn.keymapGiven.add(fb);
    }
  }

  /** The distinct feedbacks of the surfaces mirrored now. */
  private routedFeedbacks(conn: ConnectionState): Set<SceneFeedback> {
    const out = new Set<SceneFeedback>();
    for (const r of conn.remotes.values()) if (r.kind !== 'cursor') out.add(this.feedbackFor(r.scene));
    return out;
  }

  private listenTouch(conn: ConnectionState, touch: WthpTouchProxy): void {
    const touched = (id: number): SceneSurface | null => {
      const s = conn.touchPoints.get(id);
      return s === undefined || s.destroyed ? null : s;
    };
    touch.listen({
      down: (_serial, time, surface, id, x, y) => {
        const s = this.sceneOf(conn, surface);
        if (s === null) return;
        if (conn.touchPoints.size >= 64 && !conn.touchPoints.has(id)) return; // no screen has that many fingers
        conn.touchPoints.set(id, s);
        const fb = this.feedbackFor(s);
        conn.touchTouched.add(fb);
        fb.touchDown(s, time, id, x, y);
      },
      up: (_serial, time, id) => {
        const s = touched(id);
        conn.touchPoints.delete(id);
        if (s === null) return;
        const fb = this.feedbackFor(s);
        conn.touchTouched.add(fb);
        fb.touchUp(time, id);
      },
      motion: (time, id, x, y) => {
        const s = touched(id);
        if (s === null) return;
        const fb = this.feedbackFor(s);
        conn.touchTouched.add(fb);
        fb.touchMotion(time, id, x, y);
      },
      frame: () => {
        for (const fb of conn.touchTouched) fb.touchFrame();
        conn.touchTouched.clear();
      },
      cancel: () => {
        const fbs = new Set<SceneFeedback>(conn.touchTouched);
        for (const s of conn.touchPoints.values()) if (!s.destroyed) fbs.add(this.feedbackFor(s));
        conn.touchPoints.clear();
        conn.touchTouched.clear();
        for (const fb of fbs) fb.touchCancel();
      },
    });
  }

  private listenOutput(conn: ConnectionState, output: WthpOutputProxy): void {
    const emit = (): void => {
      const o = conn.output;
      // wthp_output names no output: name and description stay empty.
      const info: OutputInfo = {
        name: '',
        description: '',
        x: o.x ?? 0,
        y: o.y ?? 0,
        physicalWidth: o.physicalWidth ?? 0,
        physicalHeight: o.physicalHeight ?? 0,
        subpixel: o.subpixel ?? 0,
        make: o.make ?? '',
        model: o.model ?? '',
        transform: o.transform ?? 0,
        width: o.width ?? 0,
        height: o.height ?? 0,
        refresh: o.refresh ?? 0,
        scale: o.scale ?? 1,
      };
      this.emit('output', info);
    };
    output.listen({
      geometry: (x, y, physicalWidth, physicalHeight, subpixel, make, model, transform) => {
        Object.assign(conn.output, { x, y, physicalWidth, physicalHeight, subpixel, make, model, transform });
      },
      mode: (flags, width, height, refresh) => {
        if (flags & 1) Object.assign(conn.output, { width, height, refresh });
        if (output.version < 2) emit();
      },
      scale: (factor) => {
        conn.output.scale = factor;
      },
      done: () => emit(),
    });
  }
}

function kindOf(s: SceneSurface): Remote['kind'] | null {
  return s.role === null ? null : s.role.kind;
}

/** Hops from a surface to its root through subsurface and popup parents. */
function depth(s: SceneSurface): number {
  let n = 0;
  for (let p: SceneSurface = s; n < 64; n++) {
    const role = p.role;
    if (role === null || (role.kind !== 'subsurface' && role.kind !== 'popup')) break;
    p = role.parent;
  }
  return n;
}

/**
 * `promise`, or a rejection after `ms`. A value that arrives after the
 * timeout is handed to `late` (to close a connection nobody waits for).
 */
function withTimeout<T>(promise: Promise<T>, ms: number, text: string, late?: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new Error(text));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (expired) late?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!expired) reject(err as Error);
      },
    );
  });
}

/** A number as a wire int (int32), whatever the producer put there. */
function int(v: number): number {
  return Number.isFinite(v) ? Math.max(-0x80000000, Math.min(0x7fffffff, Math.trunc(v))) : 0;
}

/** A string the wire can carry (no NUL). */
function text(v: string): string {
  return v.includes('\0') ? v.replace(/\0/g, '') : v;
}
