/**
 * Window management requests are not double-buffered in xdg-shell: the
 * application waits for the configure that answers xdg_toplevel.set_fullscreen
 * before it commits again. The link must therefore send them at once, also
 * while the surface's frames are in flight and unpresented (the receiver here
 * shows nothing, so nothing is ever presented).
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type PopupRole, type SceneFeedback, type SceneOwner, type SceneSurface, type ToplevelRole } from '../../shared/scene/scene.js';
import type { WindowRequest } from '../../shared/scene/window-requests.js';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink } from './link.js';
import { captureLogger, full, pattern, produce, solid, TestOwner, toplevelRole, update, waitFor } from '../../shared/remote/test/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function connected() {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const producer = new Scene();
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: captureLogger().logger, backoff: { initialMs: 50, maxMs: 400 } });
  link.start();
  cleanups.push(() => link.stop());
  await once(link, 'connected');
  return { receiver, producer };
}

/** An application (producer side) whose feedback numbers button presses from 700, as a compositor's serials. */
function numberingOwner(): SceneOwner & { presses: number[] } {
  const base = new TestOwner('app');
  let next = 700;
  const owner = { name: 'app', presses: [] as number[], feedback: base.feedback };
  owner.feedback = new Proxy(base.feedback, {
    get: (t, prop, r) =>
      prop === 'pointerButton'
        ? (...args: Parameters<SceneFeedback['pointerButton']>) => {
            t.pointerButton(...args);
            owner.presses.push(next);
            return next++;
          }
        : Reflect.get(t, prop, r),
  });
  return owner;
}

function requestsOf(s: SceneSurface): WindowRequest[] {
  const seen: WindowRequest[] = [];
  s.on('request', (r) => seen.push(r));
  return seen;
}

describe('window state over the link', () => {
  it("minimize, move and resize reach the receiver's scene at once, move and resize with the receiver's serial of the press", async () => {
    const { receiver, producer } = await connected();
    const owner = numberingOwner();
    const s = produce(producer, owner, toplevelRole({ title: 'w' }), solid(64, 48, 0xff00ff00));
    const remote = await waitFor(() => [...receiver.scene.surfaces].find((r) => r.role?.kind === 'toplevel' && r.content !== null), 'the window');
    const seen = requestsOf(remote);
    // A press on the receiver: its serial there is what the receiver's feedback returns.
    const fb = remote.owner.feedback;
    fb.pointerEnter(remote, 5, 5);
    const receiverSerial = fb.pointerButton(1000, 0x110, 'pressed');
    expect(typeof receiverSerial).toBe('number');
    await waitFor(() => owner.presses.length === 1, 'the press on the application');
    const appSerial = owner.presses[0]!;

    s.request({ kind: 'minimize' });
    s.request({ kind: 'move', serial: appSerial });
    s.request({ kind: 'resize', serial: appSerial, edges: 10 });
    s.request({ kind: 'move', serial: appSerial + 1 }); // not a press the receiver made: not sent
    await waitFor(() => seen.length >= 3, 'the requests on the receiver');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([{ kind: 'minimize' }, { kind: 'move', serial: receiverSerial }, { kind: 'resize', serial: receiverSerial, edges: 10 }]);
  });

  it("carries a popup's positioner, anchor rectangle in the parent surface's coordinates, and its changes", async () => {
    const { receiver, producer } = await connected();
    const owner = new TestOwner('app');
    const main = produce(producer, owner, toplevelRole({ title: 'main' }), solid(200, 100, 0xff00ff00));
    const positioner = { width: 50, height: 40, anchorRect: { x: 190, y: 10, width: 4, height: 3 }, anchor: 8, gravity: 8, constraintAdjustment: 4 | 8, offsetX: 2, offsetY: -1 };
    const popupRole: PopupRole = { kind: 'popup', parent: main, rect: { x: 194, y: 13, width: 50, height: 40 }, grab: false, geometry: null, positioner };
    const popup = produce(producer, owner, popupRole, solid(50, 40, 0xffff8000));
    const remote = await waitFor(() => [...receiver.scene.surfaces].find((r) => r.role?.kind === 'popup' && r.content !== null), 'the popup');
    await waitFor(() => (remote.role as PopupRole).positioner !== undefined, 'the positioner');
    expect((remote.role as PopupRole).positioner).toEqual(positioner);

    popupRole.positioner = { ...positioner, anchorRect: { x: 10, y: 90, width: 1, height: 1 }, constraintAdjustment: 1 };
    popupRole.rect = { x: 11, y: 91, width: 50, height: 40 };
    popup.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    await waitFor(() => (remote.role as PopupRole).positioner?.constraintAdjustment === 1, 'the new positioner');
    expect((remote.role as PopupRole).positioner).toEqual(popupRole.positioner);
    expect((remote.role as PopupRole).rect).toEqual(popupRole.rect);
  });

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
