import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, SceneSurface, type PopupRole, type SubsurfaceRole, type ToplevelRole } from '../../shared/scene/scene.js';
import { ReceiverServer } from '../../receiver/server.js';
import type { RemoteClient } from '../../receiver/remote-client.js';
import { ReceiverLink, type ReceiverLinkOptions } from './link.js';
import type { OutputInfo } from '../../shared/scene/output.js';
import {
  captureLogger,
  full,
  paintRect,
  pattern,
  produce,
  samePixels,
  sleep,
  solid,
  TestOwner,
  toplevelRole,
  update,
  waitFor,
} from '../../shared/remote/test/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startReceiver(port = 0): Promise<{ receiver: ReceiverServer; port: number; log: ReturnType<typeof captureLogger> }> {
  const log = captureLogger();
  const receiver = new ReceiverServer({ host: '127.0.0.1', port, logger: log.logger });
  const addr = await receiver.listen();
  cleanups.push(() => receiver.close());
  return { receiver, port: addr.port, log };
}

function startLink(port: number, scene: Scene, extra: Partial<ReceiverLinkOptions> = {}): { link: ReceiverLink; log: ReturnType<typeof captureLogger> } {
  const log = captureLogger();
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene, logger: log.logger, backoff: { initialMs: 50, maxMs: 400 }, ...extra });
  link.start();
  cleanups.push(() => link.stop());
  return { link, log };
}

async function connectedPair(extra: Partial<ReceiverLinkOptions> = {}) {
  const r = await startReceiver();
  const producer = new Scene();
  const owner = new TestOwner('app');
  const { link, log } = startLink(r.port, producer, extra);
  await once(link, 'connected');
  return { ...r, producer, owner, link, linkLog: log };
}

function remoteToplevel(scene: Scene, title: string): SceneSurface | undefined {
  return [...scene.surfaces].find((s) => s.role?.kind === 'toplevel' && s.role.title === title && s.content !== null);
}

/** A role without its parent surface (replaced by whether it has one), for cheap comparisons. */
function roleFields(s: SceneSurface): Record<string, unknown> {
  const { parent, ...rest } = s.role as unknown as Record<string, unknown>;
  return { ...rest, parent: parent !== null && parent !== undefined };
}

/** Surfaces by identity in comparisons: `surface #id`. */
function label(v: unknown): unknown {
  return v instanceof SceneSurface ? `surface #${v.id}` : v;
}

/** The receiver-side owner (one per transmitter) of a remote surface. */
function feedbackOf(s: SceneSurface) {
  return s.owner.feedback;
}

