/**
 * Commits of local surfaces: new content (copied into wl_shm buffers by
 * shm-content.ts) with a frame callback, paced by the surface's FramePacer,
 * or state only (acks, positions, stacking, sizes); regions; the parent
 * chain's commits that subsurface state waits for.
 *
 * A producer commit that asks for a frame but brings no pixels goes out as
 * an empty frame (a frame callback and a commit, no buffer), so it is
 * answered at the compositor's pace. Where the compositor has
 * wp_presentation, the producer learns how each frame is shown (see
 * presentation.ts).
 */
import type { Content, Rect } from '../scene/scene.js';
import type { WlCallbackProxy, WlRegionProxy } from '../generated/wayland/index.js';
import type { Mirror } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';
import { attachContent } from './shm-content.js';
import { applyViewport, contentToShow } from './viewport.js';

function sameSize(size: { width: number; height: number } | null, content: Content): boolean {
  return size !== null && size.width === content.width && size.height === content.height;
}

export class Frames {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  /** Commit what is pending for `m` if the compositor is ready for it. */
  flush(m: Mirror): void {
    if (this.d.isClosed || this.d.mirrors.get(m.scene) !== m || !m.configured || m.dismissed) return;
    const s = m.scene;
    const content = contentToShow(this.d, s);
    if (m.pacer.pending && m.pacer.blocked) {
      // A frame is in flight: coalesce; the newest content goes out when it is done.
      if (m.stateDirty) this.commitState(m);
      return;
    }
    if (m.pacer.pending) {
      if (content === null) {
        m.wl.attach(null, 0, 0);
        m.attached = false;
        m.pacer.sent();
        m.pacer.damage.clear();
        this.commitState(m);
        return;
      }
      if (m.attached && m.pacer.damage.empty && sameSize(m.contentSize, content)) {
        this.commitFrame(m);
        return;
      }
      if (!this.commitContent(m, content)) {
        if (m.stateDirty) this.commitState(m);
      }
      return;
    }
    if (m.stateDirty) this.commitState(m);
  }

  /** A commit for state only (no new buffer): acks, positions, stacking, sizes. */
  private commitState(m: Mirror): void {
    m.stateDirty = false;
    m.wl.commit();
    this.afterSubsurfaceCommit(m);
  }

  /** A sync subsurface's commit applies with its parent's: have the parent chain commit too. */
  private afterSubsurfaceCommit(m: Mirror): void {
    if (m.kind !== 'subsurface') return;
    const role = m.scene.role;
    if (role !== null && role.kind === 'subsurface' && role.sync) this.p.roles.markParentDirty(m);
    this.flushAncestors(m);
  }

  /** Flush the ancestors of `m` that have state to commit (subsurface positions and stacking apply on the parent's commit). */
  flushAncestors(m: Mirror): void {
    for (let p = m.parent; p !== null; p = p.parent) {
      if (this.d.mirrors.get(p.scene) !== p) return;
      if (p.stateDirty) this.flush(p);
      if (p.kind !== 'subsurface') return;
    }
  }

  /** Returns false when no buffer is free (the frame waits for a release). */
  private commitContent(m: Mirror, content: Content): boolean {
    const wl = m.wl;
    const copied = attachContent(this.d.shm!, this.d.sharedBuffers!, m, content, m.pacer.damage, () => {
      if (m.pacer.ready) this.flush(m);
    });
    if (copied === null) return false;
    this.d.counters.contentCommits++;
    this.d.counters.bytesCopied += copied;
    m.attached = true;
    if (wl.version >= 3 && m.sent.scale !== content.scale) {
      wl.setBufferScale(content.scale);
      m.sent.scale = content.scale;
    }
    if (wl.version >= 2 && m.sent.transform !== content.transform) {
      wl.setBufferTransform(content.transform);
      m.sent.transform = content.transform;
    }
    this.commitFrame(m);
    return true;
  }

  /**
   * Regions, a frame callback and the commit: after new content, or alone
   * for a commit that brought nothing new but waits to be presented (the
   * compositor answers the callback when it shows the surface next).
   */
  private commitFrame(m: Mirror): void {
    const wl = m.wl;
    this.applyRegions(m);
    applyViewport(this.d, m);
    const frame = wl.frame();
    m.frame = frame;
    const token = m.pacer.frameSent();
    const asked = this.d.presentation?.request(wl, m.scene.presentationWanted) ?? null;
    frame.listen({
      done: (time) => {
        if (m.frame === frame) m.frame = null;
        m.pacer.frameDone(token, time, this.d.presentation?.expected(wl, asked));
      },
    });
    m.stateDirty = false;
    wl.commit();
    this.afterSubsurfaceCommit(m);
  }

  /** A frame committed elsewhere (a native path) and still in flight: paced and answered as if committed here. */
  adoptFrame(m: Mirror, frame: WlCallbackProxy): void {
    const wl = m.wl;
    m.frame = frame;
    const token = m.pacer.frameSent();
    frame.listen({
      done: (time) => {
        if (m.frame === frame) m.frame = null;
        m.pacer.frameDone(token, time, this.d.presentation?.expected(wl, null));
      },
    });
  }

  private applyRegions(m: Mirror): void {
    const s = m.scene;
    if (m.sent.opaque !== s.opaque) {
      this.withRegion(s.opaque.length === 0 ? null : s.opaque, (region) => m.wl.setOpaqueRegion(region));
      m.sent.opaque = s.opaque;
    }
    if (m.sent.input !== s.input) {
      this.withRegion(s.input, (region) => m.wl.setInputRegion(region));
      m.sent.input = s.input;
    }
  }

  /** Calls `set` with a wl_region holding `rects` (null: no region) and destroys it after: the surface keeps a copy. */
  private withRegion(rects: readonly Rect[] | null, set: (region: WlRegionProxy | null) => void): void {
    if (rects === null) return set(null);
    const region = this.d.compositor!.createRegion();
    for (const r of rects) region.add(r.x, r.y, r.width, r.height);
    set(region);
    region.destroy();
  }
}
