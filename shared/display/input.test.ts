/**
 * Input through LocalDisplay: weston on the x11 backend inside Xvfb gives a
 * real seat; xdotool clicks and types on the window LocalDisplay shows, and
 * the TestOwner must receive the events for its surface, in surface-local
 * coordinates, with evdev codes and the compositor's keymap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRegion } from '../../e2e/harness/image.js';
import { skipUnless, sleep } from '../../e2e/harness/process.js';
import { startWeston, type Weston } from '../../e2e/harness/weston.js';
import { Scene } from '../scene/scene.js';
import { LocalDisplay } from './local-display.js';
import { solidContent, TestOwner } from './test-owner.js';

const BTN_LEFT = 0x110; // 272
const KEY_A = 30;

describe.skipIf(skipUnless('weston', 'Xvfb', 'xdotool', 'weston-debug', 'weston-screenshooter'))('LocalDisplay input on weston x11 in Xvfb', () => {
  let weston: Weston;
  let display: LocalDisplay;
  let scene: Scene;

  beforeAll(async () => {
    weston = await startWeston({ backend: 'x11', width: 800, height: 600 });
    display = new LocalDisplay({ display: weston.socket, shell: 'xdg' });
    await display.start();
    scene = new Scene();
    display.attach(scene);
  });
  afterAll(async () => {
    display?.close();
    await weston?.stop();
  });

  it('delivers a click with surface-local coordinates and evdev button 272, and typing with evdev key codes and the keymap', async () => {
    const owner = new TestOwner('input-app');
    const s = owner.toplevel(scene, { title: 'input', content: solidContent(200, 150, 0x3080c0) });
    const view = await weston.waitForView((v) => v.title === 'input' && v.visible, 5000, 'the input window');
    await owner.waitFor('presented', (c) => c.surface === s);

    await weston.xdotool('mousemove', view.rect.x + 50, view.rect.y + 40);
    const enter = await owner.waitFor('pointerEnter', (c) => c.surface === s);
    expect(enter.args).toEqual([50, 40]);
    await weston.xdotool('mousemove', view.rect.x + 120, view.rect.y + 90);
    const motion = await owner.waitFor('pointerMotion', (c) => c.args[1] === 120);
    expect(motion.args.slice(1)).toEqual([120, 90]);
    await weston.xdotool('click', 1);
    const press = await owner.waitFor('pointerButton', (c) => c.args[2] === 'pressed');
    expect(press.args[1]).toBe(BTN_LEFT);
    await owner.waitFor('pointerButton', (c) => c.args[2] === 'released' && c.args[1] === BTN_LEFT);
    expect(owner.count('pointerFrame')).toBeGreaterThan(0);

    // Keys go to the window weston activated (the one just clicked).
    await owner.waitFor('keyboardEnter', (c) => c.surface === s);
    await weston.xdotool('type', '--delay', 20, 'ab');
    const keyA = await owner.waitFor('key', (c) => c.args[1] === KEY_A && c.args[2] === 'pressed');
    await owner.waitFor('key', (c) => c.args[1] === KEY_A && c.args[2] === 'released');
    await owner.waitFor('key', (c) => c.args[1] === 48 && c.args[2] === 'pressed'); // KEY_B
    expect(typeof keyA.args[0]).toBe('number');

    const keymaps = owner.callsOf('keymap');
    expect(keymaps).toHaveLength(1);
    const text = keymaps[0]!.args[0] as string;
    expect(text.startsWith('xkb_keymap')).toBe(true);
    expect(text.length).toBeGreaterThan(10_000);
    expect(text.includes('\0')).toBe(false);
    // The keymap and repeat info come before the first keyboard enter.
    const order = owner.methods();
    expect(order.indexOf('keymap')).toBeLessThan(order.indexOf('keyboardEnter'));
    expect(owner.callsOf('repeatInfo')[0]?.args).toEqual([40, 400]);
    expect(owner.count('modifiers')).toBeGreaterThan(0);

    // Scrolling: axis 0 (vertical), one wheel step down, in one frame as weston sends it.
    const beforeWheel = owner.calls.length;
    await weston.xdotool('click', 5);
    const axis = await owner.waitFor('pointerAxis');
    expect(axis.args[1]).toBe(0);
    expect(axis.args[2] as number).toBeGreaterThan(0);
    await owner.waitFor('pointerFrame', () => true, 5000, beforeWheel);
    // The discrete step comes before its axis (weston's x11 backend sends no axis_source).
    const wheel = owner.calls.slice(beforeWheel).filter((c) => c.method.startsWith('pointer'));
    expect(wheel.map((c) => c.method)).toEqual(['pointerAxisDiscrete', 'pointerAxis', 'pointerFrame']);
    expect(wheel[0]!.args).toEqual([0, 1]);

    // Leaving the window.
    await weston.xdotool('mousemove', 790, 590);
    await owner.waitFor('pointerLeave', (c) => c.surface === s);
    s.destroy();
  });

  it('routes input to the owner of the surface under the pointer, subsurfaces included', async () => {
    const a = new TestOwner('owner-a');
    const b = new TestOwner('owner-b');
    const wa = a.toplevel(scene, { title: 'owner-a', content: solidContent(160, 120, 0xc04040) });
    const viewA = await weston.waitForView((v) => v.title === 'owner-a' && v.visible, 5000);
    await sleep(200);
    const wb = b.toplevel(scene, { title: 'owner-b', content: solidContent(160, 120, 0x40c040) });
    const viewB = await weston.waitForView((v) => v.title === 'owner-b' && v.visible, 5000);
    const sub = a.subsurface(scene, wa, 100, 70, solidContent(40, 30, 0x4040c0));
    await a.waitFor('presented', (c) => c.surface === sub);

    // A point of a's subsurface (at 100,70 in a, 40x30) that window b does not cover.
    const covered = (x: number, y: number): boolean =>
      x >= viewB.rect.x && x < viewB.rect.x + viewB.rect.width && y >= viewB.rect.y && y < viewB.rect.y + viewB.rect.height;
    let point: [number, number] | null = null;
    for (let dy = 2; dy < 30 && point === null; dy += 4) {
      for (let dx = 2; dx < 40 && point === null; dx += 4) {
        if (!covered(viewA.rect.x + 100 + dx, viewA.rect.y + 70 + dy)) point = [dx, dy];
      }
    }
    if (point === null) throw new Error(`window b ${JSON.stringify(viewB.rect)} covers a's subsurface: no point to test`);
    await weston.xdotool('mousemove', viewA.rect.x + 100 + point[0], viewA.rect.y + 70 + point[1]);
    const enter = await a.waitFor('pointerEnter', (c) => c.surface === sub);
    expect(enter.args).toEqual(point);
    await weston.xdotool('mousemove', viewB.rect.x + 5, viewB.rect.y + 6);
    const enterB = await b.waitFor('pointerEnter', (c) => c.surface === wb);
    expect(enterB.args).toEqual([5, 6]);
    await weston.xdotool('click', 1);
    await b.waitFor('pointerButton', (c) => c.args[1] === BTN_LEFT && c.args[2] === 'released');
    expect(a.count('pointerButton')).toBe(0);
    // b got keyboard focus (and its own copy of the keymap); a lost it if it had it.
    await b.waitFor('keyboardEnter', (c) => c.surface === wb);
    expect(b.count('keymap')).toBe(1);
    a.destroyAll();
    b.destroyAll();
  });

  it("shows the owner's cursor image while the pointer is over its window", async () => {
    const owner = new TestOwner('cursor-app');
    const s = owner.toplevel(scene, { title: 'cursor', content: solidContent(200, 150, 0x202020) });
    const view = await weston.waitForView((v) => v.title === 'cursor' && v.visible, 5000);
    await owner.waitFor('presented', (c) => c.surface === s);
    owner.cursor(scene, solidContent(16, 16, 0xff00ff), 8, 8);
    const x = view.rect.x + 100;
    const y = view.rect.y + 75;
    await weston.xdotool('mousemove', x, y);
    await owner.waitFor('pointerEnter', (c) => c.surface === s);
    // The hotspot (8, 8) is at the pointer position: the image covers (x-8, y-8)..(x+8, y+8).
    let shot = await weston.screenshot();
    for (let i = 0; i < 40 && shot.pixel(x, y).r !== 0xff; i++) {
      await sleep(50);
      shot = await weston.screenshot();
    }
    expectRegion(shot, { x: x - 8, y: y - 8, width: 16, height: 16 }, 0xff00ff, { label: 'the cursor image' });
    // Hidden cursor: the area shows the window again.
    scene.setCursor(owner, null);
    for (let i = 0; i < 40; i++) {
      shot = await weston.screenshot();
      if (shot.pixel(x, y).r === 0x20) break;
      await sleep(50);
    }
    expectRegion(shot, { x: x - 8, y: y - 8, width: 16, height: 16 }, 0x202020, { label: 'under the hidden cursor' });
    owner.destroyAll();
  });
});
