/**
 * One application cannot hurt the others: past a per-application
 * limit (objects, surfaces, pixels, queued bytes) that application gets
 * wl_display.error no_memory naming the limit and is disconnected; another
 * application on the same display keeps committing frames.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PeerError } from '../../shared/wire/errors.js';
import { WlDisplayError } from '../../shared/generated/wayland/index.js';
import { FakeConsumer, startDisplay, TestClient, waitFor, type TestDisplay } from './test/helpers.js';

const LIMITS = { maxObjects: 600, maxSurfaces: 40, maxPixelBytes: 3 * 256 * 256 * 4 + 1000 };

let t: TestDisplay | null = null;
const clients: TestClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  t?.close();
  t = null;
});

async function setup() {
  t = startDisplay({ limits: LIMITS });
  const consumer = new FakeConsumer(t.display, { present: true });
  const good = await TestClient.connect(t.display);
  const bad = await TestClient.connect(t.display);
  clients.push(good, bad);
  const window = await good.toplevel('good');
  const buffer = good.buffer(16, 16, () => 0xff00ff00);
  window.show(buffer);
  await good.roundtrip();
  return { display: t, consumer, good, bad, window, buffer };
}

/** The protocol error `c` was disconnected with. */
async function errorOf(c: TestClient): Promise<PeerError> {
  await waitFor(() => c.client.closed, 5000, 'the client to be disconnected');
  const reason = c.client.closeReason;
  expect(reason).toBeInstanceOf(PeerError);
  return reason as PeerError;
}

/** The good client still gets its commits through and its frame callbacks answered. */
async function goodKeepsGoing(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
  let done = 0;
  for (let i = 0; i < 3; i++) {
    s.window.surface.frame().listen({ done: () => done++ });
    s.window.show(s.buffer);
  }
  await s.good.roundtrip();
  await waitFor(() => done === 3, 5000, 'frame callbacks of the other application');
  expect(s.good.client.closed).toBe(false);
}

describe('per-application limits on the virtual display', () => {
  it('a client creating wl_surface without end gets no_memory naming max-surfaces, the others keep going', async () => {
    const s = await setup();
    for (let i = 0; i < 1000; i++) s.bad.compositor.createSurface();
    const err = await errorOf(s.bad);
    expect(err.errorCode).toBe(WlDisplayError.NoMemory);
    expect(err.message).toMatch(/limit max-surfaces: more than 40 surfaces/);
    await goodKeepsGoing(s);
    expect([...s.display.display.scene.surfaces].filter((x) => !x.destroyed)).toHaveLength(1);
  });

  it('a client creating objects without end (wl_region) is dropped at max-objects', async () => {
    const s = await setup();
    for (let i = 0; i < 5000; i++) s.bad.compositor.createRegion();
    const err = await errorOf(s.bad);
    expect(err.errorCode).toBe(WlDisplayError.NoMemory);
    expect(err.message).toMatch(/more than 600 objects/);
    await goodKeepsGoing(s);
  });

  it('a client whose buffers pass its pixel memory is dropped at max-pixel-mib', async () => {
    const s = await setup();
    // Three 256x256 buffers fit; the fourth does not.
    let shown = 0;
    try {
      for (let i = 0; i < 4; i++) {
        const w = await s.bad.toplevel(`big ${i}`);
        w.show(s.bad.buffer(256, 256, () => 0xffff0000));
        await s.bad.roundtrip();
        shown++;
      }
    } catch {
      // disconnected: the roundtrip fails with the error
    }
    expect(shown).toBe(3);
    const err = await errorOf(s.bad);
    expect(err.errorCode).toBe(WlDisplayError.NoMemory);
    expect(err.message).toMatch(/limit max-pixel-mib: a 256x256 buffer/);
    await goodKeepsGoing(s);
  });
});
