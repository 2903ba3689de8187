import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Prints the CommonJS modules a process loaded, at its exit (sharp loads through CommonJS). */
const REPORT = join(root, 'walt', 'test', 'report-cjs-modules.cjs');
const SHARP = /node_modules\/sharp\//;

const url = (path: string): string => JSON.stringify(new URL(`../${path}`, import.meta.url).href);

/** The pipeline's modules on both sides and both status pages: what every session imports. */
const IMPORT_PIPELINE = ['receiver/server.ts', 'receiver/status.ts', 'transmitter/remote/link.ts', 'transmitter/status.ts', 'transmitter/compositor/index.ts']
  .map((m) => `await import(${url(m)});`)
  .join(' ');

/** Whether sharp was loaded by a Node process that ran `code` (an ES module) to its end. */
async function loadsSharp(code: string): Promise<boolean> {
  const { status, stderr } = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--require', REPORT, '--input-type=module', '-e', code], { cwd: root, timeout: 30_000 }, (_err, _out, err) =>
      resolve({ status: child.exitCode, stderr: err }),
    );
  });
  expect(status, stderr).toBe(0);
  const line = stderr.split('\n').find((l) => l.startsWith('cjs-modules: '));
  expect(line, stderr).toBeDefined();
  return (JSON.parse(line!.slice('cjs-modules: '.length)) as string[]).some((m) => SHARP.test(m));
}

describe('sharp, loaded on first use', () => {
  it('is not loaded by the frame pipeline and the status pages of a lossless session', async () => {
    expect(await loadsSharp(IMPORT_PIPELINE)).toBe(false);
  });

  it('is loaded by the first lossy tile and by the first picture of a status page', async () => {
    const lossy = `${IMPORT_PIPELINE} const { encodeRgb, CODEC_JPEG } = await import(${url('shared/remote/lossy.ts')});
      const jpeg = await encodeRgb(CODEC_JPEG, new Uint8Array(4 * 4 * 3), 4, 4);
      if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');`;
    expect(await loadsSharp(lossy)).toBe(true);
    const picture = `${IMPORT_PIPELINE} const { compositionToPng } = await import(${url('shared/status/compose.ts')});
      const png = await compositionToPng(null);
      if (png.subarray(1, 4).toString() !== 'PNG') throw new Error('not a PNG');`;
    expect(await loadsSharp(picture)).toBe(true);
  });
});
