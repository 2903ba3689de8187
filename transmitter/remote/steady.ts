/**
 * Steady commits in native code (native/wayland-shim/src/commits.rs): an
 * application's window mirrored steadily on a receiver is handed over after
 * a frame JavaScript sent and answered, and its following commits (attach,
 * damage, frame, presentation feedback, commit; the receiver's done,
 * presented and delete_id) are handled where the bytes are read: the
 * damaged pixels copied into the scene's content where they differ, encoded
 * against the link's mirror and sent, the application answered, without
 * JavaScript. Each window is handed over on its own: a commit of another
 * window of the application is left here (its windows handed over stay), and
 * a commit of a window handed over that is not steady (a second one in
 * flight, a link without room for it) brings that window back alone. At the
 * first message of that application the native side does not take otherwise
 * (another request, another buffer), its windows come back here with their
 * frames in flight, and the message is handled as usual. The link takes a
 * window back before it changes anything
 * of it (a commit from elsewhere, routing, the connection lost), and the
 * native side gives it back by itself after `HOLD_MS` (`ZSTD_HOLD_MS` while
 * the link is the bottleneck), so that the codec policy, fairness and the
 * link's sampling see a frame now and then.
 *
 * While windows are handed over, the application's and the link's sockets
 * are read natively too (the poller calls the native side instead of
 * JavaScript: reads.rs): a frame and its answers then cost no JavaScript at
 * all, and what the native side does not take comes here as read.
 * WALTHAM_NATIVE_READS=0 leaves the reads to JavaScript.
 *
 * Only windows on plain TCP links whose socket is written directly take part
 * (TLS stays in JavaScript), never a lossy frame, and none while Waltham or
 * Wayland messages are traced. WALTHAM_NATIVE_COMMITS=0 turns it off.
 */
import { COMMIT_APP_STAGED, COMMIT_BACK, COMMIT_IO, COMMIT_LINK_STAGED, COMMIT_OTHER, COMMIT_RELEASE, SteadyCommits, type CommitState, type CommitWire } from '../../shared/native.js';
import {
  wthDisplayInterface,
  wthpCallbackInterface,
  WthpCallbackProxy,
  wthpContentInterface,
  WthpContentFormat,
  wthpPresentationFeedbackInterface,
  WthpPresentationFeedbackProxy,
  wthpPresentationInterface,
  wthpSurfaceInterface,
} from '../../shared/generated/waltham/waltham.js';
import {
  wlBufferInterface,
  wlCallbackInterface,
  wlDisplayInterface,
  wlSurfaceInterface,
  wpPresentationFeedbackInterface,
  wpPresentationInterface,
} from '../../shared/generated/wayland/index.js';
import { CODEC_ZSTD, codecBit, RGB_CODECS } from '../../shared/remote/tiles.js';
import { LOSSY_CODECS } from '../../shared/remote/lossy.js';
import type { SceneSurface } from '../../shared/scene/scene.js';
import type { WaylandConnection } from '../../shared/wayland/connection.js';
import type { InterfaceSpec, MessageSpec } from '../../shared/wire/protocol.js';
import { Surface } from '../compositor/compositor.js';
import type { ConnectionState, LinkContext, LinkCounters, Remote } from './remote.js';
import { contentToSend } from './viewport.js';
import { every, type Tick } from '../../shared/ticker.js';

/**
 * A window goes back at its first commit this long after the hand-over (the codec policy and the
 * link's sampling see a frame of it then; each hold costs a frame in JavaScript and a hand-over,
 * a few milliseconds of CPU). A link that falls behind takes its windows back at once, whatever
 * the hold: a commit the socket has no room for goes to JavaScript.
 */
export const HOLD_MS = 10_000;

/**
 * The hold of a window encoded with zstd (the policy found the link the bottleneck): short, so
 * that lz4 is chosen again soon after the link keeps up.
 */
export const ZSTD_HOLD_MS = 2000;

/** A frame the receiver has not presented this long after it went out comes back (`watchOverdue`). */
export const OVERDUE_MS = 1000;

/**
 * Hand-overs given back before a single commit, in a row, after which a window waits before the
 * next offer (an application that sends another request with every frame would otherwise pay a
 * hand-over and a take-back a frame): 1 s, doubling up to MAX_BACKOFF_MS.
 */
export const MISSES_BEFORE_BACKOFF = 3;

