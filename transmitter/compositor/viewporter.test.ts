import { describe, expect, it } from 'vitest';
import type { CommitInfo, SceneSurface } from '../../shared/scene/scene.js';
import { PeerError } from '../../shared/wire/errors.js';
import { WpViewportError, WpViewporterError, WpViewporterProxy } from '../../shared/generated/wayland/index.js';
import { TestClient, displayPerTest, lastSurface } from './test/helpers.js';

const t = displayPerTest();

function pixelAt(s: SceneSurface, x: number, y: number): number {
  const c = s.content!;
  return new DataView(c.pixels.buffer, c.pixels.byteOffset).getUint32((y * c.width + x) * 4, true);
}

/** Four quadrants of a w x h buffer: red, green (top right), blue, white (bottom right). */
const quadrant = (w: number, h: number) => (x: number, y: number): number =>
  x < w / 2 ? (y < h / 2 ? 0xffff0000 : 0xff0000ff) : y < h / 2 ? 0xff00ff00 : 0xffffffff;

function viewporter(c: TestClient): WpViewporterProxy {
  return c.registry.bind(WpViewporterProxy, c.registry.find('wp_viewporter')!, 1);
}

async function expectError(c: TestClient, iface: string, code: number): Promise<void> {
  const errors: PeerError[] = [];
  c.client.on('error', (e) => errors.push(e as PeerError));
  await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
  expect([errors[0]!.interfaceName, errors[0]!.errorCode]).toEqual([iface, code]);
}

