/**
 * Steady frames in native code (native/wayland-shim/src/steady.rs): a
 * transmitter's surface that is shown steadily is handed over after a frame
 * JavaScript presented, and its following frames (begin, tiles, frame,
 * presentation feedback, commit; the compositor's done, delete_id and
 * release) are handled where the bytes are read, without JavaScript. At the
 * first message of that transmitter the native side does not take (another
 * size, another message, a bad tile: anything), every surface of the
 * transmitter comes back here, state and frame in flight included, and that
 * message is handled as usual, errors included. The local display asks a
 * surface back before its local objects change (see
 * shared/display/steady.ts). The presentations the native side reports are
 * predicted from the display's last real one, as here; once a second
 * (`CHECK_MS`) it asks the compositor for a real one, which moves the
 * predictions on to it when it is on their phase (or lag); two in a row off
 * it give the surface back, for JavaScript to learn the display anew. A
 * producer that wants presentations on a display not steady yet gets the
 * real presentation of every commit asked, as JavaScript asks it, and the
 * predictions follow each one that comes, until as many in a row as here
 * show the display steady (then checked as above; not without checks: such
 * a surface stays here then).
 * Without such checks (a compositor without wp_presentation, no freed ids
 * to lend yet), or when none confirms the predictions for `HOLD_MS`, the
 * surface goes back at its next frame, so that they stay fresh.
 *
 * While surfaces are handed over, the transmitter's and the compositor's
 * sockets are read natively too (the poller calls the native side instead
 * of JavaScript: reads.rs), within the transmitter's work budget, given to
 * the native side and charged afterwards. WALTHAM_NATIVE_READS=0 leaves the
 * reads to JavaScript.
 *
 * Only plain TCP transmitters whose socket the receiver writes directly take
 * part (TLS stays in JavaScript), and none while Waltham or Wayland
 * messages are traced (a trace shows every message).
 */
import {
  STEADY_DISPLAY_STAGED,
  STEADY_IO,
  STEADY_PEER_STAGED,
  STEADY_RELEASE,
  SteadyFrames,
  type SteadyState,
  type SteadyWire,
} from '../shared/native.js';
import {
  wthDisplayInterface,
  wthpCallbackInterface,
  wthpContentInterface,
  WthpContentFormat,
  wthpPresentationFeedbackInterface,
  wthpPresentationInterface,
  wthpSurfaceInterface,
} from '../shared/generated/waltham/waltham.js';
import {
  wlBufferInterface,
  wlCallbackInterface,
  wlDisplayInterface,
  wlSurfaceInterface,
  WpPresentationFeedbackKind,
  wpPresentationFeedbackInterface,
  wpPresentationInterface,
} from '../shared/generated/wayland/index.js';
import { FRAME_WIRE } from '../shared/remote/tiles.js';
import { nestedWakeCount } from '../shared/wayland/fd-watch.js';
import type { DisplaySteady } from '../shared/display/steady.js';
import type { WaylandConnection } from '../shared/wayland/connection.js';
import type { Logger } from '../shared/log.js';
import type { PixelFormat, SceneSurface } from '../shared/scene/scene.js';
import type { SharedPixels } from '../shared/scene/shared-pixels.js';
import type { WalthamPeer } from '../shared/waltham/display.js';
import type { InterfaceSpec, MessageSpec } from '../shared/wire/protocol.js';
import type { RemoteSurface } from './remote-surface.js';

/**
 * A surface goes back after its first frame this long after the hand-over, or after the last real
 * presentation that confirmed the predictions (they start again from a real presentation then;
 * each hold costs a frame in JavaScript and a hand-over, a few milliseconds of CPU).
 */
export const HOLD_MS = 10_000;

/** A surface handed over asks the compositor for a real presentation this often (ms), to check the predictions. */
export const CHECK_MS = 1000;