/**
 * Frames larger than this stay in JavaScript, which queues what the socket does not take at once
 * in buffers it reuses (a native frame the socket does not take whole gives the window back).
 */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024;
const MAX_BACKOFF_MS = 8000;

/** How a window's hand-overs went lately. */
interface Misses {
  count: number;
  retryAt: number;
}

function opcodeOf(iface: InterfaceSpec, name: string, events = false): number {
  const list: readonly MessageSpec[] = events ? iface.events : iface.requests;
  const m = list.find((x) => x.name === name);
  if (m === undefined) throw new Error(`${iface.name} has no ${name}`);
  return m.opcode;
}

/** Wire numbers from the generated tables. */
export function commitWire(): CommitWire {
  return {
    wlAttach: opcodeOf(wlSurfaceInterface, 'attach'),
    wlDamage: opcodeOf(wlSurfaceInterface, 'damage'),
    wlDamageBuffer: opcodeOf(wlSurfaceInterface, 'damage_buffer'),
    wlFrame: opcodeOf(wlSurfaceInterface, 'frame'),
    wlCommit: opcodeOf(wlSurfaceInterface, 'commit'),
    wpFeedback: opcodeOf(wpPresentationInterface, 'feedback'),
    wlBufferRelease: opcodeOf(wlBufferInterface, 'release', true),
    wlCallbackDone: opcodeOf(wlCallbackInterface, 'done', true),
    wlDeleteId: opcodeOf(wlDisplayInterface, 'delete_id', true),
    wpPresented: opcodeOf(wpPresentationFeedbackInterface, 'presented', true),
    begin: opcodeOf(wthpContentInterface, 'begin'),
    frame: opcodeOf(wthpSurfaceInterface, 'frame'),
    feedback: opcodeOf(wthpPresentationInterface, 'feedback'),
    commit: opcodeOf(wthpSurfaceInterface, 'commit'),
    callbackDone: opcodeOf(wthpCallbackInterface, 'done', true),
    feedbackPresented: opcodeOf(wthpPresentationFeedbackInterface, 'presented', true),
    feedbackDiscarded: opcodeOf(wthpPresentationFeedbackInterface, 'discarded', true),
    deleteId: opcodeOf(wthDisplayInterface, 'delete_id', true),
  };
}

/** What a link does with a window given back (send.ts): its frame in flight, its counters. */
export interface SteadyLinkHooks {
  /** The window `r` comes back; `state` holds the frame in flight and what was sent natively. */
  restore(conn: ConnectionState, r: Remote, state: CommitState): void;
}

interface Adopted {
  readonly link: SteadyLink;
  readonly conn: ConnectionState;
  readonly r: Remote;
  readonly surface: Surface;
  readonly app: number;
  /** The encoder's output buffer lent to the native side. */
  readonly out: Uint8Array;
}

/** The one native object of the process, and the applications' hooks (an application may show windows on several links). */
class CommitHub {
  readonly native = new SteadyCommits(commitWire());
  readonly io = new Float64Array(COMMIT_IO.length);
  readonly adopted = new Map<number, Adopted>();
  readonly byScene = new Map<SceneSurface, number>();
  private readonly apps = new Map<WaylandConnection, number>();
  private readonly appConns = new Map<number, WaylandConnection>();
  /** Per application with windows handed over: their links and Waltham connections (made at hand-over and take-back, read on every read). */
  private readonly linksByApp = new Map<number, Map<number, ConnectionState['client']>>();
  /** Applications whose socket the native side reads. */
  private readonly hooked = new Set<number>();
  private nextKey = 1;
  private nextApp = 1;
  nextLink = 1;

  key(): number {
    return this.nextKey++;
  }

  /** The key of an application's connection, hooked on first use. */
  app(conn: WaylandConnection): number {
    let app = this.apps.get(conn);
    if (app !== undefined) return app;
    app = this.nextApp++;
    const key = app;
    this.apps.set(conn, key);
    this.appConns.set(key, conn);
    const io = this.io;
    conn.setFastPath((buf, start, end) => {
      const links = this.linksByApp.get(key);
      if (links === undefined) return start;
      io[COMMIT_IO.linkQueued] = linksQueued(links) ? 1 : 0;
      // Ids: one sequence on each link, JavaScript's (its ping, other windows) and the native
      // side's, in the connection's shared counters.
      const next = this.native.takeApp(key, buf, start, end, io);
      const flags = io[COMMIT_IO.flags]!;
      this.act(key, flags);
      // Left to JavaScript with the windows still handed over: a commit's request of one that is
      // not, as its target's interface says; anything else takes them back first.
      if (flags & COMMIT_OTHER && !othersRequest(conn, buf, next, end)) this.releaseApp(key);
      return next;
    });
    // A read done natively left flags: acted on before the bytes it kept are parsed.
    conn.setNotice(() => this.act(key, this.native.takeNotice(key)));
    conn.once('close', () => {
      // Its surfaces go with it: nothing to restore into a closed connection.
      for (const state of this.native.releaseApp(key)) this.forgetState(state);
      this.native.forget(key, 0);
      this.hooked.delete(key);
      this.apps.delete(conn);
      this.appConns.delete(key);
    });
    return key;
  }

