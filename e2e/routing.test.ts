/**
 * Routing by app_id: one transmitter with a weston.ini holding two
 * [transmitter-output] sections, each listing one app_id, sends each
 * application to its own receiver (two weston instances), and only there.
 * An application whose app_id no section lists goes to neither (every output
 * lists app-ids, so it stays local, and the transmitter has no local display).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { skipUnless, sleep, spawnProcess, startWeston, type View } from './harness/index.js';
import { Cleanup, isWindowView, logTails, waitForFrame } from './scenario.js';

const FLOWER = 'org.freedesktop.weston.flower';
const TERMINAL = 'org.freedesktop.weston.wayland-terminal';
const CLICKDOT = 'org.freedesktop.weston.wayland-clickdot';

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'weston-flower', 'weston-terminal', 'weston-clickdot'))('routing by app_id', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('two [transmitter-output] sections send each application only to the receiver that lists its app_id', async () => {
    const [left, right] = await cleanup.addAll([
      startWeston({ backend: 'headless', width: 640, height: 480 }),
      startWeston({ backend: 'headless', width: 900, height: 600 }),
    ] as const);
    const [leftReceiver, rightReceiver] = await cleanup.addAll([startReceiver(left.env), startReceiver(right.env)] as const);

    const dir = mkdtempSync(join(tmpdir(), 'wb-routing-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const ini = join(dir, 'weston.ini');
    // agl-shell-app-id is the AGL plugin's spelling; both are accepted.
    writeFileSync(
      ini,
      [
        '[core]',
        'modules=waltham-transmitter.so',
        '',
        '[transmitter-output]',
        'name=left',
        `host=${leftReceiver.host}`,
        `port=${leftReceiver.port}`,
        `app-id=${FLOWER}`,
        '',
        '[transmitter-output]',
        'name=right',
        `host=${rightReceiver.host}`,
        `port=${rightReceiver.port}`,
        `agl-shell-app-id=${TERMINAL}`,
        '',
      ].join('\n'),
    );
    const transmitter = cleanup.add(startTransmitter([], [], ['--config', ini]));
    await transmitter.ready();
    const logs = (): string =>
      logTails({ 'left receiver': leftReceiver.process, 'right receiver': rightReceiver.process, transmitter: transmitter.process });
    // clickdot's trace shows that it got its window configured and drew into it on the transmitter.
    const apps = ['weston-flower', 'weston-terminal', 'weston-clickdot'].map((name) =>
      cleanup.add(
        spawnProcess(name, [], { env: { ...transmitter.clientEnv, SHELL: '/bin/sh', ...(name === 'weston-clickdot' ? { WAYLAND_DEBUG: 'client' } : {}) }, name }),
      ),
    );
    const clickdot = apps[2]!;

    const flower = await left
      .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === FLOWER, 20_000, 'weston-flower on the left receiver')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    const terminal = await right
      .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === TERMINAL, 20_000, 'weston-terminal on the right receiver')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await waitForFrame(left, flower.rect);
    await waitForFrame(right, terminal.rect);

    // Give a wrongly routed window the time a right one took to show, then look at both screens.
    await sleep(1500);
    const describeViews = (views: View[]): string => views.map((v) => `${v.role} ${v.appId ?? v.title ?? '?'}`).join(', ') || 'nothing';
    const onLeft = (await left.sceneGraph()).filter(isWindowView);
    const onRight = (await right.sceneGraph()).filter(isWindowView);
    const message = `left shows: ${describeViews(onLeft)}; right shows: ${describeViews(onRight)}\n${logs()}`;
    expect(onLeft.filter((v) => v.role === 'xdg_toplevel').map((v) => v.appId), message).toEqual([FLOWER]);
    expect(onRight.filter((v) => v.role === 'xdg_toplevel').map((v) => v.appId), message).toEqual([TERMINAL]);
    // The unrouted one is really there on the transmitter, just not sent anywhere.
    expect(apps.map((a) => a.running), `all three applications run\n${logs()}`).toEqual([true, true, true]);
    expect(clickdot.lines.some((l) => /\sxdg_surface@\d+\.configure\(/.test(l)), `clickdot's window was configured\n${clickdot.tail()}`).toBe(true);
    expect(clickdot.lines.some((l) => /-> wl_surface@\d+\.attach\(wl_buffer@/.test(l)), `clickdot attached a buffer\n${clickdot.tail()}`).toBe(true);
    expect([...onLeft, ...onRight].some((v) => v.appId === CLICKDOT), message).toBe(false);
  });
});
