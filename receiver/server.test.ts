import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SceneSurface, SubsurfaceRole, ToplevelRole } from '../shared/scene/scene.js';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpRemoteShellProxy,
  WthpSeatProxy,
  WthpIviApplicationError,
  WthpIviApplicationProxy,
  WthpRemoteShellError,
  type WthpSurfaceProxy,
} from '../shared/generated/waltham/waltham.js';
import { WlPointerError } from '../shared/generated/wayland/wayland.js';
import { PeerError } from '../shared/wire/errors.js';
import { connectWaltham, encodeMessage, defaultWalthamTable, type WalthamClient } from '../shared/waltham/index.js';
import { CODEC_COPY, CODEC_LZ4_RGB, CODEC_RAW, CODEC_RAW_RGB, CODEC_SOLID, FORMAT_ARGB8888, FORMAT_XRGB8888 } from '../shared/remote/tiles.js';
import { lz4Compress } from '../shared/native.js';
import { CODEC_JPEG, CODEC_WEBP, encodeLossy } from '../shared/remote/lossy.js';
import { captureLogger, sleep, waitFor } from '../shared/remote/test/fixtures.js';
import { ReceiverServer, type ReceiverServerOptions } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startReceiver(extra: Partial<ReceiverServerOptions> = {}) {
  const log = captureLogger();
  // Hand-driven transmitters fall silent between steps: liveness only where a test asks for it.
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: log.logger, deadMs: 0, ...extra });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  return { receiver, port, log };
}

/** A transmitter driven by hand through the generated proxies. */
async function transmitter(port: number) {
  const log = captureLogger();
  const client = await connectWaltham('127.0.0.1', port, { logger: log.logger });
  cleanups.push(() => client.destroy());
  const globals = await client.globals();
  const bind = <T extends { destroyed: boolean }>(ctor: Parameters<WalthamClient['bind']>[0] & { spec: { name: string } }): T => {
    const g = globals.find((x) => x.interface === ctor.spec.name)!;
    return client.bind(ctor, g.name, g.version) as unknown as T;
  };
  const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
  const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy);
  const content = bind<WthpContentProxy>(WthpContentProxy);
  let codecs = 0;
  content.listen({ codecs: (m) => (codecs = m) });
  await client.roundtrip();
  /** A surface with one solid colour (as a solid tile) of the given size. */
  const fill = (surface: WthpSurfaceProxy, width: number, height: number, argb: number): void => {
    content.begin(surface, width, height, FORMAT_ARGB8888);
    const px = new Uint8Array(4);
    new DataView(px.buffer).setUint32(0, argb >>> 0, true);
    content.tile(surface, 0, 0, width, height, CODEC_SOLID, px);
  };
  return { client, compositor, shell, content, fill, log, codecs: () => codecs };
}

function pixelAt(s: SceneSurface, x: number, y: number): number {
  const c = s.content!;
  return new DataView(c.pixels.buffer, c.pixels.byteOffset).getUint32((y * c.width + x) * 4, true);
}

/** The error the receiver sent before dropping us. */
async function peerError(client: WalthamClient): Promise<PeerError> {
  const reason = await client.closed;
  expect(reason).toBeInstanceOf(PeerError);
  return reason as PeerError;
}

