/**
 * Input injected through a client's `SceneFeedback` reaches real
 * applications: weston-eventdemo prints what it receives (test-recipes.md,
 * recipe 2, shows its output format), and its key events prove that the
 * default keymap compiles in the client's libxkbcommon (it prints the
 * character each key produces); foot runs a command typed into it;
 * weston-terminal opens its context menu as a grabbing popup.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PopupRole, SceneSurface } from '../../shared/scene/scene.js';
import { FakeConsumer, displayPerTest, stopChild, waitFor, which } from './test/helpers.js';

const haveEventdemo = which('weston-eventdemo') !== undefined && which('stdbuf') !== undefined;
if (!haveEventdemo) console.warn('skipping eventdemo tests: weston-eventdemo or stdbuf is not installed');

const t = displayPerTest();
let child: ChildProcess | null = null;
let out = '';

beforeEach(() => {
  out = '';
});

// Runs before the display is closed (after hooks run in reverse order).
afterEach(async () => {
  if (child !== null) await stopChild(child);
  child = null;
});

async function startEventdemo(): Promise<SceneSurface> {
  child = t.display.spawn('stdbuf', ['-oL', 'weston-eventdemo'], {}, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  let top: SceneSurface | undefined;
  await waitFor(() => {
    top = t.display.scene.roots().find((s) => s.mapped && s.role?.kind === 'toplevel' && s.role.title === 'EventDemo');
    return top !== undefined && out.includes('redraw');
  }, 20_000, 'eventdemo window');
  return top!;
}

describe.skipIf(!haveEventdemo)('weston-eventdemo', () => {
  it('prints the injected pointer motion and click at surface-local coordinates', async () => {
    const top = await startEventdemo();
    const consumer = new FakeConsumer(t.display);
    const fb = top.owner.feedback;
    fb.pointerEnter(top, 200, 150);
    fb.pointerFrame();
    fb.pointerMotion(5000, 210.5, 160.25);
    fb.pointerFrame();
    fb.pointerButton(5010, 0x110, 'pressed');
    fb.pointerFrame();
    fb.pointerButton(5020, 0x110, 'released');
    fb.pointerFrame();
    await waitFor(() => out.includes('state: released'), 5000, 'button release in the output');
    expect(out).toContain('motion time: 5000, x: 210.500000, y: 160.250000');
    expect(out).toMatch(/button time: 5010, button: 272, state: pressed, x: 210, y: 160/);
    expect(out).toMatch(/button time: 5020, button: 272, state: released, x: 210, y: 160/);
    expect(out).toContain('pointer frame');
    consumer.detach();
  });

  it('gets keyboard focus on mapping and prints keys translated with the default keymap', async () => {
    const top = await startEventdemo();
    await waitFor(() => out.includes('focus'), 5000, 'keyboard focus');
    const fb = top.owner.feedback;
    fb.key(100, 30, 'pressed'); // KEY_A
    fb.key(110, 30, 'released');
    fb.modifiers(1, 0, 0, 0); // Shift (mod index 0 in the default keymap)
    fb.key(120, 30, 'pressed');
    fb.key(130, 30, 'released');
    await waitFor(() => (out.match(/key key: 30/g) ?? []).length >= 4, 5000, 'key events in the output');
    expect(out).toMatch(/key key: 30, unicode: 97, state: pressed/); // 'a'
    expect(out).toMatch(/key key: 30, unicode: 65, state: pressed/); // 'A' with Shift
  });

  it('gets keyboard focus from a consumer', async () => {
    const top = await startEventdemo();
    const fb = top.owner.feedback;
    await waitFor(() => out.includes('focus'), 5000, 'initial keyboard focus');
    fb.keyboardLeave(top);
    await waitFor(() => out.includes('focus lost'), 5000, 'focus lost');
    fb.key(190, 30, 'pressed'); // no focus: not delivered
    fb.key(195, 30, 'released');
    fb.keyboardEnter(top, []);
    await waitFor(() => (out.match(/^focus x/gm) ?? []).length === 2, 5000, 'focus regained');
    fb.key(200, 48, 'pressed'); // KEY_B
    await waitFor(() => out.includes('key key: 48'), 5000, 'key after consumer focus');
    expect(out).toMatch(/key key: 48, unicode: 98, state: pressed/);
    expect(out).not.toContain('key key: 30');
  });
});

/** evdev key codes of the characters typed below. */
const KEYS: Record<string, number> = {
  a: 30, b: 48, c: 46, d: 32, e: 18, f: 33, g: 34, h: 35, i: 23, j: 36, k: 37, l: 38, m: 50,
  n: 49, o: 24, p: 25, q: 16, r: 19, s: 31, t: 20, u: 22, v: 47, w: 17, x: 45, y: 21, z: 44,
  ' ': 57, '/': 53, '\n': 28,
};

