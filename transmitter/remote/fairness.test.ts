/**
 * Per-window fairness on a slow link: a window that sends big
 * frames does not go before the small ones. Real TCP to the project's
 * receiver; the order in which the receiver applies the commits shows who
 * went first.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, SceneSurface, type ToplevelRole } from '../../shared/scene/scene.js';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink } from './link.js';
import { captureLogger, full, pattern, produce, solid, TestOwner, toplevelRole, update, waitFor } from '../../shared/remote/test/fixtures.js';
import { FairShare } from './fairness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('fairness between windows', () => {
  it('a small window that changes goes out before a heavy one that changed in the same turn', async () => {
    const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    const { port } = await receiver.listen();
    cleanups.push(() => receiver.close());
    const applied: string[] = [];
    receiver.scene.on('surface', (s: SceneSurface) => s.on('commit', () => applied.push((s.role as ToplevelRole | null)?.title ?? '?')));
    const producer = new Scene();
    const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: captureLogger().logger, maxFramesInFlight: 8 });
    link.start();
    cleanups.push(() => link.stop());
    await once(link, 'connected');
    const owner = new TestOwner('apps');
    // The heavy window comes first (it would go first in creation order) and sends a lot.
    const heavy = produce(producer, owner, toplevelRole({ title: 'heavy' }), pattern(512, 512, 1));
    const small = produce(producer, owner, toplevelRole({ title: 'small' }), solid(16, 16, 0xff00ff00));
    await waitFor(() => applied.includes('heavy') && applied.includes('small'), 'both windows');
    for (let i = 2; i < 5; i++) {
      const c = pattern(512, 512, i);
      update(heavy, c, [full(c)]);
      await waitFor(() => applied.filter((t) => t === 'heavy').length >= i, 'a heavy frame');
    }
    applied.length = 0;
    const c = pattern(512, 512, 9);
    update(heavy, c, [full(c)]);
    update(small, solid(16, 16, 0xff0000ff), [{ x: 0, y: 0, width: 16, height: 16 }]);
    await waitFor(() => applied.includes('heavy') && applied.includes('small'), 'both updates');
    expect(applied.indexOf('small')).toBeLessThan(applied.indexOf('heavy'));
  });

  it('orders windows by bytes sent lately, halving each second, children kept before parents', () => {
    let now = 0;
    const fair = new FairShare(() => now);
    const owner = new TestOwner('o');
    const a = new SceneSurface(owner);
    const b = new SceneSurface(owner);
    const child = new SceneSurface(owner);
    child.role = { kind: 'subsurface', parent: a, x: 0, y: 0, sync: true };
    fair.charge(a, 1000);
    fair.charge(b, 600);
    expect(fair.order([child, a, b], (s) => s)).toEqual([[b], [child, a]]);
    now = 1000;
    expect(fair.recent(a)).toBe(500);
    fair.charge(b, 1000); // 300 + 1000
    expect(fair.order([child, a, b], (s) => s)).toEqual([[child, a], [b]]);
  });
});
