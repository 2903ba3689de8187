/**
 * Sending the state of mirrored surfaces to the receiver: role state
 * (toplevel, popup, subsurface), stacking and positions of children,
 * regions, content (content.ts) and the commit with its frame callback.
 *
 * - Children are sent before their parent: their state (positions,
 *   synchronized commits) is applied by the parent's commit.
 * - A surface is sent when its pacer lets it (a frame slot is free).
 * - When more than `highWaterBytes` wait in the socket, nothing more is
 *   sent until it drains; then the newest state goes out.
 * - Windows that sent the fewest bytes lately go first (fairness.ts): a
 *   heavy window does not hold back the small ones on a slow link.
 */
import type { Content, Rect, SceneSurface } from '../../shared/scene/scene.js';
import type { CodecChoice } from '../../shared/remote/codec-policy.js';
import { CODEC_ZSTD, codecBit, formatToWire, tileMessageSize } from '../../shared/remote/tiles.js';
import { isOpaque } from './lossy-sender.js';
import type {
  WthpCallbackProxy,
  WthpCompositorProxy,
  WthpPopupProxy,
  WthpPresentationFeedbackProxy,
  WthpSubsurfaceProxy,
  WthpSurfaceProxy,
  WthpToplevelProxy,
} from '../../shared/generated/waltham/waltham.js';
import type { CommitState } from '../../shared/native.js';
import type { FrameToken } from '../../shared/scene/frame-pacer.js';
import { countSteady, takeFlight, type SteadyLinkHooks } from './steady.js';
import { sameRects } from '../../shared/scene/region.js';
import { encodeContentAsync, sendContent, sendFrame, type ContentSent } from './content.js';
import { sendCursor } from './cursor.js';
import { sendDecoration } from './decoration.js';
import { sendPointerConstraint } from './pointer-constraint.js';
import { sendIdleInhibit } from './idle-inhibit.js';
import { sendTextInput } from './text-input.js';
import { sendFractionalScale } from './fractional-scale.js';
import { contentToSend, sendViewport } from './viewport.js';
import type { SceneFollower } from './follow.js';
import { sendPositioner } from './positioner.js';
import { depth, int, MAX_DAMAGE_RECTS, text, type ConnectionState, type LinkContext, type Remote, type SentToplevel } from './remote.js';
import { FairShare } from './fairness.js';
import { soon } from '../../shared/microtask.js';

/**
 * Ask the receiver how it shows the commit about to go out: its answer comes
 * before the commit's frame callback and is kept in `r.shown` for it.
 */
function requestPresentation(conn: ConnectionState, r: Remote): void {
  listenPresentation(conn, r, conn.presentation!.feedback(r.surface));
}

/** How the receiver showed `r`'s frame goes to `r.shown`. */
function listenPresentation(conn: ConnectionState, r: Remote, feedback: WthpPresentationFeedbackProxy): void {
  feedback.listen({
    presented: (ageUs, refreshNs, seqHi, seqLo, flags) => {
      conn.client.destroyObject(feedback);
      // All zero: the receiver's display does not report presentation times.
      if (ageUs === 0 && refreshNs === 0 && seqHi === 0 && seqLo === 0 && flags === 0) return;
      r.shown = {
        timeNs: process.hrtime.bigint() - BigInt(ageUs | 0) * 1000n,
        refreshNs: refreshNs >>> 0,
        seq: (BigInt(seqHi >>> 0) << 32n) | BigInt(seqLo >>> 0),
        flags: flags >>> 0,
      };
    },
    discarded: () => conn.client.destroyObject(feedback),
  });
}

/**
 * Damage of at least this many pixels may be encoded on a worker thread
 * (`encodeThread`; below, the hand-over costs more than the encode).
 */
export const ASYNC_ENCODE_PIXELS = 512 * 512;

/** Pixels of `damage` (null: all of `c`), overlaps counted twice. */
function damageArea(damage: readonly Rect[] | null, c: Content): number {
  if (damage === null) return c.width * c.height;
  let n = 0;
  for (const d of damage) n += d.width * d.height;
  return n;
}

