/**
 * Following the scene: which surfaces go to the receiver (routing), their
 * remote objects on the connection (created parents first, destroyed when
 * they are routed no more), and the producers' commits, paced per surface.
 *
 * - A surface is sent when its root (toplevel or ivi surface) passes the
 *   link's `filter`; subsurfaces and popups follow their root; a cursor
 *   surface is sent while it is the cursor of an application with routed
 *   surfaces.
 * - While there is no connection, frame callbacks of routed surfaces are
 *   answered by the pacers' fallback clock, at `offlineFrameMs`.
 */
import type { CommitInfo, SceneOwner, SceneSurface } from '../../shared/scene/scene.js';
import type { WthpSurfaceProxy, WthpToplevelProxy } from '../../shared/generated/waltham/waltham.js';
import { bitsToStates } from '../../shared/remote/protocol.js';
import { TileEncoder } from '../../shared/remote/tiles.js';
import { FramePacer, RectList } from '../../shared/scene/frame-pacer.js';
import { MAX_DAMAGE_RECTS } from './remote.js';
import { sendCursor } from './cursor.js';
import { sendPositioner } from './positioner.js';
import { dropTextInput, sendTextInput } from './text-input.js';
import type { WindowRequest } from '../../shared/scene/window-requests.js';
import { depth, int, kindOf, Remote, type ConnectionState, type LinkContext } from './remote.js';
import { configureSize, popupRect } from './clamp.js';
import { damageToSend } from './viewport.js';
import { every, type Tick } from '../../shared/ticker.js';

/** Damage rectangles kept per surface before the whole surface is sent. */

interface Tracked {
  readonly commit: (info: CommitInfo) => void;
  readonly destroy: () => void;
  readonly request: (request: WindowRequest) => void;
  readonly pacer: FramePacer;
}

export class SceneFollower {
  private readonly filter: (root: SceneSurface) => boolean;
  private readonly maxInFlight: number;
  private readonly offlineFrameMs: number;
  private readonly recheckMs: number;
  private readonly tracked = new Map<SceneSurface, Tracked>();
  /** Tracked surfaces whose commits are listened to (see updateListening). */
  private readonly listening = new Set<SceneSurface>();
  private recheckTimer: Tick | undefined;

  constructor(private readonly ctx: LinkContext) {
    const options = ctx.options;
    this.filter = options.filter ?? (() => true);
    this.maxInFlight = Math.max(1, options.maxFramesInFlight ?? 2);
    this.offlineFrameMs = options.offlineFrameMs ?? 250;
    this.recheckMs = options.recheckMs ?? 1000;
  }

  start(): void {
    const scene = this.ctx.scene;
    scene.on('surface', this.onSurface);
    scene.on('cursor', this.onCursor);
    for (const s of scene.surfaces) this.track(s);
    this.recheckTimer = every(this.recheckMs, () => this.recheck());
  }

  stop(): void {
    this.recheckTimer?.stop();
    this.ctx.scene.off('surface', this.onSurface);
    this.ctx.scene.off('cursor', this.onCursor);
    for (const s of [...this.tracked.keys()]) this.untrack(s);
  }

  /** A connection is up: the receiver presents again. */
  connected(): void {
    for (const t of this.tracked.values()) t.pacer.cancelFallback();
    this.syncAll();
  }

  /** `conn` is gone: answer the frames it owed at the offline pace. */
  disconnected(conn: ConnectionState): void {
    for (const r of conn.remotes.values()) if (r.pacer.inFlight > 0 || r.pacer.pending) this.paceOffline(r.scene);
  }

  private readonly onSurface = (s: SceneSurface): void => this.track(s);

  private readonly onCursor = (owner: SceneOwner): void => {
    const conn = this.ctx.conn;
    if (conn === null) return;
    this.syncAll();
    if (conn.input.pointerFocus?.owner === owner) sendCursor(this.ctx, this, conn, owner);
  };

