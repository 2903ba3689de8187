/**
 * Liveness over a real network: the transmitter runs in a board's network
 * namespace, the receiver on the host shows on a headless weston. nftables
 * in the board then drops every packet (the link goes silent: no FIN, no
 * RST), for longer than any timeout, and lets them through again:
 *
 * - both sides notice within 5 s (TCP keepalive and a wth_display.sync
 *   ping with a timeout on each side), and the receiver removes the dead
 *   transmitter's window within 5 s (no ghost window);
 * - the picture is back within 2 s after the link returns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandArgs, freePort, startReceiver } from './bridge.js';
import { createBoardNetwork, netnsUnavailable, type BoardNetwork } from './boards/network.js';
import { runSync, skipUnless, sleep, spawnProcess, waitFor, type View } from './harness/index.js';
import { startWeston } from './harness/weston.js';
import { Cleanup, isWindowView, logTails, waitForFrame } from './scenario.js';

const SIMPLE_SHM = 'org.freedesktop.weston.simple-shm';
/** How long the link stays silent: longer than every timeout on either side. */
const SILENT_MS = 10_000;

const unavailable = netnsUnavailable() ?? (skipUnless('nft') ? 'nft is not installed' : null);
if (unavailable !== null) console.info(`liveness over a silent link: skipped (${unavailable})`);

describe.skipIf(unavailable !== null || skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'weston-simple-shm'))('liveness over a silent link', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('notices a silent link within 5 s on both sides, removes the window, and shows it again within 2 s of the link coming back', async () => {
    const network: BoardNetwork = await createBoardNetwork(1);
    cleanup.defer(() => network.destroy(), 'the board network');
    const board = network.boards[0]!;
    const ns = board.ns!;
    const weston = cleanup.add(await startWeston({ backend: 'headless', width: 640, height: 480 }));
    const port = await freePort();
    const receiver = cleanup.add(await startReceiver(weston.env, ['--listen', `${network.hostIp}:${port}`]));
    const runtimeDir = mkdtempSync(join(tmpdir(), 'wb-tx-'));
    cleanup.defer(() => rmSync(runtimeDir, { recursive: true, force: true }), 'the runtime directory');
    const transmitter = cleanup.add(
      spawnProcess('ip', ['netns', 'exec', ns, process.execPath, ...commandArgs('transmitter'), '--to', `${network.hostIp}:${port}`, '--', 'weston-simple-shm'], {
        env: { WAYLAND_DISPLAY: undefined, WALTHAM_LOG_LEVEL: 'debug', XDG_RUNTIME_DIR: runtimeDir },
        name: 'waltham-transmitter',
        lineBuffered: false,
      }),
    );
    const logs = (): string => logTails({ receiver: receiver.process, transmitter }, 25);
    const isApp = (v: View): boolean => v.visible && v.role === 'xdg_toplevel' && v.appId === SIMPLE_SHM;
    const fail = (e: Error): Promise<never> => Promise.reject(new Error(`${e.message}\n${logs()}`));

    // Plain TCP on a network address: the receiver says what that means.
    const warning = await receiver.process.waitForLine(/without TLS or token/, 5000);
    expect(warning).toMatch(/"level":40.*anyone who reaches this port can show windows here/);
    const first = await weston.waitForView(isApp, 20_000, 'weston-simple-shm from the board').catch(fail);
    await waitForFrame(weston, first.rect);

    // Silence: every packet in and out of the board is dropped.
    const nft = (script: string): void => {
      const r = runSync('ip', ['netns', 'exec', ns, 'sh', '-c', `nft -f - <<'EOF'\n${script}\nEOF`]);
      if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
    };
    nft('table inet wb_silence {\n chain in { type filter hook input priority 0; policy drop; }\n chain out { type filter hook output priority 0; policy drop; }\n}');
    cleanup.defer(() => runSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'wb_silence']), 'the nftables drop');
    const silent = Date.now();
    const rxLines = receiver.process.output().split('\n').length;
    const txLines = transmitter.output().split('\n').length;

    // All three watched at once, each timed when it happens.
    const after = <T>(p: Promise<T>): Promise<{ value: T; ms: number }> => p.then((value) => ({ value, ms: Date.now() - silent }));
    const [gone, rxNoticed, txNoticed] = await Promise.all([
      after(waitFor('the window to go from the receiver', async () => (await weston.sceneGraph()).filter(isWindowView).length === 0, 8000, 50)),
      after(receiver.process.waitForLine(/dropped: no sign of life/, 8000, rxLines - 1)),
      after(transmitter.waitForLine(/no answer for \d+ ms|connection lost/, 8000, txLines - 1)),
    ]).catch(fail);
    console.info(`silent link: window removed after ${gone.ms} ms, receiver noticed after ${rxNoticed.ms} ms, transmitter after ${txNoticed.ms} ms`);
    expect(rxNoticed.ms, `the receiver noticed the silent link within 5 s\n${logs()}`).toBeLessThanOrEqual(5000);
    expect(gone.ms, `the receiver removed the dead transmitter's window within 5 s\n${logs()}`).toBeLessThanOrEqual(5000);
    expect(txNoticed.ms, `the transmitter noticed the silent link within 5 s\n${logs()}`).toBeLessThanOrEqual(5000);

    await sleep(Math.max(0, SILENT_MS - (Date.now() - silent)));
    expect((await weston.sceneGraph()).filter(isWindowView), 'no ghost window while the link is silent').toEqual([]);
    expect(transmitter.running, `the transmitter keeps running without a link\n${logs()}`).toBe(true);

    runSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'wb_silence']);
    const back = Date.now();
    const view = await weston.waitForView(isApp, 10_000, 'weston-simple-shm back').catch(fail);
    await waitForFrame(weston, view.rect, 10_000).catch(fail);
    const pictureBack = Date.now() - back;
    console.info(`link back: the picture was back after ${pictureBack} ms`);
    expect(pictureBack, `the picture is back within 2 s of the link\n${logs()}`).toBeLessThanOrEqual(2000);
    expect((await weston.sceneGraph()).filter(isApp), 'one window, not two').toHaveLength(1);
  });
});