/** What the steady path needs of a transmitter (RemoteClient). */
export interface SteadyClient {
  readonly peer: WalthamPeer;
  /** The Waltham side of `rs` when it may be handed over, else null. */
  steadyWaltham(rs: RemoteSurface): { surface: number; contents: number[]; presentations: number[]; codecs: number; maxCallbacks: number } | null;
  /** Pixels the transmitter may write now. */
  steadyBudget(): number;
  /** Pixels written natively, charged (false: the peer was dropped for its budget). */
  steadyCharge(pixels: number): boolean;
  /** Take a surface back (its Waltham side; the display's is restored after). */
  steadyRestore(rs: RemoteSurface, state: SteadyState): void;
}

interface Adopted {
  readonly client: SteadyClient;
  readonly rs: RemoteSurface;
  readonly peer: number;
  readonly pool: readonly SharedPixels[];
  readonly width: number;
  readonly height: number;
  readonly format: PixelFormat;
}

function opcodeOf(iface: InterfaceSpec, name: string, events = false): number {
  const list: readonly MessageSpec[] = events ? iface.events : iface.requests;
  const m = list.find((x) => x.name === name);
  if (m === undefined) throw new Error(`${iface.name} has no ${name}`);
  return m.opcode;
}

/** Wire numbers from the generated tables. */
function steadyWire(): SteadyWire {
  return {
    begin: opcodeOf(wthpContentInterface, 'begin'),
    tile: opcodeOf(wthpContentInterface, 'tile'),
    frame: opcodeOf(wthpSurfaceInterface, 'frame'),
    feedback: opcodeOf(wthpPresentationInterface, 'feedback'),
    commit: opcodeOf(wthpSurfaceInterface, 'commit'),
    sync: opcodeOf(wthDisplayInterface, 'sync'),
    callbackDone: opcodeOf(wthpCallbackInterface, 'done', true),
    feedbackPresented: opcodeOf(wthpPresentationFeedbackInterface, 'presented', true),
    deleteId: opcodeOf(wthDisplayInterface, 'delete_id', true),
    wlAttach: opcodeOf(wlSurfaceInterface, 'attach'),
    wlDamageBuffer: opcodeOf(wlSurfaceInterface, 'damage_buffer'),
    wlFrame: opcodeOf(wlSurfaceInterface, 'frame'),
    wlCommit: opcodeOf(wlSurfaceInterface, 'commit'),
    wlCallbackDone: opcodeOf(wlCallbackInterface, 'done', true),
    wlBufferRelease: opcodeOf(wlBufferInterface, 'release', true),
    wlDeleteId: opcodeOf(wlDisplayInterface, 'delete_id', true),
    wpFeedback: opcodeOf(wpPresentationInterface, 'feedback'),
    wpSyncOutput: opcodeOf(wpPresentationFeedbackInterface, 'sync_output', true),
    wpPresented: opcodeOf(wpPresentationFeedbackInterface, 'presented', true),
    wpDiscarded: opcodeOf(wpPresentationFeedbackInterface, 'discarded', true),
    wpKindVsync: WpPresentationFeedbackKind.Vsync,
    formatXrgb: WthpContentFormat.Xrgb8888,
    tiles: FRAME_WIRE,
  };
}

export class SteadyPath {
  private readonly native: SteadyFrames;
  private readonly io = new Float64Array(STEADY_IO.length);
  private readonly adopted = new Map<number, Adopted>();
  private readonly byScene = new Map<SceneSurface, number>();
  private readonly peerKeys = new Map<SteadyClient, number>();
  /** Adopted surfaces per peer key. */
  private readonly counts = new Map<number, number>();
  private nextKey = 1;
  private nextPeer = 1;
  /** The compositor connection whose input goes through the native side first. */
  private hooked: WaylandConnection | null = null;
  /** Peers whose socket is read natively, and the compositor's socket when it is (-1: not). */
  private readonly hookedPeers = new Set<number>();
  private displayHooked = -1;
  /**
   * Hand-overs so far (`following`: those asking every commit's real presentation, mode 3),
   * surfaces taken back, and the real presentations that confirmed (or, in mode 3, moved) the
   * predictions of those taken back.
   */
  readonly handovers = { adopted: 0, following: 0, released: 0, checks: 0 };
  private readonly holdMs: number;
  private readonly checkMs: number | null;
  private readonly following: boolean;

