/**
 * Crop and scale on a real weston (headless, which has wp_viewporter): a
 * surface with a viewport shows cropped and scaled, through the
 * compositor's wp_viewport (the buffer is copied at its own size) or, with
 * `viewporter: false`, scaled by the display (the view is copied).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectRegion } from '../../e2e/harness/image.js';
import { skipUnless, sleep } from '../../e2e/harness/process.js';
import { startWeston, type View, type Weston } from '../../e2e/harness/weston.js';
import { Scene, SceneSurface } from '../scene/scene.js';
import type { ViewportState } from '../scene/viewport.js';
import { LocalDisplay } from './local-display.js';
import { quadrantContent, TestOwner } from './test-owner.js';

const RED = 0xff0000;
const GREEN = 0x00ff00;
const BLUE = 0x0000ff;
const YELLOW = 0xffff00;

const needWeston = skipUnless('weston', 'weston-screenshooter', 'weston-debug');

/** The green quadrant of a 100x100 buffer, scaled to 300x200. */
const GREEN_QUADRANT: ViewportState = { source: { x: 50, y: 0, width: 50, height: 50 }, destination: { width: 300, height: 200 } };

describe.skipIf(needWeston)('LocalDisplay: wp_viewporter', () => {
  let weston: Weston;
  const displays: LocalDisplay[] = [];
  beforeAll(async () => {
    weston = await startWeston({ backend: 'headless', width: 640, height: 480 });
  });
  afterEach(() => {
    for (const d of displays.splice(0)) d.close();
  });
  afterAll(async () => {
    await weston?.stop();
  });

  async function show(viewporter: boolean, title: string): Promise<{ display: LocalDisplay; s: SceneSurface; view: View; viewsMade: () => number }> {
    const display = new LocalDisplay({ display: weston.socket, shell: 'xdg', viewporter });
    displays.push(display);
    await display.start();
    const scene = new Scene();
    display.attach(scene);
    const s = new SceneSurface(new TestOwner('app'));
    s.role = { kind: 'toplevel', title, appId: '', parent: null, minSize: { width: 0, height: 0 }, maxSize: { width: 0, height: 0 }, geometry: null, fullscreen: false, maximized: false };
    s.setBuffer(quadrantContent(100, 100, [RED, GREEN, BLUE, YELLOW]), GREEN_QUADRANT);
    // Who asks for the scaled view (SceneSurface.content) makes the surface scale its buffer.
    const content = vi.spyOn(s, 'content', 'get');
    scene.add(s);
    s.commit({ damage: [{ x: 0, y: 0, width: 100, height: 100 }], resized: true, roleChanged: true, stackingChanged: false });
    const view = await weston.waitForView((v) => v.title === title && v.visible && v.rect.width === 300 && v.rect.height === 200, 5000, `window '${title}' of 300x200`);
    return { display, s, view, viewsMade: () => content.mock.calls.length };
  }

  async function expectGreen(view: View): Promise<void> {
    await sleep(100); // one more repaint
    const shot = await weston.screenshot();
    expectRegion(shot, view.rect, GREEN, { label: 'the cropped and scaled window' });
  }

  it('carries the viewport to the compositor: the buffer is copied at its own size', async () => {
    const { display, view, viewsMade } = await show(true, 'carried');
    expect(display.viewporter).toBe(true);
    await expectGreen(view);
    expect(display.stats().bytesCopied).toBe(100 * 100 * 4);
    expect(viewsMade()).toBe(0); // nothing was scaled here
  });

  it('scales in the display when told not to use wp_viewporter: the view is copied', async () => {
    const { display, view, viewsMade } = await show(false, 'applied');
    expect(display.viewporter).toBe(false);
    await expectGreen(view);
    expect(display.stats().bytesCopied).toBe(300 * 200 * 4);
    expect(viewsMade()).toBeGreaterThan(0);
  });
});
