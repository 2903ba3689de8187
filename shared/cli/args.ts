/**
 * Command-line helpers shared by the commands: option parsing with
 * `node:util` parseArgs, `--` separation, usage errors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse `argv` (without node and script); everything after `--` is returned as `rest`. */
export function parseCommandLine<O extends Options>(argv: readonly string[], options: O) {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const rest = dash < 0 ? [] : argv.slice(dash + 1);
  try {
    const { values, positionals } = parseArgs({ args: [...own], options, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]} (put the application after --)`);
    return { values, rest };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}

/** `:N` means `wayland-N`, as for weston's --display. */
export function displayName(name: string): string {
  return /^:\d+$/.test(name) ? `wayland-${name.slice(1)}` : name;
}

/**
 * On SIGTERM/SIGINT, how long a command lets each Waltham peer take to close
 * its side of the connection (what is queued is written first) before the
 * connection is dropped: stopping must stay well under a second.
 */
export const SHUTDOWN_GRACE_MS = 200;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function logLevel(value: string | undefined): LogLevel {
  const level = value ?? process.env['WALTHAM_LOG_LEVEL'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level ${level}: expected one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

/** Print a usage error and exit 2; any other error is printed with its message and exits 1. */
export function fail(command: string, usage: string, err: unknown): never {
  if (err instanceof UsageError) {
    process.stderr.write(`${command}: ${err.message}\n\n${usage}`);
    process.exit(2);
  }
  process.stderr.write(`${command}: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
}