  constructor(
    private readonly display: DisplaySteady,
    private readonly logger: Logger,
    /**
     * `holdMs` (default HOLD_MS); `checkMs` (default CHECK_MS; null: no checks); `following`
     * (default true; false: a surface whose producer wants presentations waits until the
     * display shows itself steady).
     */
    options: { holdMs?: number; checkMs?: number | null; following?: boolean } = {},
  ) {
    this.holdMs = options.holdMs ?? HOLD_MS;
    this.checkMs = options.checkMs === undefined ? CHECK_MS : options.checkMs;
    this.following = options.following ?? true;
    this.native = new SteadyFrames(steadyWire());
    display.onMirrorGone = (scene) => this.releaseScene(scene);
    display.liveCounters = () => {
      let commits = 0;
      let presented = 0;
      for (const peer of this.counts.keys()) {
        const c = this.native.counters(peer);
        commits += c[0]!;
        presented += c[3]!;
      }
      return { commits, presented };
    };
  }

  /** What `client`'s surfaces handed over did so far (commits, tiles, tile bytes, frames presented, real presentations that confirmed the predictions). */
  counters(client: SteadyClient): number[] {
    const peer = this.peerKeys.get(client);
    return peer === undefined || (this.counts.get(peer) ?? 0) === 0 ? [0, 0, 0, 0, 0] : this.native.counters(peer);
  }

  /** Real presentations that confirmed (or, in mode 3, moved) the predictions so far. */
  get checks(): number {
    let live = 0;
    for (const peer of this.counts.keys()) if ((this.counts.get(peer) ?? 0) > 0) live += this.native.counters(peer)[4]!;
    return this.handovers.checks + live;
  }

  /** Serve `client`'s steady surfaces natively; call once, when it connects. */
  attach(client: SteadyClient): void {
    const peer = this.nextPeer++;
    this.peerKeys.set(client, peer);
    const io = this.io;
    client.peer.setFastPath((buf, start, end) => {
      if ((this.counts.get(peer) ?? 0) === 0) return start;
      const hooked = this.hookedPeers.has(peer);
      // What reads done natively wrote is charged first.
      if (hooked && !this.settle(client, peer)) return start;
      io[STEADY_IO.budget] = client.steadyBudget();
      io[STEADY_IO.displayQueued] = this.displayQueued() ? 1 : 0;
      io[STEADY_IO.peerQueued] = peerQueued(client.peer) ? 1 : 0;
      const next = this.native.takeWaltham(peer, buf, start, end, io);
      const flags = io[STEADY_IO.flags]!;
      if (next !== start) {
        client.peer.countFastMessages(io[STEADY_IO.messages]!);
        const pixels = io[STEADY_IO.pixels]!;
        if (pixels > 0 && !client.steadyCharge(pixels)) return next;
      }
      this.act(client, peer, flags);
      // Left to JavaScript with the surfaces still handed over: a message of one that is not,
      // which only its own objects may carry; anything else takes them back first.
      if (next === start && (flags & STEADY_RELEASE) === 0 && (this.counts.get(peer) ?? 0) > 0 && !othersMessage(client.peer, buf, start, end)) {
        this.releasePeer(peer);
      }
      if (hooked) this.native.setBudget(peer, client.steadyBudget());
      return next;
    });
    // A read done natively left flags, or its budget ran low: count, charge, act, budget anew.
    client.peer.setNotice(() => {
      if (this.settle(client, peer)) this.native.setBudget(peer, client.steadyBudget());
    });
    client.peer.once('close', () => {
      this.releasePeer(peer);
      this.hookedPeers.delete(peer);
      this.native.forgetPeer(peer);
      this.peerKeys.delete(client);
      this.counts.delete(peer);
    });
  }

