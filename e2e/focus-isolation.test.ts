/**
 * Isolation of keyboard focus between transmitters, with real keys on a real
 * compositor: weston's x11 backend in Xvfb, typed into with xdotool. Two
 * transmitters show one weston-eventdemo each on one receiver; the second
 * maps a window with the first's title after the user clicked into the
 * first. Keys typed go to the first application only: none reach the second,
 * neither while weston gives the new window its focus (the receiver follows
 * that only once the user pressed on it) nor once the user clicked back into
 * the first window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { pressUntil, skipUnless, sleep, startWeston, type ManagedProcess, type View } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const TITLE = 'Navigation';
const EVENTDEMO = ['stdbuf', '-oL', 'weston-eventdemo', `--title=${TITLE}`, '--width=200', '--height=150', '--log-key', '--log-button', '--log-focus'];
/** A key press as eventdemo prints it, with its evdev code (`key key: 30, unicode: 97, ...` is a). */
const KEY_LINE = /^key key: (\d+), unicode: \d+, state: pressed/;

/** Evdev codes of the keys `app` got pressed from line `from` on. */
function keysOf(app: ManagedProcess, from = 0): number[] {
  return app.lines.slice(from).flatMap((l) => {
    const m = KEY_LINE.exec(l);
    return m === null ? [] : [Number(m[1])];
  });
}

function inside(r: View['rect'], x: number, y: number): boolean {
  return x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height;
}

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-eventdemo', 'stdbuf', 'Xvfb', 'xdotool'))('keyboard focus between transmitters', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('a second transmitter mapping a window titled like the first\'s gets none of the keys typed for the first application', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: 800, height: 600 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    const first = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], EVENTDEMO));
    let second: ReturnType<typeof startTransmitter> | null = null;
    const logs = (): string =>
      logTails({ receiver: receiver.process, first: first.process, ...(second !== null ? { second: second.process } : {}) }, 25);
    const toplevels = async (): Promise<View[]> => (await weston.sceneGraph()).filter((v) => v.visible && v.role === 'xdg_toplevel' && v.title === TITLE);

    const a = await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.title === TITLE, 20_000, 'the first window').catch((e: Error) =>
      Promise.reject(new Error(`${e.message}\n${logs()}`)),
    );
    // The user clicks into the first window: it has the display's focus, and its application the keys.
    const centre = { x: Math.round(a.rect.x + a.rect.width / 2), y: Math.round(a.rect.y + a.rect.height / 2) };
    await pressUntil(weston, { ...centre, click: true }, (ms) => first.process.waitForLine(/^button time: .*state: pressed/, ms)).catch((e: Error) =>
      Promise.reject(new Error(`the click into the first window: ${e.message}\n${logs()}`)),
    );
    let from = first.process.lines.length;
    await weston.xdotool('type', '--delay', 20, 'ab');
    await first.process.waitForLine(KEY_LINE, 5000, from).catch((e: Error) => Promise.reject(new Error(`keys for the first application: ${e.message}\n${logs()}`)));

    // The second transmitter maps a window with the same title; weston activates it.
    second = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], EVENTDEMO));
    const both = await (async () => {
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(100)) {
        const views = await toplevels();
        if (views.length === 2) return views;
      }
      throw new Error(`no second window titled ${TITLE}\n${logs()}`);
    })();
    const b = both.find((v) => v.surfaceId !== a.surfaceId)!;
    await second.process.waitForLine(/^focus|^redraw|keyboard/, 5000).catch(() => undefined);
    await sleep(500); // weston's map animation and the focus change
    const secondFrom = second.process.lines.length;
    from = first.process.lines.length;
    await weston.xdotool('type', '--delay', 20, 'qw');
    await sleep(1000); // keys that would go astray have time to arrive
    expect(keysOf(second.process, secondFrom), `the second application got keys\n${logs()}`).toEqual([]);

    // The user clicks back into the first window (a point of it the second does not cover) and types.
    const aNow = (await toplevels()).find((v) => v.surfaceId === a.surfaceId)!;
    // Within the middle of the window (its edges are shadow that takes no input), nearest the centre first.
    const r = aNow.rect;
    const point = (() => {
      const candidates: { x: number; y: number }[] = [];
      for (let y = Math.round(r.y + r.height * 0.35); y <= r.y + r.height * 0.75; y += 5) {
        for (let x = Math.round(r.x + r.width * 0.25); x <= r.x + r.width * 0.75; x += 5) if (!inside(b.rect, x, y)) candidates.push({ x, y });
      }
      const d = (p: { x: number; y: number }): number => Math.hypot(p.x - (r.x + r.width / 2), p.y - (r.y + r.height / 2));
      return candidates.sort((p, q) => d(p) - d(q))[0] ?? null;
    })();
    expect(point, `the second window covers all of the first (${JSON.stringify(aNow.rect)} under ${JSON.stringify(b.rect)})`).not.toBeNull();
    const clickFrom = first.process.lines.length;
    await pressUntil(weston, { ...point!, click: true }, (ms) => first.process.waitForLine(/^button time: .*state: pressed/, ms, clickFrom)).catch((e: Error) =>
      Promise.reject(new Error(`the click back into the first window: ${e.message}\n${logs()}`)),
    );
    from = first.process.lines.length;
    await weston.xdotool('type', '--delay', 20, 'xyz');
    await first.process.waitForLine(/^key key: 44, unicode: \d+, state: pressed/, 5000, from).catch((e: Error) =>
      Promise.reject(new Error(`z for the first application: ${e.message}\n${logs()}`)),
    );
    // x y z: evdev 45 21 44.
    expect(keysOf(first.process, from)).toEqual([45, 21, 44]);
    expect(keysOf(second.process, secondFrom), `the second application got keys\n${logs()}`).toEqual([]);
  }, 90_000);
});
