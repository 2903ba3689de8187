/**
 * LocalDisplay on real weston instances (headless, and ivi-shell nested in a
 * headless weston): a TestOwner produces surfaces with known pixels, the
 * display shows them, and screenshots plus `weston-debug scene-graph` check
 * what the compositor really shows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { diffBounds, diffCount, expectRegion, Image, matchFraction } from '../../e2e/harness/image.js';
import { skipUnless, sleep } from '../../e2e/harness/process.js';
import { skipUnlessIvi, startWeston, WESTON_BACKGROUND, type View, type Weston } from '../../e2e/harness/weston.js';
import { Scene, type Content, type PresentationInfo, type Rect, type SceneSurface } from '../scene/scene.js';
import { SharedPixels } from '../scene/shared-pixels.js';
import { LocalDisplay } from './local-display.js';
import { REFRESH_MS, STEADY_AFTER } from './presentation.js';
import { quadrantContent, solidContent, TestOwner } from './test-owner.js';

const RED = 0xff0000;
const GREEN = 0x00ff00;
const BLUE = 0x0000ff;
const YELLOW = 0xffff00;
const WHITE = 0xffffff;
const MAGENTA = 0xff00ff;
const CYAN = 0x00ffff;

const needWeston = skipUnless('weston', 'weston-screenshooter', 'weston-debug');

/** The surface's content as the RGBA image a screenshot of it should show. */
function expected(s: SceneSurface): Image {
  const c = s.content!;
  return Image.fromBgra(c.width, c.height, c.pixels, c.width * 4, true);
}

function inset(r: Rect, by = 2): Rect {
  return { x: r.x + by, y: r.y + by, width: r.width - 2 * by, height: r.height - 2 * by };
}

function offset(r: Rect, dx: number, dy: number): Rect {
  return { ...r, x: r.x + dx, y: r.y + dy };
}

/**
 * Pixels of the on-screen part of `rect` in `shot` that differ from `want`
 * (a window may extend past the output's edge, where nothing is shown).
 */