describe('ReceiverServer: Wayland semantics', () => {
  it('applies pending state only on commit', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    const surface = t.compositor.createSurface();
    const toplevel = t.shell.getToplevel(surface);
    toplevel.setTitle('first');
    t.fill(surface, 8, 8, 0xff112233);
    surface.commit();
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    expect((s.role as ToplevelRole).title).toBe('first');
    expect(pixelAt(s, 7, 7)).toBe(0xff112233);

    toplevel.setTitle('second');
    t.content.begin(surface, 8, 8, FORMAT_ARGB8888);
    t.content.tile(surface, 0, 0, 1, 1, CODEC_SOLID, Uint8Array.of(0, 0, 0xff, 0xff));
    await t.client.roundtrip();
    expect((s.role as ToplevelRole).title).toBe('first');
    expect(pixelAt(s, 0, 0)).toBe(0xff112233);
    surface.commit();
    await t.client.roundtrip();
    expect((s.role as ToplevelRole).title).toBe('second');
    // The same size keeps the previous pixels outside the tiles.
    expect(pixelAt(s, 0, 0)).toBe(0xffff0000);
    expect(pixelAt(s, 1, 0)).toBe(0xff112233);
  });

  it('starts a new size from transparent black and unmaps on attach(null)', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    const surface = t.compositor.createSurface();
    t.shell.getToplevel(surface);
    t.fill(surface, 4, 4, 0xffffffff);
    surface.commit();
    t.content.begin(surface, 6, 5, FORMAT_ARGB8888);
    t.content.tile(surface, 0, 0, 2, 2, CODEC_SOLID, Uint8Array.of(1, 2, 3, 4));
    surface.commit();
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    const commits: boolean[] = [];
    s.on('commit', (info) => commits.push(info.resized));
    expect(s.content).toMatchObject({ width: 6, height: 5 });
    expect(pixelAt(s, 1, 1)).toBe(0x04030201);
    expect(pixelAt(s, 3, 3)).toBe(0);
    surface.attach(null, 0, 0);
    surface.commit();
    await t.client.roundtrip();
    expect(s.content).toBeNull();
    expect(s.mapped).toBe(false);
    expect(commits).toEqual([true]);
  });

  it('caches the commits of a synchronized subsurface until the parent commits', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    const parent = t.compositor.createSurface();
    t.shell.getToplevel(parent);
    t.fill(parent, 10, 10, 0xff000000);
    parent.commit();
    const child = t.compositor.createSurface();
    const sub = t.shell.getSubsurface(child, parent);
    sub.setPosition(3, 4);
    t.fill(child, 2, 2, 0xff00ff00);
    child.commit();
    await t.client.roundtrip();
    const [rp, rc] = [...receiver.scene.surfaces] as [SceneSurface, SceneSurface];
    // Synchronized (the default): nothing shows before the parent's commit.
    expect(rc.content).toBeNull();
    expect(rp.stack).toEqual([rp]);
    parent.commit();
    await t.client.roundtrip();
    expect(rc.content).not.toBeNull();
    expect(rp.stack.map((s) => s.id)).toEqual([rp.id, rc.id]);
    expect((rc.role as SubsurfaceRole).x).toBe(3);

    // Position is the parent's state too, reported as a stacking change of the parent.
    const parentCommits: boolean[] = [];
    rp.on('commit', (info) => parentCommits.push(info.stackingChanged));
    sub.setPosition(7, 8);
    await t.client.roundtrip();
    expect((rc.role as SubsurfaceRole).x).toBe(3);
    parent.commit();
    await t.client.roundtrip();
    expect((rc.role as SubsurfaceRole)).toMatchObject({ x: 7, y: 8 });
    expect(parentCommits).toEqual([true]);

    // A cached commit is applied by set_desync, later ones at once.
    t.fill(child, 2, 2, 0xff0000ff);
    child.commit();
    await t.client.roundtrip();
    expect(pixelAt(rc, 0, 0)).toBe(0xff00ff00);
    sub.setDesync();
    await t.client.roundtrip();
    expect(pixelAt(rc, 0, 0)).toBe(0xff0000ff);
    t.fill(child, 2, 2, 0xffff0000);
    child.commit();
    await t.client.roundtrip();
    expect(pixelAt(rc, 0, 0)).toBe(0xffff0000);

    // Stacking: place_below the parent, applied with the parent's state.
    sub.placeBelow(parent);
    await t.client.roundtrip();
    expect(rp.stack.map((s) => s.id)).toEqual([rp.id, rc.id]);
    parent.commit();
    await t.client.roundtrip();
    expect(rp.stack.map((s) => s.id)).toEqual([rc.id, rp.id]);
  });

  it('answers frame callbacks of applied commits when the consumer presents', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    const surface = t.compositor.createSurface();
    t.shell.getToplevel(surface);
    t.fill(surface, 2, 2, 0xff000000);
    const done: number[] = [];
    surface.frame().listen({ done: (time) => done.push(time) });
    surface.commit();
    surface.frame().listen({ done: (time) => done.push(-time) }); // pending: not committed yet
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    s.owner.feedback.presented(s, 1234);
    await t.client.roundtrip();
    expect(done).toEqual([1234]);
    surface.commit();
    await t.client.roundtrip();
    s.owner.feedback.presented(s, 99);
    await t.client.roundtrip();
    expect(done).toEqual([1234, -99]);
  });

  it('announces codecs, seat capabilities and regions', async () => {
    const { receiver, port } = await startReceiver({ seatCapabilities: 3 });
    const t = await transmitter(port);
    expect(t.codecs() & (1 << CODEC_RAW)).not.toBe(0);
    expect(t.codecs() & (1 << CODEC_SOLID)).not.toBe(0);
    const g = (await t.client.globals()).find((x) => x.interface === 'wthp_seat')!;
    const seat = t.client.bind(WthpSeatProxy, g.name, g.version);
    const caps: number[] = [];
    seat.listen({ capabilities: (c) => caps.push(c) });
    await t.client.roundtrip();
    receiver.setSeatCapabilities(7);
    await t.client.roundtrip();
    expect(caps).toEqual([3, 7]);

    const surface = t.compositor.createSurface();
    t.shell.getToplevel(surface);
    const region = t.compositor.createRegion();
    region.add(0, 0, 10, 10);
    region.subtract(0, 0, 10, 5);
    surface.setOpaqueRegion(region);
    region.destroy();
    surface.setInputRegion(null);
    surface.commit();
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    expect(s.opaque).toEqual([{ x: 0, y: 5, width: 10, height: 5 }]);
    expect(s.input).toBeNull();
  });
});

