/**
 * The receiver's Waltham server: accepts transmitters over TCP, offers the
 * remoting globals, and rebuilds every transmitter's surfaces in one Scene.
 * A consumer (the local display) attaches to `scene`, shows the surfaces and
 * reports presentation and input through each surface's `owner.feedback`,
 * which goes back to the transmitter that owns the surface.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Scene } from '../shared/scene/scene.js';
import {
  WthpCompositorResource,
  WthpContentResource,
  WthpInputExtensionResource,
  WthpIviApplicationResource,
  WthpOutputResource,
  WthpRemoteShellResource,
  WthpSeatResource,
  WthpSeatCapability,
  WthpWindowGeometryResource,
  WthpSurfaceRefusalResource,
  WthpPresentationResource,
  WthpWindowManagerResource,
  WthpDecorationManagerResource,
  WthpPointerConstraintsResource,
  WthpIdleInhibitManagerResource,
  WthpTextInputManagerResource,
  WthpViewporterResource,
  WthpFractionalScaleManagerResource,
  WthpClipboardResource,
} from '../shared/generated/waltham/waltham.js';
import type { WalthamLogger } from '../shared/waltham/connection.js';
import type { WalthamPeer } from '../shared/waltham/display.js';
import { WalthamServer, type ServerSecurity, type WalthamServerCloseOptions, type WalthamServerOptions } from '../shared/waltham/tcp.js';
import { DEFAULT_OUTPUT, type OutputInfo } from '../shared/scene/output.js';
import { LOCAL_CODECS } from '../shared/remote/tiles.js';
import { LOSSY_CODECS } from '../shared/remote/lossy.js';
import { DEFAULT_LIMITS, RemoteClient, type ReceiverContext, type ReceiverLimits } from './remote-client.js';
import type { RemoteSurface } from './remote-surface.js';
import { DEFAULT_PROCESS_LIMITS, ProcessGuard, type ProcessLimits } from './limits.js';
import { FocusGuard } from './focus-guard.js';
import { TotalWork } from './total-work.js';
import { ClipboardHub } from './clipboard.js';
import type { SteadyPath } from './steady.js';
import { every, type Tick } from '../shared/ticker.js';

export interface ReceiverServerOptions {
  /** Address to bind (DESIGN 8: only the address given). Default 127.0.0.1. */
  readonly host?: string;
  /** Default 34400; 0 for an ephemeral port. */
  readonly port?: number;
  readonly logger: WalthamLogger;
  /** The scene transmitters' surfaces appear in; default: a new one. */
  readonly scene?: Scene;
  readonly limits?: Partial<ReceiverLimits & ProcessLimits>;
  /** Codecs to announce (mask of 1 << codec); default: every codec this build decodes, lossy ones included. */
  readonly codecs?: number;
  /** wthp_seat capabilities; default pointer | keyboard | touch. */
  readonly seatCapabilities?: number;
  /** Offer wthp_decoration_manager: the local compositor has xdg-decoration (server-side decorations). */
  readonly decorations?: boolean;
  /** Offer wthp_pointer_constraints: the local compositor has pointer constraints and relative pointers. */
  readonly pointerConstraints?: boolean;
  /** Offer wthp_idle_inhibit_manager: the local compositor has idle inhibit. */
  readonly idleInhibit?: boolean;
  /** Offer wthp_text_input_manager: the local compositor has text-input v3 (an input method may compose). */
  readonly textInput?: boolean;
  /** Offer wthp_viewporter: the local display sets crop and scale on its surfaces (its compositor has wp_viewporter). */
  readonly viewporter?: boolean;
  /** Offer wthp_fractional_scale_manager: the local compositor has wp_fractional_scale_manager_v1. */
  readonly fractionalScale?: boolean;
  readonly output?: OutputInfo;
  /** Steady frames handled natively (steady.ts); none: every frame in JavaScript. */
  readonly steady?: SteadyPath;
  /** Options of each peer's Waltham connection (object and queue limits, traces). */
  readonly connection?: Omit<WalthamServerOptions, 'logger'>;
  /**
   * A transmitter that pings (wth_display.sync; ours does every second) and
   * then sends none for this long is taken for gone (powered off, cable
   * pulled: no TCP close ever comes) and dropped, so its windows go. Default
   * 3500 ms, checked 4 times a second: with a ping every second, a silent
   * transmitter is gone within 5 s. 0 disables.
   * Transmitters that never ping are not watched.
   */
  readonly deadMs?: number;
  /** TLS and tokens transmitters must prove before anything is created for them. */
  readonly security?: ServerSecurity;
  /** The identity an ivi id belongs to by configuration; null: whoever claims it first. */
  readonly iviOwner?: (iviId: number) => string | null;
  /** Most bytes of one clipboard transfer (default 16 MiB). */
  readonly clipboardLimit?: number;
}

