import { describe, expect, it } from 'vitest';
import type { CommitInfo, SceneSurface } from '../../shared/scene/scene.js';
import { ftruncateFd } from '../../shared/native.js';
import { PeerError } from '../../shared/wire/errors.js';
import { pinPixels } from '../../shared/scene/pinned-pixels.js';
import { WlShmError, WlShmFormat, WlSurfaceError, WlSubsurfaceProxy } from '../../shared/generated/wayland/index.js';
import { FakeConsumer, TestClient, displayPerTest, lastSurface, rssBytes, sleep, waitFor } from './test/helpers.js';

const t = displayPerTest();
const { connect } = t;

/** Commits of `s`, recorded from now on. */
function record(s: SceneSurface): CommitInfo[] {
  const list: CommitInfo[] = [];
  s.on('commit', (info) => list.push(info));
  return list;
}

const ids = (list: readonly SceneSurface[]): number[] => list.map((s) => s.id);

function pixelAt(s: SceneSurface, x: number, y: number): number {
  const c = s.content!;
  return new DataView(c.pixels.buffer, c.pixels.byteOffset).getUint32((y * c.width + x) * 4, true);
}

describe('wl_shm content', () => {
  it('offers exactly ARGB8888 and XRGB8888', async () => {
    const c = await connect();
    expect(c.formats.sort()).toEqual([WlShmFormat.Argb8888, WlShmFormat.Xrgb8888]);
  });

  it('copies ARGB8888 pixels exactly, with a padded stride', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const commits = record(scene);
    const value = (x: number, y: number): number => (0x80 << 24) | (x << 16) | (y << 8) | ((x * 7 + y) & 0xff);
    const buf = c.buffer(37, 23, value, { stride: 40 * 4 });
    top.show(buf);
    await c.roundtrip();
    expect(commits).toHaveLength(1);
    const content = scene.content!;
    expect([content.width, content.height, content.format]).toEqual([37, 23, 'argb8888']);
    expect(content.pixels.byteLength).toBe(37 * 23 * 4);
    for (let y = 0; y < 23; y++) for (let x = 0; x < 37; x++) expect(pixelAt(scene, x, y)).toBe(value(x, y) >>> 0);
    expect(commits[0]!.resized).toBe(true);
    expect(commits[0]!.damage).toEqual([{ x: 0, y: 0, width: 37, height: 23 }]);
    expect(scene.mapped).toBe(true);
  });

  it('copies XRGB8888 pixels exactly and reports the format', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const value = (x: number, y: number): number => 0x00102030 + x * 0x10000 + y;
    top.show(c.buffer(16, 9, value, { format: WlShmFormat.Xrgb8888 }));
    await c.roundtrip();
    expect(scene.content!.format).toBe('xrgb8888');
    for (let y = 0; y < 9; y++) for (let x = 0; x < 16; x++) expect(pixelAt(scene, x, y)).toBe(value(x, y));
  });

  it('releases the buffer once copied, without waiting for any consumer', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    scene.on('commit', () => {}); // a consumer that never presents
    const a = c.buffer(8, 8, () => 0xff0000ff);
    const b = c.buffer(8, 8, () => 0xff00ff00);
    top.show(a);
    await c.roundtrip();
    expect(a.released).toBe(1);
    top.show(b);
    await c.roundtrip();
    expect(b.released).toBe(1);
    // The copy is what the scene keeps: changing the released buffer changes nothing.
    b.bytes.fill(0);
    expect(pixelAt(scene, 3, 3)).toBe(0xff00ff00);
  });

  it('copies only the damage of a same-size buffer and reports it in buffer pixels', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const commits = record(scene);
    const a = c.buffer(20, 10, () => 0xff000001);
    top.show(a);
    await c.roundtrip();
    const b = c.buffer(20, 10, () => 0xff000002);
    top.surface.attach(b.buffer, 0, 0);
    top.surface.damage(2, 3, 4, 5);
    top.surface.commit();
    await c.roundtrip();
    expect(commits[1]!.damage).toEqual([{ x: 2, y: 3, width: 4, height: 5 }]);
    expect(commits[1]!.resized).toBe(false);
    expect(pixelAt(scene, 2, 3)).toBe(0xff000002);
    expect(pixelAt(scene, 5, 7)).toBe(0xff000002);
    expect(pixelAt(scene, 6, 3)).toBe(0xff000001); // outside the damage: the old content stays
    expect(b.released).toBe(1);
  });

  it('writes a same-size commit into a copy while an encode reads the pixels (pinned)', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    top.show(c.buffer(20, 10, () => 0xff000001));
    await c.roundtrip();
    const before = scene.content!.pixels;
    const unpin = pinPixels(before);
    const b = c.buffer(20, 10, () => 0xff000002);
    top.surface.attach(b.buffer, 0, 0);
    top.surface.damage(2, 3, 4, 5);
    top.surface.commit();
    await c.roundtrip();
    unpin();
    // The pinned pixels are as they were; the new content has the damage and the rest of them.
    expect(scene.content!.pixels).not.toBe(before);
    expect(new DataView(before.buffer, before.byteOffset).getUint32((3 * 20 + 2) * 4, true)).toBe(0xff000001);
    expect(pixelAt(scene, 2, 3)).toBe(0xff000002);
    expect(pixelAt(scene, 6, 3)).toBe(0xff000001);
    // Unpinned, the next commit writes in place again.
    const now = scene.content!.pixels;
    top.surface.attach(c.buffer(20, 10, () => 0xff000003).buffer, 0, 0);
    top.surface.damage(0, 0, 1, 1);
    top.surface.commit();
    await c.roundtrip();
    expect(scene.content!.pixels).toBe(now);
    expect(pixelAt(scene, 0, 0)).toBe(0xff000003);
  });

  it('converts surface damage with buffer scale 2 and transform 90', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const commits = record(scene);
    const buf = c.buffer(200, 100, () => 0xffffffff);
    top.surface.setBufferScale(2);
    top.surface.setBufferTransform(1);
    top.show(buf);
    await c.roundtrip();
    expect(scene.size).toEqual({ width: 50, height: 100 });
    expect(scene.content!.scale).toBe(2);
    expect(scene.content!.transform).toBe(1);
    buf.bytes.fill(0x11); // new pixels everywhere: the damage is all that limits the copy
    top.surface.attach(buf.buffer, 0, 0);
    top.surface.damage(0, 0, 10, 20);
    top.surface.commit();
    await c.roundtrip();
    expect(commits[1]!.damage).toEqual([{ x: 0, y: 80, width: 40, height: 20 }]);
  });

  it('cuts the damage to the pixels that changed, on a 64-pixel grid', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const commits = record(scene);
    const buf = c.buffer(200, 150, () => 0xff101010);
    top.show(buf);
    await c.roundtrip();
    const view = new DataView(buf.bytes.buffer, buf.bytes.byteOffset);
    const put = (x: number, y: number, v: number): void => view.setUint32((y * 200 + x) * 4, v, true);
    put(70, 5, 0xff0000ff);
    put(130, 9, 0xff00ff00);
    put(10, 100, 0xffff0000);
    top.surface.attach(buf.buffer, 0, 0);
    top.surface.damage(0, 0, 200, 150); // all of it, as terminals do
    top.surface.commit();
    await c.roundtrip();
    expect(commits[1]!.damage).toEqual([
      { x: 64, y: 5, width: 128, height: 5 },
      { x: 0, y: 100, width: 64, height: 1 },
    ]);
    expect(pixelAt(scene, 70, 5)).toBe(0xff0000ff);
    expect(pixelAt(scene, 130, 9)).toBe(0xff00ff00);
    expect(pixelAt(scene, 10, 100)).toBe(0xffff0000);
    expect(pixelAt(scene, 11, 100)).toBe(0xff101010);
    // The same pixels again: nothing changed, the commit has no damage.
    top.surface.attach(buf.buffer, 0, 0);
    top.surface.damage(0, 0, 200, 150);
    top.surface.commit();
    await c.roundtrip();
    expect(commits[2]!.damage).toEqual([]);
  });

  it('keeps regions: opaque and input, null input meaning the whole surface', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const region = c.compositor.createRegion();
    region.add(0, 0, 10, 10);
    region.subtract(0, 0, 10, 5);
    top.surface.setOpaqueRegion(region);
    top.surface.setInputRegion(region);
    region.destroy(); // the surface keeps its copy
    top.show(c.buffer(10, 10, () => 0));
    await c.roundtrip();
    expect(scene.opaque).toEqual([{ x: 0, y: 5, width: 10, height: 5 }]);
    expect(scene.input).toEqual([{ x: 0, y: 5, width: 10, height: 5 }]);
    top.surface.setInputRegion(null);
    top.surface.commit();
    await c.roundtrip();
    expect(scene.input).toBeNull();
  });

  it('maps only [offset, offset + stride * height) of a sparse 512 MiB pool', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const before = rssBytes();
    const MiB = 1024 * 1024;
    const buf = c.buffer(256, 256, (x, y) => 0xff000000 | (x << 8) | y, { poolSize: 512 * MiB, offset: 128 * MiB });
    top.show(buf);
    await c.roundtrip();
    expect(pixelAt(scene, 255, 255)).toBe((0xff000000 | (255 << 8) | 255) >>> 0);
    expect(pixelAt(scene, 1, 2)).toBe((0xff000000 | (1 << 8) | 2) >>> 0);
    // Reading the pool as a whole would add hundreds of MiB.
    expect(rssBytes() - before).toBeLessThan(64 * MiB);
    expect(buf.released).toBe(1);
  });

  it('grows a pool with resize and creates buffers in the new part', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const buf = c.buffer(4, 4, () => 0xff123456, { poolSize: 4 * 4 * 4 * 2, offset: 64 });
    // Same fd, a larger pool: a second buffer past the first pool size.
    ftruncateFd(buf.fd, 4096);
    buf.pool.resize(4096);
    const second = buf.pool.createBuffer(1024, 4, 4, 16, WlShmFormat.Argb8888);
    top.show(buf);
    await c.roundtrip();
    top.surface.attach(second, 0, 0);
    top.surface.damageBuffer(0, 0, 4, 4);
    top.surface.commit();
    await c.roundtrip();
    expect(pixelAt(scene, 0, 0)).toBe(0); // the new part of the file is zeros
    expect(c.client.closed).toBe(false);
  });
});

