/**
 * Window management requests are not double-buffered in xdg-shell: the
 * application waits for the configure that answers xdg_toplevel.set_fullscreen
 * before it commits again. The link must therefore send them at once, also
 * while the surface's frames are in flight and unpresented (the receiver here
 * shows nothing, so nothing is ever presented).
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type ToplevelRole } from '../../shared/scene/scene.js';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink } from './link.js';
import { captureLogger, full, pattern, produce, solid, TestOwner, toplevelRole, update, waitFor } from '../../shared/remote/test/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('window state over the link', () => {
  it('fullscreen and maximized requests reach the receiver while frames wait for presentation', async () => {
    const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    const { port } = await receiver.listen();
    cleanups.push(() => receiver.close());
    const producer = new Scene();
    const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: captureLogger().logger, backoff: { initialMs: 50, maxMs: 400 } });
    link.start();
    cleanups.push(() => link.stop());
    await once(link, 'connected');

    const s = produce(producer, new TestOwner('app'), toplevelRole({ title: 'w' }), solid(64, 48, 0xffff0000));
    const remote = await waitFor(() => [...receiver.scene.surfaces].find((r) => r.role?.kind === 'toplevel' && r.content !== null), 'the window');
    // Nothing presents on the receiver: two more frames fill what may be in flight.
    for (let i = 1; i <= 3; i++) update(s, pattern(64, 48, i), [full(s.content!)]);
    await new Promise((r) => setTimeout(r, 100));

    const role = s.role as ToplevelRole;
    role.fullscreen = true;
    s.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    await waitFor(() => (remote.role as ToplevelRole).fullscreen, 'fullscreen on the receiver', 2000);
    role.fullscreen = false;
    role.maximized = true;
    s.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    await waitFor(() => (remote.role as ToplevelRole).maximized, 'maximized on the receiver', 2000);
    expect((remote.role as ToplevelRole).fullscreen).toBe(false);
  });
});
