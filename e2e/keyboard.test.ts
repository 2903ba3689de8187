/**
 * Keyboard input from the receiving side reaches a remoted terminal: typing
 * a shell command on the receiving compositor's seat runs it on the
 * transmitting side.
 *
 * The receiving compositor is weston's x11 backend in Xvfb (a real seat;
 * headless weston has none), typed into with xdotool; the harness syncs the
 * pointer, and the test clicks into the window first because keys go to the
 * window weston last activated.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { skipUnless, startWeston, waitFor } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const TERMINAL_APP_ID = 'org.freedesktop.weston.wayland-terminal';

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-terminal', 'Xvfb', 'xdotool'))('keyboard', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('typing a command into a remoted weston-terminal runs it on the transmitting side', async () => {
    // Upper case and '_' need Shift: the modifiers have to arrive too, not only the keys.
    const file = join(tmpdir(), `wb-keys-${process.pid}-Typed_On.Receiver`);
    rmSync(file, { force: true });
    cleanup.defer(() => rmSync(file, { force: true }));

    const weston = cleanup.add(await startWeston({ backend: 'x11', width: 800, height: 600 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    // SHELL=/bin/sh: a plain prompt, no shell start-up files in the way.
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-terminal'], [], { SHELL: '/bin/sh' }));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });

    const view = await weston
      .waitForView((v) => v.visible && v.role === 'xdg_toplevel' && v.appId === TERMINAL_APP_ID, 20_000, 'the remoted terminal')
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    // Focus: click into the terminal's text area (the middle of the window is well inside it).
    await weston.xdotool('mousemove', Math.round(view.rect.x + view.rect.width / 2), Math.round(view.rect.y + view.rect.height / 2), 'click', 1);
    await weston.xdotool('type', '--delay', 20, `touch ${file}`);
    await weston.xdotool('key', 'Return');

    await waitFor(`${file} to be created`, () => existsSync(file), 10_000, 100).catch((e: Error) =>
      Promise.reject(new Error(`${e.message}\n${logs()}`)),
    );
    expect(existsSync(file)).toBe(true);
  });
});
