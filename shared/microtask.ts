/**
 * Microtasks for the per-frame paths (a connection's flush, a link's send).
 * Node's queueMicrotask wraps every callback in an async resource (an id, a
 * bound function, before/after/destroy bookkeeping): several allocations and
 * calls each time, for bookkeeping nothing here reads. A reaction on a
 * settled promise takes the same queue in the same order, without them.
 */
const settled = Promise.resolve();

/**
 * Run `fn` once the current task and the microtasks queued before it are
 * done, like queueMicrotask. An exception it throws is not swallowed: it
 * becomes an unhandled rejection, which ends the process as an uncaught
 * exception would.
 */
export function soon(fn: () => void): void {
  void settled.then(fn);
}
