/**
 * The clipboard both ways through the bridge, with wl-clipboard: copied with
 * wl-copy in a remote application (run on the transmitter's virtual
 * display), pasted with wl-paste on the receiving compositor, and the other
 * way; a 5 MiB selection arrives intact; a selection over the size limit is
 * cancelled with a log line and the link stays up.
 *
 * The receiving compositor is weston's x11 backend in Xvfb: wl-copy and
 * wl-paste need keyboard focus there (weston 10 has no data-control), and
 * the receiver only hears of the display's selection while one of its
 * windows has focus, so the test clicks a remote window first. weston 10 has
 * no primary selection: for it, the receiving compositor is a second
 * transmitter's virtual display (a seat, focus on the newest window, primary
 * selection), with wl-copy --primary and wl-paste --primary at both ends;
 * clipboard-sway.test.ts does the same with sway as the receiving compositor.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter, type Receiver, type Transmitter } from './bridge.js';
import { run, skipUnless, spawnProcess, startWeston, waitFor, type ManagedProcess } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe.skipIf(skipUnless('weston', 'weston-debug', 'Xvfb', 'xdotool', 'wl-copy', 'wl-paste', 'weston-simple-shm'))('clipboard', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  const dir = mkdtempSync(join(tmpdir(), 'wb-clip-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function setup(transmitterArgs: string[] = []): Promise<{
    weston: Awaited<ReturnType<typeof startWeston>>;
    receiver: Receiver;
    transmitter: Transmitter;
    logs: () => string;
  }> {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: 800, height: 600 }));
    const receiver = cleanup.add(await startReceiver(weston.env));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], [], transmitterArgs));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });
    return { weston, receiver, transmitter, logs };
  }

  /** wl-copy in the foreground (it serves the selection until it loses it), from `file`. */
  function wlCopy(env: Readonly<Record<string, string>>, file: string, extra: string[] = []): ManagedProcess {
    const proc = spawnProcess('sh', ['-c', `exec wl-copy --foreground ${extra.join(' ')} < "$1"`, 'sh', file], { env, name: 'wl-copy', lineBuffered: false });
    cleanup.add({ stop: async () => void (await proc.stop()) }, 'wl-copy');
    return proc;
  }

  /** weston-simple-shm on the transmitter's display `env`: a window that stays. */
  function simpleShm(env: Readonly<Record<string, string>>): void {
    const app = spawnProcess('weston-simple-shm', [], { env, name: 'weston-simple-shm', lineBuffered: false });
    cleanup.add({ stop: async () => void (await app.stop()) }, 'weston-simple-shm');
  }

  type Weston = Awaited<ReturnType<typeof startWeston>>;
  type View = Awaited<ReturnType<Weston['waitForView']>>;

  /** Open weston-simple-shm through `transmitter`; its window as `weston` shows it. */
  async function showSimpleShm(weston: Weston, transmitter: Transmitter, what: string): Promise<View> {
    simpleShm(transmitter.clientEnv);
    return weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, what);
  }

  /** Click the middle of `view` on `weston` (focus and an input serial). */
  async function click(weston: Weston, view: View): Promise<void> {
    await weston.xdotool('mousemove', Math.round(view.rect.x + view.rect.width / 2), Math.round(view.rect.y + view.rect.height / 2), 'click', 1);
  }

  /** Open weston-simple-shm through `transmitter` and click its window on `weston`. */
  async function clickSimpleShm(weston: Weston, transmitter: Transmitter, what: string): Promise<void> {
    await click(weston, await showSimpleShm(weston, transmitter, what));
  }

  /** wl-paste into a file; returns its bytes. */
  async function wlPaste(env: Readonly<Record<string, string>>, out: string, extra: string[] = []): Promise<Buffer> {
    rmSync(out, { force: true });
    await run('sh', ['-c', `wl-paste --no-newline ${extra.join(' ')} > "$1"`, 'sh', out], { env, timeoutMs: 20_000 });
    return readFileSync(out);
  }

  /** Paste until `want` arrives (the selection travels asynchronously). */
  async function pasteUntil(env: Readonly<Record<string, string>>, want: Buffer, what: string, logs: () => string): Promise<Buffer> {
    const out = join(dir, `paste-${Math.random().toString(36).slice(2)}`);
    let got: Buffer = Buffer.alloc(0);
    await waitFor(what, async () => {
      got = await wlPaste(env, out).catch(() => Buffer.alloc(0));
      return got.equals(want);
    }, 30_000, 300).catch((e: Error) => Promise.reject(new Error(`${e.message} (last paste: ${got.length} bytes)\n${logs()}`)));
    return got;
  }

  it('copies in a remote application and pastes on the display, then the other way', async () => {
    const { weston, transmitter, logs } = await setup();
    const remoteText = Buffer.from(`copied remotely ${process.pid} ✓`);
    const remoteFile = join(dir, 'remote.txt');
    writeFileSync(remoteFile, remoteText);
    wlCopy(transmitter.clientEnv, remoteFile);
    const pasted = await pasteUntil(weston.env, remoteText, 'the remote selection pasted on the display', logs);
    expect(pasted.toString()).toBe(remoteText.toString());

    // The other way: a selection made on the display, pasted by an application on the transmitter.
    const localText = Buffer.from(`copied on the display ${process.pid} ✓`);
    const localFile = join(dir, 'local.txt');
    writeFileSync(localFile, localText);
    wlCopy(weston.env, localFile);
    // The receiver hears of the display's selection when one of its windows gets focus: click one.
    await clickSimpleShm(weston, transmitter, 'the remote window');
    const back = await pasteUntil(transmitter.clientEnv, localText, 'the display selection pasted remotely', logs);
    expect(back.toString()).toBe(localText.toString());
  }, 120_000);

  it('carries 5 MiB intact, and cancels a selection over the limit without dropping the link', async () => {
    const { weston, receiver, transmitter, logs } = await setup(['--clipboard-limit', String(6 * 1024 * 1024)]);
    const big = randomBytes(5 * 1024 * 1024);
    const bigFile = join(dir, 'big.bin');
    writeFileSync(bigFile, big);
    const copy = wlCopy(transmitter.clientEnv, bigFile, ['--type', 'application/octet-stream']);
    const out = join(dir, 'big-out.bin');
    let got: Buffer = Buffer.alloc(0);
    await waitFor('5 MiB pasted on the display', async () => {
      got = await wlPaste(weston.env, out, ['--type', 'application/octet-stream']).catch(() => Buffer.alloc(0));
      return got.length === big.length;
    }, 40_000, 500).catch((e: Error) => Promise.reject(new Error(`${e.message} (last paste: ${got.length} bytes)\n${logs()}`)));
    expect(sha(got)).toBe(sha(big));
    await copy.stop();

    // 7 MiB is over the transmitter's 6 MiB limit: the paste gets less, the transmitter says why.
    // wl-copy's window is gone as soon as it has set the selection, so the receiver may get no
    // newer input serial with it, and a compositor ignores a selection not newer than the one
    // before: the receiver keeps it until the next input on one of its windows. A remote window
    // the user clicks gives it one. The click comes once the receiver has the selection: a click
    // still on its way when wl-copy opens moves the virtual display's keyboard focus away from
    // wl-copy, which then has its selection refused (its serial is older than the focus).
    const view = await showSimpleShm(weston, transmitter, 'the remote window');
    const tooBig = randomBytes(7 * 1024 * 1024);
    const tooBigFile = join(dir, 'too-big.bin');
    writeFileSync(tooBigFile, tooBig);
    wlCopy(transmitter.clientEnv, tooBigFile, ['--type', 'application/x-too-big']);
    await waitFor('the receiver told of the selection', () => receiver.process.lines.some((l) => /clipboard selection \d+: application\/x-too-big/.test(l)), 20_000)
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    await click(weston, view);
    await waitFor('the limit in the transmitter log', async () => {
      got = await wlPaste(weston.env, out, ['--type', 'application/x-too-big']).catch(() => Buffer.alloc(0));
      return transmitter.process.lines.some((l) => l.includes('over the clipboard limit'));
    }, 30_000, 500).catch((e: Error) => Promise.reject(new Error(`${e.message}\n${logs()}`)));
    expect(got.length).toBeLessThan(tooBig.length);

    // The link is still up: a small selection still goes through.
    const small = Buffer.from(`after the limit ${process.pid}`);
    const smallFile = join(dir, 'small.txt');
    writeFileSync(smallFile, small);
    wlCopy(transmitter.clientEnv, smallFile);
    const after = await pasteUntil(weston.env, small, 'a small selection after the cancelled one', logs);
    expect(after.toString()).toBe(small.toString());
    expect(transmitter.process.lines.some((l) => /receiver .* (lost|disconnected)/i.test(l))).toBe(false);
  }, 150_000);
  it('carries the primary selection both ways (the receiving compositor: a second virtual display)', async () => {
    // weston 10 has no primary selection; the transmitter's virtual display has one and a seat
    // whose keyboard focus follows the newest window, so it stands in as the receiving compositor.
    const display = cleanup.add(startTransmitter([], []));
    await display.ready();
    const receiver = cleanup.add(await startReceiver(display.clientEnv));
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
    await transmitter.ready();
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process, display: display.process });
    // A remote window stays open: the receiver keeps a window (and keyboard focus) on its display.
    simpleShm(transmitter.clientEnv);
    await waitFor('the remote window on the display', () => display.process.lines.some((l) => l.includes('xdg_toplevel@')), 20_000, 100).catch((e: Error) =>
      Promise.reject(new Error(`${e.message}\n${logs()}`)),
    );

    const remoteText = Buffer.from(`primary from a remote app ${process.pid}`);
    const remoteFile = join(dir, 'primary-remote.txt');
    writeFileSync(remoteFile, remoteText);
    wlCopy(transmitter.clientEnv, remoteFile, ['--primary']);
    const out = join(dir, 'primary-out.txt');
    let got: Buffer = Buffer.alloc(0);
    await waitFor('the remote primary selection pasted on the display', async () => {
      got = await wlPaste(display.clientEnv, out, ['--primary']).catch(() => Buffer.alloc(0));
      return got.equals(remoteText);
    }, 30_000, 300).catch((e: Error) => Promise.reject(new Error(`${e.message} (last paste: ${got.length} bytes)\n${logs()}`)));
    expect(got.toString()).toBe(remoteText.toString());
    // The clipboard was not touched: the primary selection is its own.
    expect((await wlPaste(display.clientEnv, out).catch(() => Buffer.alloc(0))).equals(remoteText)).toBe(false);

    const localText = Buffer.from(`primary from the display ${process.pid}`);
    const localFile = join(dir, 'primary-local.txt');
    writeFileSync(localFile, localText);
    wlCopy(display.clientEnv, localFile, ['--primary']);
    await waitFor('the display primary selection pasted remotely', async () => {
      got = await wlPaste(transmitter.clientEnv, out, ['--primary']).catch(() => Buffer.alloc(0));
      return got.equals(localText);
    }, 30_000, 300).catch((e: Error) => Promise.reject(new Error(`${e.message} (last paste: ${got.length} bytes)\n${logs()}`)));
    expect(got.toString()).toBe(localText.toString());
  }, 120_000);
  it('shares the clipboard with the local compositor of --display, both ways', async () => {
    const weston = cleanup.add(await startWeston({ backend: 'x11', width: 800, height: 600 }));
    const transmitter = cleanup.add(startTransmitter([], [], ['--display', weston.env['WAYLAND_DISPLAY']!], { XDG_RUNTIME_DIR: undefined }));
    await transmitter.ready();
    const logs = (): string => logTails({ transmitter: transmitter.process });
    const text = Buffer.from(`copied on the virtual display ${process.pid}`);
    const file = join(dir, 'vd.txt');
    writeFileSync(file, text);
    wlCopy(transmitter.clientEnv, file);
    expect((await pasteUntil(weston.env, text, 'the selection pasted on the local compositor', logs)).toString()).toBe(text.toString());

    const back = Buffer.from(`copied on the local compositor ${process.pid}`);
    const backFile = join(dir, 'local-back.txt');
    writeFileSync(backFile, back);
    wlCopy(weston.env, backFile);
    await clickSimpleShm(weston, transmitter, 'the local window');
    expect((await pasteUntil(transmitter.clientEnv, back, 'the local selection pasted on the virtual display', logs)).toString()).toBe(back.toString());
  }, 120_000);
});