describe('bad shm input', () => {
  async function expectShmError(setup: (c: TestClient) => void, code: number): Promise<void> {
    const c = await connect();
    const errors: PeerError[] = [];
    c.client.on('error', (e) => errors.push(e as PeerError));
    setup(c);
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
    expect(errors[0]!.errorCode).toBe(code);
    expect(c.client.closed).toBe(true);
    // The display serves others as before.
    const other = await connect();
    const top = await other.toplevel();
    top.show(other.buffer(2, 2, () => 1));
    await other.roundtrip();
    expect(lastSurface(t.display).mapped).toBe(true);
  }

  it('rejects a buffer past the end of the pool', () =>
    expectShmError((c) => {
      const b = c.buffer(4, 4, () => 0);
      b.pool.createBuffer(16, 4, 4, 16, WlShmFormat.Argb8888);
    }, WlShmError.InvalidStride));

  it('rejects negative sizes and short strides', () =>
    expectShmError((c) => {
      const b = c.buffer(4, 4, () => 0);
      b.pool.createBuffer(0, 4, -4, 16, WlShmFormat.Argb8888);
    }, WlShmError.InvalidStride));

  it('rejects a stride below width * 4', () =>
    expectShmError((c) => {
      const b = c.buffer(4, 4, () => 0);
      b.pool.createBuffer(0, 4, 2, 8, WlShmFormat.Argb8888);
    }, WlShmError.InvalidStride));

  it('rejects buffers larger than 8K UHD (every buffer is copied)', () =>
    expectShmError((c) => {
      const b = c.buffer(1, 1, () => 0, { poolSize: 0x7ffffff0 });
      b.pool.createBuffer(0, 16384, 16384, 16384 * 4, WlShmFormat.Argb8888);
    }, WlShmError.InvalidStride));

  it('rejects formats it does not offer', () =>
    expectShmError((c) => {
      const b = c.buffer(4, 4, () => 0);
      b.pool.createBuffer(0, 4, 4, 16, WlShmFormat.Rgb565);
    }, WlShmError.InvalidFormat));

  it('rejects a pool of size 0 and a shrinking resize', async () => {
    await expectShmError((c) => {
      c.shm.createPool(c.buffer(1, 1, () => 0).fd, 0);
    }, WlShmError.InvalidStride);
    await expectShmError((c) => {
      c.buffer(4, 4, () => 0).pool.resize(8);
    }, WlShmError.InvalidStride);
  });

  it('disconnects a client that truncated its pool with invalid_fd, and keeps running', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const errors: PeerError[] = [];
    c.client.on('error', (e) => errors.push(e as PeerError));
    const buf = c.buffer(64, 64, () => 0xffffffff, { poolSize: 1024 * 1024 });
    ftruncateFd(buf.fd, 0);
    top.show(buf);
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
    expect(errors[0]!.errorCode).toBe(WlShmError.InvalidFd);
    expect(errors[0]!.interfaceName).toBe('wl_buffer');
    expect(t.logs.some((l) => String(l['msg']).includes('cannot read wl_buffer'))).toBe(true);
    const other = await connect();
    const top2 = await other.toplevel();
    top2.show(other.buffer(2, 2, () => 1));
    await other.roundtrip();
    expect(lastSurface(t.display).mapped).toBe(true);
  });

  it('posts invalid_scale and invalid_transform', async () => {
    const c = await connect();
    const s = c.compositor.createSurface();
    s.setBufferScale(0);
    await expect(c.roundtrip()).rejects.toMatchObject({ errorCode: WlSurfaceError.InvalidScale });
    const d = await connect();
    d.compositor.createSurface().setBufferTransform(8);
    await expect(d.roundtrip()).rejects.toMatchObject({ errorCode: WlSurfaceError.InvalidTransform });
  });
});

