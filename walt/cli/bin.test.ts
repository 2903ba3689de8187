/**
 * The installed command: package.json's `bin.waltham` runs from dist/ (what
 * `npm run build` makes), answers --help and `node show` against the test
 * lab, and loads only the category asked for.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_TOKEN, startLab, type Lab } from '../test/lab.js';
import { ROOT, runCli, runNode } from '../test/run-cli.js';
import { fixturesPresent } from '../test/walt-standin.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; exports: Record<string, unknown> };
const bin = join(ROOT, pkg.bin['waltham']!);

describe('the waltham bin from dist', () => {
  let lab: Lab | null = null;
  beforeAll(async () => {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: npm run build`);
    if (fixturesPresent) lab = await startLab();
    else console.warn('skipping waltham node show from dist: ../shared/walt-fixtures is missing');
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('is an executable bundle with one file per category', () => {
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(readdirSync(join(dirname(bin), 'categories')).sort()).toEqual(['image.js', 'log.js', 'node.js', 'receiver.js', 'surface.js']);
  });

  it('answers --help', async () => {
    const r = await runCli(bin, ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: waltham CATEGORY SUBCOMMAND');
  });

  it.skipIf(!fixturesPresent)('answers node show', async () => {
    const r = await runCli(bin, ['node', 'show', ...lab!.args], { WALTHAM_TOKEN: LAB_TOKEN, HOME: '/nonexistent' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rpi-cluster\s+rpi-4-b\s+waltham-tx-rpi64\s+127\.0\.0\.2\s+yes\s+up\s/m);
  });

  /** The CommonJS modules a run loaded (pino, sharp and the native shim are CommonJS). */
  const cjsModules = async (args: string[]): Promise<string[]> => {
    const r = await runNode(['--require', join(ROOT, 'walt', 'test', 'report-cjs-modules.cjs'), ...args], { HOME: '/nonexistent', WALTHAM_TOKEN: LAB_TOKEN });
    expect(r.code).toBe(0);
    const line = r.stderr.split('\n').find((l) => l.startsWith('cjs-modules: '));
    return JSON.parse(line!.slice('cjs-modules: '.length)) as string[];
  };
  const HEAVY = /node_modules\/(pino|pino-pretty|sharp)\/|wayland-shim/;

  it('loads nothing heavy for --help, in all three commands', async () => {
    for (const main of [bin, join(ROOT, 'dist', 'transmitter', 'main.js'), join(ROOT, 'dist', 'receiver', 'main.js')]) {
      const loaded = await cjsModules([main, '--help']);
      expect(loaded.filter((m) => HEAVY.test(m)), main).toEqual([]);
    }
  });

  it('loads only the category asked for', async () => {
    const ours = (loaded: string[]) => loaded.filter((m) => m.startsWith(dirname(bin))).map((m) => m.slice(dirname(bin).length + 1));
    expect(ours(await cjsModules([bin, '--help']))).toEqual(['waltham.js']);
    for (const c of ['node', 'surface', 'receiver', 'log', 'image']) expect(ours(await cjsModules([bin, c, '--help']))).toEqual(['waltham.js', `categories/${c}.js`]);
  });

  it.skipIf(!fixturesPresent)('loads nothing heavy for node show', async () => {
    const loaded = await cjsModules([bin, 'node', 'show', ...lab!.args]);
    expect(loaded.filter((m) => HEAVY.test(m))).toEqual([]);
  });

  it('exports the scripting API with its types', () => {
    const entry = pkg.exports['.'] as { types: string; import: string };
    expect(existsSync(join(ROOT, entry.import))).toBe(true);
    expect(readFileSync(join(ROOT, entry.types), 'utf8')).toMatch(/export declare const api: Api;/);
  });
});
