/**
 * Creating and destroying the local objects that show a scene surface:
 * wl_surface and its role (xdg_toplevel, ivi surface, xdg_popup with its
 * positioner, wl_subsurface), and their teardown, children first.
 */
import type { PopupRole, SceneSurface } from '../scene/scene.js';
import { XdgPositionerAnchor, XdgPositionerGravity, type XdgPositionerProxy, type XdgSurfaceProxy } from '../generated/wayland/index.js';
import { decodeXdgStates } from '../scene/xdg-states.js';
import { Mirror, type MirrorKind } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';
import { createDecoration, destroyDecoration } from './decoration.js';
import { dropPointerConstraint } from './pointer-constraints.js';
import { dropIdleInhibit } from './idle-inhibit.js';
import { syncTextInput } from './text-input.js';
import { dropViewport } from './viewport.js';
import { dropFractionalScale } from './fractional-scale.js';

export class LocalObjects {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  createMirror(s: SceneSurface, kind: MirrorKind): Mirror | undefined {
    const binding = this.d.tracked.get(s)?.binding;
    if (binding === undefined) return undefined;
    const compositor = this.d.compositor!;
    let parent: Mirror | null = null;
    if (kind === 'subsurface' || kind === 'popup') {
      const role = s.role as { parent: SceneSurface };
      parent = this.d.mirrors.get(role.parent) ?? null;
      if (parent === null) return undefined;
    }
    if (kind === 'ivi') {
      const id = this.p.show.iviIdOf(s)!;
      const holder = this.d.iviIds.get(id);
      if (holder !== undefined) {
        // A second surface with a taken id would be a fatal protocol error (ivi_application.error.ivi_id).
        this.d.logger.warn({ surface: s.id, iviId: id }, `ivi id ${id} is already shown for another surface; not showing surface ${s.id}`);
        return undefined;
      }
    }
    const wl = compositor.createSurface();
    const m: Mirror = new Mirror(s, kind, wl, binding, parent, {
      flush: () => {
        this.p.frames.flush(m);
        return false;
      },
      presented: (time, _byClock, info) => {
        this.d.counters.presented++;
        this.d.feedback(s, 'presented', (f) => f.presented(s, time, info));
      },
    });
    this.d.mirrors.set(s, m);
    this.d.byProxy.set(wl, m);
    switch (kind) {
      case 'toplevel':
        this.createToplevel(m);
        break;
      case 'ivi': {
        const id = this.p.show.iviIdOf(s)!;
        m.iviId = id;
        this.d.iviIds.set(id, m);
        m.ivi = this.d.iviApplication!.surfaceCreate(id, wl);
        m.ivi.listen({
          configure: (width, height) => this.d.feedback(s, 'configure', (f) => f.configure(s, width, height, [])),
        });
        m.configured = true;
        break;
      }
      case 'popup':
        this.createPopup(m);
        break;
      case 'subsurface': {
        m.subsurface = this.d.subcompositor!.getSubsurface(wl, parent!.wl);
        m.configured = true;
        break;
      }
      case 'cursor':
        m.configured = true;
        break;
    }
    this.d.logger.debug({ surface: s.id, kind, owner: s.owner.name }, `showing surface ${s.id} as ${kind}`);
    return m;
  }

  private createToplevel(m: Mirror): void {
    const s = m.scene;
    const xdgSurface = this.d.wmBase!.getXdgSurface(m.wl);
    const toplevel = xdgSurface.getToplevel();
    m.xdgSurface = xdgSurface;
    m.toplevel = toplevel;
    createDecoration(this.d, m, toplevel);
    toplevel.listen({
      configure: (width, height, states) => {
        m.pendingSize = { width, height, states: decodeXdgStates(states) };
      },
      close: () => this.d.feedback(s, 'close', (f) => f.close(s)),
    });
    this.listenXdgSurface(m, xdgSurface, () => {
      const size = m.pendingSize ?? { width: 0, height: 0, states: [] };
      m.pendingSize = null;
      const binds = size.width > 0 && size.height > 0 && (size.states.includes('fullscreen') || size.states.includes('maximized'));
      const bound = binds ? { width: size.width, height: size.height } : null;
      const changed = bound?.width !== m.boundSize?.width || bound?.height !== m.boundSize?.height;
      m.boundSize = bound;
      // The window geometry the commit after this ack carries must fit the new bound.
      if (changed) this.p.roles.applyRole(m);
      this.d.feedback(s, 'configure', (f) => f.configure(s, size.width, size.height, size.states));
    });
    if (this.d.options.shell === 'fullscreen') {
      toplevel.setFullscreen(this.d.findOutput(this.d.options.output)?.proxy ?? null);
      m.sent.fullscreen = true;
    }
    // The initial commit, without a buffer: the compositor answers with a configure.
    this.p.roles.applyRole(m);
    m.wl.commit();
  }

  /**
   * xdg_surface.configure: ack it, `apply` the role's configure values, and
   * commit what waits (the first configure lets buffers be attached).
   */
  private listenXdgSurface(m: Mirror, xdgSurface: XdgSurfaceProxy, apply: () => void): void {
    xdgSurface.listen({
      configure: (serial) => {
        if (xdgSurface.destroyed) return;
        xdgSurface.ackConfigure(serial);
        const first = !m.configured;
        m.configured = true;
        apply();
        if (first || m.pacer.pending) this.p.frames.flush(m);
      },
    });
  }