export interface ReceiverServerEvents {
  /** A transmitter connected. */
  peer: [client: RemoteClient];
  /** A transmitter went away (its surfaces are destroyed); `reason` is set when it failed. */
  'peer-gone': [client: RemoteClient, reason: Error | undefined];
  /** A connection failed TLS or the token (logged); nothing was created for it. */
  refused: [address: string, reason: string];
}

export const DEFAULT_PORT = 34400;

export class ReceiverServer extends EventEmitter<ReceiverServerEvents> {
  readonly scene: Scene;
  /** The Waltham server (e.g. to accept TLS streams with `waltham.accept`). */
  readonly waltham: WalthamServer;
  /** The clipboard shared with transmitters; `clipboard.attach(display.selection)` connects it to the local compositor. */
  readonly clipboard: ClipboardHub;
  private readonly clients = new Set<RemoteClient>();
  private readonly byPeer = new WeakMap<WalthamPeer, RemoteClient>();
  private readonly ctx: ReceiverContext;
  /** Limits over every transmitter (limits.ts). */
  readonly guard: ProcessGuard;
  private capabilities: number;
  private outputInfo: OutputInfo;

  constructor(private readonly options: ReceiverServerOptions) {
    super();
    this.scene = options.scene ?? new Scene();
    this.capabilities = options.seatCapabilities ?? WthpSeatCapability.Pointer | WthpSeatCapability.Keyboard | WthpSeatCapability.Touch;
    this.outputInfo = options.output ?? DEFAULT_OUTPUT;
    const limits = { ...DEFAULT_LIMITS, ...DEFAULT_PROCESS_LIMITS, ...options.limits };
    this.ctx = {
      scene: this.scene,
      logger: options.logger,
      limits,
      clients: this.clients,
      codecs: options.codecs ?? LOCAL_CODECS | LOSSY_CODECS,
      seatCapabilities: () => this.capabilities,
      output: () => this.outputInfo,
      iviIds: new Map<number, RemoteSurface>(),
      focus: new FocusGuard<RemoteClient>(),
      totalWork: new TotalWork(limits.workPixelsPerSecondTotal, limits.workBurstPixelsTotal),
      ...(options.steady !== undefined ? { steady: options.steady } : {}),
      ...(options.iviOwner !== undefined ? { iviOwner: options.iviOwner } : {}),
    };
    this.guard = new ProcessGuard(
      limits,
      options.logger,
      () => this.waltham.peers,
      (peer) => (this.byPeer.get(peer)?.surfaces.size ?? 0) > 0,
      (peer) => this.byPeer.get(peer)?.decodingBytes ?? 0,
    );
    this.waltham = new WalthamServer({
      maxObjects: limits.maxObjects,
      // A backstop: the guard's sweep drops a peer at maxQueuedBytes, in and out, within a second (limits.ts).
      maxOutgoingBytes: 2 * limits.maxQueuedBytes,
      maxOutgoingLimit: 'max-queued-mib (twice it, for output alone)',
      objectBudget: this.guard.objectBudget,
      ...options.connection,
      logger: options.logger,
      ...(options.security !== undefined ? { security: options.security } : {}),
    });
    this.waltham.on('refused', (address, reason) => this.emit('refused', address, reason));
    const w = this.waltham;
    const client = (peer: WalthamPeer): RemoteClient => {
      const c = this.byPeer.get(peer);
      if (c === undefined) throw new Error(`${peer.label} has no receiver state`);
      return c;
    };
    w.addGlobal(WthpCompositorResource, 4, (r, peer) => client(peer).bindCompositor(r));
    w.addGlobal(WthpRemoteShellResource, 1, (r, peer) => client(peer).bindRemoteShell(r));
    w.addGlobal(WthpContentResource, 1, (r, peer) => client(peer).bindContent(r));
    w.addGlobal(WthpSeatResource, 5, (r, peer) => client(peer).bindSeat(r));
    w.addGlobal(WthpOutputResource, 2, (r, peer) => client(peer).bindOutput(r));
    w.addGlobal(WthpInputExtensionResource, 1, (r, peer) => client(peer).bindInputExtension(r));
    w.addGlobal(WthpIviApplicationResource, 1, (r, peer) => client(peer).bindIviApplication(r));
    w.addGlobal(WthpWindowGeometryResource, 1, (r, peer) => client(peer).bindWindowGeometry(r));
    w.addGlobal(WthpSurfaceRefusalResource, 1, (r, peer) => client(peer).bindSurfaceRefusal(r));
    w.addGlobal(WthpPresentationResource, 1, (r, peer) => client(peer).bindPresentation(r));
    w.addGlobal(WthpWindowManagerResource, 1, (r, peer) => client(peer).bindWindowManager(r));
    if (options.decorations === true) w.addGlobal(WthpDecorationManagerResource, 1, (r, peer) => client(peer).bindDecorationManager(r));
    if (options.idleInhibit === true) w.addGlobal(WthpIdleInhibitManagerResource, 1, (r, peer) => client(peer).bindIdleInhibitManager(r));
    if (options.textInput === true) w.addGlobal(WthpTextInputManagerResource, 1, (r, peer) => client(peer).bindTextInputManager(r));
    if (options.fractionalScale === true) w.addGlobal(WthpFractionalScaleManagerResource, 1, (r, peer) => client(peer).bindFractionalScaleManager(r));
    if (options.viewporter === true) w.addGlobal(WthpViewporterResource, 1, (r, peer) => client(peer).bindViewporter(r));
    if (options.pointerConstraints === true) w.addGlobal(WthpPointerConstraintsResource, 1, (r, peer) => client(peer).bindPointerConstraints(r));
    this.clipboard = new ClipboardHub({ logger: options.logger, ...(options.clipboardLimit !== undefined ? { limit: options.clipboardLimit } : {}) });
    w.addGlobal(WthpClipboardResource, 1, (r, peer) => this.clipboard.bind(r, peer.label));
    w.on('peer', (peer) => this.onPeer(peer));
    const deadMs = options.deadMs ?? 3500;
    if (deadMs > 0) {
      // Once a second (with the guard's sweep): a silent link is dropped within deadMs and a second.
      this.liveness = every(Math.min(1000, deadMs / 3), () => this.dropSilent(deadMs));
    }
  }

