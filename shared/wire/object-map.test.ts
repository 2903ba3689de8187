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
});
