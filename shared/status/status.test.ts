import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Scene, SceneSurface, toplevelRole, type SceneOwner, type SceneFeedback } from '../scene/scene.js';
import { composeScene } from './compose.js';
import { logLines, parseStatusAddress, readStatusToken } from './server.js';

describe('status address', () => {
  it('takes ADDR, :PORT, ADDR:PORT and bracketed IPv6; the default port is 34401', () => {
    expect(parseStatusAddress('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 34401 });
    expect(parseStatusAddress(':35000')).toEqual({ host: '0.0.0.0', port: 35000 });
    expect(parseStatusAddress('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseStatusAddress('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(() => parseStatusAddress('a:b:c')).toThrow(/ADDR\[:PORT\]/);
    expect(() => parseStatusAddress('h:70000')).toThrow(/out of range/);
  });
});

describe('status token', () => {
  it('comes from the file (first line, trimmed), else the environment, else none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-token-'));
    try {
      const file = join(dir, 't');
      writeFileSync(file, '  s3cret \nsecond line\n');
      expect(readStatusToken(file, { WALTHAM_STATUS_TOKEN: 'env' })).toBe('s3cret');
      expect(readStatusToken(undefined, { WALTHAM_STATUS_TOKEN: ' env ' })).toBe('env');
      expect(readStatusToken(undefined, {})).toBeNull();
      writeFileSync(file, '\n');
      expect(() => readStatusToken(file, {})).toThrow(/empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('log lines', () => {
  it('turns pino lines into {time, level, msg} and drops pid and hostname', () => {
    expect(logLines([{ level: 40, time: 0, msg: 'm', pid: 1, hostname: 'h', peer: 'p' }])).toEqual([
      { time: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'm', peer: 'p' },
    ]);
  });
});

const owner: SceneOwner = { name: 'test', feedback: {} as SceneFeedback };

/** A surface of w x h pixels of one BGRA colour. */
function solid(w: number, h: number, bgra: [number, number, number, number], format: 'argb8888' | 'xrgb8888' = 'argb8888'): SceneSurface {
  const s = new SceneSurface(owner);
  const pixels = new Uint8Array(w * h * 4);
  for (let i = 0; i < pixels.length; i += 4) pixels.set(bgra, i);
  s.content = { width: w, height: h, format, pixels, scale: 1, transform: 0 };
  return s;
}

const at = (c: { width: number; rgba: Uint8Array }, x: number, y: number): number[] => [...c.rgba.subarray((y * c.width + x) * 4, (y * c.width + x) * 4 + 4)];

describe('scene composition', () => {
  it('places windows side by side with their subsurfaces, converting BGRA to RGBA', () => {
    const scene = new Scene();
    const a = solid(10, 10, [255, 0, 0, 255]); // blue
    a.role = toplevelRole({ appId: 'a' });
    const child = solid(4, 4, [0, 0, 255, 255]); // red
    child.role = { kind: 'subsurface', parent: a, x: 8, y: 2, sync: false };
    a.stack = [a, child];
    const b = solid(5, 20, [0, 255, 0, 0], 'xrgb8888'); // green, alpha ignored
    b.role = toplevelRole({ appId: 'b' });
    for (const s of [a, child, b]) scene.add(s);
    const c = composeScene(scene)!;
    // a is 12 wide with its subsurface, then an 8 pixel gap, then b.
    expect([c.width, c.height]).toEqual([12 + 8 + 5, 20]);
    expect(at(c, 0, 0)).toEqual([0, 0, 255, 255]);
    expect(at(c, 9, 3)).toEqual([255, 0, 0, 255]);
    expect(at(c, 11, 5)).toEqual([255, 0, 0, 255]);
    expect(at(c, 11, 0)).toEqual([0, 0, 0, 0]);
    expect(at(c, 21, 19)).toEqual([0, 255, 0, 255]);
    expect(composeScene(scene, [b])!.width).toBe(5);
    expect(composeScene(new Scene())).toBeNull();
  });
});
