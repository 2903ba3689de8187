/**
 * Following the attached scenes: their surfaces and cursors, commits (paced
 * per surface) and destruction.
 */
import { runWindowRequest } from './window-requests.js';
import type { CommitInfo, Scene, SceneSurface } from '../scene/scene.js';
import { depth, type Binding, type Tracked } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';
import { damageToShow } from './viewport.js';

export class SceneBindings {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  /** Show every current and future surface of `scene` that passes the filter. */
  attach(scene: Scene): void {
    if (this.d.client === null) throw new Error('call start() before attach()');
    if (this.d.isClosed || this.d.bindings.has(scene)) return;
    const binding: Binding = {
      scene,
      onSurface: (s) => {
        this.track(s, binding);
        this.p.show.sync(s);
      },
      onCursor: (owner, cursor) => this.p.cursor.onCursor(binding, owner, cursor),
    };
    this.d.bindings.set(scene, binding);
    scene.on('surface', binding.onSurface);
    scene.on('cursor', binding.onCursor);
    for (const s of scene.surfaces) this.track(s, binding);
    for (const c of scene.cursors.values()) if (c !== null) this.track(c, binding);
    // Parents before children: roots first, then the rest in creation order.
    const order = [...this.d.tracked.keys()].filter((s) => this.d.tracked.get(s)!.binding === binding);
    order.sort((a, b) => depth(a) - depth(b) || a.id - b.id);
    for (const s of order) this.p.show.sync(s);
  }

  /** Stop showing `scene`: its windows go away. */
  detach(scene: Scene): void {
    const binding = this.d.bindings.get(scene);
    if (binding === undefined) return;
    for (const m of [...this.d.mirrors.values()]) if (m.binding === binding && m.parent === null) this.p.objects.destroyMirror(m);
    for (const m of [...this.d.mirrors.values()]) if (m.binding === binding) this.p.objects.destroyMirror(m);
    this.unbind(scene);
  }

  unbind(scene: Scene): void {
    const binding = this.d.bindings.get(scene);
    if (binding === undefined) return;
    scene.off('surface', binding.onSurface);
    scene.off('cursor', binding.onCursor);
    for (const [s, t] of [...this.d.tracked]) {
      if (t.binding !== binding) continue;
      s.off('commit', t.onCommit);
      s.off('destroy', t.onDestroy);
      s.off('request', t.onRequest);
      this.d.tracked.delete(s);
    }
    this.d.bindings.delete(scene);
  }

  track(s: SceneSurface, binding: Binding): void {
    if (this.d.tracked.has(s) || s.destroyed) return;
    const t: Tracked = {
      binding,
      onCommit: (info) => this.onCommit(s, info),
      onDestroy: () => this.onSceneDestroy(s),
      onRequest: (request) => runWindowRequest(this.d, s, request),
    };
    s.on('commit', t.onCommit);
    s.on('destroy', t.onDestroy);
    s.on('request', t.onRequest);
    this.d.tracked.set(s, t);
  }

  private onSceneDestroy(s: SceneSurface): void {
    const m = this.d.mirrors.get(s);
    if (m !== undefined) this.p.objects.destroyMirror(m);
    this.d.tracked.delete(s);
  }

  private onCommit(s: SceneSurface, info: CommitInfo): void {
    if (this.d.isClosed) return;
    const m = this.d.mirrors.get(s);
    if (m !== undefined) {
      // A commit with only a frame callback is presented too (an empty frame), or its producer stalls.
      if (info.damage.length > 0 || info.resized || info.frame === true) {
        const shown = damageToShow(this.d, info);
        if (m.pacer.commit(shown.resized ? null : shown.damage) && m.attached) this.d.counters.coalesced++;
      }
      if (info.roleChanged || info.stackingChanged) m.stateDirty = true;
    }
    this.p.show.sync(s, info);
  }
}
