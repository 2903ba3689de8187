import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Scene, SceneSurface, type Content } from '../../shared/scene/scene.js';
import type { ViewportState } from '../../shared/scene/viewport.js';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink } from './link.js';
import { captureLogger, samePixels, TestOwner, toplevelRole, waitFor } from '../../shared/remote/test/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A producer scene linked to a receiver that offers wthp_viewporter or not. */
async function linked(viewporter: boolean) {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, viewporter });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const producer = new Scene();
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: captureLogger().logger, codec: 'raw', backoff: { initialMs: 50, maxMs: 400 } });
  link.start();
  cleanups.push(() => link.stop());
  await once(link, 'connected');
  return { receiver, producer, link };
}

/** w x h, red on the left half, green on the right half. */
function halves(w: number, h: number): Content {
  const px = new Uint32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = x < w / 2 ? 0xffff0000 : 0xff00ff00;
  return { width: w, height: h, format: 'argb8888', pixels: new Uint8Array(px.buffer), scale: 1, transform: 0 };
}

/** A toplevel whose 100x50 buffer is shown through `viewport`. */
function viewed(producer: Scene, viewport: ViewportState): SceneSurface {
  const s = new SceneSurface(new TestOwner('app'));
  producer.add(s);
  s.role = toplevelRole({ title: 'viewed' });
  s.setBuffer(halves(100, 50), viewport);
  s.commit({ damage: [{ x: 0, y: 0, width: 100, height: 50 }], resized: true, roleChanged: true, stackingChanged: false });
  return s;
}

function pixelAt(c: Content, x: number, y: number): number {
  return new DataView(c.pixels.buffer, c.pixels.byteOffset).getUint32((y * c.width + x) * 4, true);
}

const upscaled: ViewportState = { source: { x: 50, y: 0, width: 50, height: 50 }, destination: { width: 400, height: 300 } };

async function shown(receiver: ReceiverServer): Promise<SceneSurface> {
  return waitFor(() => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.buffer !== null), 'the window on the receiver');
}

describe('wp_viewporter over the link', () => {
  it('carried: the buffer goes at its own size with the viewport, so an upscaled surface costs its source pixels', async () => {
    const { receiver, producer, link } = await linked(true);
    const p = viewed(producer, upscaled);
    const views = vi.spyOn(p, 'content', 'get'); // asking for the view would scale the buffer here
    const s = await shown(receiver);
    await link.roundtrip();
    expect(views).not.toHaveBeenCalled();
    expect([s.buffer!.width, s.buffer!.height]).toEqual([100, 50]);
    expect(s.viewport).toEqual(upscaled);
    expect(s.size).toEqual({ width: 400, height: 300 });
    expect(link.stats().rawBytes).toBe(100 * 50 * 4);
  });

  it('carried: a change of the buffer sends its damage in buffer pixels; a new viewport alone sends no pixels', async () => {
    const { receiver, producer, link } = await linked(true);
    const p = viewed(producer, upscaled);
    const s = await shown(receiver);
    await link.roundtrip();
    s.owner.feedback.presented(s, 1); // the receiver's display showed the frame: the next may go
    const before = link.stats().rawBytes;
    const next = halves(100, 50);
    new Uint32Array(next.pixels.buffer).fill(0xff0000ff, 60 * 1, 60 * 1 + 4); // 4 pixels of row 0: (60..64, 0)
    p.setBuffer(next, upscaled);
    p.commit({ damage: [{ x: 60, y: 0, width: 4, height: 1 }], resized: false, roleChanged: false, stackingChanged: false });
    await waitFor(() => link.stats().rawBytes > before, 'the damaged tile sent');
    await link.roundtrip();
    expect(link.stats().rawBytes - before).toBeLessThan(100 * 50 * 4);
    expect(pixelAt(s.buffer!, 61, 0)).toBe(0xff0000ff);
    s.owner.feedback.presented(s, 2);
    const sent = link.stats().rawBytes;
    const other: ViewportState = { source: null, destination: { width: 200, height: 150 } };
    p.setBuffer(next, other);
    p.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: false });
    await waitFor(() => (s.viewport?.destination?.width === 200 ? true : undefined), 'the new viewport on the receiver');
    expect(link.stats().rawBytes).toBe(sent);
    expect(s.size).toEqual({ width: 200, height: 150 });
  });

  it('a downscaled surface goes scaled even to a receiver that can set viewports (fewer pixels), and carried again once upscaled', async () => {
    const { receiver, producer, link } = await linked(true);
    const small: ViewportState = { source: null, destination: { width: 30, height: 20 } };
    const p = viewed(producer, small);
    const s = await shown(receiver);
    await link.roundtrip();
    expect([s.viewport, s.buffer!.width, s.buffer!.height]).toEqual([null, 30, 20]);
    expect(link.stats().rawBytes).toBe(30 * 20 * 4);
    s.owner.feedback.presented(s, 1);
    p.setBuffer(p.buffer, upscaled);
    p.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: false });
    await waitFor(() => (s.viewport !== null ? true : undefined), 'the viewport on the receiver');
    await link.roundtrip();
    expect([s.buffer!.width, s.buffer!.height, s.size.width, s.size.height]).toEqual([100, 50, 400, 300]);
    expect(pixelAt(s.content!, 0, 0)).toBe(0xff00ff00);
    expect(link.stats().rawBytes).toBe(30 * 20 * 4 + 100 * 50 * 4);
  });

  it('carried: the buffer keeps its scale and transform; the receiver shows what the transmitter would have scaled', async () => {
    const { receiver, producer, link } = await linked(true);
    const p = new SceneSurface(new TestOwner('app'));
    producer.add(p);
    p.role = toplevelRole({ title: 'turned' });
    // 100x50 at scale 2, turned 90 degrees: a 25x50 surface, shown at 50x100.
    p.setBuffer({ ...halves(100, 50), scale: 2, transform: 1 }, { source: null, destination: { width: 50, height: 100 } });
    p.commit({ damage: [{ x: 0, y: 0, width: 100, height: 50 }], resized: true, roleChanged: true, stackingChanged: false });
    const s = await shown(receiver);
    await link.roundtrip();
    expect([s.buffer!.width, s.buffer!.height, s.buffer!.scale, s.buffer!.transform]).toEqual([100, 50, 2, 1]);
    expect(s.size).toEqual({ width: 50, height: 100 });
    expect(samePixels(s.content, p.content)).toBe(true);
  });

  it('applied: a receiver without wthp_viewporter gets the scaled view, at the destination size', async () => {
    const { receiver, producer, link } = await linked(false);
    viewed(producer, upscaled);
    const s = await shown(receiver);
    await link.roundtrip();
    expect(s.viewport).toBeNull();
    expect([s.buffer!.width, s.buffer!.height]).toEqual([400, 300]);
    expect([pixelAt(s.buffer!, 0, 0), pixelAt(s.buffer!, 399, 299)]).toEqual([0xff00ff00, 0xff00ff00]);
    expect(link.stats().rawBytes).toBe(400 * 300 * 4);
  });
});