describe('wp_viewporter', () => {
  it('crops to the source rectangle and scales to the destination size in the content consumers see', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const vp = viewporter(c).getViewport(top.surface);
    vp.setSource(50, 0, 50, 50); // the green quadrant
    vp.setDestination(300, 200);
    top.show(c.buffer(100, 100, quadrant(100, 100)));
    await c.roundtrip();
    const content = scene.content!;
    expect([content.width, content.height, content.scale, content.transform]).toEqual([300, 200, 1, 0]);
    expect(scene.size).toEqual({ width: 300, height: 200 });
    for (const [x, y] of [[0, 0], [299, 0], [0, 199], [299, 199], [150, 100]] as const) expect(pixelAt(scene, x, y)).toBe(0xff00ff00);

    // Destination only: the whole buffer scaled (red left, green right at the top).
    vp.setSource(-1, -1, -1, -1);
    vp.setDestination(40, 20);
    top.surface.commit();
    await c.roundtrip();
    expect([scene.content!.width, scene.content!.height]).toEqual([40, 20]);
    expect([pixelAt(scene, 5, 2), pixelAt(scene, 35, 2), pixelAt(scene, 5, 17), pixelAt(scene, 35, 17)]).toEqual([0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff]);

    // Destroying the viewport gives the buffer back at its own size at the next commit.
    vp.destroy();
    top.surface.commit();
    await c.roundtrip();
    expect([scene.content!.width, scene.content!.height]).toEqual([100, 100]);
    expect(pixelAt(scene, 75, 25)).toBe(0xff00ff00);
  });

  it('gives consumers that carry the viewport the buffer as it is, its damage in buffer pixels, and the viewport', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const commits: CommitInfo[] = [];
    scene.on('commit', (info) => commits.push(info));
    const vp = viewporter(c).getViewport(top.surface);
    vp.setSource(50, 0, 50, 50);
    vp.setDestination(300, 200);
    top.show(c.buffer(100, 100, quadrant(100, 100)));
    await c.roundtrip();
    expect([scene.buffer!.width, scene.buffer!.height]).toEqual([100, 100]);
    expect(scene.viewport).toEqual({ source: { x: 50, y: 0, width: 50, height: 50 }, destination: { width: 300, height: 200 } });
    expect(scene.size).toEqual({ width: 300, height: 200 });
    // A small change of the buffer: the buffer's damage is that rectangle, the view's all of it.
    const next = c.buffer(100, 100, (x, y) => (x >= 60 && x < 70 && y >= 10 && y < 20 ? 0xff000000 : quadrant(100, 100)(x, y)));
    top.surface.attach(next.buffer, 0, 0);
    top.surface.damageBuffer(60, 10, 10, 10);
    top.surface.commit();
    await c.roundtrip();
    const last = commits.at(-1)!;
    expect(last.buffer).toEqual({ damage: [{ x: 60, y: 10, width: 10, height: 10 }], resized: false });
    expect([last.damage, last.resized]).toEqual([[{ x: 0, y: 0, width: 300, height: 200 }], false]);
    expect(pixelAt(scene, 70, 40)).toBe(0xff000000); // (60..70, 10..20) of the buffer is (60..120, 40..80) of the view
    // Without the viewport, the view is the buffer again (resized, all damaged) and no buffer damage is apart.
    vp.destroy();
    top.surface.commit();
    await c.roundtrip();
    expect(scene.viewport).toBeNull();
    expect(scene.content).toBe(scene.buffer);
    expect([commits.at(-1)!.resized, commits.at(-1)!.damage]).toEqual([true, [{ x: 0, y: 0, width: 100, height: 100 }]]);
  });

  it('keeps the buffer scale: a scale-2 buffer scaled to a destination keeps its pixel density', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const vp = viewporter(c).getViewport(top.surface);
    vp.setSource(0, 0, 25, 25); // surface coordinates of a 100x100 scale-2 buffer: its red quadrant
    vp.setDestination(60, 30);
    top.surface.setBufferScale(2);
    top.show(c.buffer(100, 100, quadrant(100, 100)));
    await c.roundtrip();
    expect([scene.content!.width, scene.content!.height, scene.content!.scale]).toEqual([120, 60, 2]);
    expect(scene.size).toEqual({ width: 60, height: 30 });
    expect(pixelAt(scene, 119, 59)).toBe(0xffff0000);
  });

  it('samples through the buffer transform (90 degrees: the left half of the buffer is the top half of the surface)', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    viewporter(c).getViewport(top.surface).setDestination(25, 50);
    top.surface.setBufferTransform(1);
    top.show(c.buffer(100, 50, (x) => (x < 50 ? 0xffff0000 : 0xff00ff00)));
    await c.roundtrip();
    expect([scene.content!.width, scene.content!.height, scene.content!.transform]).toEqual([25, 50, 0]);
    expect([pixelAt(scene, 12, 5), pixelAt(scene, 12, 45)]).toEqual([0xffff0000, 0xff00ff00]);
  });

  it('applies the viewport with the commit, not before', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    top.show(c.buffer(100, 100, quadrant(100, 100)));
    await c.roundtrip();
    const vp = viewporter(c).getViewport(top.surface);
    vp.setDestination(10, 10);
    await c.roundtrip();
    expect(scene.content!.width).toBe(100);
    top.surface.commit();
    await c.roundtrip();
    expect(scene.content!.width).toBe(10);
  });

  it('raises viewport_exists for a second viewport of a surface', async () => {
    const c = await t.connect();
    const surface = c.compositor.createSurface();
    const v = viewporter(c);
    v.getViewport(surface);
    v.getViewport(surface);
    await expectError(c, 'wp_viewporter', WpViewporterError.ViewportExists);
  });

  it('raises bad_value for a negative source or a zero destination', async () => {
    const c = await t.connect();
    viewporter(c).getViewport(c.compositor.createSurface()).setSource(-2, 0, 10, 10);
    await expectError(c, 'wp_viewport', WpViewportError.BadValue);
    const d = await t.connect();
    viewporter(d).getViewport(d.compositor.createSurface()).setDestination(0, 10);
    await expectError(d, 'wp_viewport', WpViewportError.BadValue);
  });

  it('raises out_of_buffer when the source leaves the buffer, at commit', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const vp = viewporter(c).getViewport(top.surface);
    vp.setSource(90, 0, 20, 20);
    await c.roundtrip();
    expect(c.client.closed).toBe(false);
    top.show(c.buffer(100, 100, () => 0));
    await expectError(c, 'wp_viewport', WpViewportError.OutOfBuffer);
    // The display serves others as before.
    const other = await t.connect();
    const next = await other.toplevel();
    next.show(other.buffer(2, 2, () => 1));
    await other.roundtrip();
    expect(lastSurface(t.display).mapped).toBe(true);
  });

  it('raises bad_size for a fractional source without a destination', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    viewporter(c).getViewport(top.surface).setSource(0, 0, 10.5, 10);
    top.show(c.buffer(100, 100, () => 0));
    await expectError(c, 'wp_viewport', WpViewportError.BadSize);
  });

  it('raises no_surface for a request after the wl_surface is gone', async () => {
    const c = await t.connect();
    const surface = c.compositor.createSurface();
    const vp = viewporter(c).getViewport(surface);
    surface.destroy();
    vp.setDestination(5, 5);
    await expectError(c, 'wp_viewport', WpViewportError.NoSurface);
  });
});