  /** What takeApp's flags (or a native read's) ask of application `app`. */
  private act(app: number, flags: number): void {
    if (flags & COMMIT_LINK_STAGED) for (const a of this.adopted.values()) if (a.app === app) a.link.queueStaged();
    if (flags & COMMIT_RELEASE) this.releaseApp(app);
    if (flags & COMMIT_BACK) for (const state of this.native.releaseBack(app)) this.restore(state);
  }

  /** A window of `app` was handed over or taken back: its links again, and whether its socket is read natively. */
  track(app: number): void {
    const links = new Map<number, ConnectionState['client']>();
    for (const a of this.adopted.values()) if (a.app === app) links.set(a.link.key, a.conn.client);
    const conn = this.appConns.get(app);
    if (links.size > 0) {
      this.linksByApp.set(app, links);
      if (!this.hooked.has(app) && conn !== undefined && CommitHub.nativeReads) {
        this.native.hookApp(app, conn.socketFd);
        this.hooked.add(app);
      }
    } else {
      this.linksByApp.delete(app);
      if (this.hooked.delete(app)) this.native.unhookApp(app);
    }
  }

  /** Whether applications' sockets are read natively while their windows are handed over (WALTHAM_NATIVE_READS=0 turns it off). */
  static get nativeReads(): boolean {
    return process.env['WALTHAM_NATIVE_READS'] !== '0';
  }

  appConnection(app: number): WaylandConnection | undefined {
    return this.appConns.get(app);
  }

  releaseApp(app: number): void {
    for (const state of this.native.releaseApp(app)) this.restore(state);
  }

  restore(state: CommitState): void {
    const a = this.giveBack(state);
    a?.link.restore(a, state);
  }

  private forgetState(state: CommitState): void {
    this.giveBack(state)?.link.counted(state);
  }

  /** The native side gave `state`'s window back: it is JavaScript's again. */
  private giveBack(state: CommitState): Adopted | undefined {
    const a = this.adopted.get(state.key);
    if (a === undefined) return undefined;
    this.adopted.delete(state.key);
    this.byScene.delete(a.r.scene);
    a.r.scene.settlePixels = null;
    this.track(a.app);
    a.r.encoder.returnOutput(a.out);
    return a;
  }
}

/** Whether one of `links` has output queued (after trying to write it); those without are clean again for native reads. */
function linksQueued(links: ReadonlyMap<number, ConnectionState['client']>): boolean {
  let queued = false;
  for (const client of links.values()) {
    if (client.outputQueued) client.flushNow();
    if (client.outputQueued) queued = true;
    else client.nativeState[0] = 0;
  }
  return queued;
}

let hub: CommitHub | null = null;

/** The steady commit path of one link (ReceiverLink). */
export class SteadyLink {
  private readonly hub: CommitHub;
  /** This link's key in the native side. */
  readonly key: number;
  /** The connection whose input goes through the native side first. */
  private hooked: ConnectionState | null = null;
  /** Its socket is read natively (`hookLink`). */
  private linkHooked = false;
  /** Hand-overs and windows taken back so far. */
  readonly handovers = { adopted: 0, released: 0 };
  /** Commits of windows since given back. */
  private restoredCommits = 0;
  /** Windows whose hand-overs came back without a commit. */
  private readonly misses = new WeakMap<SceneSurface, Misses>();
  /** Looks for frames the receiver does not present while windows are handed over. */
  private watch: Tick | null = null;

  constructor(
    private readonly ctx: LinkContext,
    private readonly hooks: SteadyLinkHooks,
  ) {
    hub ??= new CommitHub();
    this.hub = hub;
    this.key = this.hub.nextLink++;
  }

