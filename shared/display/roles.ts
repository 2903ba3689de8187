/**
 * Role state of local surfaces: toplevel title, app_id, sizes, parent,
 * fullscreen and maximized requests, window geometry, popup placement,
 * subsurface position, sync mode and stacking. Only changes are sent.
 */
import type { PopupRole, ToplevelRole } from '../scene/scene.js';
import { rectKey, type Mirror } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';
import { updateDecoration } from './decoration.js';
import { updatePointerConstraint } from './pointer-constraints.js';
import { updateIdleInhibit } from './idle-inhibit.js';
import { updateFractionalScale } from './fractional-scale.js';
import { soon } from '../microtask.js';

/**
 * The window geometry to give the compositor: the producer's, cut to the size of a fullscreen or
 * maximized configure it acked (a window drawn for another size meanwhile, e.g. answered by the
 * transmitter before this display's configure came, must not be larger: weston posts an error
 * and drops the connection); without a geometry, the buffer's extent, cut alike.
 */
function boundGeometry(geometry: { x: number; y: number; width: number; height: number } | null, m: Mirror): { x: number; y: number; width: number; height: number } | null {
  const bound = m.boundSize;
  if (bound === null) return geometry;
  const size = m.scene.size;
  const g = geometry ?? (size.width > 0 && size.height > 0 ? { x: 0, y: 0, width: size.width, height: size.height } : null);
  if (g === null || (g.width <= bound.width && g.height <= bound.height)) return geometry;
  return { x: g.x, y: g.y, width: Math.min(g.width, bound.width), height: Math.min(g.height, bound.height) };
}

export class RoleState {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  applyRole(m: Mirror): void {
    const role = m.scene.role;
    if (role === null || this.d.isClosed) return;
    updatePointerConstraint(this.d, m);
    updateIdleInhibit(this.d, m);
    updateFractionalScale(this.d, m);
    if (m.toplevel !== null) {
      const t = m.toplevel;
      const sent = m.sent;
      const r: Partial<ToplevelRole> = role.kind === 'toplevel' ? role : {};
      const title = r.title ?? '';
      const appId = r.appId ?? '';
      if (sent.title !== title) t.setTitle((sent.title = title));
      if (sent.appId !== appId) t.setAppId((sent.appId = appId));
      const min = r.minSize ?? { width: 0, height: 0 };
      const max = r.maxSize ?? { width: 0, height: 0 };
      const minKey = `${min.width}x${min.height}`;
      const maxKey = `${max.width}x${max.height}`;
      if (sent.minSize !== minKey) {
        t.setMinSize(Math.max(0, min.width), Math.max(0, min.height));
        sent.minSize = minKey;
        m.stateDirty = true;
      }
      if (sent.maxSize !== maxKey) {
        t.setMaxSize(Math.max(0, max.width), Math.max(0, max.height));
        sent.maxSize = maxKey;
        m.stateDirty = true;
      }
      const parent = r.parent !== undefined && r.parent !== null ? (this.d.mirrors.get(r.parent)?.toplevel ?? null) : null;
      if (sent.parent !== parent && !(sent.parent === undefined && parent === null)) t.setParent(parent);
      sent.parent = parent;
      if (this.d.options.shell !== 'fullscreen') {
        const fullscreen = r.fullscreen === true;
        if (sent.fullscreen !== fullscreen && !(sent.fullscreen === undefined && !fullscreen)) {
          if (fullscreen) t.setFullscreen(null);
          else t.unsetFullscreen();
        }
        sent.fullscreen = fullscreen;
        const maximized = r.maximized === true;
        if (sent.maximized !== maximized && !(sent.maximized === undefined && !maximized)) {
          if (maximized) t.setMaximized();
          else t.unsetMaximized();
        }
        sent.maximized = maximized;
      }
      const geometry = boundGeometry(r.geometry ?? null, m);
      const gKey = rectKey(geometry);
      if (sent.geometry !== gKey && geometry !== null && geometry.width > 0 && geometry.height > 0) {
        m.xdgSurface!.setWindowGeometry(geometry.x, geometry.y, geometry.width, geometry.height);
        m.stateDirty = true;
      }
      sent.geometry = gKey;
      m.geometryOrigin = geometry === null ? { x: 0, y: 0 } : { x: geometry.x, y: geometry.y };
      updateDecoration(m);
    }
    if (m.subsurface !== null && role.kind === 'subsurface') {
      const pos = `${role.x},${role.y}`;
      if (m.sent.position !== pos) {
        m.subsurface.setPosition(role.x, role.y);
        m.sent.position = pos;
        this.markParentDirty(m);
      }
      if (m.sent.sync !== role.sync) {
        if (role.sync) m.subsurface.setSync();
        else m.subsurface.setDesync();
        m.sent.sync = role.sync;
      }
    }
    if (m.popup !== null && role.kind === 'popup') {
      const geometry = role.geometry ?? null;
      const gKey = rectKey(geometry);
      if (m.sent.geometry !== gKey && geometry !== null && geometry.width > 0 && geometry.height > 0) {
        m.xdgSurface!.setWindowGeometry(geometry.x, geometry.y, geometry.width, geometry.height);
        m.stateDirty = true;
      }
      m.sent.geometry = gKey;
      m.geometryOrigin = geometry === null ? { x: 0, y: 0 } : { x: geometry.x, y: geometry.y };
      // A moved popup: xdg_popup.reposition (v3); with older compositors, a new popup in its place.
      const key = positionKey(role);
      if (m.sent.position !== undefined && m.sent.position !== key) {
        if (m.popup.version >= 3) this.repositionPopup(m);
        else this.replacePopup(m);
      }
      m.sent.position = key;
    }
  }