describe('ReceiverServer: lossy tiles', () => {
  it('announces jpeg and webp, and applies a commit only once its lossy tiles are decoded', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    expect(t.codecs() & (1 << CODEC_JPEG)).not.toBe(0);
    expect(t.codecs() & (1 << CODEC_WEBP)).not.toBe(0);
    const width = 64;
    const height = 48;
    // Two flat halves (lossy codecs keep flat areas within a few levels): red left, blue right.
    const px = new Uint8Array(width * height * 4);
    const view = new DataView(px.buffer);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) view.setUint32((y * width + x) * 4, x < 32 ? 0xffd02010 : 0xff1030c0, true);
    const jpeg = await encodeLossy(CODEC_JPEG, px, width * 4, 0, 0, 32, height, { quality: 90 });
    const webp = await encodeLossy(CODEC_WEBP, px, width * 4, 32, 0, 32, height, { quality: 90 });
    const surface = t.compositor.createSurface();
    t.shell.getToplevel(surface).setTitle('lossy');
    t.content.begin(surface, width, height, FORMAT_XRGB8888);
    t.content.tile(surface, 0, 0, 32, height, CODEC_JPEG, jpeg);
    t.content.tile(surface, 32, 0, 32, height, CODEC_WEBP, webp);
    // Sent in the same write as the tiles: it must not be applied before they are decoded.
    surface.commit();
    let contentAtCommit: SceneSurface['content'] | undefined;
    receiver.scene.on('surface', (s) => s.on('commit', () => (contentAtCommit ??= s.content)));
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    expect(contentAtCommit).toBe(s.content);
    const near = (got: number, want: number): void => {
      for (const shift of [0, 8, 16]) expect(Math.abs(((got >>> shift) & 0xff) - ((want >>> shift) & 0xff))).toBeLessThanOrEqual(8);
      expect(got >>> 24).toBe(0xff);
    };
    for (const [x, y] of [[0, 0], [31, 47], [10, 20]] as const) near(pixelAt(s, x, y), 0xffd02010);
    for (const [x, y] of [[32, 0], [63, 47], [50, 20]] as const) near(pixelAt(s, x, y), 0xff1030c0);
    expect(receiver.peers[0]!.stats().tiles).toBe(2);
  });
});

