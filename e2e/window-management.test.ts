/**
 * Window management through the receiving compositor: a remoted application
 * asks for fullscreen or maximized and back, and what the receiving
 * compositor decides (the states and the size of its output) reaches the
 * application, whose window then fills the output and afterwards returns to
 * its own size.
 *
 * The application is `clients/xdg-window.c` (built by the test): a solid red
 * xdg_toplevel whose requests come from lines on its stdin and which prints
 * every configure and every size it draws. On sway the window is made
 * floating (a tiled window already fills the output, so leaving fullscreen
 * would not change its size); on weston (x11 backend, with a seat) desktop
 * shell places it itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Rect } from '../shared/scene/scene.js';
import { startReceiver, startTransmitter } from './bridge.js';
import { matchFraction, pressUntil, skipUnless, spawnProcess, startWeston, waitFor, WESTON_BACKGROUND, type Image, type ManagedProcess } from './harness/index.js';
import { decodePng } from './harness/image.js';
import { run } from './harness/process.js';
import { startSway, swayUnavailable, type Sway, type SwayNode } from './harness/sway.js';
import { Cleanup, logTails } from './scenario.js';

const here = dirname(fileURLToPath(import.meta.url));
const APP_ID = 'org.waltham.xdg-window';
const RED = 0xff0000;
const WIDTH = 800;
const HEIGHT = 600;
const OUTPUT: Rect = { x: 0, y: 0, width: WIDTH, height: HEIGHT };
/** xdg-window's popups. */
const ORANGE = 0xff8000;
/** xdg_positioner.anchor and gravity bottom_right; constraint_adjustment flip_x. */
const ANCHOR_BOTTOM_RIGHT = 8;
const FLIP_X = 4;
const FLIP_Y = 8;
/** xdg_toplevel.resize_edge bottom_right. */
const RESIZE_BOTTOM_RIGHT = 10;

const canBuild = !skipUnless('wayland-scanner', 'gcc', 'pkg-config');
const noSway = swayUnavailable() ?? (skipUnless('grim') ? 'grim is not installed' : null);
if (noSway !== null) console.log(`skipping the sway tests: ${noSway}`);

/** Windows without sway's borders and title bars: the window is the application's surface. */
const NO_BORDERS = ['default_border none', 'default_floating_border none'];

type SwayView = SwayNode & { readonly rect: Rect; readonly fullscreen_mode?: number };

/** The view of the application on sway, if it is there. */
async function swayView(sway: Sway): Promise<SwayView | undefined> {
  return (await sway.views()).find((v) => v.app_id === APP_ID && v.rect !== undefined) as SwayView | undefined;
}

/** sway's output, with grim (wlr-screencopy). */
async function swayShot(sway: Sway): Promise<Image> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-grim-'));
  try {
    const file = join(dir, 'shot.png');
    await run('grim', [file], { env: sway.env, timeoutMs: 10_000 });
    return await decodePng(readFileSync(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
let client = '';

/** Build clients/xdg-window.c against the xdg-shell the project implements. */
function buildClient(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'wb-xdg-window-'));
  const xml = join(here, '..', 'protocol', 'wayland', 'xdg-shell.xml');
  execFileSync('wayland-scanner', ['client-header', xml, join(dir, 'xdg-shell-client-protocol.h')]);
  execFileSync('wayland-scanner', ['private-code', xml, join(dir, 'xdg-shell-protocol.c')]);
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'wayland-client'], { encoding: 'utf8' }).trim().split(/\s+/).filter((f) => f !== '');
  client = join(dir, 'xdg-window');
  execFileSync('gcc', ['-O1', `-I${dir}`, '-o', client, join(here, 'clients', 'xdg-window.c'), join(dir, 'xdg-shell-protocol.c'), ...flags]);
  return () => rmSync(dir, { recursive: true, force: true });
}

