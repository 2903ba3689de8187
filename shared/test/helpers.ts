/**
 * Test helpers every folder's tests use: waiting, finding programs, a seeded
 * PRNG and a logger that records. Each folder's own helpers re-export what
 * its tests need.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { WalthamLogger } from '../waltham/connection.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds; rejects after `timeoutMs`, naming `what`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `bin` (a name looked up in PATH, or an absolute path), or undefined when it is not there. */
export function which(bin: string): string | undefined {
  if (bin.startsWith('/')) return executable(bin) ? bin : undefined;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const path = join(dir, bin);
    if (executable(path)) return path;
  }
  return undefined;
}

/** A small seeded PRNG (mulberry32), so that failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LogLine {
  readonly level: string;
  readonly obj: object;
  readonly msg: string;
}

/** A logger that records what it is given. */
export function captureLogger(): { logger: WalthamLogger; lines: LogLine[]; text: () => string } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (obj: object, msg: string): void => {
      lines.push({ level, obj, msg });
    };
  return {
    logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') },
    lines,
    text: () => lines.map((l) => `${l.level}: ${l.msg}`).join('\n'),
  };
}