  /** Hand `rs` over if it is shown steadily (after JavaScript presented a frame of it). */
  offer(client: SteadyClient, rs: RemoteSurface): void {
    const peer = this.peerKeys.get(client);
    if (peer === undefined || this.byScene.has(rs.scene) || client.peer.traced) return;
    const fd = client.peer.directWriteFd;
    if (fd < 0) return;
    const waltham = client.steadyWaltham(rs);
    if (waltham === null) return;
    const pool = rs.steadyPool();
    if (pool === null) return;
    // Every commit's presentation is asked for (mode 3) only with checks on.
    const local = this.display.target(rs.scene, pool.pool, pool.current, pool.width, pool.height, pool.format, this.following && this.checkMs !== null);
    if (local === null) return;
    const key = this.nextKey++;
    const stale: number[] = [];
    for (const rects of pool.stale) {
      stale.push(rects.length);
      for (const r of rects) stale.push(r.x, r.y, r.width, r.height);
    }
    try {
      this.native.adopt({
        key,
        peer,
        peerFd: fd,
        ids: client.peer.idCounters,
        peerDirty: client.peer.nativeState,
        displayDirty: local.dirty,
        serial: client.peer.serialCell,
        surface: waltham.surface,
        contents: waltham.contents,
        presentations: waltham.presentations,
        width: pool.width,
        height: pool.height,
        format: pool.format === 'xrgb8888' ? WthpContentFormat.Xrgb8888 : WthpContentFormat.Argb8888,
        codecs: waltham.codecs,
        maxCallbacks: waltham.maxCallbacks,
        maxFeedbacks: waltham.maxCallbacks,
        displayFd: local.fd,
        wlSurface: local.wlSurface,
        callbackIds: local.callbackIds,
        buffers: pool.pool.map((px) => px.pixels),
        wlBuffers: local.wlBuffers,
        busy: local.busy,
        stale,
        current: pool.current,
        presentation: local.presentation.mode,
        lastTimeNs: local.presentation.lastTimeNs,
        refreshNs: local.presentation.refreshNs,
        seqHi: local.presentation.seqHi,
        seqLo: local.presentation.seqLo,
        flags: local.presentation.flags,
        lagNs: local.presentation.lagNs,
        holdMs: this.holdMs,
        wpPresentation: this.checkMs === null ? 0 : local.wpPresentation,
        clock: local.clock,
        feedbackIds: local.feedbackIds,
        checkMs: this.checkMs ?? 0,
      });
    } catch (err) {
      this.logger.warn({ err }, `steady frames: surface ${rs.scene.id} not handed over: ${(err as Error).message}`);
      this.display.restore(rs.scene, pool.pool, pool.width, pool.height, pool.format, {
        busy: local.busy,
        inFlight: 0,
        freeCallbackIds: local.callbackIds,
        freeFeedbackIds: local.feedbackIds,
        commits: 0,
        presented: 0,
      });
      return;
    }
    this.adopted.set(key, { client, rs, peer, pool: pool.pool, width: pool.width, height: pool.height, format: pool.format });
    this.byScene.set(rs.scene, key);
    this.counts.set(peer, (this.counts.get(peer) ?? 0) + 1);
    this.handovers.adopted++;
    if (local.presentation.mode === 3) this.handovers.following++;
    this.hook();
    if (SteadyPath.nativeReads) {
      if (!this.hookedPeers.has(peer) && client.peer.readNatively()) {
        this.native.hookPeer(peer, fd);
        this.hookedPeers.add(peer);
      }
      if (this.hookedPeers.has(peer)) this.native.setBudget(peer, client.steadyBudget());
      if (this.displayHooked !== local.fd) {
        this.native.hookDisplay(local.fd);
        this.displayHooked = local.fd;
      }
    }
    this.logger.debug({ surface: rs.scene.id }, `steady frames: surface ${rs.scene.id} handed over`);
  }

