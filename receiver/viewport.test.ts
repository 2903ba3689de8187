import { afterEach, describe, expect, it } from 'vitest';
import {
  WthpCompositorProxy,
  WthpContentProxy,
  WthpRemoteShellProxy,
  WthpViewporterProxy,
  type WthpSurfaceProxy,
} from '../shared/generated/waltham/waltham.js';
import { PeerError } from '../shared/wire/errors.js';
import { connectWaltham, type WalthamClient } from '../shared/waltham/index.js';
import { CODEC_RAW, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { captureLogger, waitFor } from '../shared/remote/test/fixtures.js';
import type { SceneSurface, ToplevelRole } from '../shared/scene/scene.js';
import { ReceiverServer, type ReceiverServerOptions } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startReceiver(extra: Partial<ReceiverServerOptions> = {}) {
  const log = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: log.logger, deadMs: 0, viewporter: true, ...extra });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  return { receiver, port, log };
}

/** A transmitter driven by hand; `viewporter` is null when the receiver does not offer it. */
async function transmitter(port: number) {
  const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const globals = await client.globals();
  const bind = <T,>(ctor: Parameters<WalthamClient['bind']>[0] & { spec: { name: string } }): T | null => {
    const g = globals.find((x) => x.interface === ctor.spec.name);
    return g === undefined ? null : (client.bind(ctor, g.name, g.version) as unknown as T);
  };
  const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy)!;
  const shell = bind<WthpRemoteShellProxy>(WthpRemoteShellProxy)!;
  const content = bind<WthpContentProxy>(WthpContentProxy)!;
  const viewporter = bind<WthpViewporterProxy>(WthpViewporterProxy);
  /** A toplevel whose w x h buffer is red on its left half, green on its right half. */
  const window = (title: string, w: number, h: number): WthpSurfaceProxy => {
    const surface = compositor.createSurface();
    shell.getToplevel(surface).setTitle(title);
    const px = new Uint32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = x < w / 2 ? 0xffff0000 : 0xff00ff00;
    content.begin(surface, w, h, FORMAT_ARGB8888);
    content.tile(surface, 0, 0, w, h, CODEC_RAW, new Uint8Array(px.buffer));
    return surface;
  };
  return { client, viewporter, window };
}

function pixelAt(s: SceneSurface, x: number, y: number): number {
  const c = s.content!;
  return new DataView(c.pixels.buffer, c.pixels.byteOffset).getUint32((y * c.width + x) * 4, true);
}

function titled(receiver: ReceiverServer, title: string): SceneSurface | undefined {
  return [...receiver.scene.surfaces].find((s) => s.role?.kind === 'toplevel' && (s.role as ToplevelRole).title === title);
}

describe('wthp_viewporter on the receiver', () => {
  it('puts the buffer as sent and its viewport on the scene surface with the commit; the view is scaled for consumers without one', async () => {
    const { receiver, port } = await startReceiver();
    const t = await transmitter(port);
    expect(t.viewporter).not.toBeNull();
    const surface = t.window('scaled', 20, 10);
    const vp = t.viewporter!.getViewport(surface);
    vp.setSource(10, 0, 10, 10); // the green half
    vp.setDestination(60, 40);
    await t.client.roundtrip();
    surface.commit();
    await t.client.roundtrip();
    const s = titled(receiver, 'scaled')!;
    expect([s.buffer!.width, s.buffer!.height]).toEqual([20, 10]);
    expect(s.viewport).toEqual({ source: { x: 10, y: 0, width: 10, height: 10 }, destination: { width: 60, height: 40 } });
    expect(s.size).toEqual({ width: 60, height: 40 });
    expect([s.content!.width, s.content!.height, pixelAt(s, 0, 0), pixelAt(s, 59, 39)]).toEqual([60, 40, 0xff00ff00, 0xff00ff00]);
    // Unset: the buffer at its own size with the next commit.
    vp.setSource(-1, -1, -1, -1);
    vp.setDestination(-1, -1);
    surface.commit();
    await t.client.roundtrip();
    expect([s.viewport, s.size]).toEqual([null, { width: 20, height: 10 }]);
  });

  it('is not offered when the local display cannot set viewports', async () => {
    const { port } = await startReceiver({ viewporter: false });
    expect((await transmitter(port)).viewporter).toBeNull();
  });

  /** A transmitter that sends `act`'s viewport is dropped with a clear error; another one keeps its window. */
  async function hostile(act: (vp: ReturnType<WthpViewporterProxy['getViewport']>) => void): Promise<{ text: string; log: string }> {
    const { receiver, port, log } = await startReceiver({ limits: { maxSurfaceWidth: 4096, maxSurfaceHeight: 4096 } });
    const good = await transmitter(port);
    good.window('good', 4, 4).commit();
    await good.client.roundtrip();
    const bad = await transmitter(port);
    const surface = bad.window('bad', 20, 10);
    act(bad.viewporter!.getViewport(surface));
    surface.commit();
    const reason = await bad.client.closed;
    expect(reason).toBeInstanceOf(PeerError);
    await waitFor(() => receiver.peers.length === 1, 'the hostile peer dropped');
    expect([...receiver.scene.surfaces].map((s) => (s.role as ToplevelRole).title)).toEqual(['good']);
    await good.client.roundtrip();
    expect(good.client.isOpen).toBe(true);
    return { text: (reason as PeerError).text, log: log.text() };
  }

  it('drops a transmitter whose source rectangle leaves the buffer, at commit', async () => {
    const { text, log } = await hostile((vp) => vp.setSource(15, 0, 10, 10));
    expect(text).toMatch(/wthp_surface@\d+\.commit: viewport of wthp_surface@\d+: source rectangle 10x10@15,0 extends outside the 20x10 surface of the buffer/);
    expect(log).toMatch(/extends outside the 20x10 surface/);
  });

  it('drops a transmitter whose destination is past the surface size limit, or not positive', async () => {
    expect((await hostile((vp) => vp.setDestination(5000, 10))).text).toMatch(/destination size 5000x10 at scale 1 exceeds the surface size limit 4096x4096/);
    expect((await hostile((vp) => vp.setDestination(0, 10))).text).toMatch(/wthp_viewport@\d+\.set_destination: destination size 0x10 is invalid/);
    expect((await hostile((vp) => vp.setSource(-1, 0, 5, 5))).text).toMatch(/wthp_viewport@\d+\.set_source: source rectangle 5x5@-1,0 is invalid/);
  });

  it('drops a transmitter with a fractional source size and no destination', async () => {
    expect((await hostile((vp) => vp.setSource(0, 0, 2.5, 3))).text).toMatch(/source size 2.5x3 is not integer and no destination size is set/);
  });
});