  /** Whether native steady commits are on (WALTHAM_NATIVE_COMMITS=0 turns them off). */
  static get enabled(): boolean {
    return process.env['WALTHAM_NATIVE_COMMITS'] !== '0';
  }

  /** Whether `s`'s window is handed over now. */
  has(s: SceneSurface): boolean {
    const key = this.hub.byScene.get(s);
    return key !== undefined && this.hub.adopted.get(key)?.link === this;
  }

  /** Hand `r` over if it is mirrored steadily (after JavaScript answered a frame of it). */
  offer(conn: ConnectionState, r: Remote): void {
    const s = r.scene;
    if (!SteadyLink.enabled || this.hub.byScene.has(s) || this.ctx.conn !== conn || conn.client.traced) return;
    const m = this.misses.get(s);
    if (m !== undefined && m.count >= MISSES_BEFORE_BACKOFF && performance.now() < m.retryAt) return;
    if ((r.kind !== 'toplevel' && r.kind !== 'ivi') || r.refused || r.needsCommit || r.pacer.inFlight > 0 || r.pacer.pending) return;
    if (r.lastWireBytes > MAX_FRAME_BYTES || !this.ctx.lossy.clean(r) || r.encoder.busy || s.listenerCount('commit') !== 1) return;
    const fd = conn.client.directWriteFd;
    if (fd < 0 || conn.client.outputQueued) return;
    const c = contentToSend(conn, s);
    const size = r.size;
    if (c === null || c !== s.content || size === null || size.width !== c.width || size.height !== c.height || size.format !== c.format) return;
    if (r.encoder.needsReset(c.width, c.height)) return;
    const choice = this.ctx.policy?.choose(s.id, performance.now()) ?? null;
    if (choice !== null && choice.kind === 'lossy') return;
    const surface = Surface.fromScene(s);
    const source = surface?.steadySource() ?? null;
    if (surface === undefined || source === null || source.connection.traced || source.content !== c) return;
    const lossless = conn.codecs & ~LOSSY_CODECS;
    const picked = choice !== null && choice.kind === 'zstd' ? lossless : lossless & ~codecBit(CODEC_ZSTD);
    // As TileEncoder does: 3-byte pixels for xrgb8888 only.
    const codecs = c.format === 'xrgb8888' ? picked : picked & ~RGB_CODECS;
    const app = this.hub.app(source.connection);
    const key = this.hub.key();
    const out = r.encoder.lendOutput(c.width, c.height);
    try {
      this.hub.native.adopt(
        {
          key,
          app,
          appFd: source.connection.socketFd,
          appDirty: source.connection.nativeState,
          wlSurface: source.wlSurface,
          presentations: source.presentations,
          freeIds: source.freeIds,
          link: this.key,
          linkFd: fd,
          ids: conn.client.idCounters,
          dirty: conn.client.nativeState,
          surface: r.surface.id,
          content: conn.content.id,
          presentation: conn.presentation?.id ?? 0,
          width: c.width,
          height: c.height,
          format: c.format === 'xrgb8888' ? WthpContentFormat.Xrgb8888 : WthpContentFormat.Argb8888,
          codecs,
          pixels: c.pixels,
          out,
          holdMs: this.ctx.options.steadyHoldMs ?? ((codecs & codecBit(CODEC_ZSTD)) !== 0 ? ZSTD_HOLD_MS : HOLD_MS),
        },
        r.encoder.nativeEncoder,
      );
      for (const b of source.buffers) this.hub.native.addBuffer(key, b.id, b.mapping, b.stride);
    } catch (err) {
      this.hub.native.releaseSurface(key);
      r.encoder.returnOutput(out);
      this.ctx.logger.warn({ err }, `${this.ctx.where}: steady commits: surface ${s.id} not handed over: ${(err as Error).message}`);
      return;
    }
    this.hub.adopted.set(key, { link: this, conn, r, surface, app, out });
    this.hub.byScene.set(s, key);
    // Commits encoded straight from the application's buffer leave the content behind: whoever reads it brings it up to date first.
    s.settlePixels = () => this.hub.native.settle(key);
    this.hub.track(app);
    this.handovers.adopted++;
    this.hook(conn);
    this.watchOverdue();
    this.ctx.logger.debug({ surface: s.id }, `${this.ctx.where}: steady commits: surface ${s.id} handed over`);
  }

  /** Take `s`'s window back, if it is handed over. */
  release(s: SceneSurface): void {
    const key = this.hub.byScene.get(s);
    if (key === undefined || this.hub.adopted.get(key)?.link !== this) return;
    const state = this.hub.native.releaseSurface(key);
    if (state !== null) this.hub.restore(state);
  }

