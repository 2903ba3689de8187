/**
 * The self-contained demo: a headless weston stands in for the display ECU,
 * waltham-receiver shows remote surfaces on it, waltham-transmitter is the
 * virtual display of the sending ECU, and a real application (weston-flower
 * by default) runs on the transmitter. The demo waits until the application's
 * window is on the display ECU, saves a screenshot, prints where it is and
 * stops everything it started.
 *
 *   npm run demo [-- APPLICATION ARGS...]
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startReceiver, startTransmitter, type Receiver, type Transmitter } from './bridge.js';
import { missingBinaries, savePng, sleep, startWeston, WESTON_BACKGROUND, type Weston, matchFraction } from './harness/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), import.meta.url.endsWith('.ts') ? '..' : '../..');

function say(text: string): void {
  process.stdout.write(`demo: ${text}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  const app = argv.length > 0 ? argv : ['weston-terminal'];
  const missing = missingBinaries('weston', 'weston-screenshooter', app[0]!);
  if (missing.length > 0) {
    say(`missing ${missing.join(', ')}: run bash scripts/install-deps.sh first`);
    return 1;
  }
  let weston: Weston | undefined;
  let receiver: Receiver | undefined;
  let transmitter: Transmitter | undefined;
  try {
    say('starting the display ECU (weston, headless, 1024x768)');
    weston = await startWeston({ backend: 'headless', width: 1024, height: 768 });
    say(`starting waltham-receiver on ${weston.socket}`);
    receiver = await startReceiver(weston.env);
    const to = `${receiver.host}:${receiver.port}`;
    say(`starting waltham-transmitter --to ${to} -- ${app.join(' ')}`);
    transmitter = startTransmitter([to], app);

    const view = await weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel', 20_000, `${app[0]} on the display ECU`);
    say(`the window "${view.title ?? view.appId ?? '?'}" is shown at ${view.rect.x},${view.rect.y} (${view.rect.width}x${view.rect.height})`);
    await sleep(1000); // let a few frames arrive
    const shot = await weston.screenshot();
    const dir = join(root, 'out');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'demo.png');
    await savePng(shot, file);
    const drawn = 1 - matchFraction(shot, view.rect, WESTON_BACKGROUND, { tolerance: 2 });
    say(`${Math.round(drawn * 100)}% of the window area shows the application's pixels`);
    say(`screenshot of the display ECU: ${file}`);
    return drawn > 0.2 ? 0 : 1;
  } finally {
    await transmitter?.stop();
    await receiver?.stop();
    await weston?.stop();
    say('stopped everything');
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
