/**
 * Every client of the survey (../shared/wayland-client-survey.md, section 1)
 * starts on the transmitter's virtual display and shows at least one frame
 * on the receiving compositor: a visible window whose area in a screenshot
 * is not just the desktop background (see `checkFrame`). Plus, on a receiver
 * with a seat: a popup (the terminal's right-click menu), and subsurfaces
 * laid out exactly as when the same client is shown directly.
 *
 * The receiving weston of the first group is headless and so has no seat;
 * foot, which refuses to start without a wl_seat, runs there anyway because
 * the virtual display always offers its own seat. The second group uses
 * weston's x11 backend in Xvfb, which has a real seat.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter, type Receiver, type Transmitter } from './bridge.js';
import { diffCount, missingBinaries, skipUnless, spawnProcess, startWeston, waitFor, type View, type Weston } from './harness/index.js';
import { Cleanup, checkFrame, isWindowView, logTails, unionRect, waitForFrame } from './scenario.js';

const QT_CALCULATOR = '/usr/lib/x86_64-linux-gnu/qt5/examples/widgets/widgets/calculator/calculator';

interface Client {
  readonly name: string;
  readonly command: readonly string[];
  /** The app_id the client sets (as weston's scene graph shows it). */
  readonly appId: string;
  readonly env?: Readonly<Record<string, string>>;
}

const CLIENTS: readonly Client[] = [
  { name: 'weston-simple-shm', command: ['weston-simple-shm'], appId: 'org.freedesktop.weston.simple-shm' },
  { name: 'weston-terminal', command: ['weston-terminal'], appId: 'org.freedesktop.weston.wayland-terminal', env: { SHELL: '/bin/sh' } },
  { name: 'weston-flower', command: ['weston-flower'], appId: 'org.freedesktop.weston.flower' },
  { name: 'weston-subsurfaces', command: ['weston-subsurfaces'], appId: 'org.freedesktop.weston.wayland-sub-surface-demo' },
  { name: 'weston-clickdot', command: ['weston-clickdot'], appId: 'org.freedesktop.weston.wayland-clickdot' },
  { name: 'weston-eventdemo', command: ['weston-eventdemo'], appId: 'org.freedesktop.weston.eventdemo' },
  { name: 'weston-editor', command: ['weston-editor'], appId: 'org.freedesktop.weston.text-editor' },
  { name: 'foot', command: ['foot'], appId: 'foot', env: { SHELL: '/bin/sh' } },
  { name: 'gtk3-demo', command: ['gtk3-demo'], appId: 'gtk3-demo' },
  { name: 'the Qt5 calculator example', command: [QT_CALCULATOR], appId: 'calculator', env: { QT_QPA_PLATFORM: 'wayland' } },
];

/** True (skip) when the client's program is missing, after printing why. */
function missingClient(c: Client): boolean {
  const missing = missingBinaries(c.command[0]!);
  if (missing.length === 0) return false;
  console.warn(`skipping ${c.name}: ${missing.join(', ')} not installed`);
  return true;
}

/** The area of all application windows on `weston` (toplevel, subsurfaces, popups). */
async function windowsArea(weston: Weston): Promise<{ rect: ReturnType<typeof unionRect>; views: View[] }> {
  const views = (await weston.sceneGraph()).filter(isWindowView);
  return { rect: unionRect(views.map((v) => v.rect)), views };
}

/**
 * One receiving compositor for a group of tests: each test starts its own
 * transmitter; after each test the receiver must be empty again.
 */
function receivingGroup(options: Parameters<typeof startWeston>[0]): {
  readonly cleanup: Cleanup;
  weston(): Weston;
  receiver(): Receiver;
  start(client: Client): Transmitter;
  logs(tx?: Transmitter): string;
} {
  const group = new Cleanup();
  const cleanup = new Cleanup();
  let weston: Weston | undefined;
  let receiver: Receiver | undefined;
  beforeAll(async () => {
    try {
      weston = group.add(await startWeston(options));
      receiver = group.add(await startReceiver(weston.env));
    } catch (e) {
      await group.run().catch(() => undefined); // stop what did start
      throw e;
    }
  });
  afterEach(async () => {
    await cleanup.run();
    if (weston === undefined) return;
    // The next test must start from an empty screen.
    const w = weston;
    await waitFor('the windows of the stopped transmitter to go away', async () => (await w.sceneGraph()).filter(isWindowView).length === 0, 5000, 100);
  });
  afterAll(() => group.run());
  return {
    cleanup,
    weston: () => weston!,
    receiver: () => receiver!,
    start: (client) => cleanup.add(startTransmitter([`${receiver!.host}:${receiver!.port}`], client.command, [], client.env ?? {})),
    logs: (tx) => logTails({ receiver: receiver?.process, transmitter: tx?.process }),
  };
}

