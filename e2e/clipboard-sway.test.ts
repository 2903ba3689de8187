/**
 * The primary selection both ways through the bridge on a sway receiver
 * (sway 1.7 has primary selection, which weston 10 lacks): wl-copy --primary
 * in a remote application, wl-paste --primary on sway, and the other way.
 *
 * wl-clipboard uses sway's data-control, so it needs no focus on sway; the
 * receiver hears of sway's primary selection, and may set one, only while
 * one of its windows has keyboard focus (the serial of the keyboard enter),
 * so a remote window stays open and sway's seat gets a keyboard (wtype,
 * waiting before it types: the seat has no devices otherwise).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { run, skipUnless, spawnProcess, waitFor } from './harness/index.js';
import { startSway, swayUnavailable } from './harness/sway.js';
import { Cleanup, logTails } from './scenario.js';

function skipped(): boolean {
  const why = swayUnavailable();
  if (why !== null) {
    console.warn(`skipping: ${why}`);
    return true;
  }
  return skipUnless('wtype', 'wl-copy', 'wl-paste', 'weston-simple-shm');
}

describe.skipIf(skipped())('primary selection on sway', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  const dir = mkdtempSync(join(tmpdir(), 'wb-primary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** wl-copy in the foreground (it serves the selection until it loses it), from `file`. */
  function wlCopy(env: Readonly<Record<string, string>>, file: string, extra: string[]): void {
    const proc = spawnProcess('sh', ['-c', `exec wl-copy --foreground ${extra.join(' ')} < "$1"`, 'sh', file], { env, name: 'wl-copy', lineBuffered: false });
    cleanup.add({ stop: async () => void (await proc.stop()) }, 'wl-copy');
  }

  async function wlPaste(env: Readonly<Record<string, string>>, extra: string[]): Promise<Buffer> {
    const out = join(dir, 'paste.txt');
    rmSync(out, { force: true });
    await run('sh', ['-c', `wl-paste --no-newline ${extra.join(' ')} > "$1"`, 'sh', out], { env, timeoutMs: 20_000 });
    return readFileSync(out);
  }

  async function pasteUntil(env: Readonly<Record<string, string>>, want: Buffer, what: string, logs: () => string): Promise<Buffer> {
    let got: Buffer = Buffer.alloc(0);
    await waitFor(what, async () => {
      got = await wlPaste(env, ['--primary']).catch(() => Buffer.alloc(0));
      return got.equals(want);
    }, 30_000, 300).catch((e: Error) => Promise.reject(new Error(`${e.message} (last paste: ${got.length} bytes)\n${logs()}`)));
    return got;
  }

  it('carries the primary selection from a remote application to sway and back, apart from the clipboard', async () => {
    const sway = cleanup.add(await startSway());
    cleanup.add(spawnProcess('wtype', ['-s', '600000', 'x'], { env: sway.env, name: 'keyboard holder' }));
    await waitFor("a keyboard on sway's seat", async () => /"type": "keyboard"/.test(await run('swaymsg', ['-t', 'get_seats', '-r'], { env: sway.env })) || undefined, 10_000, 100);
    const receiver = cleanup.add(await startReceiver(sway.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process, sway: sway.process });
    const app = spawnProcess('weston-simple-shm', [], { env: transmitter.clientEnv, name: 'weston-simple-shm', lineBuffered: false });
    cleanup.add({ stop: async () => void (await app.stop()) }, 'weston-simple-shm');
    await waitFor('the remote window on sway', async () => ((await sway.views()).length > 0) || undefined, 20_000, 100).catch((e: Error) =>
      Promise.reject(new Error(`${e.message}\n${logs()}`)),
    );

    const remoteText = Buffer.from(`primary from a remote app ${process.pid} ✓`);
    const remoteFile = join(dir, 'remote.txt');
    writeFileSync(remoteFile, remoteText);
    wlCopy(transmitter.clientEnv, remoteFile, ['--primary']);
    const pasted = await pasteUntil(sway.env, remoteText, 'the remote primary selection pasted on sway', logs);
    expect(pasted.toString()).toBe(remoteText.toString());
    // The clipboard was not touched: the primary selection is its own.
    expect((await wlPaste(sway.env, []).catch(() => Buffer.alloc(0))).equals(remoteText)).toBe(false);

    const localText = Buffer.from(`primary from sway ${process.pid} ✓`);
    const localFile = join(dir, 'local.txt');
    writeFileSync(localFile, localText);
    wlCopy(sway.env, localFile, ['--primary']);
    const back = await pasteUntil(transmitter.clientEnv, localText, "sway's primary selection pasted remotely", logs);
    expect(back.toString()).toBe(localText.toString());
    expect((await wlPaste(transmitter.clientEnv, []).catch(() => Buffer.alloc(0))).equals(localText)).toBe(false);
  }, 120_000);
});
