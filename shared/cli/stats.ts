/** `--stats`: log a statistics snapshot at a fixed interval. */
import type { Logger } from 'pino';

export function startStats(logger: Logger, snapshot: () => object, intervalMs = 5000): () => void {
  const timer = setInterval(() => logger.info({ stats: snapshot() }, 'stats'), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
