/**
 * Sending the state of mirrored surfaces to the receiver: role state
 * (toplevel, popup, subsurface), stacking and positions of children,
 * regions, content (content.ts) and the commit with its frame callback.
 *
 * - Children are sent before their parent: their state (positions,
 *   synchronized commits) is applied by the parent's commit.
 * - A surface is sent when its pacer lets it (a frame slot is free).
 * - When more than `highWaterBytes` wait in the socket, nothing is sent
 *   until it drains; then the newest state goes out.
 */
import type { Rect, SceneSurface } from '../../shared/scene/scene.js';
import type { WthpCompositorProxy, WthpPopupProxy, WthpSubsurfaceProxy, WthpSurfaceProxy, WthpToplevelProxy } from '../../shared/generated/waltham/waltham.js';
import { sameRects } from '../../shared/scene/region.js';
import { sendContent } from './content.js';
import { sendCursor } from './cursor.js';
import type { SceneFollower } from './follow.js';
import { depth, int, text, type ConnectionState, type LinkContext, type Remote, type SentToplevel } from './remote.js';

/** Cursor images are not presented by the receiver: their frame callbacks are answered at about 60 Hz. */
const CURSOR_FRAME_MS = 16;

export class Sender {
  private readonly highWater: number;
  private flushScheduled = false;
  private waitingDrain = false;

  constructor(
    private readonly ctx: LinkContext,
    private readonly follower: SceneFollower,
  ) {
    this.highWater = ctx.options.highWaterBytes ?? 8 * 1024 * 1024;
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.ctx.conn;
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
      try {
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
    if (c === null) {
      if (r.size !== null) {
        surface.attach(null, 0, 0);
        r.encoder.reset();
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
      const sent = sendContent(conn, r, c, r.pacer.damage.rects);
      this.ctx.counters.tiles += sent.tiles;
      this.ctx.counters.unchangedTiles += sent.unchangedTiles;
      this.ctx.counters.rawBytes += sent.rawBytes;
      this.ctx.counters.wireBytes += sent.wireBytes;
    }
    r.pacer.damage.clear();

    if (c !== null && r.kind !== 'cursor') {
      // Only a mapped surface gets presented: an unmapped one would hold its slot forever.
      const callback = surface.frame();
      const frame = r.pacer.frameSent();
      callback.listen({
        done: (time) => {
          conn.client.destroyObject(callback);
          if (conn.remotes.get(r.scene) === r) r.pacer.frameDone(frame, time);
        },
      });
    } else {
      // Nothing the receiver will present: frames waiting for an unmapped surface are void.
      r.pacer.forgetFrames();
      r.pacer.sent();
      // A cursor image is shown by the receiver's pointer, not presented like a window.
      if (c !== null) r.pacer.presentAfter(CURSOR_FRAME_MS, () => conn.remotes.get(r.scene) === r && !r.scene.destroyed);
    }
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
}
