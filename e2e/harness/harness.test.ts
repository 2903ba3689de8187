import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodePng,
  describeRegion,
  diffBounds,
  encodePng,
  expectRegion,
  histogram,
  Image,
  matchFraction,
  regionEquals,
  savePng,
} from './image.js';
import { isAlive, killTree, processTree, skipUnless, spawnProcess, waitFor } from './process.js';
import { parseSceneGraph, skipUnlessIvi, startWeston, WESTON_BACKGROUND, type Weston } from './weston.js';

describe('image', () => {
  it('decodes RGB and RGBA PNGs to the same RGBA pixels', async () => {
    const rgb = Buffer.alloc(4 * 2 * 3);
    for (let i = 0; i < 8; i++) rgb.set([10 * i, 20, 200], i * 3);
    const rgbPng = await sharp(rgb, { raw: { width: 4, height: 2, channels: 3 } }).png().toBuffer();
    const rgba = Buffer.alloc(4 * 2 * 4);
    for (let i = 0; i < 8; i++) rgba.set([10 * i, 20, 200, 128], i * 4);
    const rgbaPng = await sharp(rgba, { raw: { width: 4, height: 2, channels: 4 } }).png().toBuffer();
    const a = await decodePng(rgbPng);
    const b = await decodePng(rgbaPng);
    expect([a.width, a.height]).toEqual([4, 2]);
    expect(a.pixel(3, 1)).toEqual({ r: 70, g: 20, b: 200, a: 255 });
    expect(b.pixel(3, 1)).toEqual({ r: 70, g: 20, b: 200, a: 128 });
  });

  it('round-trips through PNG encoding and a file', async () => {
    const img = Image.filled(5, 3, 0x123456);
    const back = await decodePng(await encodePng(img));
    expect(diffBounds(img, back)).toBeNull();
    const dir = mkdtempSync(join(tmpdir(), 'wb-img-'));
    try {
      await savePng(img, join(dir, 'x.png'));
      expect((await decodePng(readFileSync(join(dir, 'x.png')))).pixel(4, 2)).toEqual({ r: 0x12, g: 0x34, b: 0x56, a: 255 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('converts wl_shm little-endian ARGB (B, G, R, A bytes) to RGBA', () => {
    const img = Image.fromBgra(1, 1, new Uint8Array([0x56, 0x34, 0x12, 0x80]));
    expect(img.pixel(0, 0)).toEqual({ r: 0x12, g: 0x34, b: 0x56, a: 0x80 });
  });

  it('measures regions: exact match, tolerance, fraction, out of bounds', () => {
    const img = Image.filled(10, 10, 0xff0000);
    img.data.set([250, 5, 0, 255], (2 * 10 + 2) * 4); // one slightly different pixel
    const all = { x: 0, y: 0, width: 10, height: 10 };
    expect(regionEquals(img, all, 0xff0000)).toBe(false);
    expect(regionEquals(img, all, 0xff0000, { tolerance: 5 })).toBe(true);
    expect(matchFraction(img, all, 0xff0000)).toBeCloseTo(0.99);
    expect(regionEquals(img, { x: 5, y: 5, width: 6, height: 5 }, 0xff0000, { tolerance: 5 })).toBe(false);
    expect(() => expectRegion(img, all, 0x00ff00, { label: 'window' })).toThrow(/window .*expected #00ff00.*holds #ff0000 0.99/);
    expect(histogram(img, all, 1)).toEqual([{ colour: '#ff0000', fraction: 0.99 }]);
    expect(describeRegion(img, { x: 2, y: 2, width: 1, height: 1 })).toBe('#fa0500 1');
  });

  it('crops and finds the bounds of differences', () => {
    const a = Image.filled(8, 8, 0);
    const b = Image.filled(8, 8, 0);
    b.data.set([1, 1, 1, 255], (3 * 8 + 5) * 4);
    b.data.set([1, 1, 1, 255], (6 * 8 + 2) * 4);
    expect(diffBounds(a, b)).toEqual({ x: 2, y: 3, width: 4, height: 4 });
    expect(b.crop({ x: 5, y: 3, width: 10, height: 1 }).width).toBe(3);
    expect(b.crop({ x: 5, y: 3, width: 1, height: 1 }).pixel(0, 0).r).toBe(1);
  });
});

describe('scene-graph parser', () => {
  const sample = [
    'Weston scene graph at 676.082322240:',
    '',
    'Output 0 (headless):',
    '\tposition: (0, 0) -> (640, 480)',
    '',
    'Layer 0 (pos 0xffffffff):',
    '\t[no views]',
    '',
    'Layer 5 (pos 0x50000000):',
    "\tView 0 (role xdg_toplevel, PID 10704, surface ID 13, top-level window 'Wayland Terminal' of org.freedesktop.weston.wayland-terminal, 0x5623ea491e50):",
    '\t\tposition: (0, 0) -> (640, 480)',
    '\t\t[fully opaque]',
    '\t\toutputs: 0 (headless) (primary)',
    "\tView 1 (role xdg_toplevel, PID 10703, surface ID 3, top-level window of only.app-id, 0x5623ea48c1d0):",
    '\t\tposition: (13, 46) -> (263, 296)',
    '\t\talpha: 0.000000',
    '\t\toutputs: 0 (headless) (primary)',
    '\tView 2 (role ivi_surface, PID 12908, surface ID 42, ivi-surface 0x3ef, 0x55750122c3b0):',
    '\t\tposition: (488, 703) -> (536, 751)',
    '\t\t[no outputs]',
    '\tView 3 (role xdg_toplevel, PID 1, surface ID 4, [no description available], 0x1):',
    '\t\tposition: (0, 0) -> (0, 0)',
    '\t\toutputs: 0 (headless) (primary)',
    '',
    'Layer 6 (pos 0x2):',
    '\tView 0 (role (null), PID 10625, surface ID 15, background for output headless, 0x5623ea4865f0):',
    '\t\tposition: (0, 0) -> (640, 480)',
    '\t\toutputs: 0 (headless) (primary)',
  ].join('\n');

  it('extracts role, title, app_id, ivi id, rect and visibility', () => {
    const views = parseSceneGraph(sample);
    expect(views).toHaveLength(5);
    expect(views[0]).toMatchObject({
      layer: 1,
      role: 'xdg_toplevel',
      pid: 10704,
      surfaceId: 13,
      title: 'Wayland Terminal',
      appId: 'org.freedesktop.weston.wayland-terminal',
      rect: { x: 0, y: 0, width: 640, height: 480 },
      visible: true,
    });
    expect(views[1]).toMatchObject({ title: null, appId: 'only.app-id', rect: { x: 13, y: 46, width: 250, height: 250 }, alpha: 0, visible: false });
    expect(views[2]).toMatchObject({ role: 'ivi_surface', iviId: 1007, outputs: false, visible: false });
    expect(views[3]).toMatchObject({ title: null, appId: null, visible: false });
    expect(views[4]).toMatchObject({ layer: 2, role: '(null)', description: 'background for output headless', visible: true });
  });
});

describe('process', () => {
  it('captures line-buffered output as it is printed and waits for a line', async () => {
    // Without stdbuf the first line would sit in the pipe buffer until exit.
    const p = spawnProcess('sh', ['-c', 'echo first; sleep 30']);
    try {
      expect(await p.waitForLine(/^fir/, 5000)).toBe('first');
      await expect(p.waitForLine('never', 200)).rejects.toThrow(/no line matching never within 200 ms[\s\S]*first/);
    } finally {
      await p.stop();
    }
  });

  it('rejects a wait when the process exits first', async () => {
    const p = spawnProcess('sh', ['-c', 'echo bye; exit 3']);
    await expect(p.waitForLine('hello', 5000)).rejects.toThrow(/exited \(code 3\)/);
  });

  it('stops a whole process tree, grandchildren included, and waits for it', async () => {
    const p = spawnProcess('sh', ['-c', 'sleep 30 & sleep 30 & echo started; wait']);
    await p.waitForLine('started');
    const tree = await waitFor('two grandchildren', () => {
      const t = processTree(p.pid);
      return t.length >= 3 ? t : undefined;
    });
    await p.stop();
    expect(p.running).toBe(false);
    await waitFor('the grandchildren to exit', () => tree.every((pid) => !isAlive(pid)), 2000);
    expect(killTree(p.pid)).toEqual([]);
  });

  it('skipUnless says why it skips', () => {
    expect(skipUnless('sh')).toBe(false);
    expect(skipUnless('no-such-binary-xyz')).toBe(true);
  });
});

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug'))('weston headless', () => {
  let w: Weston;
  beforeAll(async () => {
    w = await startWeston({ backend: 'headless', width: 320, height: 240 });
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('runs in its own 0700 runtime dir with an absolute socket path', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(w.runtimeDir).mode & 0o777).toBe(0o700);
    expect(w.socket.startsWith(`${w.runtimeDir}/`)).toBe(true);
    expect(statSync(w.socket).isSocket()).toBe(true);
    expect(w.env['WAYLAND_DISPLAY']).toBe(w.socket);
  });

  it('screenshots the uniform background once ready', async () => {
    const shot = await w.screenshot();
    expect([shot.width, shot.height]).toEqual([320, 240]);
    expectRegion(shot, { x: 0, y: 0, width: 320, height: 240 }, WESTON_BACKGROUND);
  });

  it('shows a client window in the scene graph and in the screenshot', async () => {
    const client = spawnProcess('weston-simple-shm', [], { env: w.env });
    try {
      const view = await w.waitForView((v) => v.appId === 'org.freedesktop.weston.simple-shm' && v.visible, 5000);
      expect(view.title).toBe('simple-shm');
      expect(view.rect.width).toBe(250);
      const shot = await w.screenshot();
      // simple-shm draws an animated pattern: the window area is not the background.
      expect(matchFraction(shot, view.rect, WESTON_BACKGROUND)).toBeLessThan(0.5);
    } finally {
      await client.stop();
    }
    await w.waitForView((v) => v.role === '(null)' && v.description.startsWith('background'));
    const views = await w.sceneGraph();
    expect(views.some((v) => v.appId === 'org.freedesktop.weston.simple-shm')).toBe(false);
  });

  it('stop removes the socket and ends weston', async () => {
    const other = await startWeston({ backend: 'headless', width: 64, height: 64 });
    const { existsSync } = await import('node:fs');
    expect(existsSync(other.socket)).toBe(true);
    await other.stop();
    expect(isAlive(other.pid)).toBe(false);
    expect(existsSync(other.runtimeDir)).toBe(false);
  });
});

describe.skipIf(skipUnless('weston', 'Xvfb', 'xdotool', 'weston-screenshooter', 'weston-debug'))('weston x11 in Xvfb', () => {
  it('gives a display, a synced pointer and screenshots', async () => {
    const w = await startWeston({ backend: 'x11', width: 400, height: 300 });
    try {
      expect(w.display).toMatch(/^:\d+$/);
      expect(await w.xdotool('getmouselocation')).toMatch(/^x:0 y:0 /);
      const shot = await w.screenshot();
      expect([shot.width, shot.height]).toEqual([400, 300]);
      expectRegion(shot, { x: 100, y: 100, width: 300, height: 200 }, WESTON_BACKGROUND);
    } finally {
      await w.stop();
    }
  });
});

describe.skipIf(skipUnless('weston', 'weston-screenshooter', 'weston-debug') || skipUnlessIvi())('weston ivi-shell nested', () => {
  it('starts hmi-controller with its UI and screenshots it through the outer compositor', async () => {
    const w = await startWeston({ backend: 'headless', shell: 'ivi', width: 800, height: 600 });
    try {
      const views = await w.sceneGraph();
      expect(views.find((v) => v.iviId === 1001)?.visible).toBe(true);
      const shot = await w.screenshot();
      expect(matchFraction(shot, { x: 0, y: 0, width: 800, height: 600 }, WESTON_BACKGROUND)).toBeLessThan(0.01);
    } finally {
      await w.stop();
    }
  });
});

describe.skipIf(skipUnless('weston', 'Xvfb', 'xdotool', 'import', 'weston-debug') || skipUnlessIvi())('weston ivi-shell in Xvfb', () => {
  it('starts hmi-controller with a seat and screenshots it from X', async () => {
    const w = await startWeston({ backend: 'x11', shell: 'ivi', width: 800, height: 600 });
    try {
      expect(w.display).toMatch(/^:\d+$/);
      const views = await w.sceneGraph();
      expect(views.find((v) => v.iviId === 1001)?.visible).toBe(true);
      const shot = await w.screenshot();
      expect([shot.width, shot.height]).toEqual([800, 600]);
      // The UI's sky background, not black and not the desktop background.
      expect(matchFraction(shot, { x: 0, y: 0, width: 800, height: 300 }, 0x000000, { tolerance: 8 })).toBeLessThan(0.01);
    } finally {
      await w.stop();
    }
  });
});