describe('frame callbacks', () => {
  it('are answered only once a consumer presents the frame', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const consumer = new FakeConsumer(t.display, { present: false });
    let done = 0;
    top.surface.frame().listen({ done: () => done++ });
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    await sleep(150); // several fallback periods: a consumer shows this surface, so no fallback
    expect(done).toBe(0);
    scene.owner.feedback.presented(scene, 0);
    await c.roundtrip();
    expect(done).toBe(1);
    consumer.detach();
  });

  it('come with the release of the buffers their commits copied, in one write; a commit without one has its buffer back at once', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const consumer = new FakeConsumer(t.display, { present: false });
    const events: string[] = [];
    const a = c.buffer(4, 4, () => 0xff0000ff);
    a.buffer.listen({ release: () => events.push('release a') });
    top.surface.frame().listen({ done: () => events.push('done') });
    top.show(a);
    await c.roundtrip();
    expect(events).toEqual([]);
    const b = c.buffer(4, 4, () => 0xff00ff00);
    b.buffer.listen({ release: () => events.push('release b') });
    top.show(b);
    await c.roundtrip();
    expect(events).toEqual(['release b']);
    const reads = c.client.connection.reads;
    scene.owner.feedback.presented(scene, 0);
    await waitFor(() => events.length === 3, 2000, 'the frame callback');
    expect(events).toEqual(['release b', 'release a', 'done']);
    // The held release and the callback came in one read.
    expect(c.client.connection.reads - reads).toBe(1);
    consumer.detach();
  });

  it('release the held buffers when the surface goes', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const consumer = new FakeConsumer(t.display, { present: false });
    const a = c.buffer(4, 4, () => 0xff0000ff);
    top.surface.frame();
    top.show(a);
    await c.roundtrip();
    expect(a.released).toBe(0);
    top.toplevel.destroy();
    top.xdgSurface.destroy();
    top.surface.destroy();
    await c.roundtrip();
    expect(a.released).toBe(1);
    consumer.detach();
  });

  it('answer every commit up to the presented one', async () => {
    const c = await connect();
    const top = await c.toplevel();
    const scene = lastSurface(t.display);
    const consumer = new FakeConsumer(t.display, { present: false });
    const buf = c.buffer(4, 4, () => 0);
    let done = 0;
    top.show(buf);
    for (let i = 0; i < 3; i++) {
      top.surface.frame().listen({ done: () => done++ });
      top.surface.commit();
    }
    await c.roundtrip();
    expect(done).toBe(0);
    scene.owner.feedback.presented(scene, 0);
    await c.roundtrip();
    expect(done).toBe(3);
    consumer.detach();
  });

  it('fall back to a ~60 Hz clock when no consumer shows the surface', async () => {
    const c = await connect();
    const top = await c.toplevel();
    let doneAt = 0;
    const start = Date.now();
    top.surface.frame().listen({ done: () => (doneAt = Date.now()) });
    top.show(c.buffer(4, 4, () => 0));
    await waitFor(() => doneAt !== 0, 1000, 'fallback frame done');
    expect(doneAt - start).toBeLessThan(500);
  });

  it('are answered after the timeout even when a consumer never presents', async () => {
    t.restart({ frameTimeoutMs: 500 });
    const c = await connect();
    const top = await c.toplevel();
    const consumer = new FakeConsumer(t.display, { present: false });
    let done = 0;
    top.surface.frame().listen({ done: () => done++ });
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    await sleep(100);
    expect(done).toBe(0);
    await waitFor(() => done === 1, 2000, 'timeout frame done');
    consumer.detach();
  });
});

