/**
 * wthp_presentation on the receiver: presentation feedback of a
 * transmitter's surfaces, answered when the local display presents them.
 *
 * A feedback belongs to the surface's next commit (the scene surface's next
 * commit event, which also covers a synchronized subsurface's cached commit
 * applied with its parent). When the display presents the surface, the
 * feedbacks of the newest applied commit get `presented`, those of older
 * commits not shown on their own `discarded` (merged away). The presentation
 * time goes as its age when the event is sent (negative for a vblank still
 * to come), as the transmitter's clock is not ours; without the display's times (its compositor has no
 * wp_presentation) age, refresh, seq and flags are 0.
 */
import type { WthpPresentationFeedbackResource, WthpPresentationResource, WthpSurfaceResource } from '../shared/generated/waltham/waltham.js';
import type { PresentationInfo } from '../shared/scene/scene.js';
import type { RemoteSurface } from './remote-surface.js';

interface Waiting {
  /** Feedbacks for the surface's next commit. */
  pending: WthpPresentationFeedbackResource[];
  /** Feedbacks of applied commits not presented yet, oldest commit first. */
  applied: WthpPresentationFeedbackResource[][];
}

export interface PresentationPeer {
  readonly isOpen: boolean;
  destroyObject(obj: WthpPresentationFeedbackResource): void;
}

const U32 = 0xffffffffn;
const I32_MAX = 0x7fffffffn;
const I32_MIN = -0x80000000n;

export class ReceiverPresentation {
  private readonly waiting = new Map<RemoteSurface, Waiting>();

  constructor(
    private readonly peer: PresentationPeer,
    /** Unanswered feedbacks per surface at most: a peer past it gets `fail`. */
    private readonly maxPerSurface: number,
  ) {}

  bind(resource: WthpPresentationResource, surfaceOf: (s: WthpSurfaceResource) => RemoteSurface, fail: (message: string) => void): void {
    resource.listen({
      destroy: () => {},
      feedback: (surface, callback) => {
        const rs = surfaceOf(surface);
        const w = this.waitingOf(rs);
        if (w.pending.length + w.applied.reduce((n, g) => n + g.length, 0) >= this.maxPerSurface) {
          fail(`more than ${this.maxPerSurface} unanswered presentation feedbacks on ${surface.toString()}`);
          return;
        }
        w.pending.push(callback);
        rs.scene.presentationWanted = true;
      },
    });
  }

  /** The display showed `rs` (and its subsurfaces with it). */
  presented(rs: RemoteSurface, info: PresentationInfo | undefined): void {
    const w = this.waiting.get(rs);
    if (w !== undefined && w.applied.length > 0) {
      const groups = w.applied;
      w.applied = [];
      const newest = groups.pop()!;
      for (const group of groups) for (const fb of group) this.answer(fb, null);
      for (const fb of newest) this.answer(fb, info ?? 'unknown');
      rs.scene.presentationWanted = w.pending.length > 0;
    }
    for (const child of rs.children) if (!child.destroyed) this.presented(child, info);
  }

  /** No feedback of `rs` waits for an answer. */
  idle(rs: RemoteSurface): boolean {
    const w = this.waiting.get(rs);
    return w === undefined || (w.pending.length === 0 && w.applied.length === 0);
  }

  /**
   * Feedbacks the native steady-frame path took and gives back: `pending`
   * for the surface's next commit, `applied` for its frame in flight.
   */
  adopt(rs: RemoteSurface, pending: WthpPresentationFeedbackResource[], applied: WthpPresentationFeedbackResource[]): void {
    if (pending.length === 0 && applied.length === 0) return;
    const w = this.waitingOf(rs);
    if (applied.length > 0) w.applied.push(applied);
    w.pending.push(...pending);
    rs.scene.presentationWanted = true;
  }

  private waitingOf(rs: RemoteSurface): Waiting {
    let w = this.waiting.get(rs);
    if (w !== undefined) return w;
    const created: Waiting = { pending: [], applied: [] };
    w = created;
    this.waiting.set(rs, created);
    const onCommit = (): void => {
      if (created.pending.length === 0) return;
      created.applied.push(created.pending);
      created.pending = [];
    };
    rs.scene.on('commit', onCommit);
    rs.scene.once('destroy', () => {
      this.waiting.delete(rs);
      for (const fb of [...created.pending, ...created.applied.flat()]) this.answer(fb, null);
    });
    return created;
  }

  /** presented (info, or 'unknown' without the display's times), or discarded (null); then the object goes. */
  private answer(fb: WthpPresentationFeedbackResource, info: PresentationInfo | 'unknown' | null): void {
    if (fb.destroyed || !this.peer.isOpen) return;
    if (info === null) {
      fb.sendDiscarded();
    } else if (info === 'unknown') {
      fb.sendPresented(0, 0, 0, 0, 0);
    } else {
      // Negative when the display's presentation is still to come (the next vblank).
      const age = (process.hrtime.bigint() - info.timeNs) / 1000n;
      const ageUs = Number(age < I32_MIN ? I32_MIN : age > I32_MAX ? I32_MAX : age);
      fb.sendPresented(ageUs, info.refreshNs >>> 0, Number((info.seq >> 32n) & U32), Number(info.seq & U32), info.flags >>> 0);
    }
    this.peer.destroyObject(fb);
  }
}
