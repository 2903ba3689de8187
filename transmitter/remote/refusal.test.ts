/**
 * An attack: "one application maps 1,100 toplevels, or 9 windows of
 * 7680x4320: the receiver's limit drops the whole link, in a loop; every
 * other application on that transmitter disappears". With
 * wthp_surface_refusal the receiver refuses such a surface alone: the link
 * stays up and the other windows keep updating. Real TCP, the project's
 * receiver with scaled-down limits.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type SceneSurface, type ToplevelRole } from '../../shared/scene/scene.js';
import { ReceiverServer } from '../../receiver/server.js';
import type { ReceiverLimits } from '../../receiver/remote-client.js';
import { ReceiverLink } from './link.js';
import { captureLogger, full, produce, solid, TestOwner, toplevelRole, update, waitFor } from '../../shared/remote/test/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function pair(limits: Partial<ReceiverLimits>) {
  const receiverLog = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: receiverLog.logger, limits });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const producer = new Scene();
  const log = captureLogger();
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: log.logger, backoff: { initialMs: 50, maxMs: 400 } });
  let disconnects = 0;
  link.on('disconnected', () => disconnects++);
  link.start();
  cleanups.push(() => link.stop());
  await once(link, 'connected');
  return { receiver, producer, link, log, receiverLog, disconnects: () => disconnects };
}

function shown(receiver: ReceiverServer, title: string): SceneSurface | undefined {
  return [...receiver.scene.surfaces].find((s) => !s.destroyed && s.content !== null && (s.role as ToplevelRole | null)?.title === title);
}

/** `s`'s window on the receiver shows `argb` (the other application keeps updating). */
async function updates(receiver: ReceiverServer, s: SceneSurface, title: string, argb: number): Promise<void> {
  const c = solid(s.content!.width, s.content!.height, argb);
  update(s, c, [full(c)]);
  await waitFor(() => {
    const r = shown(receiver, title);
    return r !== undefined && new DataView(r.content!.pixels.buffer, r.content!.pixels.byteOffset).getUint32(0, true) === argb >>> 0;
  }, `${title} updated on the receiver`);
}

describe('a surface the receiver refuses is refused alone', () => {
  it('one application mapping more toplevels than the receiver allows: the surplus is refused, the link and the other application stay', async () => {
    const { receiver, producer, log, disconnects } = await pair({ maxSurfaces: 5 });
    const other = new TestOwner('other');
    const greedy = new TestOwner('greedy');
    const good = produce(producer, other, toplevelRole({ title: 'good' }), solid(16, 16, 0xff00ff00));
    await waitFor(() => shown(receiver, 'good'), 'the good window');
    const many = Array.from({ length: 40 }, (_, i) => produce(producer, greedy, toplevelRole({ title: `w${i}` }), solid(8, 8, 0xffff0000)));
    await waitFor(() => /refused a surface of greedy/.test(log.text()), 'a refusal');
    await updates(receiver, good, 'good', 0xff0000ff);
    expect([...receiver.scene.surfaces].filter((s) => !s.destroyed).length).toBe(5);
    expect(disconnects()).toBe(0);
    // The refused windows' frames are still answered: their application keeps its pace.
    const presented = greedy.of('presented').length;
    update(many[39]!, solid(8, 8, 0xff123456), [{ x: 0, y: 0, width: 8, height: 8 }]);
    await waitFor(() => greedy.of('presented').length > presented, 'a frame of a refused window answered');
    expect(log.text()).toMatch(/limit max-surfaces: more than 5 surfaces/);
  });

  it('a window too large (or past the pixel memory) is refused alone, the others keep updating', async () => {
    const { receiver, producer, log, receiverLog, disconnects } = await pair({ maxSurfaceWidth: 1000, maxSurfaceHeight: 1000, maxPixelBytes: 3 * 400 * 400 * 4 });
    const other = new TestOwner('other');
    const big = new TestOwner('big');
    const good = produce(producer, other, toplevelRole({ title: 'good' }), solid(16, 16, 0xff00ff00));
    await waitFor(() => shown(receiver, 'good'), 'the good window');
    produce(producer, big, toplevelRole({ title: 'huge' }), solid(1200, 10, 0xffff0000));
    for (let i = 0; i < 4; i++) produce(producer, big, toplevelRole({ title: `big${i}` }), solid(400, 400, 0xffff0000));
    await waitFor(() => (log.text().match(/refused a surface of big/g) ?? []).length >= 2, 'two refusals');
    expect(log.text()).toMatch(/limit max-surface-width: .*1200x10/);
    expect(log.text()).toMatch(/limit max-pixel-mib: /);
    expect(receiverLog.text()).toMatch(/refused alone/);
    await updates(receiver, good, 'good', 0xff0000ff);
    expect(shown(receiver, 'huge')).toBeUndefined();
    expect(disconnects()).toBe(0);
  });
});
