/**
 * The receiver's ivi shell: on weston with ivi-shell and hmi-controller, a
 * remote application becomes an ivi-application surface with the ivi id that
 * the receiver's configuration maps its app_id to, and the controller shows
 * it.
 *
 * The harness runs the ivi weston fullscreen inside a headless desktop weston
 * that takes the screenshots (ivi-shell has no screenshooter in weston 10);
 * both have the same size, so scene-graph positions are screenshot
 * positions. hmi-controller tiles and scales application surfaces (1024x768:
 * about 256x349), so the check is on the tile: its pixels changed from the
 * shell's own background to the application's, including simple-shm's white
 * border.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { describeRegion, diffCount, isReservedIviId, matchFraction, skipUnless, skipUnlessIvi, sleep, startWeston } from './harness/index.js';
import { Cleanup, logTails } from './scenario.js';

const APP_ID = 'org.freedesktop.weston.simple-shm';
const IVI_ID = 700;

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug', 'weston-simple-shm') || skipUnlessIvi())('ivi shell', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('--shell ivi shows the application as the ivi surface its app_id is mapped to, and hmi-controller puts it on screen', async () => {
    expect(isReservedIviId(IVI_ID)).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), 'wb-ivi-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'receiver.ini');
    writeFileSync(config, ['[receiver]', 'shell=ivi', '', '[ivi-surface]', `app-id=${APP_ID}`, `ivi-id=${IVI_ID}`, ''].join('\n'));

    const weston = cleanup.add(await startWeston({ backend: 'headless', shell: 'ivi', width: 1024, height: 768 }));
    const receiver = cleanup.add(await startReceiver(weston.env, ['--shell', 'ivi', '--config', config]));
    const before = await weston.screenshot();
    const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], ['weston-simple-shm']));
    const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process });

    // Placed by the controller: full opacity and a tile's size (it starts small while it is laid out).
    const view = await weston
      .waitForView((v) => v.iviId === IVI_ID && v.visible && v.alpha === 1 && v.rect.width >= 100 && v.rect.height >= 100, 20_000, `ivi-surface ${IVI_ID} placed`)
      .catch(async (e: Error) => {
        const views = (await weston.sceneGraph()).map((v) => `${v.description} ${v.rect.width}x${v.rect.height}@${v.rect.x},${v.rect.y} alpha ${v.alpha}`);
        return Promise.reject(new Error(`${e.message}\nviews: ${views.join('; ')}\n${logs()}`));
      });
    await sleep(300); // one more repaint of the outer compositor
    const shot = await weston.screenshot();
    const r = view.rect;
    const changed = diffCount(before.crop(r), shot.crop(r), 8) / (r.width * r.height);
    const white = matchFraction(shot, r, 0xffffff);
    const message = `ivi-surface ${IVI_ID} at (${r.x}, ${r.y}) ${r.width}x${r.height}: ${(changed * 100).toFixed(1)}% changed, ${(white * 100).toFixed(1)}% white; before: ${describeRegion(before, r)}; now: ${describeRegion(shot, r)}\n${logs()}`;
    expect(changed, message).toBeGreaterThan(0.8);
    // simple-shm's white border, scaled with the window: about 29% of it.
    expect(white, message).toBeGreaterThan(0.15);
  });
});