  /** What native reads of `peer` left: messages counted, pixels charged (false: the peer was dropped), flags acted on. */
  private settle(client: SteadyClient, peer: number): boolean {
    const [flags = 0, pixels = 0, messages = 0] = this.native.takePeerNotice(peer);
    if (messages > 0) client.peer.countFastMessages(messages);
    if (pixels > 0 && !client.steadyCharge(pixels)) return false;
    this.act(client, peer, flags);
    return true;
  }

  /** What takeWaltham's flags (or a native read's) ask. */
  private act(client: SteadyClient, peer: number, flags: number): void {
    if (flags & STEADY_PEER_STAGED) this.queueStaged(peer);
    if (flags & STEADY_DISPLAY_STAGED) this.queueStaged(0);
    if (flags & STEADY_RELEASE) this.releasePeer(peer);
  }

  /** Whether sockets are read natively while surfaces are handed over (WALTHAM_NATIVE_READS=0 turns it off). */
  static get nativeReads(): boolean {
    return process.env['WALTHAM_NATIVE_READS'] !== '0';
  }

  /** Reads of sockets done natively so far. */
  get nativeReads(): number {
    return this.native.nativeReads;
  }

  /** Surfaces handed over now. */
  get size(): number {
    return this.adopted.size;
  }

  /**
   * For --stats: surfaces handed over now, hand-overs so far (those asking every commit's
   * presentation), surfaces taken back, real presentations that confirmed or moved the
   * predictions, socket reads done natively, and wake-ups handled inside the loop's callback.
   */
  stats(): { handedOver: number; adopted: number; following: number; released: number; checks: number; nativeReads: number; nestedWakes: number } {
    return { handedOver: this.size, ...this.handovers, checks: this.checks, nativeReads: this.nativeReads, nestedWakes: nestedWakeCount() };
  }

  /** Take back every surface of the peer. */
  private releasePeer(peer: number): void {
    if ((this.counts.get(peer) ?? 0) === 0) return;
    for (const state of this.native.release(peer)) this.restore(state);
  }

  /** Take back the surface shown for `scene`, if it was handed over. */
  releaseScene(scene: SceneSurface): void {
    const key = this.byScene.get(scene);
    if (key === undefined) return;
    const state = this.native.releaseSurface(key);
    if (state !== null) this.restore(state);
  }

  private restore(state: SteadyState): void {
    const a = this.adopted.get(state.key);
    if (a === undefined) return;
    this.adopted.delete(state.key);
    this.byScene.delete(a.rs.scene);
    this.counts.set(a.peer, (this.counts.get(a.peer) ?? 1) - 1);
    this.handovers.released++;
    this.handovers.checks += state.checks;
    this.unhookIdle(a.client, a.peer);
    this.logger.debug({ surface: a.rs.scene.id, commits: state.commits }, `steady frames: surface ${a.rs.scene.id} taken back after ${state.commits} commits${state.inFlight !== 0 ? ', one in flight' : ''}`);
    // Bytes the native side could not write go first, in order, before anything written from here.
    this.queueStaged(0);
    this.queueStaged(a.peer);
    try {
      a.client.steadyRestore(a.rs, state);
      this.display.restore(a.rs.scene, a.pool, a.width, a.height, a.format, state);
    } catch (err) {
      this.logger.error({ err }, `steady frames: surface ${a.rs.scene.id} could not be taken back: ${(err as Error).message}`);
      a.client.peer.close();
    }
  }

