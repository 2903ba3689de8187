/**
 * Text input through the bridge, on a sway receiver (sway 1.7 has
 * text-input v3 and input-method v2; weston 10 has neither):
 * - an input method on sway (`clients/input-method.c`) composes non-ASCII
 *   text for a remote application (`clients/text-input.c`, a text field
 *   that enables its text input at enter): the application gets the preedit
 *   first, then the commit string intact, each with done;
 * - the input method sees the application's state as the application set
 *   it (surrounding text, content type);
 * - when the window loses focus on sway, the input method is deactivated and
 *   the application's text input leaves.
 *
 * sway's seat has no devices here (WLR_LIBINPUT_NO_DEVICES); a virtual
 * keyboard (wtype, waiting before it types) gives it the keyboard that text
 * inputs need: they follow keyboard focus.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { buildClient, type BuiltClient } from './clients/build.js';
import { run, skipUnless, spawnProcess, waitFor } from './harness/index.js';
import { startSway, swayUnavailable } from './harness/sway.js';
import { Cleanup, logTails } from './scenario.js';

const TEXT = 'grüße 東京';

function skipped(): boolean {
  const why = swayUnavailable();
  if (why !== null) {
    console.warn(`skipping: ${why}`);
    return true;
  }
  return skipUnless('wtype', 'wayland-scanner', 'gcc', 'pkg-config');
}

describe.skipIf(skipped())('text input on sway', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let im: BuiltClient;
  let app: BuiltClient;
  beforeAll(() => {
    im = buildClient('input-method', ['input-method-min']);
    app = buildClient('text-input', ['xdg-shell', 'text-input-unstable-v3']);
    return () => {
      im.remove();
      app.remove();
    };
  });

  it("sway's input method composes for a remote text field: preedit, then the commit string intact; focus loss deactivates it", async () => {
    const sway = cleanup.add(await startSway());
    cleanup.add(spawnProcess('wtype', ['-s', '600000', 'x'], { env: sway.env, name: 'keyboard holder' }));
    await waitFor('a keyboard on sway\'s seat', async () => /"type": "keyboard"/.test(await run('swaymsg', ['-t', 'get_seats', '-r'], { env: sway.env })) || undefined, 10_000, 100);
    const method = cleanup.add(spawnProcess(im.path, [TEXT], { env: sway.env, name: 'input-method' }));
    await method.waitForLine(/^ready$/, 10_000);
    const receiver = cleanup.add(await startReceiver(sway.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    await transmitter.process.waitForLine(/connected to/, 20_000);
    const field = cleanup.add(spawnProcess(app.path, [], { env: transmitter.clientEnv, name: 'text-input' }));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process, 'input-method': method, 'text-input': field, sway: sway.process });

    await field.waitForLine(/^commit /, 20_000).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    // The done that ends it may come in a later read.
    await field.waitForLine(/^done /, 10_000, field.lines.findIndex((l) => l.startsWith('commit ')) + 1);
    const lines = field.lines.filter((l) => /^(enter|leave|preedit |commit |done )/.test(l));
    const preedit = lines.indexOf(`preedit ${TEXT} ${Buffer.byteLength(TEXT)} ${Buffer.byteLength(TEXT)}`);
    const commit = lines.indexOf(`commit ${TEXT}`);
    expect(lines[0], logs()).toBe('enter');
    expect(preedit, `${lines.join('\n')}\n${logs()}`).toBeGreaterThan(0);
    expect(commit).toBeGreaterThan(preedit);
    // Each composed step ends with done, whose serial is the application's count of commits.
    expect(lines[preedit + 1]).toMatch(/^done (\d+) \(commits \1\)$/);
    expect(lines[commit + 1]).toMatch(/^done (\d+) \(commits \1\)$/);
    // What the application set reached the input method.
    await method.waitForLine(/^composed$/, 5000);
    expect(method.lines).toContain('surrounding hello 5 5');
    expect(method.lines).toContain('content_type 512 6'); // multiline, email

    const from = method.lines.length;
    await run('swaymsg', ['workspace', '2'], { env: sway.env });
    await method.waitForLine(/^deactivate$/, 10_000, from).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await field.waitForLine(/^leave$/, 10_000);
  });
});