  /**
   * A positioner that puts the popup's window geometry exactly at `role.rect`
   * (relative to the parent surface's origin): anchor rectangle = that rect
   * relative to the parent's window geometry, anchor top_left, gravity
   * bottom_right. Also returns the offset from parent-surface coordinates to
   * parent-geometry coordinates, to translate xdg_popup.configure back.
   */
  positionerFor(m: Mirror): { positioner: XdgPositionerProxy; host: Mirror; offX: number; offY: number } | null {
    const role = m.scene.role;
    if (role === null || role.kind !== 'popup') return null;
    const host = this.p.show.xdgParent(role.parent);
    if (host === null) return null;
    const origin = host.mirror.geometryOrigin;
    const offX = host.dx - origin.x;
    const offY = host.dy - origin.y;
    const size = m.scene.size;
    const width = Math.max(1, role.rect.width > 0 ? role.rect.width : size.width);
    const height = Math.max(1, role.rect.height > 0 ? role.rect.height : size.height);
    const positioner = this.d.wmBase!.createPositioner();
    const wanted = role.positioner ?? null;
    if (wanted !== null) {
      // The application's own positioner: the compositor flips, slides or resizes the popup inside its output.
      const a = wanted.anchorRect;
      positioner.setSize(Math.max(1, wanted.width), Math.max(1, wanted.height));
      positioner.setAnchorRect(a.x + offX, a.y + offY, Math.max(0, a.width), Math.max(0, a.height));
      positioner.setAnchor(wanted.anchor);
      positioner.setGravity(wanted.gravity);
      positioner.setConstraintAdjustment(wanted.constraintAdjustment);
      positioner.setOffset(wanted.offsetX, wanted.offsetY);
      return { positioner, host: host.mirror, offX, offY };
    }
    positioner.setSize(width, height);
    positioner.setAnchorRect(role.rect.x + offX, role.rect.y + offY, width, height);
    positioner.setAnchor(XdgPositionerAnchor.TopLeft);
    positioner.setGravity(XdgPositionerGravity.BottomRight);
    return { positioner, host: host.mirror, offX, offY };
  }

  private createPopup(m: Mirror): void {
    const s = m.scene;
    const role = s.role as PopupRole;
    const placed = this.positionerFor(m)!;
    const { positioner, offX, offY } = placed;
    const xdgSurface = this.d.wmBase!.getXdgSurface(m.wl);
    const popup = xdgSurface.getPopup(placed.host.xdgSurface, positioner);
    positioner.destroy();
    m.xdgSurface = xdgSurface;
    m.popup = popup;
    popup.listen({
      configure: (x, y, w, h) => {
        m.pendingPopupRect = { x: x - offX, y: y - offY, width: w, height: h };
      },
      popupDone: () => {
        this.d.feedback(s, 'popupDone', (f) => f.popupDone(s));
        this.dismissPopup(m);
      },
    });
    this.listenXdgSurface(m, xdgSurface, () => {
      const rect = m.pendingPopupRect;
      m.pendingPopupRect = null;
      if (rect !== null) this.d.feedback(s, 'popupConfigure', (f) => f.popupConfigure(s, rect));
    });
    if (role.grab && this.d.seat !== null && this.d.input.pressSerial !== 0) popup.grab(this.d.seat, this.d.input.pressSerial);
    this.p.roles.applyRole(m);
    m.wl.commit();
  }

  /** popup_done: the popup object is inert; destroy it (and its child popups) but remember the dismissal. */
  private dismissPopup(m: Mirror): void {
    this.destroyChildren(m);
    if (m.popup !== null && !m.popup.destroyed) m.popup.destroy();
    if (m.xdgSurface !== null && !m.xdgSurface.destroyed) m.xdgSurface.destroy();
    m.popup = null;
    m.xdgSurface = null;
    m.dismissed = true;
    m.configured = false;
    m.attached = false;
    m.buffers?.destroy();
    m.buffers = null;
  }

  private destroyChildren(m: Mirror): void {
    const children = [...this.d.mirrors.values()].filter((c) => c.parent === m);
    for (const c of children.reverse()) this.destroyMirror(c);
  }

  destroyMirror(m: Mirror): void {
    if (this.d.mirrors.get(m.scene) !== m) return;
    this.d.onMirrorGone?.(m.scene);
    // Children first: popups must go before their parent, subsurfaces with it.
    this.destroyChildren(m);
    this.d.mirrors.delete(m.scene);
    this.d.byProxy.delete(m.wl);
    if (m.iviId !== null && this.d.iviIds.get(m.iviId) === m) this.d.iviIds.delete(m.iviId);
    const s = m.scene;
    this.d.input.forget(s, true);
    if (this.d.isClosed) return;
    syncTextInput(this.d);
    if (m.popup !== null && !m.popup.destroyed) m.popup.destroy();
    destroyDecoration(m);
    dropPointerConstraint(this.d, m);
    dropIdleInhibit(m);
    dropViewport(m);
    dropFractionalScale(m);
    if (m.toplevel !== null && !m.toplevel.destroyed) m.toplevel.destroy();
    if (m.xdgSurface !== null && !m.xdgSurface.destroyed) m.xdgSurface.destroy();
    if (m.ivi !== null && !m.ivi.destroyed) m.ivi.destroy();
    if (m.subsurface !== null && !m.subsurface.destroyed) m.subsurface.destroy();
    if (m.frame !== null) m.frame.handlers = {};
    m.frame = null;
    m.pacer.dispose();
    if (!m.wl.destroyed) m.wl.destroy();
    m.buffers?.destroy();
    m.buffers = null;
    this.d.logger.debug({ surface: s.id, kind: m.kind }, `surface ${s.id} no longer shown`);
  }
}
