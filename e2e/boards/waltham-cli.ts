/**
 * The board scenarios drive the boards with the real `waltham` command: the
 * bin `npm run build` bundles into dist/ (package.json's `bin.waltham`), run
 * as a process against the WalT server (the stand-in, or a real one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, type CliResult } from '../../walt/test/run-cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
export const WALTHAM_BIN = join(ROOT, pkg.bin['waltham']!);

/** Why the bin cannot run, or null. */
export function walthamBinMissing(): string | null {
  return existsSync(WALTHAM_BIN) ? null : `${WALTHAM_BIN} is missing (npm run build)`;
}

export interface WalthamOptions {
  /** --walt-server */
  readonly waltServer: string;
  /** How long `waltham` waits for a board (--timeout; qemu boards answer slower than 500 ms at times). */
  readonly timeoutMs?: number;
  /** `walt` for `waltham image` (WALT_COMMAND). */
  readonly waltCommand?: string;
  /** More environment (e.g. the fake walt's state file). */
  readonly env?: Record<string, string>;
}

/** A row of `waltham node show`, by column name. */
export type NodeRow = Record<'name' | 'model' | 'image' | 'ip' | 'booted' | 'transmitter' | 'receiver' | 'surfaces' | 'fps', string>;

export class Waltham {
  constructor(private readonly options: WalthamOptions) {}

  private global(token?: string): string[] {
    return ['--walt-server', this.options.waltServer, '--timeout', String(this.options.timeoutMs ?? 2000), ...(token === undefined ? [] : ['--token', token])];
  }

  /** How the command line reads (without the token), for the log. */
  commandLine(args: readonly string[]): string {
    return ['waltham', ...args, ...this.global()].join(' ');
  }

  /** `waltham ARGS --walt-server ... [--token TOKEN]`; the answer whatever the exit code. */
  run(args: readonly string[], token?: string, timeoutMs = 60_000): Promise<CliResult> {
    const o = this.options;
    const global = this.global(token);
    const env: Record<string, string> = { HOME: '/nonexistent', ...(o.waltCommand === undefined ? {} : { WALT_COMMAND: o.waltCommand }), ...o.env };
    return runCli(WALTHAM_BIN, [...args, ...global], env, timeoutMs);
  }

  /** The same; rejects unless it exits 0. */
  async ok(args: readonly string[], token?: string, timeoutMs?: number): Promise<string> {
    const r = await this.run(args, token, timeoutMs);
    if (r.code !== 0) throw new Error(`waltham ${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** `waltham node show`, its table read back into rows. */
  async nodeShow(): Promise<NodeRow[]> {
    return parseNodeShow(await this.ok(['node', 'show']));
  }
}

/** Reads the table of `waltham node show` (columns start where their header does; cells may be empty). */
export function parseNodeShow(text: string): NodeRow[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^name\s+model\s+image\s+ip\s+booted\s+transmitter/.test(l));
  if (at < 0) throw new Error(`no node table in:\n${text}`);
  const header = lines[at]!;
  const starts = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  const rows: NodeRow[] = [];
  for (const line of lines.slice(at + 2)) {
    if (line.trim() === '') break;
    const row: Record<string, string> = {};
    starts.forEach((c, i) => (row[c.name] = line.slice(c.start, starts[i + 1]?.start ?? line.length).trim()));
    rows.push(row as NodeRow);
  }
  return rows;
}