async function expectShownThrough(group: ReturnType<typeof receivingGroup>, client: Client): Promise<void> {
  const weston = group.weston();
  const tx = group.start(client);
  await weston
    .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === client.appId, 20_000, `the window of ${client.name} (app_id ${client.appId})`)
    .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${group.logs(tx)}`)));
  const { check } = await waitForFrame(weston, async () => (await windowsArea(weston)).rect, 10_000).catch((e: Error) =>
    Promise.reject(new Error(`${client.name}: ${e.message}\n${group.logs(tx)}`)),
  );
  expect(check.ok, check.summary).toBe(true);
  expect(tx.process.running, `${client.name} (and the transmitter with it) still runs\n${group.logs(tx)}`).toBe(true);
}

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug'))('clients on a receiver without a seat (weston headless)', () => {
  const group = receivingGroup({ backend: 'headless', width: 1024, height: 768 });

  for (const client of CLIENTS) {
    it.skipIf(missingClient(client))(`${client.name} starts through the transmitter and shows a frame on the receiver`, async () => {
      await expectShownThrough(group, client);
    });
  }
});

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'Xvfb', 'xdotool'))('clients on a receiver with a seat (weston x11)', () => {
  const group = receivingGroup({ backend: 'x11', width: 800, height: 600 });
  const foot = CLIENTS.find((c) => c.name === 'foot')!;
  const terminal = CLIENTS.find((c) => c.name === 'weston-terminal')!;
  const subsurfaces = CLIENTS.find((c) => c.name === 'weston-subsurfaces')!;

  it.skipIf(missingClient(foot))('foot starts through the transmitter and shows a frame on a receiver with a seat', async () => {
    await expectShownThrough(group, foot);
  });

  it.skipIf(missingClient(terminal))('the right-click menu of a remoted weston-terminal shows as a popup at the pointer, above its window, until a click outside', async () => {
    const weston = group.weston();
    const tx = group.start(terminal);
    const window = await weston
      .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === terminal.appId, 20_000, 'the remoted terminal')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${group.logs(tx)}`)));
    await waitForFrame(weston, window.rect);
    const before = await weston.screenshot();

    const at = { x: window.rect.x + 300, y: window.rect.y + 200 };
    await weston.xdotool('mousemove', at.x, at.y, 'click', 3);
    const popup = await weston
      .waitForView((v) => v.visible && v.role === 'xdg_popup', 5000, 'the popup menu')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${group.logs(tx)}`)));
    const r = popup.rect;
    const where = `popup at (${r.x}, ${r.y}) ${r.width}x${r.height}, right click at (${at.x}, ${at.y})`;
    expect(at.x >= r.x && at.x < r.x + r.width && at.y >= r.y && at.y < r.y + r.height, `${where}: the menu opens at the pointer`).toBe(true);
    const views = await weston.sceneGraph();
    const popupIndex = views.findIndex((v) => v.role === 'xdg_popup');
    const windowIndex = views.findIndex((v) => v.role === 'xdg_toplevel' && v.appId === terminal.appId);
    expect(popupIndex, `${where}: the popup is stacked above its window`).toBeLessThan(windowIndex);

    // The menu's pixels are on screen: drawn, and different from what was there before.
    const { shot } = await waitForFrame(weston, r, 5000);
    const changed = diffCount(before.crop(r), shot.crop(r), 8) / (r.width * r.height);
    expect(changed, `${where}: ${(changed * 100).toFixed(1)}% of the popup's area changed; ${checkFrame(shot, r).summary}`).toBeGreaterThan(0.3);

    // A click outside dismisses it: the receiving compositor's popup_done travels to the application, which destroys the popup.
    await weston.xdotool('mousemove', window.rect.x + 100, window.rect.y + 400, 'click', 1);
    await waitFor('the popup to go after a click outside it', async () => !(await weston.sceneGraph()).some((v) => v.role === 'xdg_popup'), 5000, 100).catch(
      (e: Error) => Promise.reject(new Error(`${e.message}\n${group.logs(tx)}`)),
    );
    expect(tx.process.running, `weston-terminal still runs\n${group.logs(tx)}`).toBe(true);
  });

  it.skipIf(missingClient(foot) || missingClient(subsurfaces))(
    'subsurfaces keep their sizes, positions and stacking: weston-subsurfaces and foot look the same remoted as directly',
    async () => {
      const weston = group.weston();
      for (const client of [subsurfaces, foot]) {
        const isWindow = (v: View): boolean => v.visible && v.role === 'xdg_toplevel' && v.appId === client.appId;
        // Views topmost first, positions relative to the toplevel. Windows land at random places, and a
        // subsurface outside the output counts as invisible, so only size and opacity count here.
        const layout = async (): Promise<string[]> => {
          const views = (await weston.sceneGraph()).filter(
            (v) => (v.role === 'xdg_toplevel' || v.role === 'wl_subsurface') && v.rect.width > 0 && v.rect.height > 0 && v.alpha > 0,
          );
          const top = views.find(isWindow)!;
          return views.map((v) => `${v.role} ${v.rect.x - top.rect.x},${v.rect.y - top.rect.y} ${v.rect.width}x${v.rect.height}`);
        };
        // Settled: the same layout twice in a row, a moment apart.
        const settled = async (what: string): Promise<string[]> => {
          await weston.waitForView(isWindow, 20_000, what);
          let previous: string[] = [];
          return waitFor(`${what} to settle`, async () => {
            const now = await layout();
            const same = JSON.stringify(now) === JSON.stringify(previous);
            previous = now;
            return same ? now : undefined;
          }, 10_000, 300);
        };

        const tx = group.start(client);
        const remote = await settled(`${client.name} remoted`).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${group.logs(tx)}`)));
        await tx.stop();
        await waitFor(`${client.name} remoted to go away`, async () => (await weston.sceneGraph()).filter(isWindowView).length === 0, 5000, 100);

        group.cleanup.add(spawnProcess(client.command[0]!, client.command.slice(1), { env: { ...weston.env, ...client.env }, name: client.name }));
        const direct = await settled(`${client.name} shown directly`);
        expect(remote.join("\n"), `${client.name}: the views remoted (expected: as shown directly)`).toBe(direct.join("\n"));
        expect(direct.filter((l) => l.startsWith('wl_subsurface')).length, `${client.name} has subsurfaces`).toBeGreaterThan(0);
        await group.cleanup.run();
        await waitFor(`${client.name} to go away`, async () => (await weston.sceneGraph()).filter(isWindowView).length === 0, 5000, 100);
      }
    },
  );
});
