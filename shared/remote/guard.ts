/**
 * A SceneFeedback whose methods never throw into the caller: a failure is
 * reported to `onError` and the call is dropped. The link calls producers'
 * feedback from Waltham event handlers (a throw there would drop the
 * connection); the receiver's feedback is called by the local display.
 */
import type { SceneFeedback } from '../scene/scene.js';

const shared = new WeakMap<SceneFeedback, SceneFeedback>();

/**
 * The guarded feedback of `fb`, the same object for the same `fb` and
 * `cache`: the first `onError` given for `fb` stays. A consumer that logs
 * differently passes its own cache.
 */
export function guardFeedback(
  fb: SceneFeedback,
  onError: (method: string, err: unknown) => void,
  cache: WeakMap<SceneFeedback, SceneFeedback> = shared,
): SceneFeedback {
  const known = cache.get(fb);
  if (known !== undefined) return known;
  const guarded = new Proxy(fb, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } catch (err) {
          onError(String(prop), err);
          return undefined;
        }
      };
    },
  });
  cache.set(fb, guarded);
  return guarded;
}
