import { describe, expect, it } from 'vitest';
import { ObjectMap, SERVER_ID_START } from './object-map.js';

describe('ObjectMap', () => {
  it('allocates client ids from 1 and server ids from 0xff000000', () => {
    const map = new ObjectMap<string>(false);
    expect(map.allocate('client')).toBe(1);
    expect(map.allocate('client')).toBe(2);
    expect(map.allocate('server')).toBe(SERVER_ID_START);
  });

  it('never reuses ids without reuse, reuses the lowest freed id with it', () => {
    const once = new ObjectMap<string>(false);
    for (const id of [1, 2, 3]) once.insert(once.allocate('client'), `o${id}`);
    once.release(2);
    expect(once.allocate('client')).toBe(4);

    const reuse = new ObjectMap<string>(true);
    for (const id of [1, 2, 3]) reuse.insert(reuse.allocate('client'), `o${id}`);
    reuse.release(3);
    reuse.release(2);
    expect(reuse.allocate('client')).toBe(2);
  });

  it('rejects new ids that skip ahead, are in use or are in the wrong range', () => {
    const map = new ObjectMap<string>(false);
    map.insert(1, 'display');
    expect(map.checkNewId(2, 'client')).toBe('ok');
    expect(map.checkNewId(5, 'client')).toBe('skips-ahead');
    expect(map.checkNewId(1, 'client')).toBe('in-use');
    expect(map.checkNewId(0, 'client')).toBe('out-of-range');
    expect(map.checkNewId(SERVER_ID_START, 'client')).toBe('out-of-range');
  });

  it('hides zombies from get but keeps their id taken until released', () => {
    const map = new ObjectMap<string>(true);
    map.insert(map.allocate('client'), 'a');
    map.markZombie(1);
    expect(map.get(1)).toBeUndefined();
    expect(map.isZombie(1)).toBe(true);
    expect(map.allocate('client')).toBe(2);
    map.release(1);
    expect(map.isZombie(1)).toBe(false);
    expect(map.allocate('client')).toBe(1);
  });

  it('keeps a zombie and its object until delete_id acknowledges it', () => {
    const map = new ObjectMap<string>(true);
    map.insert(map.allocate('client'), 'a');
    map.insert(map.allocate('client'), 'b');
    map.markZombie(1);
    expect(map.zombie(1)).toBe('a');
    expect(map.zombie(2)).toBeUndefined();
    expect(map.liveCount).toBe(1);
    expect(map.size).toBe(2);
    expect(map.acknowledge(2)).toBe(false); // live, not a zombie: left alone
    expect(map.get(2)).toBe('b');
    expect(map.acknowledge(1)).toBe(true);
    expect(map.zombie(1)).toBeUndefined();
    expect(map.acknowledge(1)).toBe(false);
    expect(map.allocate('client')).toBe(1);
  });

  it('forgets the oldest zombies past maxZombies', () => {
    const map = new ObjectMap<string>(false, 2);
    for (const name of ['a', 'b', 'c', 'd']) map.insert(map.allocate('client'), name);
    for (const id of [3, 1, 4]) map.markZombie(id);
    expect(map.zombies()).toEqual([1, 4]);
    expect(map.zombie(3)).toBeUndefined();
    expect(map.size).toBe(3);
    expect(map.liveCount).toBe(1);
  });

  it('turns a zombie id taken again by the peer into a live object', () => {
    const map = new ObjectMap<string>(true);
    map.insert(SERVER_ID_START, 'from the server');
    map.markZombie(SERVER_ID_START);
    expect(map.checkNewId(SERVER_ID_START, 'server')).toBe('ok');
    map.insert(SERVER_ID_START, 'again');
    expect(map.zombies()).toEqual([]);
    expect(map.get(SERVER_ID_START)).toBe('again');
    expect(map.liveCount).toBe(1);
  });

  it('asks delete_id for ids of the client range only', () => {
    const map = new ObjectMap<string>(true);
    expect(map.needsDeleteId(5)).toBe(true);
    expect(map.needsDeleteId(SERVER_ID_START)).toBe(false);
  });

  describe('the id policy without reuse (Waltham)', () => {
    it('takes exactly the next id from the peer, counting the new ids of the same message before it', () => {
      const map = new ObjectMap<string>(false);
      map.insert(1, 'display');
      expect(map.nextId('client')).toBe(2);
      expect(map.checkNewId(2, 'client')).toBe('ok');
      expect(map.checkNewId(3, 'client', 1)).toBe('ok');
      expect(map.checkNewId(3, 'client')).toBe('skips-ahead');
      map.insert(2, 'a');
      map.markZombie(2);
      map.acknowledge(2);
      expect(map.checkNewId(2, 'client')).toBe('reuses');
      expect(map.checkNewId(SERVER_ID_START, 'server')).toBe('ok');
      expect(map.checkNewId(SERVER_ID_START + 1, 'server')).toBe('skips-ahead');
    });

    it('counts an id the peer used for an object not in the map (claim) as handed out', () => {
      const map = new ObjectMap<string>(false);
      map.insert(1, 'display');
      map.claim(2);
      expect(map.nextId('client')).toBe(3);
      expect(map.wasAllocated(2)).toBe(true);
      expect(map.wasAllocated(3)).toBe(false);
      expect(map.wasAllocated(0)).toBe(false);
      expect(map.wasAllocated(SERVER_ID_START)).toBe(false);
      expect(map.checkNewId(2, 'client')).toBe('reuses');
    });

    it('gives back only the last id handed out, which is then the next id again', () => {
      const map = new ObjectMap<string>(false);
      const a = map.allocate('server');
      map.insert(a, 'a');
      const b = map.allocate('server');
      map.insert(b, 'b');
      expect(map.unallocate(a)).toBe(false);
      expect(map.get(a)).toBe('a');
      expect(map.unallocate(b)).toBe(true);
      expect(map.get(b)).toBeUndefined();
      expect(map.allocate('server')).toBe(b);
    });

    it('gives any id back with reuse', () => {
      const map = new ObjectMap<string>(true);
      for (const name of ['a', 'b', 'c']) map.insert(map.allocate('client'), name);
      expect(map.unallocate(1)).toBe(true);
      expect(map.allocate('client')).toBe(1);
    });
  });
});
