/**
 * waltham-transmitter's codec options: bad values are refused with the usage
 * text and exit code 2, before anything starts.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { commandArgs } from './bridge.js';

function transmitter(args: readonly string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [...commandArgs('transmitter'), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, WAYLAND_DISPLAY: '', XDG_RUNTIME_DIR: '/nonexistent' },
  });
  return { status: r.status, stderr: r.stderr };
}

describe('waltham-transmitter codec options', () => {
  it('refuses an unknown --codec and a --lossy-quality outside 1..100', () => {
    const codec = transmitter(['--codec', 'png']);
    expect(codec.status).toBe(2);
    expect(codec.stderr).toMatch(/--codec png: expected raw, lz4, zstd, lossy or auto/);
    expect(codec.stderr).toMatch(/--allow-lossy/);
    for (const q of ['0', '101', '7.5', 'x']) {
      const quality = transmitter(['--codec', 'lossy', '--lossy-quality', q]);
      expect(quality.status).toBe(2);
      expect(quality.stderr).toContain(`--lossy-quality ${q}: expected an integer in 1..100`);
    }
  });

  it('lists the codecs and the lossy options in --help', () => {
    const r = spawnSync(process.execPath, [...commandArgs('transmitter'), '--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--codec raw\|lz4\|zstd\|lossy\|auto/);
    expect(r.stdout).toMatch(/--allow-lossy/);
    expect(r.stdout).toMatch(/--lossy-quality N/);
  });
});
