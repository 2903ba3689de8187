/**
 * Structured logs: pino, human-readable on a terminal (pino-pretty), JSON
 * lines otherwise (for journald, log collectors and tests). Below debug
 * level lines are rate limited (LOG_RATE a second on average, bursts up to
 * LOG_BURST): a peer that makes the process log on purpose (a fuzzer, a flood
 * of bad connections) cannot fill the disk; what was dropped is counted in a
 * line of its own.
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

/** Lines a second a logger writes on average, and the largest burst. */
export const LOG_RATE = 200;
export const LOG_BURST = 2000;

export interface LineSink {
  write(line: string): void;
}

/**
 * Passes lines to `sink` while a token bucket (`rate` a second, `burst`
 * deep) has tokens; drops the others, and when tokens are back writes one
 * line saying how many went missing.
 */
export function rateLimited(sink: LineSink, name: string, rate = LOG_RATE, burst = LOG_BURST, now: () => number = Date.now): LineSink {
  let tokens = burst;
  let last = now();
  let dropped = 0;
  return {
    write(line: string) {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) * rate) / 1000);
      last = t;
      if (tokens < 1) {
        dropped++;
        return;
      }
      if (dropped > 0) {
        tokens -= 1;
        sink.write(`${JSON.stringify({ level: 40, time: t, name, msg: `${dropped} log lines dropped: more than ${rate} a second` })}\n`);
        dropped = 0;
        if (tokens < 1) return;
      }
      tokens -= 1;
      sink.write(line);
    },
  };
}

export function createLogger(options: LogOptions): Logger {
  const level = options.level ?? (process.env['WALTHAM_LOG_LEVEL'] as LevelWithSilent | undefined) ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const out = (): LineSink => {
    if (!pretty) return pino.destination(2);
    return pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } });
  };
  const tee = options.tee;
  const streams: LineSink[] = tee === undefined ? [out()] : [out(), tee];
  const all: LineSink = { write: (line) => streams.forEach((s) => s.write(line)) };
  // Whoever asks for debug output wants all of it.
  const limited = level === 'debug' || level === 'trace' ? all : rateLimited(all, options.name);
  return pino({ name: options.name, level }, limited);
}

/** A logger that drops everything, for library defaults in tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