function mismatches(shot: Image, rect: Rect, want: Image): number {
  const x1 = Math.max(0, rect.x);
  const y1 = Math.max(0, rect.y);
  const x2 = Math.min(shot.width, rect.x + rect.width);
  const y2 = Math.min(shot.height, rect.y + rect.height);
  const visible = { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
  return diffCount(shot.crop(visible), want.crop({ x: x1 - rect.x, y: y1 - rect.y, width: visible.width, height: visible.height }));
}

describe.skipIf(needWeston)('LocalDisplay on weston headless', () => {
  let weston: Weston;
  let display: LocalDisplay;
  let scene: Scene;
  let owner: TestOwner;

  beforeAll(async () => {
    weston = await startWeston({ backend: 'headless', width: 640, height: 480 });
    display = new LocalDisplay({ display: weston.socket, shell: 'xdg' });
    await display.start();
  });
  afterAll(async () => {
    display?.close();
    await weston?.stop();
  });
  afterEach(async () => {
    display.detach(scene);
    // Wait until the test's windows are gone so they cannot show in the next test's shots.
    await waitNoWindows();
  });

  function newScene(): void {
    scene = new Scene();
    owner = new TestOwner('app');
    display.attach(scene);
  }

  async function waitNoWindows(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const views = await weston.sceneGraph();
      if (!views.some((v) => v.role === 'xdg_toplevel' || v.role === 'xdg_popup' || v.role === 'wl_subsurface')) return;
      await sleep(50);
    }
    throw new Error('windows of the previous test are still shown');
  }

  async function windowOf(title: string, size?: { width: number; height: number }): Promise<View> {
    return weston.waitForView(
      (v) => v.title === title && v.visible && (size === undefined || (v.rect.width === size.width && v.rect.height === size.height)),
      5000,
      `window '${title}'${size === undefined ? '' : ` of ${size.width}x${size.height}`}`,
    );
  }

  /** A new scene with one green 64x64 toplevel titled `title`, shown and presented once. */
  async function presentedGreen(title: string): Promise<SceneSurface> {
    newScene();
    const s = owner.toplevel(scene, { title, content: solidContent(64, 64, GREEN) });
    await windowOf(title);
    await owner.waitFor('presented', (c) => c.surface === s);
    return s;
  }

  /** A screenshot once the on-screen part of `rect` shows `want` (content is shown asynchronously). */
  async function shotShowing(rect: Rect, want: Image, timeoutMs = 5000): Promise<Image> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const shot = await weston.screenshot();
      if (mismatches(shot, rect, want) === 0 || Date.now() > deadline) return shot;
      await sleep(50);
    }
  }

  it('shows a surface with exactly its pixels at the window position', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'quadrants', appId: 'test.quadrants', content: quadrantContent(200, 150, [RED, GREEN, BLUE, YELLOW]) });
    const view = await windowOf('quadrants');
    expect(view.rect).toMatchObject({ width: 200, height: 150 });
    const shot = await shotShowing(view.rect, expected(s));
    const { x, y } = view.rect;
    expectRegion(shot, { x, y, width: 100, height: 75 }, RED, { label: 'top-left' });
    expectRegion(shot, { x: x + 100, y, width: 100, height: 75 }, GREEN, { label: 'top-right' });
    expectRegion(shot, { x, y: y + 75, width: 100, height: 75 }, BLUE, { label: 'bottom-left' });
    expectRegion(shot, { x: x + 100, y: y + 75, width: 100, height: 75 }, YELLOW, { label: 'bottom-right' });
    // Nothing drawn outside the window.
    const around = { x: x - 1, y: y - 1, width: 202, height: 152 };
    const ring = matchFraction(shot, around, WESTON_BACKGROUND) * 202 * 152;
    const inside = x > 0 && y > 0 && x + 201 < 640 && y + 151 < 480;
    if (inside) expect(Math.round(ring)).toBe(202 * 152 - 200 * 150);
    await owner.waitFor('presented', (c) => c.surface === s);
  });

  it('shows a scene that already has surfaces when attached, and removes them when detached', async () => {
    scene = new Scene();
    owner = new TestOwner('early');
    const parent = owner.toplevel(scene, { title: 'early', content: solidContent(120, 90, BLUE) });
    owner.subsurface(scene, parent, 20, 10, solidContent(30, 30, RED));
    display.attach(scene);
    const view = await windowOf('early');
    const shot = await shotShowing({ ...view.rect, x: view.rect.x + 20, y: view.rect.y + 10, width: 30, height: 30 }, Image.filled(30, 30, RED));
    expectRegion(shot, { x: view.rect.x + 20, y: view.rect.y + 10, width: 30, height: 30 }, RED, { label: 'subsurface' });
    expectRegion(shot, { x: view.rect.x + 60, y: view.rect.y + 50, width: 60, height: 40 }, BLUE, { label: 'parent' });
    display.detach(scene);
    expect(display.stats().surfaces).toBe(0);
    await waitFor(async () => !(await weston.sceneGraph()).some((v) => v.title === 'early'));
    // Commits after detaching reach nobody.
    const commits = display.stats().contentCommits;
    owner.paint(parent, { x: 0, y: 0, width: 4, height: 4 }, RED);
    await display.roundtrip();
    expect(display.stats().contentCommits).toBe(commits);
    expect((await weston.sceneGraph()).some((v) => v.title === 'early')).toBe(false);
  });

  it("presents a commit that brings no pixels but asks for a frame, copying nothing, with the compositor's presentation times", async () => {
    const s = await presentedGreen('frame only');
    const copiedBefore = display.stats().bytesCopied;
    for (let i = 0; i < 3; i++) {
      const from = owner.calls.length;
      s.commit({ damage: [], resized: false, roleChanged: false, stackingChanged: false, frame: true });
      const call = await owner.waitFor('presented', (c) => c.surface === s, 5000, from);
      // weston has wp_presentation: the expected presentation is on our monotonic clock (at most one
      // refresh ahead: the next vblank after weston's last one), with its output's refresh.
      const info = call.args[1] as PresentationInfo | undefined;
      expect(info?.refreshNs).toBeGreaterThan(0);
      expect(info!.timeNs <= process.hrtime.bigint() + BigInt(info!.refreshNs)).toBe(true);
    }
    expect(display.stats().bytesCopied).toBe(copiedBefore);
  });

  it('asks the compositor for a real presentation feedback at most every REFRESH_MS and predicts frames from it, or for every frame when the producer waits for feedback until the display shows itself steady', async () => {
    const s = await presentedGreen('sparse feedback');
    const before = display.stats().presentationFeedbacks;
    const started = performance.now();
    const frames = 20;
    let lastTime = 0n;
    for (let i = 0; i < frames; i++) {
      const from = owner.calls.length;
      owner.paint(s, { x: i, y: i, width: 4, height: 4 }, i % 2 === 0 ? RED : BLUE);
      const call = await owner.waitFor('presented', (c) => c.surface === s, 5000, from);
      const info = call.args[1] as PresentationInfo | undefined;
      expect(info?.refreshNs).toBeGreaterThan(0);
      expect(info!.timeNs >= lastTime).toBe(true);
      lastTime = info!.timeNs;
    }
    const asked = display.stats().presentationFeedbacks - before;
    const windows = Math.ceil((performance.now() - started) / REFRESH_MS);
    expect(asked).toBeLessThanOrEqual(windows + 1);
    expect(asked).toBeLessThan(frames);

    // A producer that waits for presentation feedback: one for every frame, at least until the
    // display has shown itself steady (STEADY_AFTER + 1 feedbacks; presentation.test.ts).
    display.detach(scene);
    const w = await presentedGreen('wanted feedback');
    w.presentationWanted = true;
    const wantedBefore = display.stats().presentationFeedbacks;
    for (let i = 0; i < STEADY_AFTER - 1; i++) {
      const from = owner.calls.length;
      owner.paint(w, { x: i, y: 0, width: 4, height: 4 }, i % 2 === 0 ? GREEN : RED);
      await owner.waitFor('presented', (c) => c.surface === w, 5000, from);
      expect(display.stats().presentationFeedbacks - wantedBefore).toBe(i + 1);
    }
  });

  it('updates only the damaged rectangles, across buffer reuse', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'damage', content: solidContent(200, 150, BLUE) });
    const view = await windowOf('damage');
    const before = await shotShowing(view.rect, expected(s));
    await owner.waitFor('presented', (c) => c.surface === s);

    const first: Rect = { x: 10, y: 20, width: 30, height: 15 };
    owner.paint(s, first, WHITE);
    const afterFirst = await shotShowing(view.rect, expected(s));
    expect(diffBounds(before, afterFirst)).toEqual(offset(first, view.rect.x, view.rect.y));

    // More frames, each in whichever buffer is free: every buffer must have caught up with the
    // damage it missed, or old pixels would reappear.
    const rects: [Rect, number][] = [
      [{ x: 150, y: 100, width: 40, height: 40 }, MAGENTA],
      [{ x: 60, y: 60, width: 20, height: 70 }, CYAN],
      [{ x: 0, y: 0, width: 5, height: 5 }, YELLOW],
      [{ x: 100, y: 10, width: 50, height: 10 }, RED],
    ];
    const copiedBefore = display.stats().bytesCopied;
    for (const [rect, colour] of rects) {
      const n = owner.count('presented', s);
      owner.paint(s, rect, colour);
      await owner.waitFor('presented', (c) => c.surface === s, 5000, owner.calls.length);
      expect(owner.count('presented', s)).toBeGreaterThan(n);
    }
    // Only damaged rectangles were copied (a whole frame is 200 * 150 * 4 = 120000 bytes).
    const copied = display.stats().bytesCopied - copiedBefore;
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThan(120_000);
    const final = await shotShowing(view.rect, expected(s));
    expect(mismatches(final, view.rect, expected(s))).toBe(0);
    // Outside the window nothing changed.
    const outside = diffBounds(before, final)!;
    expect(outside.x).toBeGreaterThanOrEqual(view.rect.x);
    expect(outside.y).toBeGreaterThanOrEqual(view.rect.y);
    expect(outside.x + outside.width).toBeLessThanOrEqual(view.rect.x + 200);
    expect(outside.y + outside.height).toBeLessThanOrEqual(view.rect.y + 150);
  });

  it('attaches content in shared memory as it is: nothing copied, held while the compositor reads it', async () => {
    newScene();
    const shared = [SharedPixels.allocate(200 * 150 * 4), SharedPixels.allocate(200 * 150 * 4)];
    const content = (i: number, colour: number): Content => {
      const c = solidContent(200, 150, colour);
      shared[i]!.pixels.set(c.pixels);
      return { ...c, pixels: shared[i]!.pixels, shared: shared[i]! };
    };
    const copiedBefore = display.stats().bytesCopied;
    const commitsBefore = display.stats().contentCommits;
    const s = owner.toplevel(scene, { title: 'shared', content: content(0, BLUE) });
    const view = await windowOf('shared');
    expectRegion(await shotShowing(view.rect, expected(s)), view.rect, BLUE);
    await owner.waitFor('presented', (c) => c.surface === s);
    expect(shared[0]!.busy).toBe(true);
    // The producer draws the next frame in its other buffer; the first is given back once replaced.
    owner.setContent(s, content(1, GREEN));
    expectRegion(await shotShowing(view.rect, expected(s)), view.rect, GREEN);
    const deadline = Date.now() + 5000;
    while (shared[0]!.busy && Date.now() < deadline) await sleep(20);
    expect(shared[0]!.busy).toBe(false);
    expect(shared[1]!.busy).toBe(true);
    expect(display.stats().contentCommits - commitsBefore).toBeGreaterThanOrEqual(2);
    expect(display.stats().bytesCopied).toBe(copiedBefore);
    // A disposed buffer is no longer attached as it is: its content is copied instead.
    shared[0]!.pixels.set(solidContent(200, 150, RED).pixels);
    shared[0]!.dispose();
    owner.setContent(s, { ...solidContent(200, 150, RED), pixels: shared[0]!.pixels, shared: shared[0]! });
    expectRegion(await shotShowing(view.rect, expected(s)), view.rect, RED);
    expect(display.stats().bytesCopied).toBeGreaterThan(copiedBefore);
    shared[1]!.dispose();
  });

  it('follows a resize of the content', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'resize', content: solidContent(200, 150, GREEN) });
    await windowOf('resize', { width: 200, height: 150 });
    owner.setContent(s, quadrantContent(300, 100, [MAGENTA, CYAN, YELLOW, RED]));
    const view = await windowOf('resize', { width: 300, height: 100 });
    const shot = await shotShowing(view.rect, expected(s));
    expect(mismatches(shot, view.rect, expected(s))).toBe(0);
    // And back down again.
    owner.setContent(s, solidContent(80, 60, WHITE));
    const small = await windowOf('resize', { width: 80, height: 60 });
    expectRegion(await shotShowing(small.rect, expected(s)), small.rect, WHITE);
  });

  it('unmaps a window whose content goes away and maps it again when content comes back', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'remap', content: solidContent(120, 80, RED) });
    await windowOf('remap');
    owner.setContent(s, null);
    await waitFor(async () => !(await weston.sceneGraph()).some((v) => v.title === 'remap' && v.visible));
    owner.setContent(s, solidContent(90, 70, GREEN));
    const view = await windowOf('remap', { width: 90, height: 70 });
    expectRegion(await shotShowing(view.rect, expected(s)), view.rect, GREEN);
  });

  it('applies the buffer scale: a scale-2 buffer shows at half its pixel size', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'scaled', content: solidContent(200, 120, YELLOW, { scale: 2 }) });
    expect(s.size).toEqual({ width: 100, height: 60 });
    const view = await windowOf('scaled', { width: 100, height: 60 });
    expectRegion(await shotShowing(view.rect, Image.filled(100, 60, YELLOW)), view.rect, YELLOW);
  });

  it('forwards maximize requests and the configure that answers them', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'maximize', content: solidContent(100, 100, BLUE) });
    await windowOf('maximize');
    const from = owner.calls.length;
    owner.updateToplevel(s, (r) => {
      r.maximized = true;
    });
    const conf = await owner.waitFor('configure', (c) => c.surface === s && (c.args[2] as string[]).includes('maximized'), 5000, from);
    // No panel: the whole output.
    expect(conf.args.slice(0, 2)).toEqual([640, 480]);
    owner.setContent(s, solidContent(640, 480, BLUE));
    const view = await windowOf('maximize', { width: 640, height: 480 });
    expect(view.rect).toMatchObject({ x: 0, y: 0 });
    const from2 = owner.calls.length;
    owner.updateToplevel(s, (r) => {
      r.maximized = false;
    });
    const back = await owner.waitFor('configure', (c) => c.surface === s && !(c.args[2] as string[]).includes('maximized'), 5000, from2);
    expect(back.args[2]).not.toContain('maximized');
  });

  it('carries title and app_id to the compositor, and their changes', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'first title', appId: 'org.example.first', content: solidContent(50, 50, RED) });
    const view = await windowOf('first title');
    expect(view.appId).toBe('org.example.first');
    owner.updateToplevel(s, (r) => {
      r.title = 'second title';
      r.appId = 'org.example.second';
    });
    const changed = await windowOf('second title');
    expect(changed.appId).toBe('org.example.second');
  });

  it('reports presentation so that an animated producer keeps drawing', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'animated', content: solidContent(64, 64, RED) });
    await windowOf('animated');
    await owner.waitFor('presented', (c) => c.surface === s);
    let frame = 0;
    owner.onPresented = (surface) => {
      if (surface !== s) return;
      frame++;
      owner.paint(s, { x: frame % 64, y: 0, width: 1, height: 64 }, frame % 2 === 0 ? GREEN : BLUE);
    };
    owner.paint(s, { x: 0, y: 0, width: 1, height: 64 }, GREEN);
    const start = owner.count('presented', s);
    // weston's headless output repaints at 60 Hz: ten frames come in well under a second, even
    // on a loaded machine; without the frame callbacks pacing the producer none would.
    await owner.waitFor('presented', () => owner.count('presented', s) - start >= 10, 10_000);
    owner.onPresented = null;
    const frames = owner.count('presented', s) - start;
    expect(frames).toBeGreaterThanOrEqual(10);
    expect(frames).toBeLessThanOrEqual(70);
    const times = owner.callsOf('presented', s).map((c) => c.args[0] as number);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
  });

  it('coalesces commits made while a frame is in flight: newest content, union of damage', async () => {
    newScene();
    const s = owner.toplevel(scene, { title: 'coalesce', content: solidContent(200, 100, BLUE) });
    const view = await windowOf('coalesce');
    await owner.waitFor('presented', (c) => c.surface === s);
    const from = owner.calls.length;
    const before = display.stats();
    // The first paint goes out at once; the next four wait for its frame and go out as one.
    for (let i = 0; i < 5; i++) owner.paint(s, { x: i * 40, y: 10 + i * 10, width: 30, height: 30 }, [RED, GREEN, YELLOW, WHITE, MAGENTA][i]!);
    await owner.waitFor('presented', (c) => c.surface === s, 5000, from);
    // The merged commit goes out once the first is presented; then the compositor has seen all.
    await waitFor(async () => display.stats().contentCommits - before.contentCommits >= 2);
    await display.roundtrip();
    const presented = owner.calls.slice(from).filter((c) => c.method === 'presented' && c.surface === s).length;
    expect(presented).toBeGreaterThanOrEqual(1);
    expect(presented).toBeLessThanOrEqual(2);
    const after = display.stats();
    expect(after.contentCommits - before.contentCommits).toBe(2);
    expect(after.coalesced - before.coalesced).toBe(3);
    const shot = await shotShowing(view.rect, expected(s));
    expect(mismatches(shot, view.rect, expected(s))).toBe(0);
  });

  it('places a subsurface at its offset and follows the stacking order', async () => {
    newScene();
    const parent = owner.toplevel(scene, { title: 'with-sub', content: solidContent(200, 150, BLUE) });
    const view = await windowOf('with-sub');
    const sub = owner.subsurface(scene, parent, 30, 20, solidContent(60, 40, RED));
    const over = owner.subsurface(scene, parent, 60, 40, solidContent(60, 40, GREEN));
    const { x, y } = view.rect;
    const want = Image.filled(200, 150, BLUE);
    const paint = (r: Rect, c: number): void => {
      const img = Image.filled(r.width, r.height, c);
      for (let row = 0; row < r.height; row++) want.data.set(img.data.subarray(row * r.width * 4, (row + 1) * r.width * 4), ((r.y + row) * 200 + r.x) * 4);
    };
    paint({ x: 30, y: 20, width: 60, height: 40 }, RED);
    paint({ x: 60, y: 40, width: 60, height: 40 }, GREEN);
    let shot = await shotShowing(view.rect, want);
    expectRegion(shot, inset({ x: x + 30, y: y + 20, width: 30, height: 20 }, 0), RED, { label: 'subsurface' });
    expectRegion(shot, { x: x + 60, y: y + 40, width: 60, height: 40 }, GREEN, { label: 'upper subsurface' });
    expect(mismatches(shot, view.rect, want)).toBe(0);

    // Put the red one on top: the overlap turns red.
    owner.restack(parent, [parent, over, sub]);
    paint({ x: 30, y: 20, width: 60, height: 40 }, RED);
    shot = await shotShowing(view.rect, want);
    expectRegion(shot, { x: x + 60, y: y + 40, width: 30, height: 20 }, RED, { label: 'overlap after restacking' });

    // Move it.
    owner.moveSubsurface(sub, 130, 100);
    const moved = Image.filled(200, 150, BLUE);
    want.data.set(moved.data);
    paint({ x: 60, y: 40, width: 60, height: 40 }, GREEN);
    paint({ x: 130, y: 100, width: 60, height: 40 }, RED);
    shot = await shotShowing(view.rect, want);
    expect(mismatches(shot, view.rect, want)).toBe(0);

    // In sync mode a subsurface's commit shows only with its parent's: the display commits the parent too.
    owner.updateSubsurface(sub, (r) => {
      r.sync = true;
    });
    owner.paint(sub, { x: 0, y: 0, width: 60, height: 20 }, WHITE);
    paint({ x: 130, y: 100, width: 60, height: 20 }, WHITE);
    shot = await shotShowing(view.rect, want);
    expect(mismatches(shot, view.rect, want)).toBe(0);
  });

  it('shows a popup where the producer placed it and reports its placement', async () => {
    newScene();
    const parent = owner.toplevel(scene, { title: 'with-popup', content: solidContent(200, 150, BLUE) });
    const view = await windowOf('with-popup');
    const rect = { x: 20, y: 30, width: 60, height: 40 };
    const popup = owner.popup(scene, parent, rect, solidContent(60, 40, YELLOW));
    const placed = await owner.waitFor('popupConfigure', (c) => c.surface === popup);
    expect(placed.args[0]).toEqual(rect);
    const popupView = await weston.waitForView((v) => v.role === 'xdg_popup' && v.visible, 5000, 'the popup');
    expect(popupView.rect).toEqual({ x: view.rect.x + 20, y: view.rect.y + 30, width: 60, height: 40 });
    const want = Image.filled(60, 40, YELLOW);
    const shot = await shotShowing(popupView.rect, want);
    expectRegion(shot, popupView.rect, YELLOW, { label: 'popup' });
    // Destroying the popup leaves the parent as it was.
    popup.destroy();
    await waitFor(async () => !(await weston.sceneGraph()).some((v) => v.role === 'xdg_popup'));
    expectRegion(await shotShowing(view.rect, Image.filled(200, 150, BLUE)), view.rect, BLUE);
  });

  it('places popups by window geometry: the parent\'s and the popup\'s own', async () => {
    newScene();
    // The parent's window geometry starts at (10, 10) of its surface; the popup's at (5, 5) of its own.
    const parent = owner.toplevel(scene, { title: 'geometry', content: solidContent(200, 150, BLUE), geometry: { x: 10, y: 10, width: 180, height: 130 } });
    const view = await windowOf('geometry');
    const rect = { x: 40, y: 50, width: 50, height: 30 };
    const popup = owner.popup(scene, parent, rect, solidContent(60, 40, GREEN), { geometry: { x: 5, y: 5, width: 50, height: 30 } });
    const placed = await owner.waitFor('popupConfigure', (c) => c.surface === popup);
    expect(placed.args[0]).toEqual(rect);
    // The popup's surface origin is at rect - its geometry origin, in the parent's surface coordinates.
    const popupView = await weston.waitForView((v) => v.role === 'xdg_popup' && v.visible, 5000, 'the popup');
    expect(popupView.rect).toEqual({ x: view.rect.x + 35, y: view.rect.y + 45, width: 60, height: 40 });
    expectRegion(await shotShowing(popupView.rect, Image.filled(60, 40, GREEN)), popupView.rect, GREEN);
  });

  it("places a popup with the producer's positioner when it has one, anchor rectangle in the parent's surface coordinates", async () => {
    newScene();
    const parent = owner.toplevel(scene, { title: 'positioner', content: solidContent(200, 150, BLUE), geometry: { x: 10, y: 10, width: 180, height: 130 } });
    const view = await windowOf('positioner');
    // Below-right of the anchor rectangle's top-left corner (100, 60), moved by the offset (3, 4).
    const positioner = { width: 60, height: 40, anchorRect: { x: 100, y: 60, width: 20, height: 10 }, anchor: 5, gravity: 8, constraintAdjustment: 0, offsetX: 3, offsetY: 4 };
    const popup = owner.popup(scene, parent, { x: 0, y: 0, width: 60, height: 40 }, solidContent(60, 40, GREEN), { positioner });
    const placed = await owner.waitFor('popupConfigure', (c) => c.surface === popup);
    expect(placed.args[0]).toEqual({ x: 103, y: 64, width: 60, height: 40 });
    const popupView = await weston.waitForView((v) => v.role === 'xdg_popup' && v.visible, 5000, 'the popup');
    expect(popupView.rect).toEqual({ x: view.rect.x + 103, y: view.rect.y + 64, width: 60, height: 40 });
  });

  it('removes the window of a destroyed surface, and the windows of an owner that goes away, and only those', async () => {
    newScene();
    const other = new TestOwner('other-app');
    const gone = owner.toplevel(scene, { title: 'to-destroy', content: solidContent(100, 80, RED) });
    const kept = other.toplevel(scene, { title: 'to-keep', content: solidContent(100, 80, GREEN) });
    await windowOf('to-destroy');
    const keptView = await windowOf('to-keep');
    gone.destroy();
    await waitFor(async () => !(await weston.sceneGraph()).some((v) => v.title === 'to-destroy'));
    expect((await weston.sceneGraph()).some((v) => v.title === 'to-keep' && v.visible)).toBe(true);

    // The owner goes away with a window, a subsurface and a popup.
    const w2 = owner.toplevel(scene, { title: 'owner-window', content: solidContent(120, 90, WHITE) });
    await windowOf('owner-window');
    owner.subsurface(scene, w2, 10, 10, solidContent(20, 20, RED));
    owner.popup(scene, w2, { x: 5, y: 5, width: 30, height: 30 }, solidContent(30, 30, YELLOW));
    await weston.waitForView((v) => v.role === 'xdg_popup' && v.visible);
    owner.destroyAll();
    await waitFor(async () => {
      const views = await weston.sceneGraph();
      return !views.some((v) => v.title === 'owner-window' || v.role === 'xdg_popup');
    });
    const shot = await weston.screenshot();
    expectRegion(shot, keptView.rect, GREEN, { label: 'the other owner\'s window' });
    // The other owner still gets frames.
    const n = other.count('presented', kept);
    other.paint(kept, { x: 0, y: 0, width: 10, height: 10 }, RED);
    await other.waitFor('presented', (c) => c.surface === kept, 5000, other.calls.length);
    expect(other.count('presented', kept)).toBe(n + 1);
  });

  it('contains a producer whose feedback throws: its window still shows, the connection stays up', async () => {
    newScene();
    class Faulty extends TestOwner {
      override configure(): void {
        throw new Error('broken producer');
      }
      override presented(): void {
        throw new Error('broken producer');
      }
    }
    const faulty = new Faulty('faulty');
    faulty.toplevel(scene, { title: 'faulty', content: solidContent(60, 60, RED) });
    const view = await windowOf('faulty');
    expectRegion(await shotShowing(view.rect, Image.filled(60, 60, RED)), view.rect, RED);
    const s = owner.toplevel(scene, { title: 'healthy', content: solidContent(60, 60, GREEN) });
    await owner.waitFor('presented', (c) => c.surface === s);
    expect(display.closed).toBe(false);
  });

  it('shows only the root surfaces the filter accepts, re-evaluated when the role changes', async () => {
    const filtered = new LocalDisplay({ display: weston.socket, shell: 'xdg', filter: (s) => s.appId.startsWith('shown.') });
    await filtered.start();
    const local = new Scene();
    const app = new TestOwner('filtered');
    try {
      filtered.attach(local);
      newScene(); // for afterEach
      const hidden = app.toplevel(local, { title: 'hidden', appId: 'hidden.app', content: solidContent(40, 40, RED) });
      app.toplevel(local, { title: 'shown', appId: 'shown.app', content: solidContent(40, 40, GREEN) });
      await windowOf('shown');
      expect((await weston.sceneGraph()).some((v) => v.title === 'hidden')).toBe(false);
      app.updateToplevel(hidden, (r) => {
        r.appId = 'shown.too';
      });
      await windowOf('hidden');
    } finally {
      filtered.close();
    }
  });

  it('fullscreen shell: the window covers the named output and the producer learns its size', async () => {
    const full = new LocalDisplay({ display: weston.socket, shell: 'fullscreen', output: 'headless' });
    await full.start();
    const local = new Scene();
    const app = new TestOwner('fullscreen-app');
    try {
      full.attach(local);
      newScene();
      const s = app.toplevel(local, { title: 'fullscreen', content: null });
      const conf = await app.waitFor('configure', (c) => c.surface === s && (c.args[0] as number) > 0);
      expect(conf.args).toEqual([640, 480, expect.arrayContaining(['fullscreen'])]);
      app.setContent(s, solidContent(640, 480, MAGENTA));
      const view = await windowOf('fullscreen', { width: 640, height: 480 });
      expect(view.rect).toEqual({ x: 0, y: 0, width: 640, height: 480 });
      expectRegion(await shotShowing(view.rect, Image.filled(640, 480, MAGENTA)), view.rect, MAGENTA);
    } finally {
      full.close();
    }
  });

  it('describes the local output', () => {
    newScene();
    expect(display.outputInfo()).toMatchObject({ name: 'headless', width: 640, height: 480, scale: 1, refresh: 60000 });
  });
});

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(50);
  }
}