describe('ReceiverServer: lossy tiles in order', () => {
  it('writes tiles in the order they came: a lossless tile after lossy ones over the same pixels wins', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    const grey = new Uint8Array(32 * 32 * 4).fill(0x80);
    const jpeg = await encodeLossy(CODEC_JPEG, grey, 32 * 4, 0, 0, 32, 32, { quality: 90 });
    const surface = t.compositor.createSurface();
    t.shell.getToplevel(surface).setTitle('order');
    t.content.begin(surface, 64, 32, FORMAT_XRGB8888);
    t.content.tile(surface, 0, 0, 32, 32, CODEC_JPEG, jpeg);
    t.content.tile(surface, 32, 0, 32, 32, CODEC_JPEG, jpeg);
    const red = new Uint8Array(4);
    new DataView(red.buffer).setUint32(0, 0xffff0000, true);
    t.content.tile(surface, 0, 0, 8, 8, CODEC_SOLID, red);
    t.content.tile(surface, 40, 8, 8, 8, CODEC_SOLID, red);
    surface.commit();
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    for (const [x, y] of [[0, 0], [7, 7], [40, 8], [47, 15]] as const) expect(pixelAt(s, x, y) & 0xffffff).toBe(0xff0000);
    for (const [x, y] of [[20, 20], [60, 30]] as const) expect(Math.abs((pixelAt(s, x, y) & 0xff) - 0x80)).toBeLessThanOrEqual(4);
  });
});

describe('ReceiverServer: input', () => {
  it('sends axis_source, axis_discrete and axis_stop to wthp_pointer v5 binds only, in order, before the frame', async () => {
    const { receiver, port } = await startReceiver({ seatCapabilities: 1 });
    const t = await transmitter(port);
    const g = (await t.client.globals()).find((x) => x.interface === 'wthp_seat')!;
    expect(g.version).toBeGreaterThanOrEqual(5);
    const pointer = (version: number): string[] => {
      const events: string[] = [];
      t.client.bind(WthpSeatProxy, g.name, version).getPointer().listen({
        enter: (_serial, _surface, x, y) => events.push(`enter ${x} ${y}`),
        axis: (time, axis, value) => events.push(`axis ${time} ${axis} ${value}`),
        frame: () => events.push('frame'),
        axisSource: (source) => events.push(`axis_source ${source}`),
        axisStop: (time, axis) => events.push(`axis_stop ${time} ${axis}`),
        axisDiscrete: (axis, discrete) => events.push(`axis_discrete ${axis} ${discrete}`),
      });
      return events;
    };
    const v5 = pointer(5);
    const v4 = pointer(4);
    const surface = t.compositor.createSurface();
    t.shell.getToplevel(surface);
    t.fill(surface, 4, 4, 0xff000000);
    surface.commit();
    await t.client.roundtrip();
    const s = [...receiver.scene.surfaces][0]!;
    const fb = s.owner.feedback;
    fb.pointerEnter(s, 1, 2);
    fb.pointerAxisSource(0);
    fb.pointerAxisDiscrete(0, 1);
    fb.pointerAxis(3000, 0, 10);
    fb.pointerFrame();
    fb.pointerAxisSource(3); // wheel_tilt: wthp_pointer v6, so a wheel for v5
    fb.pointerAxisStop(3010, 1);
    fb.pointerFrame();
    fb.pointerAxisSource(7); // no axis source: dropped
    await t.client.roundtrip();
    expect(v5).toEqual(['enter 1 2', 'axis_source 0', 'axis_discrete 0 1', 'axis 3000 0 10', 'frame', 'axis_source 0', 'axis_stop 3010 1', 'frame']);
    expect(v4).toEqual(['enter 1 2', 'axis 3000 0 10']);
  });
});

