/**
 * The virtual display passes xdg_toplevel.set_minimized, move and resize to
 * whoever shows the window (scene `request` events), move and resize only on
 * the client's latest press; and a popup's positioner, anchor rectangle moved
 * from the parent's window geometry to the parent's surface origin (as the
 * popup's rectangle is), for a consumer whose compositor keeps popups inside
 * its output.
 */
import { describe, expect, it } from 'vitest';
import type { PopupRole } from '../../shared/scene/scene.js';
import type { WindowRequest } from '../../shared/scene/window-requests.js';
import { XdgPositionerAnchor, XdgPositionerGravity, XdgToplevelError } from '../../shared/generated/wayland/index.js';
import { displayPerTest, lastSurface, OUTPUT, waitFor } from './test/helpers.js';

const t = displayPerTest();

describe('window requests on the virtual display', () => {
  it('minimize at once; move and resize with the serial of the latest press, older serials ignored', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    top.show(c.buffer(100, 80, () => 0xff000000));
    await c.roundtrip();
    const scene = lastSurface(t.display);
    const seen: WindowRequest[] = [];
    scene.on('request', (r) => seen.push(r));
    c.pointer();
    await c.roundtrip();
    const fb = scene.owner.feedback;
    fb.pointerEnter(scene, 10, 10);
    const first = fb.pointerButton(1, 0x110, 'pressed');
    fb.pointerButton(2, 0x110, 'released');
    const second = fb.pointerButton(3, 0x110, 'pressed');
    expect(typeof first).toBe('number');
    expect(second).not.toBe(first);

    top.toplevel.setMinimized();
    top.toplevel.move(c.seat, first as number); // an older press: ignored
    top.toplevel.move(c.seat, second as number);
    top.toplevel.resize(c.seat, second as number, 10);
    await c.roundtrip();
    expect(seen).toEqual([{ kind: 'minimize' }, { kind: 'move', serial: second }, { kind: 'resize', serial: second, edges: 10 }]);

    top.toplevel.resize(c.seat, second as number, 3);
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: XdgToplevelError.InvalidResizeEdge });
  });

  it("gives a popup's positioner to consumers in the parent's surface coordinates, and its repositions", async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    top.xdgSurface.setWindowGeometry(10, 20, 300, 200);
    top.show(c.buffer(320, 240, () => 0));
    await c.roundtrip();
    const p = c.wm.createPositioner();
    p.setSize(120, 80);
    p.setAnchorRect(290, 50, 20, 10);
    p.setAnchor(XdgPositionerAnchor.BottomRight);
    p.setGravity(XdgPositionerGravity.BottomRight);
    p.setConstraintAdjustment(4 | 1);
    p.setOffset(1, 2);
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const popup = xdg.getPopup(top.xdgSurface, p);
    const serials: number[] = [];
    xdg.listen({ configure: (s) => serials.push(s) });
    surface.commit();
    await c.roundtrip();
    xdg.ackConfigure(serials[0]!);
    surface.attach(c.buffer(120, 80, () => 0).buffer, 0, 0);
    surface.commit();
    await c.roundtrip();
    const scene = lastSurface(t.display);
    const role = scene.role as PopupRole;
    expect(role.positioner).toEqual({
      width: 120,
      height: 80,
      anchorRect: { x: 300, y: 70, width: 20, height: 10 },
      anchor: XdgPositionerAnchor.BottomRight,
      gravity: XdgPositionerGravity.BottomRight,
      constraintAdjustment: 5,
      offsetX: 1,
      offsetY: 2,
    });
    // Unconstrained placement at the anchor point (310, 60) + offset, in the parent's surface coordinates.
    expect(role.rect).toEqual({ x: 321, y: 82, width: 120, height: 80 });

    const p2 = c.wm.createPositioner();
    p2.setSize(60, 40);
    p2.setAnchorRect(5, 6, 1, 1);
    p2.setConstraintAdjustment(8);
    popup.reposition(p2, 3);
    await c.roundtrip();
    xdg.ackConfigure(serials.at(-1)!);
    surface.commit();
    await c.roundtrip();
    await waitFor(() => (scene.role as PopupRole).positioner?.constraintAdjustment === 8, 1000, 'the new positioner');
    expect((scene.role as PopupRole).positioner?.anchorRect).toEqual({ x: 15, y: 26, width: 1, height: 1 });
  });

  it('keeps the popups of a fullscreen window inside the output itself (flip, then slide), and places nested popups from their parent', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    top.toplevel.setFullscreen(null);
    top.show(c.buffer(OUTPUT.width, OUTPUT.height, () => 0));
    await c.roundtrip();
    const popupAt = async (parent: typeof top.xdgSurface, x: number, y: number, adjustment: number): Promise<{ got: number[][]; xdg: typeof top.xdgSurface }> => {
      const p = c.wm.createPositioner();
      p.setSize(100, 100);
      p.setAnchorRect(x, y, 1, 1);
      p.setAnchor(XdgPositionerAnchor.BottomRight);
      p.setGravity(XdgPositionerGravity.BottomRight);
      p.setConstraintAdjustment(adjustment);
      const surface = c.compositor.createSurface();
      const xdg = c.wm.getXdgSurface(surface);
      const got: number[][] = [];
      const serials: number[] = [];
      xdg.getPopup(parent, p).listen({ configure: (px, py, w, h) => got.push([px, py, w, h]) });
      xdg.listen({ configure: (s) => serials.push(s) });
      surface.commit();
      await c.roundtrip();
      xdg.ackConfigure(serials[0]!);
      surface.attach(c.buffer(100, 100, () => 0).buffer, 0, 0);
      surface.commit();
      await c.roundtrip();
      return { got, xdg };
    };
    const right = OUTPUT.width - 10;
    const first = await popupAt(top.xdgSurface, right, 10, 4 /* flip_x */);
    expect(first.got).toEqual([[right - 100, 11, 100, 100]]);
    const scene = lastSurface(t.display);
    // Adjusted here: the consumer gets no positioner and places it at the rectangle.
    expect((scene.role as PopupRole).positioner ?? null).toBeNull();
    expect((scene.role as PopupRole).rect).toEqual({ x: right - 100, y: 11, width: 100, height: 100 });
    // A child at its parent's right edge is past the output's: it slides back inside.
    const nested = await popupAt(first.xdg, 95, 50, 1 /* slide_x */);
    expect(nested.got).toEqual([[OUTPUT.width - (right - 100) - 100, 51, 100, 100]]);
  });
});
