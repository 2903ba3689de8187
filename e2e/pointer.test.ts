/**
 * Pointer input from the receiving side reaches a remoted weston-eventdemo
 * with the right surface-local coordinates, buttons and wheel steps.
 *
 * The receiving compositor is weston's x11 backend in Xvfb: its output sits
 * at (0, 0) of the X screen, so an xdotool position is an output position.
 * The window's position comes from weston's scene graph; its rectangle is the
 * whole surface (client-side decorations and shadow included), which is what
 * eventdemo's coordinates are relative to. What eventdemo prints for the same
 * input when it runs directly on weston is in ../shared/test-recipes.md
 * (recipe 2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { pressUntil, skipUnless, startWeston, type ManagedProcess, type View, type Weston } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const EVENTDEMO_APP_ID = 'org.freedesktop.weston.eventdemo';
const BTN_LEFT = 272;
const BTN_RIGHT = 273;

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-eventdemo', 'stdbuf', 'Xvfb', 'xdotool'))('pointer', () => {
  const cleanup = new Cleanup();
  let weston: Weston;
  let view: View;
  /** The transmitter, whose output holds eventdemo's lines. */
  let tx: ManagedProcess;
  let logs: () => string;

  beforeAll(async () => {
    try {
      weston = cleanup.add(await startWeston({ backend: 'x11', width: 800, height: 600 }));
      const receiver = cleanup.add(await startReceiver(weston.env));
      // eventdemo prints every event on stdout; stdbuf makes those lines arrive as printed.
      const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['stdbuf', '-oL', 'weston-eventdemo']));
      tx = transmitter.process;
      logs = () => logTails({ receiver: receiver.process, transmitter: tx }, 25);
      view = await weston
        .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === EVENTDEMO_APP_ID, 20_000, 'the remoted eventdemo')
        .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
      await tx.waitForLine(/^redraw/, 5000);
    } catch (e) {
      await cleanup.run().catch(() => undefined); // stop what did start
      throw e;
    }
  });

  afterAll(() => cleanup.run());

  it('clicks on the receiving compositor reach a remoted weston-eventdemo at the right surface-local point', async () => {
    // Two points inside the content area (below the title bar), with different buttons.
    const clicks = [
      { x: 137, y: 91, button: 1, code: BTN_LEFT },
      { x: 331, y: 262, button: 3, code: BTN_RIGHT },
    ];
    // The pointer inside the window first, wherever weston placed it: a move that enters the
    // window brings wl_pointer.enter at that point and no motion, so each click's own move would
    // print a motion only when the pointer happened to be inside already.
    const inside = tx.lines.length;
    await weston.xdotool('mousemove', view.rect.x + 120, view.rect.y + 80);
    await weston.xdotool('mousemove', view.rect.x + 121, view.rect.y + 81);
    await tx
      .waitForLine(/^motion .*x: 121\.0+, y: 81\.0+$/, 5000, inside)
      .catch((e: Error) => Promise.reject(new Error(`the pointer moved inside the window: ${e.message}\n${logs()}`)));
    for (const c of clicks) {
      const where = `a click at output (${view.rect.x + c.x}, ${view.rect.y + c.y}), window at (${view.rect.x}, ${view.rect.y})`;
      const from = tx.lines.length;
      const pressed = await pressUntil(weston, { x: view.rect.x + c.x, y: view.rect.y + c.y, button: c.button, click: true, attempts: 3 }, (ms) =>
        tx.waitForLine(new RegExp(`^button time: \\d+, button: ${c.code}, state: pressed`), ms, from),
      ).catch((e: Error) => Promise.reject(new Error(`${where}: ${e.message}\n${logs()}`)));
      const released = await tx.waitForLine(new RegExp(`^button time: \\d+, button: ${c.code}, state: released`), 5000, from);
      const motion = tx.lines.slice(from).find((l) => l.startsWith('motion '));
      expect(pressed, where).toMatch(new RegExp(`, x: ${c.x}, y: ${c.y}$`));
      expect(released, where).toMatch(new RegExp(`, x: ${c.x}, y: ${c.y}$`));
      expect(motion, `${where}: the motion before the press`).toMatch(new RegExp(`x: ${c.x}\\.0+, y: ${c.y}\\.0+$`));
    }
  });

  it('mouse wheel steps on the receiving compositor reach a remoted weston-eventdemo as discrete wheel steps', async () => {
    // Directly on weston, one wheel step up (X button 4) prints
    //   axis discrete axis: 0 value: -1
    //   axis time: T, axis: vertical, value: -10.000000
    // and one step down (button 5) the same with 1 and 10.
    await weston.xdotool('mousemove', view.rect.x + 200, view.rect.y + 150);
    for (const step of [
      { button: 4, discrete: -1, value: '-10.000000' },
      { button: 5, discrete: 1, value: '10.000000' },
    ]) {
      const from = tx.lines.length;
      await weston.xdotool('click', step.button);
      const axis = await tx
        .waitForLine(/^axis time: /, 5000, from)
        .catch((e: Error) => Promise.reject(new Error(`wheel button ${step.button}: ${e.message}\n${logs()}`)));
      const got = tx.lines.slice(from).filter((l) => l.startsWith('axis'));
      expect(axis, `wheel button ${step.button}`).toMatch(new RegExp(`axis: vertical, value: ${step.value}$`));
      // wl_pointer.axis_discrete (wl_seat v5+) tells applications that this was one wheel click.
      expect(got, `wheel button ${step.button}: eventdemo printed ${JSON.stringify(got)}`).toContain(`axis discrete axis: 0 value: ${step.discrete}`);
    }
  });
});
