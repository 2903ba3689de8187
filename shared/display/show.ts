/**
 * Deciding what to show: what each scene surface should be on the local
 * compositor now (an xdg_toplevel, an ivi surface, a popup, a subsurface, the
 * pointer image, or nothing), and bringing its local objects in line.
 */
import type { CommitInfo, SceneSurface } from '../scene/scene.js';
import type { Mirror, MirrorKind } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';

export class Chooser {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  /** What `s` should be locally now, or null for nothing. */
  private wanted(s: SceneSurface): MirrorKind | null {
    const role = s.role;
    if (role === null || s.destroyed) return null;
    switch (role.kind) {
      case 'toplevel':
      case 'ivi': {
        const filter = this.d.options.filter;
        if (filter !== undefined && !this.d.safely(s.owner, 'filter', () => filter(s), false)) return null;
        const ivi = this.d.options.shell === 'ivi' && this.iviIdOf(s) !== null;
        // An ivi surface shows as soon as it has content (no configure handshake); an
        // xdg_toplevel is created with its role so the compositor configures it early.
        if (ivi) return s.buffer !== null ? 'ivi' : null;
        return this.d.wmBase !== null ? 'toplevel' : null;
      }
      case 'popup': {
        const parent = this.xdgParent(role.parent);
        if (parent === null || this.d.wmBase === null) return null;
        const existing = this.d.mirrors.get(s);
        if (existing?.dismissed === true && existing.role === role) return 'popup';
        return s.buffer !== null ? 'popup' : null;
      }
      case 'subsurface':
        return this.d.subcompositor !== null && this.d.mirrors.has(role.parent) ? 'subsurface' : null;
      case 'cursor':
        return s.buffer !== null && this.isCurrentCursor(s) ? 'cursor' : null;
    }
  }

  iviIdOf(s: SceneSurface): number | null {
    const role = s.role;
    if (role === null || this.d.iviApplication === null) return null;
    if (role.kind === 'ivi') {
      const map = this.d.options.localIviId;
      return map === undefined ? role.iviId : this.d.safely(s.owner, 'localIviId', () => map(role.iviId), null);
    }
    if (role.kind !== 'toplevel' || this.d.options.iviIdFor === undefined) return null;
    const fn = this.d.options.iviIdFor;
    return this.d.safely(s.owner, 'iviIdFor', () => fn(role.appId, s), null);
  }

  /** The nearest mirror with an xdg_surface at or above `s` (through subsurfaces), with the offset of `s` in it. */
  xdgParent(s: SceneSurface): { mirror: Mirror; dx: number; dy: number } | null {
    let dx = 0;
    let dy = 0;
    let cur: SceneSurface = s;
    for (let i = 0; i < 64; i++) {
      const m = this.d.mirrors.get(cur);
      if (m === undefined) return null;
      if (m.xdgSurface !== null && !m.dismissed) return { mirror: m, dx, dy };
      const role = cur.role;
      if (role === null || role.kind !== 'subsurface') return null;
      dx += role.x;
      dy += role.y;
      cur = role.parent;
    }
    return null;
  }

  isCurrentCursor(s: SceneSurface): boolean {
    for (const b of this.d.bindings.values()) for (const c of b.scene.cursors.values()) if (c === s) return true;
    return false;
  }

  /** Bring the local objects of `s` in line with its state, then its children. */
  sync(s: SceneSurface, info?: CommitInfo): void {
    if (this.d.isClosed || this.d.client === null) return;
    const want = this.wanted(s);
    let m = this.d.mirrors.get(s);
    if (m !== undefined && (want !== m.kind || m.role !== s.role)) {
      this.p.objects.destroyMirror(m);
      m = undefined;
    }
    // An xdg window whose content went away is unmapped: start it over, so the
    // compositor configures it afresh when content comes back (xdg-shell "Unmapping").
    if (m !== undefined && m.attached && s.buffer === null && (m.kind === 'toplevel' || m.kind === 'popup' || m.kind === 'ivi')) {
      this.p.objects.destroyMirror(m);
      m = undefined;
      if (want === 'ivi' || want === 'popup') return;
    }
    let created = false;
    if (m === undefined && want !== null) {
      m = this.p.objects.createMirror(s, want);
      created = m !== undefined;
    }
    if (m === undefined) return;
    // A new size under a fullscreen or maximized configure: the window geometry is cut to it again.
    if (created || info?.roleChanged === true || (info?.resized === true && m.boundSize !== null)) this.p.roles.applyRole(m);
    if (created || info?.stackingChanged === true) this.p.roles.restack(m);
    if (created && m.kind === 'subsurface' && m.parent !== null) this.p.roles.restack(m.parent);
    if (created && s.buffer !== null) m.pacer.invalidate();
    this.p.frames.flush(m);
    this.p.frames.flushAncestors(m);
    if (created) this.syncChildren(s);
    if (m.kind === 'cursor' && (created || info?.roleChanged === true)) this.p.cursor.applyCursor();
  }

  /** Re-examine the surfaces whose parent is `s` (after `s` got local objects). */
  private syncChildren(s: SceneSurface): void {
    for (const child of [...this.d.tracked.keys()]) {
      const role = child.role;
      if (role === null || !('parent' in role) || role.parent !== s) continue;
      if (role.kind === 'toplevel') {
        // A dialog shown before its parent: set its xdg parent now.
        const m = this.d.mirrors.get(child);
        if (m !== undefined) this.p.roles.applyRole(m);
      } else if (!this.d.mirrors.has(child)) {
        this.sync(child);
      }
    }
  }
}