describe('ReceiverLink to ReceiverServer', () => {
  it('shows a toplevel with its title, app_id, window state and exact pixels', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const parent = produce(producer, owner, toplevelRole({ title: 'main', appId: 'org.example.main' }), solid(40, 30, 0xff102030));
    const content = pattern(333, 129, 3);
    produce(
      producer,
      owner,
      toplevelRole({
        title: 'Navigation',
        appId: 'org.example.nav',
        parent,
        minSize: { width: 100, height: 50 },
        maxSize: { width: 1000, height: 800 },
        geometry: { x: 4, y: 5, width: 320, height: 120 },
        maximized: true,
      }),
      content,
    );
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'Navigation'), 'the toplevel on the receiver');
    const role = remote.role as ToplevelRole;
    expect(role.appId).toBe('org.example.nav');
    expect(role.minSize).toEqual({ width: 100, height: 50 });
    expect(role.maxSize).toEqual({ width: 1000, height: 800 });
    expect(role.geometry).toEqual({ x: 4, y: 5, width: 320, height: 120 });
    expect(role.maximized).toBe(true);
    expect(role.fullscreen).toBe(false);
    expect(role.parent).toBe(remoteToplevel(receiver.scene, 'main'));
    expect(samePixels(remote.content, content)).toBe(true);
    expect(remote.content!.format).toBe('argb8888');
    expect(remote.owner).not.toBe(owner);
  });

  it('sends damage updates, and only the tiles that changed', async () => {
    const { receiver, producer, owner, link } = await connectedPair();
    const first = pattern(256, 256, 1);
    const s = produce(producer, owner, toplevelRole({ title: 'w' }), first);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    feedbackOf(remote).presented(remote, 1);
    await waitFor(() => owner.of('presented').length > 0, 'presented');
    const commits: { damage: readonly unknown[] }[] = [];
    remote.on('commit', (info) => commits.push(info));
    const before = link.stats();

    // The client damages everything but changes one 10x10 square.
    const second = paintRect(first, { x: 70, y: 130, width: 10, height: 10 }, 0xffff0000);
    update(s, second, [full(second)]);
    await waitFor(() => samePixels(remote.content, second), 'the new pixels');
    const after = link.stats();
    expect(after.tiles - before.tiles).toBe(1);
    expect(after.unchangedTiles - before.unchangedTiles).toBe(15);
    // The grid tile that changed, cut down to its changed rows.
    expect(commits.at(-1)!.damage).toEqual([{ x: 64, y: 130, width: 64, height: 10 }]);
  });

  it('places popups and subsurfaces with their position, stacking and sync mode', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const main = produce(producer, owner, toplevelRole({ title: 'main' }), solid(200, 100, 0xff00ff00));
    const below = new SceneSurface(owner);
    const above = new SceneSurface(owner);
    producer.add(below);
    producer.add(above);
    below.role = { kind: 'subsurface', parent: main, x: -5, y: 7, sync: true };
    above.role = { kind: 'subsurface', parent: main, x: 30, y: 40, sync: false };
    below.content = solid(20, 20, 0xff0000ff);
    above.content = pattern(25, 15, 9);
    main.stack = [below, main, above];
    below.commit({ damage: [full(below.content)], resized: true, roleChanged: true, stackingChanged: false });
    above.commit({ damage: [full(above.content)], resized: true, roleChanged: true, stackingChanged: false });
    main.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
    const popupContent = pattern(50, 80, 4);
    produce(
      producer,
      owner,
      { kind: 'popup', parent: main, rect: { x: 10, y: 20, width: 46, height: 74 }, grab: true, geometry: { x: 2, y: 3, width: 46, height: 74 } },
      popupContent,
    );

    const rmain = await waitFor(() => remoteToplevel(receiver.scene, 'main'), 'main');
    const kids = await waitFor(() => (rmain.stack.length === 3 && rmain.stack.every((s) => s.content !== null) ? rmain.stack : null), 'the stack');
    const [rbelow, rself, rabove] = kids as [SceneSurface, SceneSurface, SceneSurface];
    expect(rself).toBe(rmain);
    // Compare parents by identity: a deep comparison would walk whole surfaces.
    expect(roleFields(rbelow)).toEqual({ kind: 'subsurface', parent: true, x: -5, y: 7, sync: true });
    expect(roleFields(rabove)).toEqual({ kind: 'subsurface', parent: true, x: 30, y: 40, sync: false });
    expect((rbelow.role as SubsurfaceRole).parent).toBe(rmain);
    expect(samePixels(rabove.content, above.content)).toBe(true);
    const rpopup = await waitFor(() => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'popup' && s.content !== null), 'the popup');
    expect((rpopup.role as PopupRole).parent).toBe(rmain);
    await waitFor(() => (rpopup.role as PopupRole).geometry !== undefined, 'the popup window geometry');
    expect(roleFields(rpopup)).toEqual({
      kind: 'popup',
      parent: true,
      rect: { x: 10, y: 20, width: 46, height: 74 },
      grab: true,
      geometry: { x: 2, y: 3, width: 46, height: 74 },
    });
    expect(samePixels(rpopup.content, popupContent)).toBe(true);

    // Move a subsurface and restack: both are state of the parent's commit.
    (above.role as SubsurfaceRole).x = 60;
    main.stack = [main, above, below];
    main.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
    await waitFor(() => rmain.stack[0] === rmain && rmain.stack[1] === rabove && rmain.stack[2] === rbelow, 'the new stacking order');
    await waitFor(() => (rabove.role as SubsurfaceRole).x === 60, 'the new position');
    // A popup moves with reposition.
    const popup = [...producer.surfaces].find((s) => s.role?.kind === 'popup')!;
    (popup.role as PopupRole).rect = { x: 15, y: 25, width: 46, height: 74 };
    (popup.role as PopupRole).geometry = null;
    popup.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    await waitFor(() => (rpopup.role as PopupRole).rect.x === 15, 'the popup moved');
    expect((rpopup.role as PopupRole).geometry).toBeNull();
  });

  it('shows the application cursor while the pointer is on its surface', async () => {
    const { receiver, producer, owner } = await connectedPair();
    produce(producer, owner, toplevelRole({ title: 'w' }), solid(64, 64, 0xffffffff));
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    const peerOwner = remote.owner;
    feedbackOf(remote).pointerEnter(remote, 3, 4);
    await waitFor(() => owner.of('pointerEnter').length > 0, 'pointer enter');
    const cursorContent = pattern(24, 24, 7);
    const cursor = new SceneSurface(owner);
    producer.add(cursor);
    cursor.role = { kind: 'cursor', hotspotX: 5, hotspotY: 6 };
    cursor.content = cursorContent;
    cursor.commit({ damage: [full(cursorContent)], resized: true, roleChanged: true, stackingChanged: false });
    producer.setCursor(owner, cursor);
    const rcursor = await waitFor(() => {
      const c = receiver.scene.cursors.get(peerOwner);
      return c !== null && c !== undefined && c.content !== null ? c : null;
    }, 'the cursor on the receiver');
    expect(rcursor.role).toEqual({ kind: 'cursor', hotspotX: 5, hotspotY: 6 });
    expect(samePixels(rcursor.content, cursorContent)).toBe(true);
    // A new hotspot is sent again; hiding the cursor reaches the receiver too.
    (cursor.role as { hotspotX: number }).hotspotX = 9;
    cursor.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    await waitFor(() => (rcursor.role as { hotspotX: number }).hotspotX === 9, 'the new hotspot');
    producer.setCursor(owner, null);
    await waitFor(() => receiver.scene.cursors.get(peerOwner) === null, 'the hidden cursor');
  });

  it('delivers input from the receiver to the surface it happened on, with the same coordinates', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const other = new TestOwner('other app');
    const a = produce(producer, owner, toplevelRole({ title: 'a' }), solid(100, 100, 0xff000000));
    const b = produce(producer, other, toplevelRole({ title: 'b' }), solid(100, 100, 0xff000000));
    const ra = await waitFor(() => remoteToplevel(receiver.scene, 'a'), 'a');
    const rb = await waitFor(() => remoteToplevel(receiver.scene, 'b'), 'b');
    const fb = feedbackOf(ra);
    expect(feedbackOf(rb)).toBe(fb); // one owner per transmitter on the receiver

    fb.pointerEnter(ra, 10.5, 20.25);
    fb.pointerMotion(1000, 11.75, 21.5);
    fb.pointerButton(1001, 0x110, 'pressed');
    fb.pointerAxis(1002, 0, -7.5);
    fb.pointerFrame();
    fb.pointerLeave(ra);
    fb.pointerEnter(rb, 1, 2);
    fb.keyboardEnter(ra, [30, 31]);
    fb.modifiers(1, 2, 3, 0);
    fb.key(1003, 30, 'pressed');
    fb.key(1004, 30, 'released');
    fb.keyboardLeave(ra);
    fb.touchDown(rb, 1005, 3, 40.5, 50.5);
    fb.touchMotion(1006, 3, 41, 51);
    fb.touchUp(1007, 3);
    fb.touchFrame();
    await waitFor(() => other.of('touchFrame').length > 0, 'the touch frame');
    const names = (o: TestOwner) => o.calls.filter((c) => c.name !== 'presented').map((c) => [c.name, ...c.args.map(label)]);
    expect(names(owner)).toEqual([
      ['pointerEnter', label(a), 10.5, 20.25],
      ['pointerMotion', 1000, 11.75, 21.5],
      ['pointerButton', 1001, 0x110, 'pressed'],
      ['pointerAxis', 1002, 0, -7.5],
      ['pointerFrame'],
      ['pointerLeave', label(a)],
      ['keyboardEnter', label(a), [30, 31]],
      ['modifiers', 1, 2, 3, 0],
      ['key', 1003, 30, 'pressed'],
      ['key', 1004, 30, 'released'],
      ['keyboardLeave', label(a)],
    ]);
    expect(names(other)).toEqual([
      ['pointerEnter', label(b), 1, 2],
      ['touchDown', label(b), 1005, 3, 40.5, 50.5],
      ['touchMotion', 1006, 3, 41, 51],
      ['touchUp', 1007, 3],
      ['touchFrame'],
    ]);
  });

  it('carries wheel steps with their axis source, discrete steps and axis stop, in order and within their frame', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const a = produce(producer, owner, toplevelRole({ title: 'a' }), solid(100, 100, 0xff000000));
    const ra = await waitFor(() => remoteToplevel(receiver.scene, 'a'), 'a');
    const fb = feedbackOf(ra);
    fb.pointerEnter(ra, 5, 6);
    fb.pointerFrame();
    fb.pointerAxisSource(0);
    fb.pointerAxisDiscrete(0, -1);
    fb.pointerAxis(2000, 0, -10);
    fb.pointerFrame();
    fb.pointerAxisSource(1);
    fb.pointerAxisStop(2010, 1);
    fb.pointerFrame();
    await waitFor(() => owner.of('pointerFrame').length === 3, 'the third pointer frame');
    const names = owner.calls.filter((c) => c.name !== 'presented').map((c) => [c.name, ...c.args.map(label)]);
    expect(names).toEqual([
      ['pointerEnter', label(a), 5, 6],
      ['pointerFrame'],
      ['pointerAxisSource', 0],
      ['pointerAxisDiscrete', 0, -1],
      ['pointerAxis', 2000, 0, -10],
      ['pointerFrame'],
      ['pointerAxisSource', 1],
      ['pointerAxisStop', 2010, 1],
      ['pointerFrame'],
    ]);
  });

  it('survives a producer whose feedback throws', async () => {
    const { receiver, producer, owner, link, linkLog } = await connectedPair();
    produce(producer, owner, toplevelRole({ title: 'w' }), solid(10, 10, 0xff000000));
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    const fb = owner.feedback as { pointerEnter: (...a: unknown[]) => void };
    fb.pointerEnter = () => {
      throw new Error('application gone wrong');
    };
    feedbackOf(remote).pointerEnter(remote, 1, 1);
    feedbackOf(remote).pointerMotion(5, 2, 2);
    await waitFor(() => owner.of('pointerMotion').length > 0, 'the next event');
    expect(link.connected).toBe(true);
    expect(linkLog.text()).toMatch(/feedback pointerEnter failed: application gone wrong/);
  });

  it('delivers a 70 KB keymap intact, and the repeat rate, before keyboard focus', async () => {
    const { receiver, producer, owner } = await connectedPair();
    produce(producer, owner, toplevelRole({ title: 'w' }), solid(10, 10, 0xff000000));
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    let keymap = 'xkb_keymap {\n';
    for (let i = 0; keymap.length < 70_000; i++) keymap += `  key <K${i}> { [ U${(0x400 + (i % 200)).toString(16)}, é${i} ] };\n`;
    keymap += '};\n';
    expect(Buffer.byteLength(keymap)).toBeGreaterThan(70_000);
    const fb = feedbackOf(remote);
    fb.keymap(keymap);
    fb.repeatInfo(33, 500);
    fb.keyboardEnter(remote, []);
    await waitFor(() => owner.of('keyboardEnter').length > 0, 'keyboard enter');
    const names = owner.calls.map((c) => c.name).filter((n) => n !== 'presented');
    expect(names).toEqual(['keymap', 'repeatInfo', 'keyboardEnter']);
    expect(owner.of('keymap')[0]!.args[0]).toBe(keymap);
    expect(owner.of('repeatInfo')[0]!.args).toEqual([33, 500]);
  });

  it('answers frame callbacks when the receiver presents, with a bounded number of frames in flight', async () => {
    const { receiver, producer, owner, link } = await connectedPair();
    let content = pattern(128, 64, 1);
    const s = produce(producer, owner, toplevelRole({ title: 'w' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    let receiverCommits = 0;
    remote.on('commit', () => receiverCommits++);
    expect(owner.of('presented')).toHaveLength(0);
    feedbackOf(remote).presented(remote, 4242);
    await waitFor(() => owner.of('presented').length === 1, 'presented');
    expect(owner.of('presented')[0]!.args.map(label)).toEqual([label(s), 4242]);

    // Ten commits without presentation: two go out, the rest wait and merge.
    for (let i = 0; i < 10; i++) {
      content = paintRect(content, { x: i * 10, y: i * 5, width: 8, height: 4 }, 0xff000000 + i);
      update(s, content, [{ x: i * 10, y: i * 5, width: 8, height: 4 }]);
      await sleep(5);
    }
    await link.roundtrip(); // the receiver has handled all that was sent
    expect(receiverCommits).toBe(2);
    expect(link.stats().commitsCoalesced).toBeGreaterThan(0);
    expect(owner.of('presented')).toHaveLength(1);
    // Presenting frees the slots: the newest state goes out with the union of the damage, and the
    // application, which committed meanwhile, is answered at the receiver's pace.
    feedbackOf(remote).presented(remote, 5000);
    await waitFor(() => samePixels(remote.content, content), 'the newest pixels');
    expect(receiverCommits).toBe(3);
    await waitFor(() => owner.of('presented').length === 2, 'the second presentation');
    expect(owner.of('presented')[1]!.args.map(label)).toEqual([label(s), 5000]);
    feedbackOf(remote).presented(remote, 6000);
    await waitFor(() => owner.of('presented').length === 3, 'the third presentation');
    expect(owner.of('presented')[2]!.args.map(label)).toEqual([label(s), 6000]);
  });

  it('passes configure, close and popup events to the producer', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const main = produce(producer, owner, toplevelRole({ title: 'main' }), solid(20, 20, 0xff000000));
    const popup = produce(producer, owner, { kind: 'popup', parent: main, rect: { x: 1, y: 2, width: 3, height: 4 }, grab: false }, solid(3, 4, 0xff000000));
    const rmain = await waitFor(() => remoteToplevel(receiver.scene, 'main'), 'main');
    const rpopup = await waitFor(() => [...receiver.scene.surfaces].find((s) => s.role?.kind === 'popup'), 'the popup');
    const fb = feedbackOf(rmain);
    fb.configure(rmain, 800, 600, ['activated', 'maximized']);
    fb.popupConfigure(rpopup, { x: 5, y: 6, width: 7, height: 8 });
    fb.popupDone(rpopup);
    fb.close(rmain);
    await waitFor(() => owner.of('close').length > 0, 'close');
    expect(owner.of('configure')[0]!.args.map(label)).toEqual([label(main), 800, 600, ['maximized', 'activated']]);
    expect(owner.of('popupConfigure')[0]!.args.map(label)).toEqual([label(popup), { x: 5, y: 6, width: 7, height: 8 }]);
    expect(owner.of('popupDone')[0]!.args.map(label)).toEqual([label(popup)]);
    expect(owner.of('close')[0]!.args.map(label)).toEqual([label(main)]);
  });

  it("reports the receiver's output", async () => {
    const r = await startReceiver();
    const info: OutputInfo = { name: '', description: '', x: 0, y: 0, physicalWidth: 310, physicalHeight: 170, subpixel: 1, make: 'Acme', model: 'Cluster', transform: 0, width: 1280, height: 480, refresh: 59940, scale: 2 };
    r.receiver.setOutput(info);
    const { link } = startLink(r.port, new Scene());
    const [first] = (await once(link, 'output')) as [OutputInfo];
    expect(first).toEqual(info);
    const changed = { ...info, width: 1920, height: 720 };
    const next = once(link, 'output');
    r.receiver.setOutput(changed);
    expect((await next)[0]).toEqual(changed);
  });

  it('reconnects with backoff after the receiver dies and sends the whole scene again', async () => {
    const first = await startReceiver();
    const producer = new Scene();
    const owner = new TestOwner('app');
    const { link, log } = startLink(first.port, producer);
    await once(link, 'connected');
    const content = pattern(90, 70, 5);
    const s = produce(producer, owner, toplevelRole({ title: 'kept', appId: 'org.example.kept' }), content);
    const sub = new SceneSurface(owner);
    producer.add(sub);
    sub.role = { kind: 'subsurface', parent: s, x: 3, y: 4, sync: false };
    sub.content = solid(10, 10, 0xff123456);
    s.stack = [s, sub];
    sub.commit({ damage: [full(sub.content)], resized: true, roleChanged: true, stackingChanged: false });
    s.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: true });
    await waitFor(() => remoteToplevel(first.receiver.scene, 'kept'), 'the window on the first receiver');

    // The receiver process dies: its sockets are gone without a goodbye.
    const disconnected = once(link, 'disconnected');
    for (const peer of first.receiver.waltham.peers) peer.destroy();
    await first.receiver.close();
    await disconnected;
    expect(link.connected).toBe(false);
    // The frame in flight is answered although the receiver never presented it...
    const presentedS = (): number => owner.of('presented').filter((c) => c.args[0] === s).length;
    expect(presentedS()).toBe(0);
    await waitFor(() => presentedS() === 1, 'the frame callback of the frame in flight');
    // ...and the application goes on drawing, with frame callbacks.
    const newer = paintRect(content, { x: 0, y: 0, width: 30, height: 30 }, 0xffabcdef);
    update(s, newer, [{ x: 0, y: 0, width: 30, height: 30 }]);
    await waitFor(() => presentedS() === 2, 'frame callbacks while disconnected');
    await waitFor(() => /receiver 127\.0\.0\.1:\d+: connection lost/.test(log.text()), 'the loss in the log');

    const second = await startReceiver(first.port);
    await once(link, 'connected');
    const remote = await waitFor(() => remoteToplevel(second.receiver.scene, 'kept'), 'the window on the new receiver');
    expect(samePixels(remote.content, newer)).toBe(true);
    expect((remote.role as ToplevelRole).appId).toBe('org.example.kept');
    const rsub = await waitFor(() => (remote.stack.length === 2 && remote.stack[1]!.content !== null ? remote.stack[1] : null), 'the subsurface');
    expect(roleFields(rsub)).toEqual({ kind: 'subsurface', parent: true, x: 3, y: 4, sync: false });
    expect((rsub.role as SubsurfaceRole).parent).toBe(remote);
    expect(link.stats().connects).toBe(2);
  });

  it('keeps retrying while no receiver listens, with growing delays', async () => {
    const r = await startReceiver();
    const port = r.port;
    await r.receiver.close();
    const { link, log } = startLink(port, new Scene(), { backoff: { initialMs: 20, maxMs: 160 } });
    const retries = (): number[] => [...log.text().matchAll(/retrying in (\d+) ms/g)].map((m) => Number(m[1]));
    await waitFor(() => retries().length >= 5, 'five retries');
    expect(link.connected).toBe(false);
    const delays = retries();
    expect(delays.length).toBeGreaterThanOrEqual(4);
    expect(delays[0]!).toBeLessThanOrEqual(25);
    expect(Math.max(...delays)).toBeGreaterThan(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(200);
    const again = await startReceiver(port);
    await once(link, 'connected');
    expect(again.receiver.peers).toHaveLength(1);
  });

  it('stops at once while a connection attempt waits for the handshake, and logs no failure', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const sockets: net.Socket[] = [];
    silent.on('connection', (sock) => sockets.push(sock.resume())); // reads (and so sees our close), never writes
    cleanups.push(() => new Promise<void>((r) => {
      for (const sock of sockets) sock.destroy();
      silent.close(() => r());
    }));
    const port = (silent.address() as net.AddressInfo).port;
    const { link, log } = startLink(port, new Scene(), { connectTimeoutMs: 5000 });
    await waitFor(() => sockets.length === 1, 'the connection');
    const dropped = once(sockets[0]!, 'close');
    const started = performance.now();
    await link.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    await dropped;
    expect(log.text()).not.toMatch(/handshake failed|cannot connect/);
  });

  it('stops within the grace given when the receiver does not close its side', async () => {
    const { receiver, port } = await startReceiver();
    const { link } = startLink(port, new Scene());
    await once(link, 'connected');
    // The receiver's host hangs: it never reads our end, so never closes its side.
    const [peer] = [...receiver.waltham.peers];
    peer!.stream.pause();
    cleanups.push(() => peer!.destroy());
    const started = performance.now();
    await link.stop({ graceMs: 100 });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(90);
    expect(took).toBeLessThan(1000);
    expect(link.connected).toBe(false);
  });

  it('takes a receiver that stopped answering for gone, and reconnects', async () => {
    const { receiver, port } = await startReceiver();
    const { link, log } = startLink(port, new Scene(), { liveness: { pingMs: 30, deadMs: 300 } });
    await once(link, 'connected');
    // The receiver's host hangs: its socket neither reads nor closes.
    const [peer] = [...receiver.waltham.peers];
    peer!.stream.pause();
    await once(link, 'disconnected');
    expect(log.text()).toMatch(/no answer for 300 ms/);
    peer!.destroy();
    await once(link, 'connected');
    expect(link.stats().connects).toBe(2);
  });

  it('gives up on a listener that never speaks Waltham, and retries', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const sockets: net.Socket[] = [];
    silent.on('connection', (sock) => sockets.push(sock));
    cleanups.push(() => new Promise<void>((r) => {
      for (const sock of sockets) sock.destroy();
      silent.close(() => r());
    }));
    const port = (silent.address() as net.AddressInfo).port;
    const { link, log } = startLink(port, new Scene(), { connectTimeoutMs: 100 });
    await waitFor(() => sockets.length >= 2, 'a second attempt');
    expect(link.connected).toBe(false);
    expect(log.text()).toMatch(/handshake failed \(no answer from the receiver\); retrying in \d+ ms/);
  });

  it('sends ivi surfaces with their ivi id, and passes their configure back', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const content = pattern(40, 30, 8);
    const s = produce(producer, owner, { kind: 'ivi', iviId: 4242 }, content);
    const remote = await waitFor(() => [...receiver.scene.surfaces].find((x) => x.role?.kind === 'ivi' && x.content !== null), 'the ivi surface');
    expect(remote.role).toEqual({ kind: 'ivi', iviId: 4242 });
    expect(samePixels(remote.content, content)).toBe(true);
    feedbackOf(remote).configure(remote, 1280, 720, []);
    await waitFor(() => owner.of('configure').length > 0, 'configure');
    expect(owner.of('configure')[0]!.args.map(label)).toEqual([label(s), 1280, 720, []]);
  });

  it('serves two transmitters; when one goes away only its surfaces vanish', async () => {
    const { receiver, port } = await startReceiver();
    const sceneA = new Scene();
    const sceneB = new Scene();
    const linkA = startLink(port, sceneA).link;
    const linkB = startLink(port, sceneB).link;
    await Promise.all([once(linkA, 'connected'), once(linkB, 'connected')]);
    produce(sceneA, new TestOwner('a'), toplevelRole({ title: 'from A' }), solid(10, 10, 0xff0000ff));
    const pb = pattern(30, 20, 2);
    produce(sceneB, new TestOwner('b'), toplevelRole({ title: 'from B' }), pb);
    const ra = await waitFor(() => remoteToplevel(receiver.scene, 'from A'), 'A');
    const rb = await waitFor(() => remoteToplevel(receiver.scene, 'from B'), 'B');
    expect(ra.owner).not.toBe(rb.owner);
    const gone = once(receiver, 'peer-gone');
    await linkA.stop();
    await gone;
    expect(ra.destroyed).toBe(true);
    expect(receiver.scene.surfaces.has(ra)).toBe(false);
    expect(rb.destroyed).toBe(false);
    expect(samePixels(rb.content, pb)).toBe(true);
    expect(receiver.peers).toHaveLength(1);
  });

  it('routes by app_id: other applications stay away, and follow app_id changes', async () => {
    const { receiver, producer, link } = await connectedPair({ filter: (root) => root.appId === 'org.example.nav' });
    const nav = produce(producer, new TestOwner('nav'), toplevelRole({ title: 'nav', appId: 'org.example.nav' }), solid(10, 10, 0xff00ff00));
    const other = produce(producer, new TestOwner('music'), toplevelRole({ title: 'music', appId: 'org.example.music' }), solid(10, 10, 0xffff0000));
    const otherSub = new SceneSurface(other.owner);
    producer.add(otherSub);
    otherSub.role = { kind: 'subsurface', parent: other, x: 0, y: 0, sync: false };
    otherSub.content = solid(5, 5, 0xff000000);
    otherSub.commit({ damage: [], resized: true, roleChanged: true, stackingChanged: false });
    await waitFor(() => remoteToplevel(receiver.scene, 'nav'), 'nav');
    await link.roundtrip(); // whatever else was sent has arrived
    expect([...receiver.scene.surfaces].map((s) => (s.role as ToplevelRole | null)?.title)).toEqual(['nav']);
    // Surfaces routed elsewhere must not look shown to the virtual display (it waits for presented on those).
    expect(nav.listenerCount('commit')).toBe(1);
    expect(other.listenerCount('commit')).toBe(0);
    expect(otherSub.listenerCount('commit')).toBe(0);
    // The music player changes its app_id to the routed one: it appears, with its subsurface.
    (other.role as ToplevelRole).appId = 'org.example.nav';
    other.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    const rother = await waitFor(() => remoteToplevel(receiver.scene, 'music'), 'music');
    await waitFor(() => [...receiver.scene.surfaces].some((s) => s.role?.kind === 'subsurface' && s.role.parent === rother), 'its subsurface');
    // And leaves again.
    (other.role as ToplevelRole).appId = 'org.example.music';
    other.commit({ damage: [], resized: false, roleChanged: true, stackingChanged: false });
    await waitFor(() => receiver.scene.surfaces.size === 1, 'only nav left');
    expect(remoteToplevel(receiver.scene, 'nav')).toBeDefined();
  });

  it('unmaps and destroys remote surfaces with the producer', async () => {
    const { receiver, producer, owner } = await connectedPair();
    const content = solid(16, 16, 0xff445566);
    const s = produce(producer, owner, toplevelRole({ title: 'w' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    s.content = null;
    s.commit({ damage: [], resized: true, roleChanged: false, stackingChanged: false });
    await waitFor(() => remote.content === null, 'unmapped');
    expect(remote.destroyed).toBe(false);
    update(s, content, [full(content)]);
    await waitFor(() => samePixels(remote.content, content), 'mapped again');
    s.destroy();
    await waitFor(() => remote.destroyed, 'destroyed');
    expect(receiver.scene.surfaces.size).toBe(0);
  });

  it('cleans what the wire cannot carry instead of failing', async () => {
    const { receiver, producer, owner, link } = await connectedPair();
    produce(producer, owner, toplevelRole({ title: 'nul\0title', appId: 'x', minSize: { width: 10.7, height: 2 ** 40 } }), solid(4, 4, 0xff000000));
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'nultitle'), 'the window');
    expect((remote.role as ToplevelRole).minSize).toEqual({ width: 10, height: 0x7fffffff });
    expect(link.stats().connects).toBe(1);
  });

  it('sends raw tiles only when asked to', async () => {
    const { receiver, producer, owner, link } = await connectedPair({ codec: 'raw' });
    const content = pattern(128, 128, 6);
    produce(producer, owner, toplevelRole({ title: 'w' }), content);
    const remote = await waitFor(() => remoteToplevel(receiver.scene, 'w'), 'the window');
    expect(samePixels(remote.content, content)).toBe(true);
    // pattern() is compressible: with lz4 the wire bytes would be far below the raw bytes.
    const st = link.stats();
    expect(st.wireBytes).toBeGreaterThanOrEqual(st.rawBytes);
  });
});

export type { RemoteClient };
