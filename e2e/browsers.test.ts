/**
 * Firefox ESR and Chromium through one transmitter and one receiver, on a
 * receiving weston with a seat (x11 backend in Xvfb, typed into with
 * xdotool). Each shows e2e/pages/counter.html from a file:// URL:
 *
 * - its counter block changes colour every 15 animation frames, so the
 *   receiver's screenshots must show at least three colours of the page's
 *   palette one after the other (browsers commit mostly frame callbacks
 *   without new pixels: through a bridge that answers those late, the
 *   counter stands still after the first frame);
 * - typing "wayland" into its focused text field turns the field magenta.
 *
 * Each browser is skipped, with the reason printed, when its program is
 * missing (Debian packages firefox-esr and chromium; scripts/install-deps.sh).
 * As root the browsers need their own profile directory, and Chromium
 * --no-sandbox.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, startTransmitter } from './bridge.js';
import { colourArea, missingBinaries, skipUnless, spawnProcess, startWeston, waitFor, type Image, type View } from './harness/index.js';
import type { Rect } from '../shared/scene/scene.js';
import { Cleanup, logTails } from './scenario.js';

const here = dirname(fileURLToPath(import.meta.url));
const PAGE = pathToFileURL(join(here, 'pages', 'counter.html')).href;
const TITLE = 'waltham counter';
/** The counter block's colours, in the page's order (PALETTE in counter.html). */
const PALETTE = [0xff0000, 0x00c000, 0x0000ff, 0xffc000, 0x00c0c0, 0xc000c0];
/** The text field once it holds "wayland". */
const TYPED = 0xff00ff;
/** Pixels of one colour that make it "shown" (the counter block is about 500x180). */
const MIN_PIXELS = 5000;

interface Browser {
  readonly name: string;
  readonly binary: string;
  /** Command line for a profile directory and a URL. */
  command(profile: string, url: string): string[];
  readonly env?: Readonly<Record<string, string>>;
}

const BROWSERS: readonly Browser[] = [
  {
    name: 'Firefox ESR',
    binary: 'firefox-esr',
    command: (profile, url) => {
      // No first-run pages, default-browser question or data-reporting notice over the page.
      const prefs = {
        'browser.shell.checkDefaultBrowser': false,
        'browser.aboutwelcome.enabled': false,
        'browser.startup.homepage_override.mstone': 'ignore',
        'datareporting.policy.dataSubmissionEnabled': false,
        'toolkit.telemetry.reportingpolicy.firstRun': false,
      };
      writeFileSync(join(profile, 'user.js'), Object.entries(prefs).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(''));
      return ['firefox-esr', '--profile', profile, '--no-remote', '--new-instance', '--width', '520', '--height', '420', url];
    },
    env: { MOZ_ENABLE_WAYLAND: '1' },
  },
  {
    name: 'Chromium',
    binary: 'chromium',
    command: (profile, url) => [
      'chromium',
      '--ozone-platform=wayland',
      '--no-sandbox',
      `--user-data-dir=${profile}`,
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-gpu',
      '--window-size=520,420',
      `--app=${url}`,
    ],
  },
];

/** The palette colour the counter block shows in `rect`, with its box, or null. */
function counterColour(shot: Image, rect: Rect): { colour: number; box: Rect } | null {
  for (const colour of PALETTE) {
    const area = colourArea(shot, rect, colour);
    if (area.pixels >= MIN_PIXELS && area.box !== null) return { colour, box: area.box };
  }
  return null;
}

const hex = (c: number): string => `#${c.toString(16).padStart(6, '0')}`;

describe.skipIf(skipUnless('weston', 'weston-debug', 'weston-screenshooter', 'Xvfb', 'xdotool'))('browsers through the bridge', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  for (const browser of BROWSERS) {
    const missing = missingBinaries(browser.binary);
    if (missing.length > 0) console.warn(`skipping ${browser.name}: ${missing.join(', ')} not installed (Debian package ${browser.binary})`);
    it.skipIf(missing.length > 0)(
      `${browser.name}: the page's animated counter advances on the receiver and typing into its text field shows`,
      async () => {
        const weston = cleanup.add(await startWeston({ backend: 'x11', width: 800, height: 600 }));
        const receiver = cleanup.add(await startReceiver(weston.env));
        const transmitter = cleanup.add(startTransmitter([`${receiver.host}:${receiver.port}`], []));
        await transmitter.ready();
        const profile = mkdtempSync(join(tmpdir(), `wb-${browser.binary}-`));
        cleanup.defer(() => rmSync(profile, { recursive: true, force: true }), 'the browser profile');
        const [command, ...args] = browser.command(profile, PAGE);
        const app = cleanup.add(
          spawnProcess(command!, args, { env: { ...transmitter.clientEnv, ...browser.env, DISPLAY: undefined, HOME: profile }, name: browser.name, lineBuffered: false }),
        );
        const logs = (): string => logTails({ receiver: receiver.process, transmitter: transmitter.process, [browser.name]: app });
        const failWithLogs = (e: Error): Promise<never> => Promise.reject(new Error(`${e.message}\n${logs()}`));

        const window = (): Promise<View> =>
          weston.waitForView((v) => v.visible && v.role === 'xdg_toplevel' && (v.title ?? '').startsWith(TITLE), 45_000, `the ${browser.name} window`);
        await window().catch(failWithLogs);

        // The counter: three palette colours, one after the other, on the receiver's screen.
        const seen: number[] = [];
        let last = 'no screenshot';
        let block: Rect | null = null;
        let view: View | null = null;
        await waitFor(
          'three colours of the counter on the receiver',
          async () => {
            view = await window();
            const shot = await weston.screenshot();
            const found = counterColour(shot, view.rect);
            last = found === null ? 'no palette colour in the window' : `${hex(found.colour)} at ${JSON.stringify(found.box)}`;
            if (found !== null) {
              block = found.box;
              if (seen[seen.length - 1] !== found.colour) seen.push(found.colour);
            }
            return new Set(seen).size >= 3 ? true : undefined;
          },
          30_000,
          150,
        ).catch((e: Error) => failWithLogs(new Error(`${e.message}; colours seen in order: ${seen.map(hex).join(', ')}; last: ${last}`)));
        expect(new Set(seen).size).toBeGreaterThanOrEqual(3);

        // The text field lies right under the counter block: click into it and type.
        const b = block! as Rect;
        const at = { x: Math.round(b.x + b.width / 2), y: Math.round(b.y + b.height + 40) };
        await weston.xdotool('mousemove', at.x, at.y, 'click', 1);
        await weston.xdotool('type', '--delay', 40, 'wayland');
        let typed = 0;
        await waitFor(
          'the text field turned magenta on the receiver',
          async () => {
            const shot = await weston.screenshot();
            typed = colourArea(shot, (view as View | null)?.rect ?? (await window()).rect, TYPED).pixels;
            return typed >= MIN_PIXELS ? true : undefined;
          },
          15_000,
          200,
        ).catch((e: Error) => failWithLogs(new Error(`${e.message}; ${typed} magenta pixels after typing at (${at.x}, ${at.y})`)));
        expect(typed).toBeGreaterThanOrEqual(MIN_PIXELS);
      },
      90_000,
    );
  }
});
