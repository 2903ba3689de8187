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
 *
 * Parts: reconnect.ts (connection, liveness, backoff), follow.ts (routing,
 * remote objects, commits and their pacing), send.ts (surface state and
 * commits), content.ts (the pixels of a commit), cursor.ts, input.ts (the
 * receiver's seat), output.ts; remote.ts holds the state they share.
 */
import { EventEmitter } from 'node:events';
import type { Scene, SceneFeedback, SceneSurface } from '../../shared/scene/scene.js';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpInputExtensionProxy,
  WthpIviApplicationProxy,
  WthpOutputProxy,
  WthpRemoteShellProxy,
  WthpSeatProxy,
  WthpWindowGeometryProxy,
  WthpSurfaceRefusalProxy,
  WthpPresentationProxy,
  WthpWindowManagerProxy,
  WthpDecorationManagerProxy,
  WthpPointerConstraintsProxy,
  WthpIdleInhibitManagerProxy,
  WthpTextInputManagerProxy,
  WthpViewporterProxy,
  WthpFractionalScaleManagerProxy,
  WthpClipboardProxy,
} from '../../shared/generated/waltham/waltham.js';
import type { WireObject, WireObjectClass } from '../../shared/wire/object.js';
import type { WalthamLogger } from '../../shared/waltham/connection.js';
import type { WalthamClient, WalthamClientOptions } from '../../shared/waltham/display.js';
import type { ClientSecurity } from '../../shared/waltham/tcp.js';
import { guardFeedback } from '../../shared/remote/guard.js';
import { InputRelay } from '../../shared/scene/input-relay.js';
import type { OutputInfo } from '../../shared/scene/output.js';
import { CODEC_COPY, CODEC_LZ4, CODEC_LZ4_RGB, CODEC_LZ4_SPANS, CODEC_RAW, CODEC_RAW_RGB, CODEC_SOLID, CODEC_ZSTD, codecBit } from '../../shared/remote/tiles.js';
import { CodecPolicy, type CodecPolicyOptions } from '../../shared/remote/codec-policy.js';
import { LOSSY_CODECS, type LossyCodec } from '../../shared/remote/lossy.js';
import { LinkSampler } from './link-sampler.js';
import { LossySender } from './lossy-sender.js';
import { SceneFollower } from './follow.js';
import { SeatListener } from './input.js';
import { announceOffers } from './offers.js';
import { listenOutput } from './output.js';
import { Reconnector } from './reconnect.js';
import { ConnectionState, type LinkContext, type LinkCounters, type Remote } from './remote.js';
import { Sender } from './send.js';
import { ClipboardLink } from './clipboard.js';
import { SteadyLink } from './steady.js';
import type { Selections } from '../compositor/selection.js';

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
  /**
   * Where a frame with at least ASYNC_ENCODE_PIXELS of damage is encoded: 'main' (the
   * JavaScript thread), 'worker' (libuv's pool; the link goes on serving other surfaces, input
   * and applications meanwhile), 'auto' (default): a worker when one flush has several such
   * frames (bench/README.md, "Off the JavaScript thread").
   */
  readonly encodeThread?: EncodeThread;
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
  /** Reconnection delays: first `initialMs` (0.2 s), doubling up to `maxMs` (1 s), with ±25 % jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** While disconnected, frame callbacks are answered this often (ms). Default 250. */
  readonly offlineFrameMs?: number;
  readonly tileSize?: number;
  /**
   * How long a window handed to native steady commits is held before it comes back for a frame
   * in JavaScript (ms). Default 10000, 2000 while zstd is chosen (transmitter/remote/steady.ts).
   */
  readonly steadyHoldMs?: number;
  /** Bytes waiting in the socket above which new frames wait for it to drain. Default 8 MiB. */
  readonly highWaterBytes?: number;
  /** Longest wait for the TCP connection and the handshake (ms). Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Liveness: a wth_display.sync goes out every `pingMs` (default 1000); a
   * receiver from which nothing came (no answer, no other message) for
   * `deadMs` (default 3500; checked with each ping, at most `deadMs / 2` apart) is taken for gone (powered off, cable pulled)
   * and the link reconnects. A TCP connect that gets no answer is given up
   * after `tcpConnectMs` (default 1000) and tried again at once, so the
   * link is back soon after the network is.
   */
  readonly liveness?: { readonly pingMs?: number; readonly deadMs?: number; readonly tcpConnectMs?: number };
  /** TLS and the token to prove to the receiver. */
  readonly security?: ClientSecurity;
  /**
   * How often surfaces routed elsewhere are checked for a routing change
   * (ms; their commits are not listened to). Default 1000.
   */
  readonly recheckMs?: number;
  /** Options of the Waltham connection. */
  readonly connection?: Omit<WalthamClientOptions, 'logger'>;
  /** The virtual display's selections, shared with the receiver's compositor (wthp_clipboard). */
  readonly selections?: Selections;
  /** Most bytes of one clipboard transfer (default 16 MiB). */
  readonly clipboardLimit?: number;
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
  /** Producer commits merged into a later one (frames in flight, an encode under way, the socket above its high water). */
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
  /** Lossless frames encoded on a worker thread (large damage). */
  readonly workerFrames: number;
  /** Commits of windows handed over to the native steady path (steady.ts), included in `commitsSent`. */
  readonly nativeCommits: number;
  /** Times a window was handed over to it. */
  readonly nativeHandovers: number;
  /** Reads of applications' and receivers' sockets done natively, without JavaScript (the process's, all links). */
  readonly nativeReads: number;
  /** Bytes waiting in the socket now. */
  readonly queuedBytes: number;
}