  private readonly liveness: Tick | undefined;

  /**
   * Drop transmitters that ping and then fall silent. Any byte read counts
   * as a sign of life (a ping may queue behind frames on a slow link), and a
   * peer whose input we hold back (decoding its tiles) is not silent.
   */
  private dropSilent(deadMs: number): void {
    const now = Date.now();
    for (const peer of this.waltham.peers) {
      if (peer.lastSync === undefined) continue;
      const at = peer.isSuspended ? now : Math.max(peer.lastSync, peer.lastReadAt);
      if (now - at <= deadMs) continue;
      const reason = new Error(`no sign of life for ${Math.round((now - at) / 1000)} s (pings stopped)`);
      peer.destroy(reason);
    }
  }

  private onPeer(peer: WalthamPeer): void {
    const refused = this.guard.admit(peer);
    if (refused !== null) {
      this.options.logger.warn({ peer: peer.label }, `transmitter ${peer.label} refused: ${refused}`);
      return;
    }
    if (peer.identity !== null) this.replaceStale(peer);
    const c = new RemoteClient(peer, this.ctx);
    this.byPeer.set(peer, c);
    this.clients.add(c);
    this.options.logger.info({ peer: peer.label }, `transmitter ${peer.label} connected`);
    peer.once('close', (reason) => {
      this.clients.delete(c);
      c.teardown();
      if (reason === undefined) this.options.logger.info({ peer: peer.label }, `transmitter ${peer.label} disconnected`);
      else this.options.logger.warn({ peer: peer.label, err: reason.message }, `transmitter ${peer.label} dropped: ${reason.message}`);
      this.emit('peer-gone', c, reason);
    });
    this.emit('peer', c);
  }

  /**
   * A transmitter that proved an identity replaces its own earlier sessions
   * at once (it reconnected before the old link was found dead): their
   * surfaces go now, so its ivi ids and windows are free for the new one.
   */
  private replaceStale(peer: WalthamPeer): void {
    for (const old of this.clients) {
      if (old.peer.identity !== peer.identity || old.peer === peer) continue;
      this.options.logger.info({ peer: peer.label, old: old.peer.label }, `${peer.identity} reconnected from ${peer.label}: its session from ${old.peer.label} is replaced`);
      old.teardown();
      old.peer.destroy(new Error(`replaced by a new connection of ${peer.identity} (${peer.label})`));
    }
  }

  /** Bind and listen; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    return this.waltham.listen(this.options.port ?? DEFAULT_PORT, this.options.host ?? '127.0.0.1');
  }

  address(): AddressInfo | null {
    return this.waltham.address();
  }

  /**
   * Stop listening and close every transmitter's connection (their surfaces
   * are destroyed); `graceMs` bounds the wait for each transmitter to close
   * its side (see WalthamServer.close).
   */
  async close(options: WalthamServerCloseOptions = {}): Promise<void> {
    this.liveness?.stop();
    this.guard.stop();
    await this.waltham.close(options);
  }

  /** The connected transmitters. */
  get peers(): readonly RemoteClient[] {
    return [...this.clients];
  }

  /** wthp_seat.capabilities (pointer 1 | keyboard 2 | touch 4), to every transmitter. */
  setSeatCapabilities(capabilities: number): void {
    this.capabilities = capabilities;
    for (const c of this.clients) c.sendCapabilities(capabilities);
  }

  /** Describe the local output (wthp_output geometry, mode, scale, done) to every transmitter. */
  setOutput(info: OutputInfo): void {
    this.outputInfo = info;
    for (const c of this.clients) c.sendOutput(info);
  }

  stats(): { peers: { name: string; surfaces: number; commits: number; tiles: number; tileBytes: number; presented: number }[] } {
    return { peers: this.peers.map((c) => ({ name: c.name, ...c.stats() })) };
  }
}