/** The application on a transmitter sending to a receiver on `display`. */
async function remoteApp(cleanup: Cleanup, display: Readonly<Record<string, string>>): Promise<{ app: ManagedProcess; send: (line: string) => void; logs: () => string }> {
  const receiver = cleanup.add(await startReceiver(display));
  const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
  await transmitter.ready();
  const app = cleanup.add(spawnProcess(client, ['300', '200', 'ff0000'], { env: transmitter.clientEnv, stdin: 'pipe', name: 'xdg-window' }));
  const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process, app }, 20);
  await app.waitForLine(/^drawn 300 200$/, 20_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
  return { app, send: (line) => void app.child.stdin!.write(`${line}\n`), logs };
}

/** Send `command` and wait for the configure and the drawing that answer it. */
async function request(a: { app: ManagedProcess; send: (line: string) => void; logs: () => string }, command: string, configure: RegExp, drawn: string): Promise<string> {
  const from = a.app.lines.length;
  a.send(command);
  const what = `${command}: `;
  const line = await a.app.waitForLine(configure, 10_000, from).catch((e: Error) => Promise.reject(new Error(`${what}${e.message}\n${a.logs()}`)));
  await a.app.waitForLine(`drawn ${drawn}`, 10_000, from).catch((e: Error) => Promise.reject(new Error(`${what}${e.message}\n${a.logs()}`)));
  return line;
}

function redFraction(shot: Image, rect: Rect): number {
  return matchFraction(shot, rect, RED, { tolerance: 8 });
}