describe('ReceiverServer: hostile transmitters', () => {
  /** One hostile and one well-behaved transmitter; the hostile one is dropped, the other keeps its window. */
  async function hostile(
    act: (t: Awaited<ReturnType<typeof transmitter>>) => void,
    extra: Partial<ReceiverServerOptions> = {},
  ): Promise<{ error: PeerError; log: string }> {
    const { receiver, port, log } = await startReceiver(extra);
    const good = await transmitter(port);
    const gs = good.compositor.createSurface();
    good.shell.getToplevel(gs).setTitle('good');
    good.fill(gs, 4, 4, 0xff00ff00);
    gs.commit();
    await good.client.roundtrip();
    const bad = await transmitter(port);
    act(bad);
    const error = await peerError(bad.client);
    await waitFor(() => receiver.peers.length === 1, 'the hostile peer dropped');
    // Its surfaces are gone, the other transmitter's window is untouched and still served.
    const left = [...receiver.scene.surfaces];
    expect(left).toHaveLength(1);
    expect((left[0]!.role as ToplevelRole).title).toBe('good');
    await good.client.roundtrip();
    expect(good.client.isOpen).toBe(true);
    return { error, log: log.text() };
  }

  it('rejects a tile outside the surface', async () => {
    const { error, log } = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.shell.getToplevel(s);
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 8, 0, 4, 4, CODEC_SOLID, new Uint8Array(4));
    });
    expect(error.text).toMatch(/^wthp_content@\d+\.tile: wthp_surface@\d+: tile 4x4\+8\+0 is outside the 10x10 surface/);
    expect(log).toMatch(/wthp_content@\d+\.tile: .*outside the 10x10 surface/);
  });

  it('rejects raw data of the wrong length and unknown codecs', async () => {
    const short = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 0, 0, 2, 2, CODEC_RAW, new Uint8Array(15));
    });
    expect(short.error.text).toMatch(/wthp_content@\d+\.tile: .*carries 15 bytes instead of 16/);
    const codec = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 0, 0, 2, 2, 30, new Uint8Array(16));
    });
    expect(codec.error.text).toMatch(/wthp_content@\d+\.tile: .*codec 30 is not a codec this receiver announced/);
  });

  it('rejects 3-byte tiles of the wrong size or on an argb8888 buffer', async () => {
    const short = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_XRGB8888);
      t.content.tile(s, 0, 0, 2, 2, CODEC_RAW_RGB, new Uint8Array(16));
    });
    expect(short.error.text).toMatch(/wthp_content@\d+\.tile: .*raw_rgb 2x2 tile carries 16 bytes instead of 12/);
    const block = new Uint8Array(64);
    const n = lz4Compress(new Uint8Array(16).fill(3), block);
    const other = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_XRGB8888);
      t.content.tile(s, 0, 0, 2, 2, CODEC_LZ4_RGB, block.subarray(0, n));
    });
    expect(other.error.text).toMatch(/wthp_content@\d+\.tile: .*lz4_rgb 2x2 tile does not decode/);
    const large = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 200, 100, FORMAT_XRGB8888);
      t.content.tile(s, 0, 0, 200, 82, CODEC_LZ4_RGB, block.subarray(0, n));
    });
    expect(large.error.text).toMatch(/lz4_rgb tile of 200x82 decodes to 65600 bytes, more than 65535/);
    const argb = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 0, 0, 2, 2, CODEC_RAW_RGB, new Uint8Array(12));
    });
    expect(argb.error.text).toMatch(/raw_rgb tiles are for xrgb8888 buffers, this one is argb8888/);
  });

  it('rejects copy tiles whose source leaves the surface or whose data is not a source', async () => {
    const source = (x: number, y: number): Uint8Array => {
      const data = new Uint8Array(8);
      new DataView(data.buffer).setUint32(0, x, true);
      new DataView(data.buffer).setUint32(4, y, true);
      return data;
    };
    const outside = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 0, 0, 4, 4, CODEC_COPY, source(7, 0));
    });
    expect(outside.error.text).toMatch(/wthp_content@\d+\.tile: .*copy 4x4 tile does not decode: .*outside/);
    const huge = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 0, 0, 4, 4, CODEC_COPY, source(0, 0xffffffff));
    });
    expect(huge.error.text).toMatch(/copy 4x4 tile does not decode/);
    const short = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 10, 10, FORMAT_ARGB8888);
      t.content.tile(s, 0, 0, 4, 4, CODEC_COPY, new Uint8Array(7));
    });
    expect(short.error.text).toMatch(/copy tile carries 7 bytes instead of 8/);
  });

  it('rejects lossy tiles that do not decode to exactly the tile, and keeps serving the others', async () => {
    const px = new Uint8Array(16 * 16 * 4).fill(0x80);
    const jpeg = await encodeLossy(CODEC_JPEG, px, 64, 0, 0, 16, 16);
    const garbage = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.shell.getToplevel(s);
      t.content.begin(s, 32, 32, FORMAT_XRGB8888);
      t.content.tile(s, 0, 0, 16, 16, CODEC_JPEG, new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3, 4, 5]));
      s.commit();
    });
    expect(garbage.error.text).toMatch(/^wthp_content@\d+\.tile: wthp_surface@\d+: jpeg 16x16 tile does not decode/);
    expect(garbage.log).toMatch(/jpeg 16x16 tile does not decode/);
    const size = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 32, 32, FORMAT_XRGB8888);
      t.content.tile(s, 0, 0, 8, 8, CODEC_JPEG, jpeg);
    });
    expect(size.error.text).toMatch(/jpeg 8x8 tile does not decode|jpeg 8x8 tile holds a 16x16 image/);
    const wrongCodec = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 32, 32, FORMAT_XRGB8888);
      t.content.tile(s, 0, 0, 16, 16, CODEC_WEBP, jpeg);
    });
    expect(wrongCodec.error.text).toMatch(/webp 16x16 tile does not hold a webp image/);
    const outside = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.begin(s, 32, 32, FORMAT_XRGB8888);
      t.content.tile(s, 20, 20, 16, 16, CODEC_JPEG, jpeg);
    });
    expect(outside.error.text).toMatch(/tile 16x16\+20\+20 is outside the 32x32 surface/);
  });

  it('rejects lossy tiles a receiver did not announce', async () => {
    const px = new Uint8Array(16 * 16 * 4).fill(0x80);
    const jpeg = await encodeLossy(CODEC_JPEG, px, 64, 0, 0, 16, 16);
    const { error } = await hostile(
      (t) => {
        const s = t.compositor.createSurface();
        t.content.begin(s, 32, 32, FORMAT_XRGB8888);
        t.content.tile(s, 0, 0, 16, 16, CODEC_JPEG, jpeg);
      },
      { codecs: (1 << CODEC_RAW) | (1 << CODEC_SOLID) },
    );
    expect(error.text).toMatch(/jpeg is not a codec this receiver announced/);
  });

  it('rejects tiles before begin', async () => {
    const { error } = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.content.tile(s, 0, 0, 1, 1, CODEC_SOLID, new Uint8Array(4));
    });
    expect(error.text).toMatch(/wthp_content@\d+\.tile: .*tile before wthp_content.begin/);
  });

  it('rejects huge buffers and pixel memory past the per-peer limit', async () => {
    const huge = await hostile((t) => t.content.begin(t.compositor.createSurface(), 9000, 100, FORMAT_ARGB8888));
    expect(huge.error.text).toMatch(/wthp_content@\d+\.begin: .*9000x100 exceeds the limit 8192x8192/);
    expect(huge.error.errorCode).toBe(2);
    const memory = await hostile(
      (t) => {
        for (let i = 0; i < 5; i++) t.content.begin(t.compositor.createSurface(), 1000, 1000, FORMAT_ARGB8888);
      },
      { limits: { maxPixelBytes: 10_000_000 } },
    );
    expect(memory.error.text).toMatch(/limit max-pixel-mib: .*exceeds the pixel memory limit of 10000000 bytes/);
  });

  it('rejects too many surfaces', async () => {
    const { error, log } = await hostile(
      (t) => {
        for (let i = 0; i < 5; i++) t.compositor.createSurface();
      },
      { limits: { maxSurfaces: 3 } },
    );
    expect(error.text).toMatch(/^wthp_compositor@\d+\.create_surface: limit max-surfaces: more than 3 surfaces/);
    expect(log).toMatch(/wthp_compositor@\d+\.create_surface: limit max-surfaces: more than 3 surfaces/);
  });

  it('rejects a second role and too many frame callbacks', async () => {
    const role = await hostile((t) => {
      const s = t.compositor.createSurface();
      t.shell.getToplevel(s);
      t.shell.getSubsurface(s, t.compositor.createSurface());
    });
    expect(role.error.text).toMatch(/wthp_remote_shell@\d+\.get_subsurface: wthp_surface@\d+ already has the toplevel role/);
    expect(role.error.errorCode).toBe(WthpRemoteShellError.Role);
    const frames = await hostile(
      (t) => {
        const s = t.compositor.createSurface();
        for (let i = 0; i < 10; i++) s.frame();
      },
      { limits: { maxCallbacksPerSurface: 4 } },
    );
    expect(frames.error.text).toMatch(/wthp_surface@\d+\.frame: more than 4 unanswered frame callbacks/);
  });

  it('rejects a cursor surface that has another role', async () => {
    const { error } = await hostile(async (t) => {
      const g = (await t.client.globals()).find((x) => x.interface === 'wthp_seat')!;
      const pointer = t.client.bind(WthpSeatProxy, g.name, g.version).getPointer();
      const s = t.compositor.createSurface();
      t.shell.getToplevel(s);
      pointer.setCursor(0, s, 0, 0);
    });
    expect(error.text).toMatch(/wthp_pointer@\d+\.set_cursor: wthp_surface@\d+ already has the toplevel role/);
    expect(error.errorCode).toBe(WlPointerError.Role);
  });

  it('rejects a subsurface that would be its own ancestor, and ivi ids in use', async () => {
    const loop = await hostile((t) => {
      const a = t.compositor.createSurface();
      const b = t.compositor.createSurface();
      t.shell.getSubsurface(b, a);
      t.shell.getSubsurface(a, b);
    });
    expect(loop.error.text).toMatch(/get_subsurface: wthp_surface@\d+ cannot be the parent of wthp_surface@\d+/);
    const ivi = await hostile(async (t) => {
      const g = (await t.client.globals()).find((x) => x.interface === 'wthp_ivi_application')!;
      const app = t.client.bind(WthpIviApplicationProxy, g.name, 1);
      app.surfaceCreate(100, t.compositor.createSurface());
      app.surfaceCreate(100, t.compositor.createSurface());
    });
    expect(ivi.error.text).toMatch(/wthp_ivi_application@\d+\.surface_create: ivi id 100 is already in use/);
    expect(ivi.error.errorCode).toBe(WthpIviApplicationError.IviId);
  });

  it('drops a peer that names unknown objects, and logs it', async () => {
    const { receiver, port, log } = await startReceiver();
    const good = await transmitter(port);
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    await new Promise((r) => socket.once('connect', r));
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const closed = new Promise((r) => socket.once('close', r));
    const table = defaultWalthamTable();
    const commit = table.get('wthp_surface')!.requests.find((m) => m.name === 'commit')!;
    socket.write(encodeMessage(commit, 77, [], 'wthp_surface'));
    await closed;
    expect(Buffer.concat(received).toString('latin1')).toMatch(/unknown object 77/);
    expect(log.text()).toMatch(/wthp_surface@77\.commit: unknown object 77/);
    await sleep(20);
    expect(receiver.peers).toHaveLength(1);
    await good.client.roundtrip();
  });
});