describe('subsurfaces', () => {
  async function setup(): Promise<{ c: TestClient; top: Awaited<ReturnType<TestClient['toplevel']>>; sub: WlSubsurfaceProxy; child: ReturnType<TestClient['compositor']['createSurface']>; parentScene: SceneSurface; childScene: SceneSurface }> {
    const c = await connect();
    const top = await c.toplevel();
    const parentScene = lastSurface(t.display);
    top.show(c.buffer(50, 50, () => 0xff000000));
    const child = c.compositor.createSurface();
    const sub = c.subcompositor.getSubsurface(child, top.surface);
    await c.roundtrip();
    const childScene = lastSurface(t.display);
    return { c, top, sub, child, parentScene, childScene };
  }

  it('caches the commits of a sync subsurface until the parent commits', async () => {
    const { c, top, sub, child, parentScene, childScene } = await setup();
    expect(childScene.role?.kind).toBe('subsurface');
    expect(childScene.role?.kind === 'subsurface' && childScene.role.parent).toBe(parentScene);
    expect(childScene.role?.kind === 'subsurface' && childScene.role.sync).toBe(true);
    expect(ids(parentScene.stack)).toEqual(ids([parentScene, childScene]));
    const childCommits = record(childScene);
    const red = c.buffer(10, 10, () => 0xffff0000);
    child.attach(red.buffer, 0, 0);
    child.damageBuffer(0, 0, 10, 10);
    sub.setPosition(5, 6);
    child.commit();
    await c.roundtrip();
    expect(childScene.content).toBeNull(); // cached
    expect(childCommits).toHaveLength(0);
    expect(red.released).toBe(1); // copied into the cache and released at once
    const parentCommits = record(parentScene);
    top.surface.commit();
    await c.roundtrip();
    expect(childCommits).toHaveLength(1);
    expect(pixelAt(childScene, 0, 0)).toBe(0xffff0000);
    expect(childScene.role).toMatchObject({ x: 5, y: 6 });
    expect(parentCommits[0]!.stackingChanged).toBe(true); // the position moved
  });

  it('applies desync commits at once, and set_desync flushes the cache', async () => {
    const { c, sub, child, childScene } = await setup();
    const a = c.buffer(10, 10, () => 0xff00ff00);
    child.attach(a.buffer, 0, 0);
    child.commit();
    await c.roundtrip();
    expect(childScene.content).toBeNull();
    sub.setDesync();
    await c.roundtrip();
    expect(pixelAt(childScene, 1, 1)).toBe(0xff00ff00);
    const b = c.buffer(10, 10, () => 0xff0000ff);
    child.attach(b.buffer, 0, 0);
    child.damageBuffer(0, 0, 10, 10);
    child.commit();
    await c.roundtrip();
    expect(pixelAt(childScene, 1, 1)).toBe(0xff0000ff);
  });

  it('treats a desync child of a sync subsurface as synchronized', async () => {
    const { c, top, child, childScene } = await setup();
    const grandchild = c.compositor.createSurface();
    const sub2 = c.subcompositor.getSubsurface(grandchild, child);
    sub2.setDesync();
    await c.roundtrip();
    const gScene = lastSurface(t.display);
    grandchild.attach(c.buffer(3, 3, () => 0xff111111).buffer, 0, 0);
    grandchild.commit();
    await c.roundtrip();
    expect(gScene.content).toBeNull(); // the parent is sync: effectively synchronized
    child.attach(c.buffer(5, 5, () => 0xff222222).buffer, 0, 0);
    child.commit();
    top.surface.commit();
    await c.roundtrip();
    expect(childScene.content).not.toBeNull();
    expect(gScene.content).not.toBeNull();
    expect(ids(childScene.stack)).toEqual(ids([childScene, gScene]));
  });

  it('restacks with place_below on the parent commit and rejects non-siblings', async () => {
    const { c, top, sub, parentScene, childScene } = await setup();
    sub.placeBelow(top.surface);
    await c.roundtrip();
    expect(ids(parentScene.stack)).toEqual(ids([parentScene, childScene])); // not before the parent commits
    top.surface.commit();
    await c.roundtrip();
    expect(ids(parentScene.stack)).toEqual(ids([childScene, parentScene]));
    const stranger = c.compositor.createSurface();
    sub.placeAbove(stranger);
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
  });

  it('removes a destroyed subsurface from its parent at once', async () => {
    const { c, sub, parentScene, childScene } = await setup();
    sub.destroy();
    await c.roundtrip();
    expect(ids(parentScene.stack)).toEqual(ids([parentScene]));
    expect(childScene.role).toBeNull();
  });

  it('rejects a surface as its own parent or ancestor', async () => {
    const c = await connect();
    const a = c.compositor.createSurface();
    c.subcompositor.getSubsurface(a, a);
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
    const d = await connect();
    const p = d.compositor.createSurface();
    const q = d.compositor.createSurface();
    d.subcompositor.getSubsurface(q, p);
    d.subcompositor.getSubsurface(p, q);
    await expect(d.roundtrip()).rejects.toBeInstanceOf(PeerError);
  });
});

describe('client lifetime', () => {
  it('destroys the scene surfaces of a client that disconnects', async () => {
    const c = await connect();
    const top = await c.toplevel();
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    const scene = lastSurface(t.display);
    let destroyed = false;
    scene.on('destroy', () => (destroyed = true));
    c.close();
    await waitFor(() => destroyed, 2000, 'surface destroy');
    expect(t.display.scene.surfaces.has(scene)).toBe(false);
    await waitFor(() => t.display.clients.length === 0, 2000, 'client gone');
  });
});