describe.skipIf(needWeston)('LocalDisplay lifecycle', () => {
  it('emits close, without throwing, when the compositor goes away', async () => {
    const weston = await startWeston({ backend: 'headless', width: 320, height: 240 });
    const display = new LocalDisplay({ display: weston.socket, shell: 'xdg' });
    try {
      await display.start();
      const scene = new Scene();
      const owner = new TestOwner();
      display.attach(scene);
      const s = owner.toplevel(scene, { title: 'doomed', content: solidContent(50, 50, RED) });
      await owner.waitFor('presented', (c) => c.surface === s);
      const closed = new Promise<Error | undefined>((resolve) => display.on('close', resolve));
      await weston.stop();
      await closed;
      expect(display.closed).toBe(true);
      // The producer keeps going without errors.
      owner.paint(s, { x: 0, y: 0, width: 5, height: 5 }, GREEN);
      owner.toplevel(scene, { title: 'late', content: solidContent(10, 10, GREEN) });
      s.destroy();
    } finally {
      display.close();
      await weston.stop();
    }
  });

  it('start fails clearly when there is no compositor', async () => {
    const display = new LocalDisplay({ display: '/nonexistent/wayland-99', shell: 'xdg' });
    await expect(display.start()).rejects.toThrow(/wayland-99/);
  });

  it("start fails clearly when shell 'ivi' finds no ivi_application", async () => {
    const weston = await startWeston({ backend: 'headless', width: 320, height: 240 });
    try {
      const display = new LocalDisplay({ display: weston.socket, shell: 'ivi' });
      await expect(display.start()).rejects.toThrow(/ivi_application/);
    } finally {
      await weston.stop();
    }
  });
});

