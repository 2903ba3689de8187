/**
 * Real applications on the virtual display (wayland-client-survey.md, the
 * clients of its table that run without a seat-driving compositor): each
 * must map a toplevel with its title, app_id and real content; animated ones
 * must keep committing both when a consumer presents their frames and when
 * nothing shows them (fallback frame clock).
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SceneSurface } from '../../shared/scene/scene.js';
import { FakeConsumer, displayPerTest, sleep, stopChild, waitFor, which } from './test/helpers.js';

interface ClientCase {
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly title: string | RegExp;
  readonly appId: string;
  /** Redraws continuously, paced by frame callbacks. */
  readonly animated?: boolean;
  /** Number of mapped subsurfaces of the toplevel, at least. */
  readonly subsurfaces?: number;
}

const QT_CALCULATOR = '/usr/lib/x86_64-linux-gnu/qt5/examples/widgets/widgets/calculator/calculator';

const CASES: readonly ClientCase[] = [
  { name: 'weston-simple-shm', command: 'weston-simple-shm', title: 'simple-shm', appId: 'org.freedesktop.weston.simple-shm', animated: true },
  { name: 'weston-flower', command: 'weston-flower', title: 'Flower', appId: 'org.freedesktop.weston.flower' },
  { name: 'weston-terminal', command: 'weston-terminal', env: { SHELL: '/bin/sh' }, title: 'Wayland Terminal', appId: 'org.freedesktop.weston.wayland-terminal' },
  {
    name: 'weston-subsurfaces',
    command: 'weston-subsurfaces',
    title: 'Wayland Sub-surface Demo',
    appId: 'org.freedesktop.weston.wayland-sub-surface-demo',
    animated: true,
    subsurfaces: 2,
  },
  { name: 'weston-clickdot', command: 'weston-clickdot', title: 'Wayland ClickDot', appId: 'org.freedesktop.weston.wayland-clickdot' },
  { name: 'weston-eventdemo', command: 'weston-eventdemo', title: 'EventDemo', appId: 'org.freedesktop.weston.eventdemo' },
  { name: 'weston-editor', command: 'weston-editor', title: 'Text Editor', appId: 'org.freedesktop.weston.text-editor' },
  { name: 'foot', command: 'foot', args: ['--title=walt foot', '--app-id=walt.foot', 'sleep', '60'], title: 'walt foot', appId: 'walt.foot', subsurfaces: 4 },
  { name: 'gtk3-demo', command: 'gtk3-demo', env: { GDK_BACKEND: 'wayland', NO_AT_BRIDGE: '1' }, title: /.+/, appId: 'gtk3-demo' },
  { name: 'Qt5 calculator', command: QT_CALCULATOR, env: { QT_QPA_PLATFORM: 'wayland' }, title: 'Calculator', appId: 'calculator' },
];

const t = displayPerTest();
let child: ChildProcess | null = null;
let output = '';

beforeEach(() => {
  output = '';
});

// Runs before the display is closed (after hooks run in reverse order).
afterEach(async () => {
  if (child !== null) await stopChild(child);
  child = null;
});

function start(c: ClientCase): ChildProcess {
  child = t.display.spawn(c.command, c.args ?? [], { LANG: 'C.UTF-8', ...c.env }, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  return child;
}

async function waitForToplevel(c: ClientCase, proc: ChildProcess): Promise<SceneSurface> {
  let found: SceneSurface | undefined;
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`${c.name} exited with ${proc.exitCode}: ${output}`);
      found = t.display.scene.roots().find((s) => s.mapped && s.role?.kind === 'toplevel' && s.role.appId === c.appId);
      return found !== undefined;
    },
    20_000,
    `a mapped toplevel of ${c.name}`,
  );
  return found!;
}

function nonZeroBytes(s: SceneSurface): number {
  let n = 0;
  for (const b of s.content!.pixels) if (b !== 0) n++;
  return n;
}

/** Counts commits per surface without listening to them (a listener would make the surface "consumed"). */
function countCommits(): { count(s: SceneSurface): number; restore(): void } {
  const counts = new Map<SceneSurface, number>();
  const original = SceneSurface.prototype.commit;
  const spy = vi.spyOn(SceneSurface.prototype, 'commit').mockImplementation(function (this: SceneSurface, info) {
    counts.set(this, (counts.get(this) ?? 0) + 1);
    original.call(this, info);
  });
  return { count: (s) => counts.get(s) ?? 0, restore: () => spy.mockRestore() };
}

