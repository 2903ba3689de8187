/**
 * Errors of the WalT integration, one class per failure family with a stable
 * `code` (as undici's), each with a message a person can act on. The CLI
 * prints the message and exits 1; usage errors exit 2.
 */

export type WalthamErrorCode =
  | 'ERR_USAGE'
  | 'ERR_NO_WALT_SERVER'
  | 'ERR_WALT_UNREACHABLE'
  | 'ERR_WALT_ANSWER'
  | 'ERR_INVALID_NAME'
  | 'ERR_NODE_UNKNOWN'
  | 'ERR_NOT_OUR_IMAGE'
  | 'ERR_BOARD_UNREACHABLE'
  | 'ERR_BOARD_ANSWER'
  | 'ERR_NO_TOKEN'
  | 'ERR_WALT_COMMAND';

export class WalthamError extends Error {
  constructor(
    readonly code: WalthamErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WalthamError';
  }
}

export class UsageError extends WalthamError {
  constructor(message: string) {
    super('ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/**
 * Whether `e` is one of ours. By shape, not `instanceof`: each category of the
 * `waltham` bundle carries its own copy of these classes.
 */
export function isWalthamError(e: unknown): e is WalthamError {
  return e instanceof Error && (e.name === 'WalthamError' || e.name === 'UsageError') && typeof (e as WalthamError).code === 'string';
}

/** What a failed request to a WalT server or a board says about the network: `ECONNREFUSED`, `timeout`... */
export function networkReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'unknown host';
  if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'no route to host';
  if (e.code === 'ECONNRESET') return 'connection reset';
  if (e.code === 'ETIMEDOUT' || e.name === 'TimeoutError') return 'no answer in time';
  return e.message ?? String(err);
}
