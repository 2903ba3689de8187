/**
 * A small typed event emitter. Unlike Node's EventEmitter, an 'error' event
 * without listeners is not thrown: a library that serves many peers must not
 * crash because one of them misbehaved and nobody subscribed.
 */
export type EventMap = Record<string, unknown[]>;

type Listener = (...args: never[]) => void;

export class Emitter<E extends EventMap> {
  private readonly eventListeners = new Map<keyof E, Listener[]>();

  on<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const list = this.eventListeners.get(event) ?? [];
    list.push(fn as unknown as Listener);
    this.eventListeners.set(event, list);
    return this;
  }

  once<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const wrapper = (...args: E[K]): void => {
      this.off(event, wrapper);
      fn(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, fn: (...args: E[K]) => void): this {
    const list = this.eventListeners.get(event);
    if (list === undefined) return this;
    const i = list.indexOf(fn as unknown as Listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.eventListeners.get(event)?.length ?? 0;
  }

  /** Call the listeners in order; returns whether there were any. */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.eventListeners.get(event);
    if (list === undefined || list.length === 0) return false;
    for (const fn of [...list]) (fn as unknown as (...a: E[K]) => void)(...args);
    return true;
  }
}
