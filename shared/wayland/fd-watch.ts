/**
 * One process-wide fd readiness watcher over the native `Poller` (an epoll
 * set of its own that Node's event loop watches as one fd: reports come
 * from the loop, with no thread between). Every Wayland socket and listener of
 * the process registers here; the poller keeps Node alive only while at least
 * one fd is watched.
 *
 * Reports are one-shot: after `handler(events)` the fd stays quiet until
 * `rearm`; a persistent fd is reported for as long as it is ready, and
 * `rearm` only changes what it is watched for. Handlers are called on the
 * main thread, never re-entrantly for the same fd.
 *
 * While every wake-up is handled natively (steady paths reading their sockets,
 * reads.rs), the poller waits for the next one inside the loop's callback
 * instead of going back to the loop each time; WALTHAM_NATIVE_WAITS=0 turns
 * that off.
 */
import { POLL_HANGUP, POLL_NOTICE, POLL_READABLE, POLL_WRITABLE, Poller } from '../native.js';
import { probeAfterMicrotasks, probeStart, probing } from '../probe.js';

export const READABLE = POLL_READABLE;
export const WRITABLE = POLL_WRITABLE;
/** Event bit: hangup or error on the fd. */
export const HANGUP = POLL_HANGUP;
/** Event bit: a native read of the fd left a notice for its owner (see WaylandConnection.setNotice). */
export const NOTICE = POLL_NOTICE;

export type FdHandler = (events: number) => void;

let poller: Poller | null = null;
const handlers = new Map<number, FdHandler>();
/** Calls of `rearmFd` that reached the poller (diagnostics: each is a call into the addon). */
let rearms = 0;

function dispatch(fd: number, events: number): void {
  const start = probing ? probeStart() : 0;
  const handler = handlers.get(fd);
  if (handler !== undefined) handler(events);
  if (probing) probeAfterMicrotasks('wayland wake', start);
}

/**
 * Start watching `fd` (not yet watched) with `interest` (READABLE | WRITABLE);
 * `persistent`: stay armed after each report.
 */
export function watchFd(fd: number, interest: number, handler: FdHandler, persistent = false): void {
  if (handlers.has(fd)) throw new Error(`fd ${fd} is already watched`);
  if (poller === null) {
    poller = new Poller(dispatch);
    // While every wake-up is handled natively, wait for the next inside the loop's callback.
    poller.nesting = process.env['WALTHAM_NATIVE_WAITS'] !== '0';
  }
  handlers.set(fd, handler);
  try {
    poller.add(fd, interest, persistent);
  } catch (error) {
    handlers.delete(fd);
    throw error;
  }
}

/** Ask for the next report on `fd`, with a new interest (a persistent fd: change its interest). */
export function rearmFd(fd: number, interest: number): void {
  if (poller !== null && handlers.has(fd)) {
    rearms++;
    poller.rearm(fd, interest);
  }
}

/** Calls of `rearmFd` that reached the poller so far (for tests and diagnostics). */
export function rearmCount(): number {
  return rearms;
}

/** Stop watching `fd`; call before closing it. No report for it arrives afterwards. */
export function unwatchFd(fd: number): void {
  if (!handlers.delete(fd)) return;
  poller?.remove(fd);
}

/** Wake-ups handled natively inside the loop's callback so far (`Poller.nestedWakes`). */
export function nestedWakeCount(): number {
  return poller?.nestedWakes ?? 0;
}

/** Number of watched fds (for tests and diagnostics). */
export function watchedFdCount(): number {
  return handlers.size;
}
