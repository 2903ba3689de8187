/**
 * The shape of `waltham CATEGORY SUBCOMMAND [args]`, as the WalT client's:
 * a category module exports its subcommands, each with a one-line summary,
 * its arguments, its options and what it runs.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../client/errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every subcommand accepts. */
export const GLOBAL_OPTIONS = {
  'walt-server': { type: 'string' },
  'status-port': { type: 'string' },
  timeout: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const GLOBAL_HELP = `global options:
  --walt-server HOST[:PORT]  the WalT server (default $WALT_SERVER, else ~/.walt/config)
  --status-port PORT         the boards' status port (default 34401)
  --timeout MS               how long to wait for a board (default 500)
  --token TOKEN              the boards' control token (default $WALTHAM_TOKEN, else ~/.config/waltham/token)
  -h, --help                 help
`;

export interface Invocation {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
  /** Where the answer goes (the CLI: process.stdout). */
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface Subcommand {
  readonly name: string;
  readonly summary: string;
  /** What follows `waltham CATEGORY NAME`, e.g. `NODE --to RECEIVER[:PORT]`. */
  readonly args: string;
  readonly options: Options;
  /** The lines under "options:" in its help. */
  readonly optionsHelp?: string;
  /** Exactly this many positionals, or a [min, max] range. */
  readonly positionals: number | readonly [number, number];
  readonly run: (inv: Invocation) => Promise<number>;
}

export interface Category {
  readonly name: string;
  readonly summary: string;
  readonly subcommands: readonly Subcommand[];
  /** The subcommand run when the next word is none of them (`waltham log NODE`). */
  readonly defaultSubcommand?: string;
}

export function subcommandUsage(category: string, sub: Subcommand): string {
  return `usage: waltham ${category} ${sub.name}${sub.args === '' ? '' : ` ${sub.args}`}\n\n${sub.summary}\n${
    sub.optionsHelp === undefined ? '' : `\noptions:\n${sub.optionsHelp}`
  }\n${GLOBAL_HELP}`;
}

export function categoryUsage(category: Category): string {
  const width = Math.max(...category.subcommands.map((s) => s.name.length));
  const lines = category.subcommands.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`);
  return `usage: waltham ${category.name} SUBCOMMAND [args]\n\n${category.summary}\n\nsubcommands:\n${lines.join('\n')}\n\n'waltham ${category.name} SUBCOMMAND --help' for more.\n`;
}

export function parseInvocation(argv: readonly string[], sub: Subcommand): Pick<Invocation, 'values' | 'positionals'> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...GLOBAL_OPTIONS, ...sub.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { values, positionals };
  const [min, max] = typeof sub.positionals === 'number' ? [sub.positionals, sub.positionals] : sub.positionals;
  if (positionals.length < min) throw new UsageError(`missing argument: waltham ... ${sub.name} ${sub.args}`);
  if (positionals.length > max) throw new UsageError(`unexpected argument: ${positionals[max]}`);
  return { values: values as Invocation['values'], positionals };
}
