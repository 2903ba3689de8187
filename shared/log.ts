/**
 * Structured logs: pino, human-readable on a terminal (pino-pretty), JSON
 * lines otherwise (for journald, log collectors and tests).
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LogOptions {
  readonly name: string;
  readonly level?: LevelWithSilent;
  /** Force pretty or JSON output; default: pretty when stderr is a TTY. */
  readonly pretty?: boolean;
  /** Also write every JSON line here (e.g. a status endpoint's log tail). */
  readonly tee?: { write(line: string): void };
}

export function createLogger(options: LogOptions): Logger {
  const level = options.level ?? (process.env['WALTHAM_LOG_LEVEL'] as LevelWithSilent | undefined) ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const tee = options.tee;
  if (pretty) {
    const transport = { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } };
    if (tee === undefined) return pino({ name: options.name, level, transport });
    return pino({ name: options.name, level }, pino.multistream([{ level, stream: pino.transport(transport) }, { level, stream: tee }]));
  }
  if (tee === undefined) return pino({ name: options.name, level }, pino.destination(2));
  return pino({ name: options.name, level }, pino.multistream([{ level, stream: pino.destination(2) }, { level, stream: tee }]));
}

/** A logger that drops everything, for library defaults in tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