  /** xdg_wm_base v2 has no reposition: destroy the popup and show it anew at its new place, as toolkits do. */
  private replacePopup(m: Mirror): void {
    const s = m.scene;
    soon(() => {
      if (this.d.isClosed || this.d.mirrors.get(s) !== m) return;
      this.p.objects.destroyMirror(m);
      this.p.show.sync(s);
    });
  }

  private repositionPopup(m: Mirror): void {
    const placed = this.p.objects.positionerFor(m);
    if (placed === null || m.popup === null) return;
    m.popup.reposition(placed.positioner, 0);
    placed.positioner.destroy();
  }

  /** Subsurface state applies on the parent's commit: have the parent chain commit too. */
  markParentDirty(m: Mirror): void {
    let p = m.parent;
    while (p !== null) {
      p.stateDirty = true;
      if (p.kind !== 'subsurface') break;
      p = p.parent;
    }
  }

  /** Apply the `stack` order of `m`'s scene surface, and the positions of its subsurfaces, to the local subsurfaces. */
  restack(m: Mirror): void {
    if (this.d.isClosed) return;
    const stack = m.scene.stack.filter((s) => s === m.scene || this.d.mirrors.get(s)?.subsurface != null);
    for (const s of stack) if (s !== m.scene) this.applyRole(this.d.mirrors.get(s)!);
    const self = stack.indexOf(m.scene);
    if (self < 0 || stack.length < 2) return;
    for (let i = self - 1; i >= 0; i--) {
      const below = this.d.mirrors.get(stack[i]!)!;
      const above = i + 1 === self ? m.wl : this.d.mirrors.get(stack[i + 1]!)!.wl;
      below.subsurface!.placeBelow(above);
    }
    for (let i = self + 1; i < stack.length; i++) {
      const over = this.d.mirrors.get(stack[i]!)!;
      const under = i - 1 === self ? m.wl : this.d.mirrors.get(stack[i - 1]!)!.wl;
      over.subsurface!.placeAbove(under);
    }
    m.stateDirty = true;
  }
}

/**
 * What places a popup here: the producer's positioner when it has one (the compositor adjusts
 * it; a rectangle that only echoes the compositor's placement moves nothing), else its rectangle.
 */
function positionKey(role: PopupRole): string {
  const p = role.positioner ?? null;
  if (p === null) return rectKey(role.rect);
  return `${p.width}x${p.height}@${rectKey(p.anchorRect)}/${p.anchor}/${p.gravity}/${p.constraintAdjustment}/${p.offsetX},${p.offsetY}`;
}