describe.skipIf(!canBuild || noSway !== null)('window management on sway', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  beforeAll(() => buildClient());

  it('fullscreen on and off: the application gets the fullscreen state and the output size, fills the output, then gets its own size back', async () => {
    const sway = cleanup.add(await startSway({ width: WIDTH, height: HEIGHT, config: [...NO_BORDERS, `for_window [app_id="${APP_ID}"] floating enable`] }));
    const a = await remoteApp(cleanup, sway.env);
    const windowed = await waitFor('the floating window', async () => {
      const v = await swayView(sway);
      return v !== undefined && v.rect.width === 300 ? v : undefined;
    }, 10_000);

    expect(await request(a, 'fullscreen', /^configure 800 600 .*fullscreen/, '800 600')).toMatch(/activated/);
    const full = await waitFor('sway to show the window fullscreen', async () => {
      const v = await swayView(sway);
      return v?.fullscreen_mode === 1 && v.rect.width === WIDTH ? v : undefined;
    }, 10_000);
    expect(full.rect).toEqual(OUTPUT);
    await waitFor('the output filled with the window', async () => redFraction(await swayShot(sway), OUTPUT) > 0.99, 10_000);

    // Leaving fullscreen: sway gives the floating window its size back.
    expect(await request(a, 'unfullscreen', /^configure 300 200 (?!.*fullscreen)/, '300 200')).not.toMatch(/fullscreen/);
    const back = await waitFor('sway to show the window floating again', async () => {
      const v = await swayView(sway);
      return v?.fullscreen_mode === 0 && v.rect.width === 300 ? v : undefined;
    }, 10_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    expect({ width: back.rect.width, height: back.rect.height }).toEqual({ width: windowed.rect.width, height: windowed.rect.height });
    // The window alone is red again; the rest of the output shows again (swaybg's colour, or
    // black before it draws). sway repaints once the application's 300x200 frame arrives.
    let shown = { window: 0, output: 1 };
    await waitFor('sway to show the window alone', async () => {
      const shot = await swayShot(sway);
      shown = { window: redFraction(shot, back.rect), output: redFraction(shot, OUTPUT) };
      return shown.window > 0.99 && shown.output < 0.2 ? true : undefined;
    }, 10_000).catch((e: Error) => Promise.reject(new Error(`${e.message}: red ${JSON.stringify(shown)}\n${a.logs()}`)));
  });

  it('a popup that would cross the right edge of the output is flipped inside it by the receiving compositor, and the application learns where', async () => {
    // Tiled, the window fills the output from (0, 0): window coordinates are output coordinates.
    const sway = cleanup.add(await startSway({ width: WIDTH, height: HEIGHT, config: NO_BORDERS }));
    const a = await remoteApp(cleanup, sway.env);
    await a.app.waitForLine(/^drawn 800 600$/, 10_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    // 100x100 below-right of (790, 10) would end at x 890; flip_x puts it below-left: x 690.
    const from = a.app.lines.length;
    a.send(`popup 790 10 100 100 ${ANCHOR_BOTTOM_RIGHT} ${ANCHOR_BOTTOM_RIGHT} ${FLIP_X}`);
    await a.app.waitForLine(/^popup-configure 690 11 100 100$/, 10_000, from).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    const popup: Rect = { x: 690, y: 11, width: 100, height: 100 };
    await waitFor('the orange popup inside the output', async () => matchFraction(await swayShot(sway), popup, ORANGE, { tolerance: 8 }) > 0.99, 10_000);

    // xdg_popup.reposition near the bottom edge, flip_y: above the anchor. sway 1.7 has no
    // xdg_popup.reposition (xdg_wm_base v2): the receiver shows a new popup there.
    const again = a.app.lines.length;
    a.send(`reposition 10 500 100 100 ${ANCHOR_BOTTOM_RIGHT} ${ANCHOR_BOTTOM_RIGHT} ${FLIP_Y}`);
    await a.app.waitForLine(/^popup-configure 11 400 100 100$/, 10_000, again).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    const moved: Rect = { x: 11, y: 400, width: 100, height: 100 };
    await waitFor('the popup at its new place', async () => {
      const shot = await swayShot(sway);
      return matchFraction(shot, moved, ORANGE, { tolerance: 8 }) > 0.99 && matchFraction(shot, popup, ORANGE, { tolerance: 8 }) < 0.01;
    }, 10_000);
  });
});

describe.skipIf(!canBuild || skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'Xvfb', 'xdotool'))('window management on weston', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  beforeAll(() => buildClient());

  it('an xdg_toplevel.move on a button press moves the window on the receiving compositor', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: WIDTH, height: HEIGHT }));
    const a = await remoteApp(cleanup, weston.env);
    const view = (): Promise<{ rect: Rect }> =>
      weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === APP_ID && v.rect.width === 300, 10_000, 'the window').catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    const before = (await view()).rect;
    // Where the window can move by (+dx, +dy) and stay on the output.
    const dx = before.x + 300 + 120 <= WIDTH ? 120 : -120;
    const dy = before.y + 200 + 90 <= HEIGHT ? 90 : -90;
    const x = before.x + 150;
    const y = before.y + 100;
    a.send('move-on-press');
    const from = a.app.lines.length;
    await pressUntil(weston, { x, y }, (ms) => a.app.waitForLine(/^move \d+$/, ms, from)).catch((e: Error) =>
      Promise.reject(new Error(`the press: ${e.message}\n${a.logs()}`)),
    );
    for (let i = 1; i <= 6; i++) await weston.xdotool('mousemove', x + Math.round((dx * i) / 6), y + Math.round((dy * i) / 6));
    await weston.xdotool('mouseup', 1);
    const after = await waitFor('the window moved', async () => {
      const r = (await view()).rect;
      return r.x !== before.x || r.y !== before.y ? r : undefined;
    }, 10_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    expect({ x: after.x - before.x, y: after.y - before.y }).toEqual({ x: dx, y: dy });
  });

  it('an xdg_toplevel.resize on a button press resizes the window on the receiving compositor, which configures the application', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: WIDTH, height: HEIGHT }));
    const a = await remoteApp(cleanup, weston.env);
    const before = (await weston.waitForView((v) => v.visible && v.appId === APP_ID && v.rect.width === 300, 10_000, 'the window')).rect;
    // Grow by (+dw, +dh) from the bottom-right corner, staying on the output.
    const dw = before.x + 300 + 60 <= WIDTH ? 60 : -60;
    const dh = before.y + 200 + 40 <= HEIGHT ? 40 : -40;
    const x = before.x + 295;
    const y = before.y + 195;
    a.send(`resize-on-press ${RESIZE_BOTTOM_RIGHT}`);
    const from = a.app.lines.length;
    // The press lands 5 pixels inside the corner.
    await pressUntil(weston, { x, y }, (ms) => a.app.waitForLine(/^resize \d+ 10$/, ms, from)).catch((e: Error) =>
      Promise.reject(new Error(`the press: ${e.message}\n${a.logs()}`)),
    );
    for (let i = 1; i <= 4; i++) await weston.xdotool('mousemove', x + Math.round((dw * i) / 4), y + Math.round((dh * i) / 4));
    await a.app.waitForLine(new RegExp(`^configure ${300 + dw} ${200 + dh} .*resizing`), 10_000, from).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    await weston.xdotool('mouseup', 1);
    await a.app.waitForLine(`drawn ${300 + dw} ${200 + dh}`, 10_000, from);
    await weston.waitForView((v) => v.visible && v.appId === APP_ID && v.rect.width === 300 + dw && v.rect.height === 200 + dh, 10_000, 'the resized window');
  });

  it("a fullscreen window's popup near the output's edge is flipped by the transmitter, since weston 10 does not adjust popups", async () => {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: WIDTH, height: HEIGHT }));
    const a = await remoteApp(cleanup, weston.env);
    await request(a, 'fullscreen', /^configure 800 600 .*fullscreen/, '800 600');
    // Until weston's own configures arrive, the transmitter answers alone: wait for weston's fullscreen.
    await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === APP_ID && v.rect.width === WIDTH, 10_000, 'the fullscreen window');
    await waitFor('fullscreen as the last configure', () => a.app.lines.filter((l) => l.startsWith('configure ')).at(-1)?.includes('fullscreen') === true, 10_000);
    const from = a.app.lines.length;
    a.send(`popup 790 10 100 100 ${ANCHOR_BOTTOM_RIGHT} ${ANCHOR_BOTTOM_RIGHT} ${FLIP_X}`);
    await a.app.waitForLine(/^popup-configure 690 11 100 100$/, 10_000, from).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
    const parent = await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === APP_ID, 10_000, 'the window');
    const popup = await weston.waitForView((v) => v.visible && v.role === 'xdg_popup', 10_000, 'the popup');
    expect(popup.rect).toEqual({ x: parent.rect.x + 690, y: parent.rect.y + 11, width: 100, height: 100 });
  });

  it('set_minimized hides the window on the receiving compositor', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: WIDTH, height: HEIGHT }));
    const a = await remoteApp(cleanup, weston.env);
    await weston.waitForView((v) => v.visible && v.appId === APP_ID && v.rect.width === 300, 10_000, 'the window');
    a.send('minimize');
    await waitFor('the window hidden', async () => !(await weston.sceneGraph()).some((v) => v.visible && v.appId === APP_ID), 10_000).catch((e: Error) =>
      Promise.reject(new Error(`${e.message}\n${a.logs()}`)),
    );
    expect(a.app.running).toBe(true);
  });

  for (const [on, off, state] of [
    ['fullscreen', 'unfullscreen', 'fullscreen'],
    ['maximize', 'unmaximize', 'maximized'],
  ] as const) {
    it(`${on} and back: the application gets the ${state} state and the output size, fills the output, then its own size again`, async () => {
      const weston = cleanup.add(await startWeston({ backend: 'x11', width: WIDTH, height: HEIGHT }));
      const a = await remoteApp(cleanup, weston.env);
      const find = (pred: (r: Rect) => boolean, what: string) =>
        weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === APP_ID && pred(v.rect), 10_000, what).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${a.logs()}`)));
      await find((r) => r.width === 300 && r.height === 200, 'the 300x200 window');

      expect(await request(a, on, new RegExp(`^configure 800 600 .*${state}`), '800 600')).toMatch(/activated/);
      const big = await find((r) => r.width === WIDTH && r.height === HEIGHT, `the ${state} window`);
      expect(big.rect).toEqual(OUTPUT);
      await waitFor('the output filled with the window', async () => redFraction(await weston.screenshot(), OUTPUT) > 0.99, 10_000);

      // weston answers with 0x0: the application picks its previous size.
      expect(await request(a, off, /^configure 0 0 /, '300 200')).not.toMatch(new RegExp(state));
      const back = await find((r) => r.width === 300 && r.height === 200, 'the window at its own size again');
      const shot = await weston.screenshot();
      expect(redFraction(shot, back.rect)).toBeGreaterThan(0.99);
      expect(matchFraction(shot, OUTPUT, WESTON_BACKGROUND, { tolerance: 8 })).toBeGreaterThan(0.8);
    });
  }
});