  /** Take every window of this link back (the connection goes, the link stops). */
  releaseAll(): void {
    for (const state of this.hub.native.releaseLink(this.key)) this.hub.restore(state);
  }

  /** The connection is gone: nothing staged for it goes out any more. */
  disconnected(): void {
    this.releaseAll();
    this.unhookLink();
    this.hub.native.forget(0, this.key);
    this.hooked = null;
  }

  /** Commits taken natively so far, those of windows handed over now included. */
  get nativeCommits(): number {
    return this.restoredCommits + (this.counters()[0] ?? 0);
  }

  /** Reads of applications' and receivers' sockets done natively so far (the process's). */
  get nativeReads(): number {
    return this.hub.native.nativeReads;
  }

  /** Counters of windows handed over now: commits, frames presented, tiles, bytes of tile messages. */
  counters(): number[] {
    return this.hub.native.counters(this.key);
  }

  /** Queue what the native side staged for this link. */
  queueStaged(): void {
    const bytes = this.hub.native.takeStaged(0, this.key);
    if (bytes !== null) this.ctx.conn?.client.sendEncoded(bytes);
  }

  /** A window comes back: the application's side first (its objects), then the link's. */
  restore(a: Adopted, state: CommitState): void {
    this.handovers.released++;
    if (!this.any()) this.unhookLink();
    this.restoredCommits += state.commits;
    this.countMiss(a.r.scene, state.commits === 0);
    this.ctx.logger.debug(
      { surface: a.r.scene.id, commits: state.commits },
      `${this.ctx.where}: steady commits: surface ${a.r.scene.id} taken back after ${state.commits} commits${state.inFlight !== 0 ? ', one in flight' : ''}`,
    );
    // Bytes the native side could not write go first, in order, before anything written from here.
    this.queueStaged();
    const conn = this.hub.appConnection(a.app);
    const bytes = this.hub.native.takeStaged(a.app, 0);
    if (bytes !== null) conn?.sendRaw(bytes);
    const flight =
      state.inFlight === 0 ? null : { callbacks: state.flightCallbacks, feedbacks: state.flightFeedbacks, buffer: state.flightBuffer, ageMs: state.flightMs };
    try {
      a.surface.steadyRestore(flight);
      this.hooks.restore(a.conn, a.r, state);
    } catch (err) {
      this.ctx.logger.error({ err }, `${this.ctx.where}: steady commits: surface ${a.r.scene.id} could not be taken back: ${(err as Error).message}`);
      a.conn.client.close();
    }
  }

