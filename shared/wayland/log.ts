/** The logger the Wayland library uses when it is given none. */
import { createLogger, type Logger } from '../log.js';

let logger: Logger | undefined;

export function defaultLogger(): Logger {
  logger ??= createLogger({ name: 'wayland' });
  return logger;
}
