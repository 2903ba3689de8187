import { describe, expect, it } from 'vitest';
import type { PopupRole, SceneSurface, ToplevelRole } from '../../shared/scene/scene.js';
import { PeerError } from '../../shared/wire/errors.js';
import {
  XdgPopupProxy,
  XdgPositionerAnchor,
  XdgPositionerGravity,
  XdgSurfaceError,
  XdgToplevelState,
  XdgWmBaseError,
} from '../../shared/generated/wayland/index.js';
import { FakeConsumer, OUTPUT, TestClient, displayPerTest, lastSurface, waitFor } from './test/helpers.js';

const t = displayPerTest();
const { connect } = t;

function toplevelRole(s: SceneSurface): ToplevelRole {
  if (s.role?.kind !== 'toplevel') throw new Error(`not a toplevel: ${s.role?.kind}`);
  return s.role;
}

describe('toplevel configure flow', () => {
  it('answers the initial commit with configure(0, 0, []) and a serial, then maps on the acked buffer', async () => {
    const c = await connect();
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const top = xdg.getToplevel();
    const configures: string[] = [];
    top.listen({ configure: (w, h, states) => configures.push(`toplevel ${w} ${h} [${[...new Uint32Array(states.slice().buffer)]}]`) });
    xdg.listen({ configure: (serial) => configures.push(`surface ${serial}`) });
    top.setTitle('Hello');
    top.setAppId('org.example.hello');
    await c.roundtrip();
    expect(configures).toEqual([]); // nothing before the initial commit
    surface.commit();
    await c.roundtrip();
    expect(configures[0]).toBe('toplevel 0 0 []');
    expect(configures[1]).toMatch(/^surface \d+$/);
    const scene = lastSurface(t.display);
    expect(toplevelRole(scene)).toMatchObject({ title: 'Hello', appId: 'org.example.hello' });
    expect(scene.mapped).toBe(false);
    xdg.ackConfigure(Number(configures[1]!.split(' ')[1]));
    surface.attach(c.buffer(30, 20, () => 0xff000000).buffer, 0, 0);
    surface.commit();
    await c.roundtrip();
    expect(scene.mapped).toBe(true);
    // Mapped with keyboard focus (no consumer drives focus): a second configure with activated.
    await waitFor(() => configures.length >= 4, 1000, 'activated configure');
    expect(configures[2]).toBe(`toplevel 0 0 [${XdgToplevelState.Activated}]`);
  });

  it('rejects a buffer committed before the first ack (unconfigured_buffer)', async () => {
    const c = await connect();
    const surface = c.compositor.createSurface();
    c.wm.getXdgSurface(surface).getToplevel();
    surface.commit();
    await c.roundtrip();
    surface.attach(c.buffer(4, 4, () => 0).buffer, 0, 0);
    surface.commit();
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgSurfaceError.UnconfiguredBuffer, interfaceName: 'xdg_surface' });
  });

  it('rejects a commit on an xdg_surface without a role (not_constructed)', async () => {
    const c = await connect();
    const surface = c.compositor.createSurface();
    c.wm.getXdgSurface(surface);
    surface.commit();
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgSurfaceError.NotConstructed });
  });

  it('rejects an unknown ack serial and a second role', async () => {
    const c = await connect();
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    xdg.getToplevel();
    surface.commit();
    await c.roundtrip();
    xdg.ackConfigure(123456);
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgSurfaceError.InvalidSerial });
    const d = await connect();
    const s2 = d.compositor.createSurface();
    const x2 = d.wm.getXdgSurface(s2);
    x2.getToplevel();
    x2.getToplevel();
    await expect(d.roundtrip()).rejects.toMatchObject({ errorCode: XdgSurfaceError.AlreadyConstructed });
  });

  it('rejects get_xdg_surface on a surface with another role or a buffer', async () => {
    const c = await connect();
    const parent = c.compositor.createSurface();
    const child = c.compositor.createSurface();
    c.subcompositor.getSubsurface(child, parent);
    c.wm.getXdgSurface(child);
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgWmBaseError.Role });
    const d = await connect();
    const s = d.compositor.createSurface();
    s.attach(d.buffer(2, 2, () => 0).buffer, 0, 0);
    s.commit();
    d.wm.getXdgSurface(s);
    await expect(d.roundtrip()).rejects.toMatchObject({ errorCode: XdgSurfaceError.UnconfiguredBuffer });
  });

  it('turns a consumer configure into xdg_toplevel.configure with a new serial the client acks', async () => {
    const c = await connect();
    const top = await c.toplevel();
    top.show(c.buffer(100, 80, () => 0));
    await c.roundtrip();
    await waitFor(() => top.configures.length === 2, 1000, 'activated configure');
    top.xdgSurface.ackConfigure(top.serials.at(-1)!);
    const scene = lastSurface(t.display);
    scene.owner.feedback.configure(scene, 640, 480, ['maximized']);
    await waitFor(() => top.configures.length === 3, 1000, 'consumer configure');
    expect(top.configures[2]).toEqual({ width: 640, height: 480, states: [XdgToplevelState.Maximized, XdgToplevelState.Activated] });
    const serial = top.serials.at(-1)!;
    expect(serial).toBeGreaterThan(top.serials[1]!);
    top.xdgSurface.ackConfigure(serial);
    top.show(c.buffer(640, 480, () => 0));
    await c.roundtrip();
    expect(scene.size).toEqual({ width: 640, height: 480 });
    expect(c.client.closed).toBe(false);
  });

  it('answers set_maximized before the initial commit with the output size', async () => {
    const c = await connect();
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const top = xdg.getToplevel();
    const configures: [number, number, number[]][] = [];
    top.listen({ configure: (w, h, s) => configures.push([w, h, [...new Uint32Array(s.slice().buffer)]]) });
    top.setMaximized();
    surface.commit();
    await c.roundtrip();
    expect(configures[0]).toEqual([OUTPUT.width, OUTPUT.height, [XdgToplevelState.Maximized]]);
    expect(toplevelRole(lastSurface(t.display)).maximized).toBe(true);
  });

  it('sends close, tracks min/max size and window geometry, and rejects min > max', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    top.toplevel.setMinSize(100, 50);
    top.toplevel.setMaxSize(400, 300);
    top.xdgSurface.setWindowGeometry(5, 6, 90, 70);
    top.show(c.buffer(100, 82, () => 0));
    await c.roundtrip();
    expect(toplevelRole(scene)).toMatchObject({ minSize: { width: 100, height: 50 }, maxSize: { width: 400, height: 300 }, geometry: { x: 5, y: 6, width: 90, height: 70 } });
    scene.owner.feedback.close(scene);
    await c.roundtrip();
    expect(top.closed).toBe(1);
    top.toplevel.setMinSize(500, 10);
    top.surface.commit();
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
  });

  it('records the parent of a dialog and rejects a parent loop', async () => {
    const c = await connect();
    const main = await c.toplevel('main');
    main.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const mainScene = lastSurface(t.display);
    const dialog = await c.toplevel('dialog');
    dialog.toplevel.setParent(main.toplevel);
    dialog.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const dialogScene = lastSurface(t.display);
    expect(toplevelRole(dialogScene).parent).toBe(mainScene);
    main.toplevel.setParent(dialog.toplevel);
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
  });

  it('answers fullscreen requests of a mapped toplevel while no consumer configures it', async () => {
    const c = await connect();
    const top = await c.toplevel();
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const n = top.configures.length;
    top.toplevel.setFullscreen(null);
    await waitFor(() => top.configures.length > n, 1000, 'fullscreen configure');
    expect(top.configures.at(-1)).toEqual({ width: OUTPUT.width, height: OUTPUT.height, states: [XdgToplevelState.Fullscreen, XdgToplevelState.Activated] });
    expect(toplevelRole(lastSurface(t.display)).fullscreen).toBe(true);
    top.toplevel.unsetFullscreen();
    await waitFor(() => top.configures.length > n + 1, 1000, 'unfullscreen configure');
    expect(top.configures.at(-1)).toEqual({ width: 0, height: 0, states: [XdgToplevelState.Activated] });
  });

  it('reports a title change of a mapped toplevel without waiting for a commit', async () => {
    const c = await connect();
    const top = await c.toplevel('one');
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const scene = lastSurface(t.display);
    const seen: string[] = [];
    scene.on('commit', (info) => {
      if (info.roleChanged) seen.push(toplevelRole(scene).title);
    });
    top.toplevel.setTitle('two');
    await c.roundtrip();
    await waitFor(() => seen.length > 0, 1000, 'role change');
    expect(seen).toEqual(['two']);
  });

  it('unmaps on a null buffer and starts over with an initial configure', async () => {
    const c = await connect();
    const top = await c.toplevel();
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const scene = lastSurface(t.display);
    expect(scene.mapped).toBe(true);
    top.surface.attach(null, 0, 0);
    top.surface.commit();
    await c.roundtrip();
    expect(scene.mapped).toBe(false);
    const before = top.serials.length;
    top.surface.commit(); // a new initial commit
    await waitFor(() => top.serials.length > before, 1000, 'new initial configure');
    expect(top.configures.at(-1)).toMatchObject({ width: 0, height: 0 });
  });

  it('rejects destroying xdg_wm_base before its xdg_surfaces (defunct_surfaces)', async () => {
    const c = await connect();
    c.wm.getXdgSurface(c.compositor.createSurface());
    c.wm.destroy();
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgWmBaseError.DefunctSurfaces });
  });

  it('pings on pointer enter and accepts the pong', async () => {
    const c = await connect();
    const top = await c.toplevel();
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const scene = lastSurface(t.display);
    scene.owner.feedback.pointerEnter(scene, 1, 1);
    await c.roundtrip();
    expect(c.pings).toBe(1);
  });
});