  private track(s: SceneSurface): void {
    if (this.tracked.has(s) || s.destroyed) return;
    const pacer = new FramePacer(
      new RectList(MAX_DAMAGE_RECTS),
      {
        // A newer state waits for a free slot: the next flush sends it, and its presentation answers the application.
        flush: () => {
          this.ctx.scheduleFlush();
          return true;
        },
        presented: (time, byClock) => {
          if (!byClock) this.ctx.counters.framesPresented++;
          // How the receiver's display showed it, when it said so (wthp_presentation).
          const r = byClock ? undefined : this.ctx.conn?.remotes.get(s);
          const shown = r?.shown ?? undefined;
          if (r !== undefined) r.shown = null;
          if (shown === undefined) this.ctx.feedbackFor(s).presented(s, time);
          else this.ctx.feedbackFor(s).presented(s, time, shown);
        },
      },
      // The newest frame shown answers the application, commits merged since included: an
      // application that commits faster than the receiver shows is paced by the receiver.
      { maxInFlight: this.maxInFlight, maxDeferredPresents: 0 },
    );
    const listeners = {
      commit: (info: CommitInfo) => this.onCommit(s, info),
      destroy: () => this.onDestroyed(s),
      request: (request: WindowRequest) => this.onRequest(s, request),
      pacer,
    };
    this.tracked.set(s, listeners);
    s.on('destroy', listeners.destroy);
    s.on('request', listeners.request);
    this.updateListening(s);
    if (s.role !== null && this.ctx.conn !== null) {
      this.syncAll();
      this.ctx.scheduleFlush();
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
    if (changed && this.ctx.conn !== null) {
      this.syncAll();
      this.ctx.scheduleFlush();
    }
  }

  private untrack(s: SceneSurface): void {
    const l = this.tracked.get(s);
    if (l === undefined) return;
    this.ctx.steady?.release(s);
    this.tracked.delete(s);
    if (this.listening.delete(s)) s.off('commit', l.commit);
    s.off('destroy', l.destroy);
    s.off('request', l.request);
    l.pacer.dispose();
  }

  private onDestroyed(s: SceneSurface): void {
    this.untrack(s);
    this.ctx.policy?.forget(s.id);
    const conn = this.ctx.conn;
    if (conn === null) return;
    const r = conn.remotes.get(s);
    if (r !== undefined) this.destroyRemote(conn, r);
    conn.input.forget(s, false);
  }

  /**
   * A window management request of a window shown on this receiver: sent at once, move and
   * resize with the receiver's serial of the press that started them.
   */
  private onRequest(s: SceneSurface, request: WindowRequest): void {
    const conn = this.ctx.conn;
    const r = conn?.remotes.get(s);
    if (request.kind === 'text-input') {
      if (conn != null && r !== undefined) {
        sendTextInput(this.ctx, conn, r);
        this.ctx.scheduleFlush();
      }
      return;
    }
    const wm = conn?.windowManager ?? null;
    if (conn == null || r === undefined || r.kind !== 'toplevel' || r.role === null || wm === null) return;
    const toplevel = r.role as WthpToplevelProxy;
    if (request.kind === 'minimize') {
      wm.setMinimized(toplevel);
      return;
    }
    const serial = conn.input.pressSerialFor(s.owner, request.serial);
    if (serial === undefined) {
      this.ctx.logger.debug({ surface: s.id }, `${this.ctx.where}: ${request.kind} of surface ${s.id} did not start with a press from this receiver`);
      return;
    }
    if (request.kind === 'move') wm.move(toplevel, serial);
    else wm.resize(toplevel, serial, request.edges >>> 0);
  }

  private onCommit(s: SceneSurface, info: CommitInfo): void {
    // A commit that did not go through the steady path: the window comes back first.
    this.ctx.steady?.release(s);
    const conn = this.ctx.conn;
    if (info.roleChanged || s.role === null || !this.listening.has(s)) this.updateListening(s);
    if (conn === null) {
      if (this.routed(s, null)) this.paceOffline(s);
      return;
    }
    if (info.roleChanged || !conn.remotes.has(s)) this.syncAll();
    const r = conn.remotes.get(s);
    if (r === undefined) return;
    // Merged into a state still waiting: frames in flight, an encode, or a socket above its high water.
    if (r.pacer.commit(damageToSend(conn, r, info))) this.ctx.counters.commitsCoalesced++;
    this.ctx.scheduleFlush();
  }

  /** Whether `s` goes to this receiver now. */
  routed(s: SceneSurface, conn: ConnectionState | null): boolean {
    if (s.destroyed || s.role === null) return false;
    if (s.role.kind === 'cursor') {
      if (conn === null) return false;
      for (const [owner, cursor] of this.ctx.scene.cursors) {
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
      this.ctx.logger.error({ err }, `${this.ctx.where}: routing filter failed`);
      return false;
    }
  }

  /** Create remote surfaces for what became routed, destroy those that no longer are. */
  syncAll(): void {
    const conn = this.ctx.conn;
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

  ensure(conn: ConnectionState, s: SceneSurface): Remote | null {
    const existing = conn.remotes.get(s);
    if (existing !== undefined) return existing;
    if (!this.routed(s, conn)) return null;
    const role = s.role!;
    let parent: Remote | null = null;
    if (role.kind === 'subsurface' || role.kind === 'popup') {
      parent = this.ensure(conn, role.parent);
      if (parent === null) return null;
    }
    const pacer = this.tracked.get(s)?.pacer;
    if (pacer === undefined) return null; // not followed (any more)
    const kind = kindOf(s)!;
    const surface = conn.compositor.createSurface();
    const encoder = new TileEncoder({ codecs: conn.codecs, ...(this.ctx.options.tileSize !== undefined ? { tileSize: this.ctx.options.tileSize } : {}) });
    const r = new Remote(s, surface, kind, encoder, pacer);
    conn.remotes.set(s, r);
    conn.byProxy.set(surface, s);
    switch (role.kind) {
      case 'toplevel':
        r.role = this.makeToplevel(conn, s, surface);
        break;
      case 'ivi':
        if (conn.ivi !== null) {
          const ivi = conn.ivi.surfaceCreate(role.iviId >>> 0, surface);
          ivi.listen({
            configure: (w, h) => {
              const size = configureSize(w, h);
              this.ctx.feedbackFor(s).configure(s, size.width, size.height, []);
            },
          });
          r.role = ivi;
        } else {
          this.ctx.logger.warn({ iviId: role.iviId }, `${this.ctx.where}: no wthp_ivi_application, ivi surface ${role.iviId} sent as a window`);
          r.role = this.makeToplevel(conn, s, surface);
        }
        break;
      case 'popup': {
        const rect = role.rect;
        const popup = conn.shell.getPopup(surface, parent!.surface, int(rect.x), int(rect.y), int(rect.width), int(rect.height), role.grab ? 1 : 0);
        popup.listen({
          configure: (x, y, width, height) => this.ctx.feedbackFor(s).popupConfigure(s, popupRect({ x, y, width, height })),
          popupDone: () => this.ctx.feedbackFor(s).popupDone(s),
        });
        r.role = popup;
        r.popupRect = { ...rect };
        sendPositioner(conn, r, role.positioner ?? null);
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
      configure: (width, height, states) => {
        const size = configureSize(width, height);
        this.ctx.feedbackFor(s).configure(s, size.width, size.height, bitsToStates(states));
      },
      close: () => this.ctx.feedbackFor(s).close(s),
    });
    return toplevel;
  }

  destroyRemote(conn: ConnectionState, r: Remote): void {
    if (conn.remotes.get(r.scene) !== r) return;
    this.ctx.steady?.release(r.scene);
    conn.remotes.delete(r.scene);
    conn.byProxy.delete(r.surface);
    for (const other of conn.remotes.values()) {
      if (other.stack.includes(r.scene)) other.stack = other.stack.filter((c) => c !== r.scene);
    }
    if (conn.cursorSent === r.scene) conn.cursorSent = undefined;
    dropTextInput(r);
    if (r.role !== null && !r.role.destroyed) r.role.destroy();
    if (!r.surface.destroyed) r.surface.destroy();
  }


  /** While disconnected: answer frame callbacks at a slow pace so applications keep running. */
  paceOffline(s: SceneSurface): void {
    if (!this.ctx.running) return;
    this.tracked.get(s)?.pacer.presentAfter(this.offlineFrameMs, () => !s.destroyed && this.ctx.conn === null);
  }
}