/** Surfaces of `remotes` whose waiting frame has at least ASYNC_ENCODE_PIXELS of damage. */
function countLargeFrames(conn: ConnectionState, remotes: readonly Remote[]): number {
  let n = 0;
  for (const r of remotes) {
    if (r.kind === 'cursor' || !r.pacer.ready) continue;
    const c = contentToSend(conn, r.scene);
    if (c !== null && damageArea(r.pacer.damage.rects, c) >= ASYNC_ENCODE_PIXELS) n++;
  }
  return n;
}

/** Cursor images are not presented by the receiver: their frame callbacks are answered at about 60 Hz. */
const CURSOR_FRAME_MS = 16;

export class Sender implements SteadyLinkHooks {
  private readonly highWater: number;
  private flushScheduled = false;
  /** Surfaces with a large frame ready in the current flush. */
  private largeFrames = 0;
  private waitingDrain = false;
  private readonly fair = new FairShare();

  constructor(
    private readonly ctx: LinkContext,
    private readonly follower: SceneFollower,
  ) {
    this.highWater = ctx.options.highWaterBytes ?? 8 * 1024 * 1024;
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    soon(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.ctx.conn;
    if (conn === null || !conn.client.isOpen) return;
    const stream = conn.client.stream;
    // Children first: their state (positions, synchronized commits) is applied by the parent's commit.
    const remotes = [...conn.remotes.values()].sort((a, b) => depth(b.scene) - depth(a.scene));
    // Only 'auto' asks, and only several surfaces can have several large frames.
    const auto = (this.ctx.options.encodeThread ?? 'auto') === 'auto';
    this.largeFrames = auto && remotes.length >= 2 ? countLargeFrames(conn, remotes) : 0;
    // The windows that sent least lately go first (fairness.ts).
    for (const window of this.fair.order(remotes, (r) => r.scene)) {
      if (stream.writableLength > this.highWater) {
        // The receiver (or the network) is slower than the applications: wait, then send the newest state.
        if (!this.waitingDrain) {
          this.waitingDrain = true;
          stream.once('drain', () => {
            this.waitingDrain = false;
            this.scheduleFlush();
          });
        }
        break;
      }
      const before = this.ctx.counters.wireBytes;
      for (const r of window) this.sendRemote(conn, r);
      if (!conn.client.isOpen) return;
      this.fair.charge(window[0]!.scene.root, this.ctx.counters.wireBytes - before);
    }
    // The frames go out now, before the clients' buffer releases queued earlier in this turn.
    conn.client.flushNow();
    this.ctx.sample();
  }

  /** Send `r`'s waiting state, or the bare commit its children need. */
  private sendRemote(conn: ConnectionState, r: Remote): void {
    if (conn.remotes.get(r.scene) !== r) return;
    // A window handed over has nothing to send, unless something of it changed here: then it comes back first.
    if (this.ctx.steady?.has(r.scene) === true) {
      if (!r.pacer.pending && !r.needsCommit) return;
      this.ctx.steady.release(r.scene);
    }
    // A surface whose frame is being encoded waits for it; its commits merge meanwhile.
    if (this.ctx.lossy.busy(r) || r.encoder.busy) return;
    try {
      // Window management requests take effect at once (xdg_toplevel.set_fullscreen is not
      // double-buffered): they must not wait behind frames in flight, which a compositor that
      // repaints only on damage (sway) may never present while the application waits for the
      // configure that answers them.
      if (!r.pacer.ready && this.sendWindowState(r)) r.needsCommit = true;
      if (r.pacer.ready) this.sendState(conn, r);
      else if (r.needsCommit) {
        this.sendChildren(conn, r);
        r.surface.commit();
        r.needsCommit = false;
      }
    } catch (err) {
      if (!conn.client.isOpen) return;
      // Something in this surface's state cannot be sent: start it over on the receiver.
      this.ctx.logger.error({ err }, `${this.ctx.where}: cannot send ${r.surface.toString()}: ${(err as Error).message}`);
      this.follower.destroyRemote(conn, r);
    }
  }

  /** A surface's lossy pixels settled: send the exact ones (a lossless frame over them). */
  refineLossy(r: Remote): void {
    const conn = this.ctx.conn;
    if (conn === null || conn.remotes.get(r.scene) !== r) return;
    r.pacer.commit([]);
    this.scheduleFlush();
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
          sendPositioner(conn, r, role.positioner ?? null);
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
    sendPointerConstraint(this.ctx, conn, r);
    sendIdleInhibit(conn, r);
    sendTextInput(this.ctx, conn, r);
    sendFractionalScale(this.ctx, conn, r);

    if (!sameRects(r.opaque, s.opaque)) {
      surface.setOpaqueRegion(this.region(conn, s.opaque));
      r.opaque = s.opaque;
    }
    if (!sameRects(r.input, s.input)) {
      surface.setInputRegion(s.input === null ? null : this.region(conn, s.input));
      r.input = s.input;
    }

    const c = contentToSend(conn, s);
    if (c === null) {
      if (r.size !== null) {
        surface.attach(null, 0, 0);
        r.encoder.reset();
        this.ctx.lossy.forget(r);
        r.size = null;
      }
    } else if (!r.refused) {
      if (c.scale !== r.scale) {
        surface.setBufferScale(c.scale);
        r.scale = c.scale;
      }
      if (c.transform !== r.transform) {
        surface.setBufferTransform(c.transform);
        r.transform = c.transform;
      }
      const now = performance.now();
      const choice = r.kind === 'cursor' ? null : (this.ctx.policy?.choose(s.id, now) ?? null);
      // Lossy: the frame is finished (commit included) once its tiles are encoded.
      if (choice !== null && choice.kind === 'lossy' && this.startLossy(conn, r, c, choice)) return;
      let damage = r.pacer.damage.rects;
      const refine = this.ctx.lossy.takeRefinement(r);
      if (refine.length > 0 && damage !== null) {
        // Where the receiver has lossy pixels, the exact ones go out again.
        damage = [...damage, ...r.encoder.forget(refine, c.width, c.height)];
        if (damage.length > MAX_DAMAGE_RECTS) damage = null;
      }
      const zstd = choice !== null && choice.kind !== 'lz4' && (conn.codecs & codecBit(CODEC_ZSTD)) !== 0;
      // A large frame may be encoded on a worker: the link finishes its commit when it is done.
      if (this.onWorker() && r.kind !== 'cursor' && damageArea(damage, c) >= ASYNC_ENCODE_PIXELS) {
        this.startEncode(conn, r, c, damage, zstd, now);
        return;
      }
      const sent = sendContent(conn, r, c, damage, zstd);
      this.contentSent(r, c, sent, zstd, now);
    }
    r.pacer.damage.clear();
    this.finishCommit(conn, r, c, true);
  }

  /**
   * Whether large frames go to a worker thread: always or never as the
   * options say; with 'auto', when the flush has several of them (the
   * JavaScript thread then encodes none and the worker threads share them;
   * one large frame alone is cheaper on the JavaScript thread).
   */
  private onWorker(): boolean {
    const mode = this.ctx.options.encodeThread ?? 'auto';
    return mode === 'worker' || (mode === 'auto' && this.largeFrames >= 2);
  }

  /** Counters and the codec policy, for a lossless frame sent. */
  private contentSent(r: Remote, c: Content, sent: ContentSent, zstd: boolean, started: number): void {
    if (sent.reset) this.ctx.lossy.forget(r);
    r.lastWireBytes = sent.wireBytes;
    this.ctx.counters.tiles += sent.tiles;
    this.ctx.counters.unchangedTiles += sent.unchangedTiles;
    this.ctx.counters.rawBytes += sent.rawBytes;
    this.ctx.counters.wireBytes += sent.wireBytes;
    this.ctx.policy?.frameEncoded({
      surface: r.scene.id,
      now: started,
      pixels: c.width * c.height,
      changedPixels: sent.rawBytes / 4,
      rawBytes: sent.rawBytes,
      encodedBytes: sent.wireBytes,
      family: zstd ? 'zstd' : 'lz4',
      encodeMs: performance.now() - started,
    });
  }

  /**
   * A lossless frame of `r` encoded on a worker thread: like a lossy frame,
   * the state is taken now (later commits merge into the next one) and the
   * surface is busy until the tiles, the commit and its frame callback go
   * out. A frame whose connection or surface went away meanwhile is dropped.
   */
  private startEncode(conn: ConnectionState, r: Remote, c: Content, damage: readonly Rect[] | null, zstd: boolean, started: number): void {
    const s = r.scene;
    r.pacer.damage.clear();
    r.pacer.sent();
    encodeContentAsync(conn, r, c, damage, zstd).then(
      (frame) => {
        if (!(this.ctx.conn === conn && conn.client.isOpen && conn.remotes.get(s) === r)) {
          frame.release();
          return;
        }
        this.ctx.counters.workerFrames++;
        this.contentSent(r, c, sendFrame(conn, r, c, frame), zstd, started);
        this.finishLater(conn, r, c);
      },
      (err: unknown) => {
        if (!(this.ctx.conn === conn && conn.client.isOpen && conn.remotes.get(s) === r)) return;
        // The mirror may be half updated: the receiver's buffer starts over with the next frame.
        this.ctx.logger.error({ err }, `${this.ctx.where}: cannot encode ${r.surface.toString()}: ${(err as Error).message}`);
        r.encoder.reset();
        r.pacer.invalidate();
        this.scheduleFlush();
      },
    );
  }

  /**
   * Start a lossy frame of `r` if it can be one: the receiver decodes the
   * codec, the receiver's buffer has this size already (the first frame of
   * a size is lossless) and the content is opaque. Returns false otherwise.
   */
  private startLossy(conn: ConnectionState, r: Remote, c: Content, choice: Extract<CodecChoice, { kind: 'lossy' }>): boolean {
    const s = r.scene;
    const lossy = this.ctx.lossy;
    const sameBuffer =
      r.size !== null && r.size.width === c.width && r.size.height === c.height && r.size.format === c.format && !r.encoder.needsReset(c.width, c.height);
    if (this.ctx.lossyBroken || !isOpaque(c, s.opaque, s.size) || !sameBuffer || (conn.codecs & codecBit(choice.codec)) === 0 || lossy.refineDue(r)) return false;
    const damage = r.pacer.damage.rects;
    if (damage !== null && damage.length === 0) return false;
    r.pacer.damage.clear();
    // The state is taken: commits from now on merge into the next one.
    r.pacer.sent();
    lossy.start(r, {
      width: c.width,
      height: c.height,
      pixels: c.pixels,
      damage,
      codec: choice.codec,
      quality: choice.quality,
      current: () => this.ctx.conn === conn && conn.client.isOpen && conn.remotes.get(s) === r,
      send: (frame) => {
        const surface = r.surface;
        conn.content.begin(surface, c.width, c.height, formatToWire(c.format));
        for (const t of frame.tiles) conn.content.tile(surface, t.x, t.y, t.width, t.height, t.codec, t.data);
        // The mirror does not hold what the receiver got: those pixels go out again losslessly later.
        r.encoder.forget(frame.rects, c.width, c.height);
        this.ctx.counters.tiles += frame.tiles.length;
        this.ctx.counters.rawBytes += frame.rawBytes;
        for (const t of frame.tiles) this.ctx.counters.wireBytes += tileMessageSize(t.data.byteLength);
        this.ctx.counters.lossyFrames++;
        this.ctx.policy?.frameEncoded({
          surface: s.id,
          now: performance.now(),
          pixels: c.width * c.height,
          changedPixels: frame.rawBytes / 4,
          rawBytes: frame.rawBytes,
          encodedBytes: frame.encodedBytes,
          family: 'lossy',
          encodeMs: frame.encodeMs,
        });
        this.finishLater(conn, r, c);
      },
      dropped: (err) => {
        if (err !== null) {
          this.ctx.lossyBroken = true;
          r.pacer.invalidate();
          this.scheduleFlush();
        } else if (this.ctx.conn === null && this.follower.routed(s, null)) {
          this.follower.paceOffline(s);
        }
      },
    });
    return true;
  }

  /** The commit of a frame whose content went out after its flush (an encode on a worker or a lossy one). */
  private finishLater(conn: ConnectionState, r: Remote, c: Content): void {
    this.finishCommit(conn, r, c, false);
    // A synchronized subsurface's commit waits for its parent's next one.
    const role = r.scene.role;
    if (role !== null && role.kind === 'subsurface' && role.sync) {
      const parent = conn.remotes.get(role.parent);
      if (parent !== undefined) parent.needsCommit = true;
    }
    this.scheduleFlush();
  }

  /**
   * The frame callback and the commit of a frame whose content went out.
   * `taken`: the pending state is the one sent (a lossy frame finishing
   * later leaves the commits merged meanwhile pending).
   */
  private finishCommit(conn: ConnectionState, r: Remote, c: Content | null, taken: boolean): void {
    const s = r.scene;
    const role = s.role;
    const surface = r.surface;
    if (c !== null && r.kind !== 'cursor') {
      // Only a mapped surface gets presented: an unmapped one would hold its slot forever.
      const callback = surface.frame();
      const frame = r.pacer.frameSent(taken);
      // Only when the application waits for how its commits are shown: three messages a frame otherwise spent.
      if (conn.presentation !== null && s.presentationWanted) requestPresentation(conn, r);
      this.listenFrame(conn, r, callback, frame);
    } else {
      // Nothing the receiver will present: frames waiting for an unmapped surface are void.
      r.pacer.forgetFrames();
      if (taken) r.pacer.sent();
      // A cursor image is shown by the receiver's pointer, not presented like a window.
      if (c !== null) r.pacer.presentAfter(CURSOR_FRAME_MS, () => conn.remotes.get(r.scene) === r && !r.scene.destroyed);
    }
    sendViewport(conn, r);
    surface.commit();
    r.needsCommit = false;
    this.ctx.counters.commitsSent++;

    if (role !== null && role.kind === 'cursor') {
      const hs = { x: role.hotspotX, y: role.hotspotY };
      if (conn.cursorSent === s && (r.hotspot === null || r.hotspot.x !== hs.x || r.hotspot.y !== hs.y)) {
        sendCursor(this.ctx, this.follower, conn, s.owner);
      }
    }
  }

  /** The receiver presented `r`'s frame: the pacer answers the application; a steady window may be handed over then. */
  private listenFrame(conn: ConnectionState, r: Remote, callback: WthpCallbackProxy, frame: FrameToken): void {
    callback.listen({
      done: (time) => {
        conn.client.destroyObject(callback);
        if (conn.remotes.get(r.scene) !== r) return;
        r.pacer.frameDone(frame, time);
        if (r.pacer.inFlight === 0 && !r.pacer.pending) this.ctx.steady?.offer(conn, r);
      },
    });
  }

  /** A window comes back from the steady path (steady.ts): its frame in flight and what it sent. */
  restore(conn: ConnectionState, r: Remote, state: CommitState): void {
    countSteady(this.ctx.counters, state);
    this.fair.charge(r.scene.root, state.wireBytes);
    const { callback, feedback } = takeFlight(conn, r, state);
    if (feedback !== null) listenPresentation(conn, r, feedback);
    const shown = state.shown;
    if (shown.length === 5) {
      r.shown = { timeNs: BigInt(Math.round(shown[0]!)), refreshNs: shown[1]!, seq: (BigInt(shown[2]!) << 32n) | BigInt(shown[3]!), flags: shown[4]! };
    }
    if (callback !== null) this.listenFrame(conn, r, callback, r.pacer.frameSent(false));
    if (state.truncated) r.encoder.reset();
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
    sendDecoration(this.ctx, conn, r, role);
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

  /**
   * Send the fullscreen and maximized requests of a toplevel already sent once, if they changed;
   * true when something was sent (the receiver applies it on the surface's next commit).
   */
  private sendWindowState(r: Remote): boolean {
    const role = r.scene.role;
    const prev = r.toplevel;
    if (r.kind !== 'toplevel' || prev === null || role === null || role.kind !== 'toplevel') return false;
    const t = r.role as WthpToplevelProxy;
    let sent = false;
    if (role.fullscreen !== prev.fullscreen) {
      t.setFullscreen(role.fullscreen ? 1 : 0);
      prev.fullscreen = role.fullscreen;
      sent = true;
    }
    if (role.maximized !== prev.maximized) {
      t.setMaximized(role.maximized ? 1 : 0);
      prev.maximized = role.maximized;
      sent = true;
    }
    return sent;
  }

  private region(conn: ConnectionState, rects: readonly Rect[]): ReturnType<WthpCompositorProxy['createRegion']> {
    const region = conn.compositor.createRegion();
    for (const r of rects) region.add(int(r.x), int(r.y), int(r.width), int(r.height));
    // The request that uses the region is sent right after; the region's content is copied by then.
    soon(() => {
      if (!region.destroyed) region.destroy();
    });
    return region;
  }
}