describe.skipIf(needWeston || skipUnlessIvi())('LocalDisplay on ivi-shell with hmi-controller', () => {
  it('shows a toplevel with the ivi id from iviIdFor and an ivi surface with its own id, each in its tile', async () => {
    const weston = await startWeston({ backend: 'headless', shell: 'ivi', width: 1024, height: 768 });
    const display = new LocalDisplay({ display: weston.socket, shell: 'ivi', iviIdFor: (appId) => (appId === 'nav' ? 5000 : null) });
    try {
      await display.start();
      const scene = new Scene();
      const owner = new TestOwner();
      display.attach(scene);
      owner.toplevel(scene, { title: 'navigation', appId: 'nav', content: solidContent(320, 240, RED) });
      const first = await weston.waitForView((v) => v.iviId === 5000 && v.visible, 5000, 'ivi-surface 5000 placed');
      // hmi-controller drops a surface that arrives right after another: space them out.
      await sleep(500);
      owner.ivi(scene, 5001, solidContent(320, 240, GREEN));
      const second = await weston.waitForView((v) => v.iviId === 5001 && v.visible, 5000, 'ivi-surface 5001 placed');
      // The controller fades and moves surfaces into their tiles: wait until both are laid out.
      const settled = (v: View): boolean => v.visible && v.alpha === 1 && Math.abs(v.rect.width - 256) <= 1;
      await weston.waitForView((v) => v.iviId === 5000 && settled(v) && v.rect.x >= 255, 10_000, 'ivi-surface 5000 in the second tile at full opacity');
      await weston.waitForView((v) => v.iviId === 5001 && settled(v), 10_000, 'ivi-surface 5001 in the first tile at full opacity');
      await sleep(300); // one more repaint
      const views = await weston.sceneGraph();
      const a = views.find((v) => v.iviId === 5000)!;
      const b = views.find((v) => v.iviId === 5001)!;
      expect(a.visible && b.visible).toBe(true);
      // Tiles: a quarter of the width each, the newest in the first tile.
      expect(b.rect).toMatchObject({ x: 0, y: 0 });
      expect(Math.abs(b.rect.width - 256)).toBeLessThanOrEqual(1);
      expect(Math.abs(a.rect.x - 256)).toBeLessThanOrEqual(1);
      expect(first.iviId).toBe(5000);
      expect(second.iviId).toBe(5001);
      const shot = await weston.screenshot();
      expectRegion(shot, inset(a.rect, 4), RED, { label: 'ivi surface 5000 (scaled to its tile)' });
      expectRegion(shot, inset(b.rect, 4), GREEN, { label: 'ivi surface 5001 (scaled to its tile)' });
      // A second surface asking for a taken id is not shown (the compositor would kill the
      // whole connection with ivi_application.error.ivi_id); the others carry on.
      const shown = display.stats().surfaces;
      const dup = owner.ivi(scene, 5000, solidContent(64, 64, BLUE));
      await display.roundtrip(); // the compositor would have answered a taken id by now
      expect(display.stats().surfaces).toBe(shown);
      expect(display.closed).toBe(false);
      dup.destroy();
      const n = owner.count('presented');
      owner.paint([...owner.surfaces].find((x) => x.role?.kind === 'ivi' && x.role.iviId === 5001)!, { x: 0, y: 0, width: 8, height: 8 }, RED);
      await owner.waitFor('presented', () => true, 5000, owner.calls.length);
      expect(owner.count('presented')).toBeGreaterThan(n);
    } finally {
      display.close();
      await weston.stop();
    }
  });
});
