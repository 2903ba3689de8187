/**
 * Object ids of one connection. Both dialects split the id space the same way:
 * ids 1..0xfeffffff are allocated by the client, 0xff000000.. by the server.
 *
 * - Allocation: libwayland reuses the lowest freed id of its own range;
 *   Waltham's reference never reuses ids (`reuse: false`).
 * - A new id from the peer must be the next free id of the peer's range
 *   (no gaps: the reference Waltham server crashes on a gap, and libwayland
 *   rejects an id that skips ahead); without reuse, exactly the next one
 *   (`nextId`), counting the new ids of the same message checked before it.
 * - A new id of ours whose message was never sent is given back
 *   (`unallocate`), so the next id the peer sees follows the last one it saw.
 * - A destroyed object whose destruction the peer has not seen yet is a
 *   zombie: messages from the peer addressed to it are ignored, not errors
 *   (the map still knows its interface, to count the fds such a message
 *   carries). The zombie's id stays taken until the peer acknowledges the
 *   destruction (`acknowledge`, on delete_id) or, past `maxZombies`, the oldest
 *   zombie is forgotten (a peer that never sends delete_id, like the reference
 *   Waltham server, must not grow the map without bound).
 * - Acknowledgement: the server confirms the destruction of ids of the client
 *   range with delete_id (`needsDeleteId`); its own ids need none.
 *
 * This class is the one place that decides id ranges, reuse, zombies and
 * acknowledgement; both dialects' connections only call it.
 */

export const SERVER_ID_START = 0xff000000;
export const MAX_ID = 0xffffffff;

export type NewIdCheck = 'ok' | 'out-of-range' | 'in-use' | 'skips-ahead' | 'reuses';

type Side = 'client' | 'server';

function sideOf(id: number): Side {
  return id >= SERVER_ID_START ? 'server' : 'client';
}

interface Slot<T> {
  value: T;
  zombie: boolean;
}

export class ObjectMap<T> {
  private readonly slots = new Map<number, Slot<T>>();
  /**
   * Next id to hand out per range (client, server), in a cell a native fast
   * path may share (`counters`); freed ids available again (when reusing).
   */
  readonly counters = new Float64Array([1, SERVER_ID_START]);
  private readonly freeClient: number[] = [];
  private readonly freeServer: number[] = [];
  /** Zombie ids, oldest first. */
  private readonly zombieIds = new Set<number>();

  constructor(
    private readonly reuse: boolean,
    private readonly maxZombies = Infinity,
  ) {}

  /** Ids taken, zombies included. */
  get size(): number {
    return this.slots.size;
  }

  /** Live objects (zombies excluded). */
  get liveCount(): number {
    return this.slots.size - this.zombieIds.size;
  }

  /** The destroyed object still holding `id` as a zombie. */
  zombie(id: number): T | undefined {
    const slot = this.slots.get(id);
    return slot !== undefined && slot.zombie ? slot.value : undefined;
  }

  /** Zombie ids, oldest first. */
  zombies(): number[] {
    return [...this.zombieIds];
  }

  /** Whether the destruction of `id` is acknowledged by the server with delete_id (ids of the client range). */
  needsDeleteId(id: number): boolean {
    return id >= 1 && id < SERVER_ID_START;
  }

  /** The live object with this id (not a zombie). */
  get(id: number): T | undefined {
    const slot = this.slots.get(id);
    return slot === undefined || slot.zombie ? undefined : slot.value;
  }

  isZombie(id: number): boolean {
    return this.slots.get(id)?.zombie === true;
  }

  /** The next id of `side`'s range that was never handed out (without reuse: the only one a new object may take). */
  nextId(side: Side): number {
    return this.counters[side === 'client' ? 0 : 1]!;
  }

  /** Whether `id` was handed out at some point (every id of its range below the next one was). */
  wasAllocated(id: number): boolean {
    const start = sideOf(id) === 'server' ? SERVER_ID_START : 1;
    return id >= start && id < this.nextId(sideOf(id));
  }

