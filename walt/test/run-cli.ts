/**
 * Runs `waltham` as a real process for tests: the bundle built from the
 * current sources (into a temporary folder, as `npm run build` bundles it
 * into dist/), with a clean environment (own HOME, no WALT_SERVER), and a
 * deadline so that a hang fails the test instead of stalling it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Bundle the CLI into a fresh folder; returns the path of its entry and a cleanup. */
export function bundleCli(): { bin: string; home: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'waltham-cli-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle-waltham.mjs'), join(dir, 'bin')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bundling failed: ${r.stderr}`);
  const home = join(dir, 'home');
  spawnSync('mkdir', ['-p', home]);
  return { bin: join(dir, 'bin', 'waltham.js'), home, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runCli(bin: string, args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000): Promise<CliResult> {
  return runNode([bin, ...args], env, timeoutMs);
}

/** `node ARGS` with only PATH, LANG and TMPDIR from this environment, plus `env`. */
export function runNode(args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 20_000): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  const fullEnv: Record<string, string> = { ...base };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fullEnv[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')}: still running after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