/** See `ReceiverLinkOptions.encodeThread`. */
export type EncodeThread = 'auto' | 'main' | 'worker';
export const ENCODE_THREADS: readonly EncodeThread[] = ['auto', 'main', 'worker'];

export class ReceiverLink extends EventEmitter<ReceiverLinkEvents> {
  private readonly scene: Scene;
  private readonly feedbackFor: (surface: SceneSurface) => SceneFeedback;
  private readonly logger: WalthamLogger;
  private readonly where: string;
  private readonly counters: LinkCounters = {
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
    workerFrames: 0,
  };
  private readonly reconnector: Reconnector;
  /** Chooses each frame's codec (null for 'raw'). */
  private readonly policy: CodecPolicy | null;
  private readonly lossy: LossySender;
  private sampler: LinkSampler | null = null;
  private readonly follower: SceneFollower;
  private readonly sender: Sender;
  private readonly seats: SeatListener;
  private readonly clipboard: ClipboardLink | null;
  private readonly steady: SteadyLink;

  constructor(private readonly options: ReceiverLinkOptions) {
    super();
    this.scene = options.scene;
    const pick = options.feedbackFor ?? ((s: SceneSurface) => s.owner.feedback);
    // A producer's feedback that throws must not break the connection: log and go on.
    this.feedbackFor = (s) =>
      guardFeedback(pick(s), (method, err) =>
        this.logger.error({ err }, `${this.where}: feedback ${method} failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    this.logger = options.logger;
    this.where = `receiver ${options.host}:${options.port}`;
    this.clipboard = options.selections === undefined ? null : new ClipboardLink(options.selections, this.logger, this.where, options.clipboardLimit);
    const codec = options.codec ?? 'auto';
    this.policy =
      codec === 'raw'
        ? null
        : (options.codecPolicy ??
          new CodecPolicy({
            ...options.policy,
            mode: codec,
            allowLossy: options.allowLossy ?? false,
            ...(options.lossyQuality !== undefined ? { lossyQuality: options.lossyQuality } : {}),
            ...(options.lossyCodec !== undefined ? { lossyCodec: options.lossyCodec } : {}),
          }));
    this.lossy = new LossySender({
      logger: this.logger,
      where: this.where,
      ...(options.lossySettleMs !== undefined ? { settleMs: options.lossySettleMs } : {}),
      refine: (key) => this.sender.refineLossy(key as Remote),
    });
    this.reconnector = new Reconnector(options, this.logger, this.where, {
      handshake: (client) => this.handshake(client),
      connected: () => {
        this.counters.connects++;
        this.sampler?.stop();
        const policy = this.policy;
        const stream = this.reconnector.conn?.client.stream;
        this.sampler = policy === null || stream === undefined ? null : new LinkSampler(stream, (sample) => policy.linkSample(sample));
        this.emit('connected');
        this.follower.connected();
        this.sender.scheduleFlush();
      },
      lost: (conn, reason) => {
        // Windows handed over come back first: their frames in flight are answered offline.
        this.steady.disconnected();
        this.counters.disconnects++;
        this.sampler?.stop();
        this.sampler = null;
        for (const r of conn.remotes.values()) this.lossy.forget(r);
        this.scene.setConsumerOffers(conn, null);
        this.follower.disconnected(conn);
        this.clipboard?.disconnected();
        this.emit('disconnected', reason);
      },
    });
    const reconnector = this.reconnector;
    const ctx: LinkContext = {
      scene: this.scene,
      options,
      logger: this.logger,
      where: this.where,
      counters: this.counters,
      get conn() {
        return reconnector.conn;
      },
      get running() {
        return reconnector.running;
      },
      feedbackFor: this.feedbackFor,
      scheduleFlush: () => this.sender.scheduleFlush(),
      policy: this.policy,
      lossy: this.lossy,
      lossyBroken: false,
      sample: () => this.sampler?.sample(),
      steady: null,
    };
    this.follower = new SceneFollower(ctx);
    this.sender = new Sender(ctx, this.follower);
    ctx.steady = new SteadyLink(ctx, this.sender);
    this.steady = ctx.steady;
    this.seats = new SeatListener(ctx, this.follower);
  }

  get connected(): boolean {
    return this.reconnector.conn !== null;
  }

  /** Start mirroring the scene; connects now and whenever the connection is lost. */
  start(): void {
    if (this.reconnector.running) return;
    this.reconnector.running = true;
    this.follower.start();
    this.reconnector.start();
  }

  /**
   * Stop: close the connection (the receiver drops our surfaces) and stop
   * following the scene. A connection attempt under way is abandoned. The
   * receiver gets what is queued and then `graceMs` (default: the
   * connection's `closeTimeoutMs`, 5 s) to close its side before the
   * connection is dropped; a command that is shutting down passes a short grace.
   */
  async stop(options: { readonly graceMs?: number } = {}): Promise<void> {
    if (!this.reconnector.running) return;
    this.reconnector.halt();
    this.steady.releaseAll();
    this.follower.stop();
    this.clipboard?.close();
    await this.reconnector.close(options.graceMs);
  }

  /**
   * Resolves once the receiver has handled everything sent so far (a
   * wth_display.sync round trip); rejects when there is no connection.
   */
  async roundtrip(): Promise<void> {
    const conn = this.reconnector.conn;
    if (conn === null) throw new Error('not connected to the receiver');
    await conn.client.roundtrip();
  }

  stats(): LinkStats {
    const queuedBytes = this.reconnector.conn?.client.stream.writableLength ?? 0;
    const c = this.counters;
    // Windows handed over count live (their counts join `counters` when they come back).
    const [commits = 0, presented = 0, tiles = 0, wire = 0] = this.steady.counters();
    return {
      connected: this.connected,
      surfaces: this.reconnector.conn?.remotes.size ?? 0,
      ...c,
      commitsSent: c.commitsSent + commits,
      framesPresented: c.framesPresented + presented,
      tiles: c.tiles + tiles,
      wireBytes: c.wireBytes + wire,
      nativeCommits: this.steady.nativeCommits,
      nativeHandovers: this.steady.handovers.adopted,
      nativeReads: this.steady.nativeReads,
      queuedBytes,
    };
  }

  /** Bind the receiver's globals and listen to its seat, output and codecs. */
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
    const input = new InputRelay({ feedbackFor: this.feedbackFor, keyboardAudience: () => this.routedFeedbacks(conn) });
    const conn: ConnectionState = new ConnectionState(input, client, compositor, shell, content, ivi, windowGeometry);
    conn.presentation = bindOptional(WthpPresentationProxy);
    conn.windowManager = bindOptional(WthpWindowManagerProxy);
    // raw_rgb and lz4_rgb go to xrgb8888 surfaces only (TileEncoder leaves them out for argb8888).
    const basic = codecBit(CODEC_RAW) | codecBit(CODEC_SOLID) | codecBit(CODEC_COPY) | codecBit(CODEC_RAW_RGB);
    const lz4 = basic | codecBit(CODEC_LZ4) | codecBit(CODEC_LZ4_SPANS) | codecBit(CODEC_LZ4_RGB);
    const codec = this.options.codec ?? 'auto';
    const wanted = codec === 'raw' ? basic : codec === 'lz4' ? lz4 : codec === 'zstd' ? lz4 | codecBit(CODEC_ZSTD) : lz4 | codecBit(CODEC_ZSTD) | LOSSY_CODECS;
    content.listen({ codecs: (mask) => (conn.codecs = (mask & wanted) | codecBit(CODEC_RAW)) });
    conn.decorations = bindOptional(WthpDecorationManagerProxy);
    conn.pointerConstraints = bindOptional(WthpPointerConstraintsProxy);
    conn.idleInhibit = bindOptional(WthpIdleInhibitManagerProxy);
    conn.textInput = bindOptional(WthpTextInputManagerProxy);
    conn.viewporter = bindOptional(WthpViewporterProxy);
    conn.fractionalScale = bindOptional(WthpFractionalScaleManagerProxy);
    const seat = bindOptional(WthpSeatProxy);
    const ext = bindOptional(WthpInputExtensionProxy);
    if (seat !== null) this.seats.listen(conn, seat, ext);
    const output = bindOptional(WthpOutputProxy);
    if (output !== null) listenOutput(conn, output, (info) => this.emit('output', info));
    // A surface past one of the receiver's limits is refused alone; the link stays up for the others.
    bindOptional(WthpSurfaceRefusalProxy)?.listen({
      refused: (surface, limit, message) => {
        const s = surface === null ? undefined : conn.byProxy.get(surface);
        const r = s === undefined ? undefined : conn.remotes.get(s);
        if (r === undefined || r.refused) return;
        r.refused = true;
        this.logger.warn({ limit }, `${this.where}: the receiver refused a surface of ${s!.owner.name}: ${message}; its content is no longer sent`);
      },
    });
    const clipboard = this.clipboard === null ? null : bindOptional(WthpClipboardProxy);
    await client.roundtrip();
    // After the roundtrip: the seat's capabilities have arrived (applications see them change once).
    announceOffers(this.scene, conn);
    if (clipboard !== null) this.clipboard?.connected(clipboard, () => client.roundtrip());
    return conn;
  }

  /** The distinct feedbacks of the surfaces mirrored now: they get a new keymap at once. */
  private routedFeedbacks(conn: ConnectionState): Set<SceneFeedback> {
    const out = new Set<SceneFeedback>();
    for (const r of conn.remotes.values()) if (r.kind !== 'cursor') out.add(this.feedbackFor(r.scene));
    return out;
  }
}