  /** The compositor's events go through the native side first while surfaces are handed over. */
  private hook(): void {
    const conn = this.display.connection;
    if (conn === null || conn === this.hooked) return;
    this.hooked = conn;
    const io = this.io;
    conn.setFastPath((buf, start, end) => {
      if (this.adopted.size === 0) return start;
      io[STEADY_IO.peerQueued] = this.peersQueued() ? 1 : 0;
      const next = this.native.takeWayland(buf, start, end, io);
      if (io[STEADY_IO.flags]! & STEADY_PEER_STAGED) this.queueStagedPeers();
      return next;
    });
    // A read done natively left bytes for the transmitters.
    conn.setNotice(() => {
      if (this.native.takeDisplayNotice() & STEADY_PEER_STAGED) this.queueStagedPeers();
    });
  }

  private queueStagedPeers(): void {
    for (const peer of this.counts.keys()) this.queueStaged(peer);
  }

  /** Nothing of `peer` (or nothing at all) is handed over any more: JavaScript reads its socket (the compositor's) again. */
  private unhookIdle(client: SteadyClient, peer: number): void {
    if (this.hookedPeers.has(peer) && (this.counts.get(peer) ?? 0) === 0) {
      this.hookedPeers.delete(peer);
      this.native.unhookPeer(peer);
      // What its last native reads left: counted, charged, acted on.
      this.settle(client, peer);
    }
    if (this.displayHooked >= 0 && this.adopted.size === 0) {
      this.displayHooked = -1;
      this.native.unhookDisplay();
    }
  }

  /** Whether the compositor's connection has output queued (after trying to write it); clean again for native reads when not. */
  private displayQueued(): boolean {
    const conn = this.display.connection;
    if (conn === null) return true;
    if (conn.hasQueuedOutput) conn.flush();
    if (conn.hasQueuedOutput) return true;
    conn.nativeState[0] = 0;
    return false;
  }

  /** Whether a peer with surfaces handed over has output queued (after trying to write it); those without are clean again for native reads. */
  private peersQueued(): boolean {
    let queued = false;
    for (const a of this.adopted.values()) {
      const peer = a.client.peer;
      if (peerQueued(peer)) queued = true;
    }
    return queued;
  }

  /** Queue what the native side staged for the display (0) or a peer. */
  private queueStaged(peer: number): void {
    const bytes = this.native.takeStaged(peer);
    if (bytes === null) return;
    if (peer === 0) {
      this.display.connection?.sendRaw(bytes);
      return;
    }
    for (const [client, key] of this.peerKeys) if (key === peer) client.peer.sendEncoded(bytes);
  }
}

/** Whether `peer` has output queued (after trying to write it); clean again for native reads when not. */
function peerQueued(peer: WalthamPeer): boolean {
  if (peer.outputQueued) peer.flushNow();
  if (peer.outputQueued) return true;
  peer.nativeState[0] = 0;
  return false;
}

/** The requests of a frame, by interface: the native side leaves those of a surface it does not have to JavaScript. */
const FRAME_REQUESTS: ReadonlyMap<string, readonly number[]> = new Map([
  [wthpContentInterface.name, [opcodeOf(wthpContentInterface, 'begin'), opcodeOf(wthpContentInterface, 'tile')]],
  [wthpSurfaceInterface.name, [opcodeOf(wthpSurfaceInterface, 'frame'), opcodeOf(wthpSurfaceInterface, 'commit')]],
  [wthpPresentationInterface.name, [opcodeOf(wthpPresentationInterface, 'feedback')]],
]);

/**
 * Whether the whole message at `start` (or none: nothing to check yet) is a frame's request,
 * as its target's interface says: the only messages of another surface the native side leaves
 * to JavaScript while the transmitter's other surfaces stay handed over (it goes by opcode and
 * size alone).
 */
function othersMessage(peer: WalthamPeer, buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 12) return true;
  const view = new DataView(buf.buffer, buf.byteOffset + start, 12);
  const size = view.getUint16(2, true);
  if (size < 12 || size > end - start) return true;
  const target = peer.getObject(view.getUint32(8, true));
  return target !== undefined && (FRAME_REQUESTS.get(target.spec.name)?.includes(view.getUint16(4, true)) ?? false);
}