describe('real clients on the virtual display', () => {
  for (const c of CASES) {
    const bin = which(c.command);
    if (bin === undefined) console.warn(`skipping ${c.name}: ${c.command} is not installed`);

    it.skipIf(bin === undefined)(`${c.name} maps a toplevel with its title, app_id and content`, async () => {
      const proc = start(c);
      const top = await waitForToplevel(c, proc);
      const role = top.role!;
      if (role.kind !== 'toplevel') throw new Error('not a toplevel');
      if (typeof c.title === 'string') expect(role.title).toBe(c.title);
      else expect(role.title).toMatch(c.title);
      const { width, height } = top.size;
      expect(width).toBeGreaterThanOrEqual(100);
      expect(height).toBeGreaterThanOrEqual(100);
      expect(width).toBeLessThanOrEqual(4096);
      expect(height).toBeLessThanOrEqual(4096);
      // Drawn, not a blank buffer: at least 5% of the pixels (weston-flower draws a random-sized flower on a transparent square).
      expect(nonZeroBytes(top)).toBeGreaterThan(width * height * 4 * 0.05);
      if (c.subsurfaces !== undefined) {
        await waitFor(() => top.stack.filter((s) => s !== top && s.mapped).length >= c.subsurfaces!, 10_000, 'subsurfaces');
      }
      expect(t.logs.filter((l) => (l['level'] as number) >= 40)).toEqual([]); // no protocol error, no warning
      expect(proc.exitCode).toBeNull();
    });

    if (c.animated !== true) continue;

    it.skipIf(bin === undefined)(`${c.name} animates on the fallback clock, at the consumer's pace, and waits for a consumer that does not present`, async () => {
      const counter = countCommits();
      try {
        const proc = start(c);
        const top = await waitForToplevel(c, proc);
        const animatedSurface = (): SceneSurface =>
          [...top.stack, top].reduce((best, s) => (counter.count(s) > counter.count(best) ? s : best), top);

        // Nothing shows the surfaces: the fallback clock paces the application.
        let before = counter.count(animatedSurface());
        await sleep(1000);
        const fallback = counter.count(animatedSurface()) - before;
        expect(fallback).toBeGreaterThanOrEqual(10);
        if (process.env["VD_TEST_RATES"] === "1") console.log(`${c.name}: ${fallback} commits/s on the fallback clock`);

        // A consumer that presents every frame.
        const consumer = new FakeConsumer(t.display, { present: true });
        const s = animatedSurface();
        before = counter.count(s);
        await sleep(1000);
        const presentedRate = counter.count(s) - before;
        if (process.env["VD_TEST_RATES"] === "1") console.log(`${c.name}: ${presentedRate} commits/s with a consumer presenting`);
        expect(presentedRate).toBeGreaterThanOrEqual(10);

        // A consumer that stops presenting: the application waits (up to the 1 s safety timeout).
        consumer.presenting = false;
        await sleep(100);
        before = counter.count(s);
        await sleep(500);
        expect(counter.count(s) - before).toBeLessThanOrEqual(3);

        consumer.presenting = true;
        for (const surface of top.stack) surface.owner.feedback.presented(surface, 0);
        before = counter.count(s);
        await sleep(500);
        expect(counter.count(s) - before).toBeGreaterThanOrEqual(5);
        consumer.detach();
        expect(proc.exitCode).toBeNull();
      } finally {
        counter.restore();
      }
    });
  }

  const haveQt = which(QT_CALCULATOR) !== undefined;
  if (!haveQt) console.warn(`skipping the Qt ivi-shell test: ${QT_CALCULATOR} is not installed`);

  it.skipIf(!haveQt)('Qt5 calculator with the ivi shell integration maps an ivi surface with its ivi id', async () => {
    const proc = t.display.spawn(QT_CALCULATOR, [], { QT_QPA_PLATFORM: 'wayland', QT_WAYLAND_SHELL_INTEGRATION: 'ivi-shell', QT_IVI_SURFACE_ID: '4321' }, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let ivi: SceneSurface | undefined;
    await waitFor(() => {
      ivi = t.display.scene.roots().find((s) => s.mapped && s.role?.kind === 'ivi');
      return ivi !== undefined;
    }, 20_000, 'a mapped ivi surface');
    expect(ivi!.role).toEqual({ kind: 'ivi', iviId: 4321 });
    expect(ivi!.size.width).toBeGreaterThanOrEqual(100);
    expect(nonZeroBytes(ivi!)).toBeGreaterThan(0);
  });
});
