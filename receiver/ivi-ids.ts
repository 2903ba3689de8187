/**
 * The ivi-id each remote toplevel gets with `--shell ivi`: the one its app_id
 * is mapped to ([ivi-surface] app-id=, ivi-id=), else ivi-id-base + n in
 * order of appearance. An ivi-id that [transmitter-identity] gives to one
 * identity goes only to that identity's surfaces: another transmitter's
 * surface with the same app_id gets a free id instead (and a log line).
 */
import type { WalthamLogger } from '../shared/waltham/connection.js';
import type { SceneSurface } from '../shared/scene/scene.js';
import { RemoteClient } from './remote-client.js';

export interface IviIdOptions {
  /** app_id -> ivi-id from the configuration. */
  readonly configured: ReadonlyMap<string, number>;
  /** The first id for app_ids without a mapping. */
  readonly base: number;
  /** The identity an ivi-id belongs to; null: anyone's. */
  readonly ownerOf: (iviId: number) => string | null;
  readonly logger: WalthamLogger;
}

/** Who a remote surface's transmitter proved to be (null: nobody, or not a remote surface). */
export function identityOf(surface: SceneSurface): string | null {
  return surface.owner instanceof RemoteClient ? surface.owner.peer.identity : null;
}

export function iviIdAssigner(options: IviIdOptions): (appId: string, surface: SceneSurface) => number {
  const assigned = new Map<string, number>(options.configured);
  let next = options.base;
  const fresh = (): number => {
    const used = new Set(assigned.values());
    while (used.has(next) || options.ownerOf(next) !== null) next++;
    return next++;
  };
  return (appId, surface) => {
    let id = assigned.get(appId);
    if (id !== undefined) {
      const owner = options.ownerOf(id);
      const identity = identityOf(surface);
      if (owner === null || owner === identity) return id;
      const other = fresh();
      options.logger.warn(
        { appId, iviId: id, owner },
        `ivi-id ${id} of app_id "${appId}" belongs to ${owner}; the surface of ${identity ?? 'a transmitter that proved no identity'} gets ivi-id ${other}`,
      );
      return other;
    }
    id = fresh();
    assigned.set(appId, id);
    options.logger.info({ appId, iviId: id }, `app_id "${appId}" gets ivi-id ${id}`);
    return id;
  };
}