describe('liveness', () => {
  it('drops a transmitter whose pings stop (powered off: no TCP close comes) and keeps one that never pinged', async () => {
    const { receiver, port, log } = await startReceiver({ deadMs: 300 });
    const gone: { name: string; reason: string | undefined }[] = [];
    receiver.on('peer-gone', (c, reason) => gone.push({ name: c.name, reason: reason?.message }));
    // Never pings: a client that only connects (the reference client does not ping).
    const quiet = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
    cleanups.push(() => quiet.destroy());
    await waitFor(() => receiver.peers.length === 1, 'the quiet client connected');
    // Pings once (globals() is a round trip), then falls silent without closing.
    const t = await transmitter(port);
    await waitFor(() => gone.length === 1, 'the silent transmitter dropped');
    expect(gone[0]!.reason).toMatch(/no sign of life/);
    expect(receiver.peers.length).toBe(1);
    expect(quiet.isOpen).toBe(true);
    await waitFor(() => !t.client.isOpen, 'the connection closed');
    expect(log.text()).toMatch(/dropped: no sign of life/);
  });

  it('keeps a transmitter whose pings stop while its other messages still come, and drops it once they stop too', async () => {
    const { receiver, port } = await startReceiver({ deadMs: 300 });
    const gone: string[] = [];
    receiver.on('peer-gone', (c) => gone.push(c.name));
    const t = await transmitter(port); // pinged once (a round trip), never again
    const sending = setInterval(() => t.compositor.createSurface(), 60);
    await sleep(1000);
    clearInterval(sending);
    expect(gone, 'dropped while its messages came (a ping may queue behind them)').toEqual([]);
    expect(t.client.isOpen).toBe(true);
    await waitFor(() => gone.length === 1, 'the silent transmitter dropped');
  });
});