  /** Take the next id of `side`'s range for a new local object. */
  allocate(side: Side): number {
    const free = side === 'client' ? this.freeClient : this.freeServer;
    if (this.reuse && free.length > 0) {
      free.sort((a, b) => b - a);
      return free.pop()!;
    }
    const i = side === 'client' ? 0 : 1;
    const id = this.counters[i]!;
    if (side === 'client' && id >= SERVER_ID_START) throw new RangeError('client id space exhausted');
    if (side === 'server' && id > MAX_ID) throw new RangeError('server id space exhausted');
    this.counters[i] = id + 1;
    return id;
  }

  /**
   * Whether `id` is acceptable as a new object created by the peer on `side`,
   * after `pending` new ids of the same message that were checked but are not
   * inserted yet (without reuse they take the ids before it).
   */
  checkNewId(id: number, side: Side, pending = 0): NewIdCheck {
    const inRange = side === 'client' ? id >= 1 && id < SERVER_ID_START : id >= SERVER_ID_START && id <= MAX_ID;
    if (!inRange) return 'out-of-range';
    const slot = this.slots.get(id);
    if (slot !== undefined && !slot.zombie) return 'in-use';
    const next = this.nextId(side) + pending;
    if (!this.reuse) return id < next ? 'reuses' : id > next ? 'skips-ahead' : 'ok';
    if (slot !== undefined) return 'ok'; // a zombie id the peer reuses after delete_id
    const free = side === 'client' ? this.freeClient : this.freeServer;
    if (free.includes(id)) return 'ok';
    if (id > next) return 'skips-ahead';
    return 'ok';
  }

  /**
   * The peer used `id` for a new object that is not in the map (an untyped
   * new_id whose object comes later, or an object created for a zombie and
   * dropped at once): the ids up to it count as handed out.
   */
  claim(id: number): void {
    const i = sideOf(id) === 'client' ? 0 : 1;
    if (id >= this.counters[i]!) this.counters[i] = id + 1;
  }

  /**
   * A local id whose object never reached the peer (its message was not
   * sent): forget it. With reuse it is free again; without, only the last id
   * handed out can be given back (it is the next id again), and false says
   * this one could not be.
   */
  unallocate(id: number): boolean {
    if (this.reuse) {
      this.release(id);
      return true;
    }
    if (id !== this.nextId(sideOf(id)) - 1) return false;
    this.zombieIds.delete(id);
    this.slots.delete(id);
    this.counters[sideOf(id) === 'client' ? 0 : 1] = id;
    return true;
  }

  /** Register an object under `id` (allocated locally or checked with checkNewId). */
  insert(id: number, value: T): void {
    this.slots.set(id, { value, zombie: false });
    this.zombieIds.delete(id);
    const free = sideOf(id) === 'client' ? this.freeClient : this.freeServer;
    const i = free.indexOf(id);
    if (i >= 0) free.splice(i, 1);
    this.claim(id);
  }

  /**
   * Keep the id as a zombie until the peer acknowledges the destruction
   * (`acknowledge`) or `release`. Past `maxZombies`, the oldest is released.
   */
  markZombie(id: number): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    slot.zombie = true;
    this.zombieIds.add(id);
    if (this.zombieIds.size > this.maxZombies) this.release(this.zombieIds.values().next().value as number);
  }

  /** The peer acknowledged the destruction of `id` (delete_id): a zombie's id is released. False if `id` is no zombie. */
  acknowledge(id: number): boolean {
    if (!this.zombieIds.has(id)) return false;
    this.release(id);
    return true;
  }

  /** Forget the id; with `reuse`, it can be allocated again. */
  release(id: number): void {
    this.zombieIds.delete(id);
    if (!this.slots.delete(id)) return;
    if (!this.reuse) return;
    (sideOf(id) === 'server' ? this.freeServer : this.freeClient).push(id);
  }

  /** Live objects, for teardown. */
  values(): T[] {
    return [...this.slots.values()].filter((s) => !s.zombie).map((s) => s.value);
  }
}