describe('popups', () => {
  async function parentWindow(c: TestClient): Promise<{ top: Awaited<ReturnType<TestClient['toplevel']>>; scene: SceneSurface }> {
    const top = await c.toplevel();
    top.xdgSurface.setWindowGeometry(10, 20, 300, 200);
    top.show(c.buffer(320, 240, () => 0));
    await c.roundtrip();
    return { top, scene: lastSurface(t.display) };
  }

  function positioner(c: TestClient) {
    const p = c.wm.createPositioner();
    p.setSize(120, 80);
    p.setAnchorRect(40, 50, 20, 10);
    p.setAnchor(XdgPositionerAnchor.BottomRight);
    p.setGravity(XdgPositionerGravity.BottomRight);
    p.setOffset(1, 2);
    return p;
  }

  it('places a popup from its positioner, relative to the parent window geometry', async () => {
    const c = await connect();
    const { top, scene: parentScene } = await parentWindow(c);
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const popup: XdgPopupProxy = xdg.getPopup(top.xdgSurface, positioner(c));
    const got: number[][] = [];
    const serials: number[] = [];
    popup.listen({ configure: (x, y, w, h) => got.push([x, y, w, h]) });
    xdg.listen({ configure: (s) => serials.push(s) });
    surface.commit();
    await c.roundtrip();
    // Anchor point: bottom-right of the anchor rect (60, 60); the popup hangs from it, plus the offset.
    expect(got).toEqual([[61, 62, 120, 80]]);
    expect(serials).toHaveLength(1);
    xdg.ackConfigure(serials[0]!);
    surface.attach(c.buffer(120, 80, () => 0).buffer, 0, 0);
    surface.commit();
    await c.roundtrip();
    const scene = lastSurface(t.display);
    const role = scene.role as PopupRole;
    expect(role.kind).toBe('popup');
    expect(role.parent).toBe(parentScene);
    // In the parent's surface coordinates: the parent's geometry starts at (10, 20).
    expect(role.rect).toEqual({ x: 71, y: 82, width: 120, height: 80 });
    expect(scene.mapped).toBe(true);
  });

  it('grabs, gets keyboard focus, and is dismissed with popup_done by a consumer', async () => {
    const c = await connect();
    const kb = c.keyboard();
    const { top } = await parentWindow(c);
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const popup = xdg.getPopup(top.xdgSurface, positioner(c));
    let done = 0;
    const serials: number[] = [];
    popup.listen({ popupDone: () => done++ });
    xdg.listen({ configure: (s) => serials.push(s) });
    popup.grab(c.seat, 0);
    surface.commit();
    await c.roundtrip();
    xdg.ackConfigure(serials[0]!);
    surface.attach(c.buffer(120, 80, () => 0).buffer, 0, 0);
    surface.commit();
    await c.roundtrip();
    const scene = lastSurface(t.display);
    expect((scene.role as PopupRole).grab).toBe(true);
    expect(kb.events.at(-2)).toBe(`enter ${surface.id} []`);
    scene.owner.feedback.popupDone(scene);
    await c.roundtrip();
    expect(done).toBe(1);
  });

  it('repositions (v3) with repositioned(token) and a new configure', async () => {
    const c = await connect();
    const { top } = await parentWindow(c);
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const popup = xdg.getPopup(top.xdgSurface, positioner(c));
    const events: string[] = [];
    popup.listen({ configure: (x, y, w, h) => events.push(`configure ${x} ${y} ${w} ${h}`), repositioned: (token) => events.push(`repositioned ${token}`) });
    surface.commit();
    await c.roundtrip();
    const p2 = c.wm.createPositioner();
    p2.setSize(10, 10);
    p2.setAnchorRect(0, 0, 1, 1);
    popup.reposition(p2, 77);
    await c.roundtrip();
    expect(events).toEqual(['configure 61 62 120 80', 'repositioned 77', 'configure -5 -5 10 10']);
  });

  it('rejects an incomplete positioner and a grab after mapping', async () => {
    const c = await connect();
    const { top } = await parentWindow(c);
    const p = c.wm.createPositioner();
    p.setSize(10, 10); // no anchor rect
    c.wm.getXdgSurface(c.compositor.createSurface()).getPopup(top.xdgSurface, p);
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgWmBaseError.InvalidPositioner });

    const d = await connect();
    const w = await parentWindow(d);
    const surface = d.compositor.createSurface();
    const xdg = d.wm.getXdgSurface(surface);
    const popup = xdg.getPopup(w.top.xdgSurface, positioner(d));
    surface.commit();
    await d.roundtrip();
    popup.grab(d.seat, 0);
    await expect(d.roundtrip()).rejects.toMatchObject({ errorCode: 0, interfaceName: 'xdg_popup' });
  });

  it('dismisses grabbing popups when a click lands on another client', async () => {
    const c = await connect();
    const { top } = await parentWindow(c);
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const popup = xdg.getPopup(top.xdgSurface, positioner(c));
    let done = 0;
    popup.listen({ popupDone: () => done++ });
    popup.grab(c.seat, 0);
    surface.commit();
    await c.roundtrip();

    const other = await connect();
    const otherTop = await other.toplevel();
    otherTop.show(other.buffer(4, 4, () => 0));
    await other.roundtrip();
    const otherScene = lastSurface(t.display);
    const consumer = new FakeConsumer(t.display);
    otherScene.owner.feedback.pointerEnter(otherScene, 1, 1);
    otherScene.owner.feedback.pointerButton(0, 0x110, 'pressed');
    await c.roundtrip();
    expect(done).toBe(1);
    consumer.detach();
  });
});