function type(surface: SceneSurface, text: string): void {
  let time = 1000;
  for (const ch of text) {
    const key = KEYS[ch];
    if (key === undefined) throw new Error(`no key for ${JSON.stringify(ch)}`);
    surface.owner.feedback.key(time++, key, 'pressed');
    surface.owner.feedback.key(time++, key, 'released');
  }
}

if (which('foot') === undefined) console.warn('skipping the foot typing test: foot is not installed');
describe.skipIf(which('foot') === undefined)('foot', () => {
  it('runs a command typed through the consumer keyboard', async () => {
    const name = `/tmp/vdfoot${Math.random().toString(36).replace(/[^a-z]/g, '').slice(0, 8)}`;
    rmSync(name, { force: true });
    child = t.display.spawn('foot', ['--app-id=walt.type', 'sh'], { SHELL: '/bin/sh', LANG: 'C.UTF-8' }, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
    let top: SceneSurface | undefined;
    await waitFor(() => {
      top = t.display.scene.roots().find((s) => s.mapped && s.appId === 'walt.type');
      return top !== undefined;
    }, 20_000, 'foot window');
    type(top!, `touch ${name}\n`);
    await waitFor(() => existsSync(name), 10_000, `${name} created by the typed command`);
    rmSync(name, { force: true });
  });
});

if (which('weston-terminal') === undefined) console.warn('skipping the weston-terminal popup test: weston-terminal is not installed');
describe.skipIf(which('weston-terminal') === undefined)('weston-terminal', () => {
  it('opens its context menu as a grabbing popup on a right click, and closes it on popup_done', async () => {
    child = t.display.spawn('weston-terminal', [], { SHELL: '/bin/sh' }, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
    let top: SceneSurface | undefined;
    await waitFor(() => {
      top = t.display.scene.roots().find((s) => s.mapped && s.role?.kind === 'toplevel' && s.role.title === 'Wayland Terminal');
      return top !== undefined;
    }, 20_000, 'terminal window');
    const consumer = new FakeConsumer(t.display);
    const fb = top!.owner.feedback;
    fb.pointerEnter(top!, 100, 100);
    fb.pointerFrame();
    fb.pointerButton(2000, 0x111, 'pressed'); // BTN_RIGHT
    fb.pointerFrame();
    let popup: SceneSurface | undefined;
    await waitFor(() => {
      popup = [...t.display.scene.surfaces].find((s) => s.mapped && s.role?.kind === 'popup');
      return popup !== undefined;
    }, 10_000, 'context menu popup');
    const role = popup!.role as PopupRole;
    expect(role.parent).toBe(top);
    expect(role.grab).toBe(true);
    expect(popup!.size.width).toBeGreaterThan(20);
    expect(popup!.size.height).toBeGreaterThan(20);
    fb.pointerButton(2010, 0x111, 'released');
    fb.pointerFrame();
    let destroyed = false;
    popup!.on('destroy', () => (destroyed = true));
    popup!.owner.feedback.popupDone(popup!);
    await waitFor(() => destroyed || !popup!.mapped, 5000, 'menu closed by the client');
    consumer.detach();
  });
});