  /** A hand-over came back without a commit (`missed`) or with some. */
  private countMiss(s: SceneSurface, missed: boolean): void {
    if (!missed) {
      this.misses.delete(s);
      return;
    }
    const m = this.misses.get(s) ?? { count: 0, retryAt: 0 };
    m.count++;
    if (m.count >= MISSES_BEFORE_BACKOFF) m.retryAt = performance.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (m.count - MISSES_BEFORE_BACKOFF));
    this.misses.set(s, m);
  }

  /** A window went with its application: count what it sent. */
  counted(state: CommitState): void {
    this.restoredCommits += state.commits;
    countSteady(this.ctx.counters, state);
  }

  /**
   * A frame the receiver does not present (a hidden window, a stalled display) would stall the
   * application: such a window comes back after OVERDUE_MS (checked as often, with the link's other
   * checks: within twice that), and the display's frame clock answers it.
   */
  private watchOverdue(): void {
    if (this.watch !== null) return;
    this.watch = every(OVERDUE_MS, () => {
      if (!this.any()) {
        this.watch?.stop();
        this.watch = null;
        return;
      }
      for (const key of this.hub.native.overdue(this.key, OVERDUE_MS)) {
        const state = this.hub.native.releaseSurface(key);
        if (state !== null) this.hub.restore(state);
      }
    });
  }

  /**
   * The receiver's answers go through the native side first while windows
   * are handed over; the link's socket is read natively then (the poller
   * reads it from the first hand-over on, and the native side's hook takes
   * the answers while windows are handed over).
   */
  private hook(conn: ConnectionState): void {
    const client = conn.client;
    if (this.hooked !== conn) {
      this.hooked = conn;
      this.linkHooked = false;
      const io = this.hub.io;
      client.setFastPath((buf, start, end) => {
        if (this.ctx.conn !== conn || !this.any()) return start;
        io[COMMIT_IO.appQueued] = this.appsQueued() ? 1 : 0;
        const next = this.hub.native.takeLink(this.key, buf, start, end, io);
        if (next !== start) client.countFastMessages(io[COMMIT_IO.messages]!);
        if (io[COMMIT_IO.flags]! & COMMIT_APP_STAGED) this.queueAppsStaged();
        return next;
      });
      // A read done natively left flags, and messages it counted.
      client.setNotice(() => {
        client.countFastMessages(this.hub.native.takeLinkMessages(this.key));
        if (this.hub.native.takeLinkNotice(this.key) & COMMIT_APP_STAGED) this.queueAppsStaged();
      });
    }
    if (!this.linkHooked && CommitHub.nativeReads && client.readNatively()) {
      this.hub.native.hookLink(this.key, client.directWriteFd);
      this.linkHooked = true;
    }
  }

  /** No window of this link is handed over any more: JavaScript takes the receiver's answers again. */
  private unhookLink(): void {
    if (!this.linkHooked) return;
    this.linkHooked = false;
    this.hub.native.unhookLink(this.key);
    this.hooked?.client.countFastMessages(this.hub.native.takeLinkMessages(this.key));
  }

  private any(): boolean {
    for (const a of this.hub.adopted.values()) if (a.link === this) return true;
    return false;
  }

  /** Whether an application of this link's windows has output queued (after trying to write it); those without are clean again for native reads. */
  private appsQueued(): boolean {
    let queued = false;
    for (const a of this.hub.adopted.values()) {
      if (a.link !== this) continue;
      const conn = this.hub.appConnection(a.app);
      if (conn === undefined) continue;
      if (conn.hasQueuedOutput) conn.flush();
      if (conn.hasQueuedOutput) queued = true;
      else conn.nativeState[0] = 0;
    }
    return queued;
  }

  private queueAppsStaged(): void {
    for (const a of this.hub.adopted.values()) {
      if (a.link !== this) continue;
      const bytes = this.hub.native.takeStaged(a.app, 0);
      if (bytes !== null) this.hub.appConnection(a.app)?.sendRaw(bytes);
    }
  }
}

/** What a window sent while handed over, added to the link's counters. */
export function countSteady(c: LinkCounters, state: CommitState): void {
  c.commitsSent += state.commits;
  c.framesPresented += state.presented;
  c.tiles += state.tiles;
  c.unchangedTiles += state.unchangedTiles;
  c.rawBytes += state.rawBytes;
  c.wireBytes += state.wireBytes;
}

/** Proxies for the frame in flight of a window given back, in the link's object map. */
export function takeFlight(conn: ConnectionState, r: Remote, state: CommitState): { callback: WthpCallbackProxy | null; feedback: WthpPresentationFeedbackProxy | null } {
  const last = state.nextId - 1;
  const client = conn.client;
  const [callback = null] = client.takeObjects(WthpCallbackProxy, state.inFlight === 0 ? [] : [state.inFlight], r.surface.version, last);
  const fb = state.inFlight !== 0 && state.flightFeedback !== 0 && conn.presentation !== null ? [state.flightFeedback] : [];
  const [feedback = null] = client.takeObjects(WthpPresentationFeedbackProxy, fb, conn.presentation?.version ?? 1, last);
  return { callback, feedback };
}

/** A commit's requests, by interface: the native side leaves those of a window it does not have to JavaScript. */
const COMMIT_REQUESTS: ReadonlyMap<string, readonly number[]> = new Map([
  [wlSurfaceInterface.name, ['attach', 'damage', 'damage_buffer', 'frame', 'commit'].map((name) => opcodeOf(wlSurfaceInterface, name))],
  [wpPresentationInterface.name, [opcodeOf(wpPresentationInterface, 'feedback')]],
]);

/**
 * Whether the whole request at `start` is one of a commit, as its target's interface says: the
 * only requests of another window the native side leaves to JavaScript while the application's
 * other windows stay handed over (it goes by opcode and size alone).
 */
function othersRequest(conn: WaylandConnection, buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 8) return false;
  const view = new DataView(buf.buffer, buf.byteOffset + start, 8);
  const target = conn.getObject(view.getUint32(0, true));
  return target !== undefined && (COMMIT_REQUESTS.get(target.spec.name)?.includes(view.getUint32(4, true) & 0xffff) ?? false);
}
