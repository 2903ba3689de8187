import { describe, expect, it } from 'vitest';
import { readSync, writeSync } from 'node:fs';
import { closeFd, pipe } from '../../shared/native.js';
import type { WlDataOfferProxy, WlSurfaceProxy } from '../../shared/generated/wayland/index.js';
import type { SceneSurface } from '../../shared/scene/scene.js';
import { chooseAction } from './drag.js';
import { TestClient, displayPerTest, lastSurface, waitFor } from './test/helpers.js';

const t = displayPerTest();
const COPY = 1;
const MOVE = 2;
const ASK = 4;

/** A client with a pointer, a data device and a window; every event is recorded. */
async function app(name: string, events: string[]): Promise<{
  c: TestClient;
  scene: SceneSurface;
  surfaceId: number;
  surface: WlSurfaceProxy;
  buttons: number[];
  offers: WlDataOfferProxy[];
  device: ReturnType<TestClient['dataDeviceManager']['getDataDevice']>;
}> {
  const c = await t.connect();
  const buttons: number[] = [];
  c.seat.getPointer().listen({
    enter: (_s, surface) => events.push(`${name} pointer enter ${surface.id}`),
    leave: () => events.push(`${name} pointer leave`),
    button: (serial, _t, _b, state) => {
      if (state === 1) buttons.push(serial);
      events.push(`${name} button ${state}`);
    },
  });
  const offers: WlDataOfferProxy[] = [];
  const device = c.dataDeviceManager.getDataDevice(c.seat).listen({
    dataOffer: (offer) => {
      offers.push(offer);
      offer.listen({
        offer: (m) => events.push(`${name} offer ${m}`),
        sourceActions: (a) => events.push(`${name} source_actions ${a}`),
        action: (a) => events.push(`${name} offer action ${a}`),
      });
    },
    enter: (_s, surface, x, y, offer) => events.push(`${name} dnd enter ${surface.id} ${x} ${y} ${offer === null ? 'no offer' : 'offer'}`),
    leave: () => events.push(`${name} dnd leave`),
    motion: (_t, x, y) => events.push(`${name} dnd motion ${x} ${y}`),
    drop: () => events.push(`${name} dnd drop`),
    selection: () => {},
  });
  const top = await c.toplevel();
  top.show(c.buffer(100, 80, () => 0));
  await c.roundtrip();
  return { c, scene: lastSurface(t.display), surfaceId: top.surface.id, surface: top.surface, buttons, offers, device };
}

describe('drag and drop', () => {
  it('picks the preferred action both sides allow, else copy, move, ask', () => {
    expect(chooseAction(COPY | MOVE, COPY | MOVE, MOVE)).toBe(MOVE);
    expect(chooseAction(COPY | MOVE, MOVE | ASK, ASK)).toBe(MOVE);
    expect(chooseAction(ASK, COPY | ASK, COPY)).toBe(ASK);
    expect(chooseAction(COPY, MOVE, MOVE)).toBe(0);
  });

  it('drags from one window to another: enter, accept, action, motion, drop, receive, finish', async () => {
    const events: string[] = [];
    const a = await app('a', events);
    const b = await app('b', events);
    const fbA = a.scene.owner.feedback;
    fbA.pointerEnter(a.scene, 10, 10);
    fbA.pointerButton(1, 272, 'pressed');
    await a.c.roundtrip();
    expect(a.buttons).toHaveLength(1);
    const source = a.c.dataDeviceManager.createDataSource().listen({
      target: (m) => events.push(`source target ${m}`),
      send: (m, fd) => {
        events.push(`source send ${m}`);
        writeSync(fd.fd, 'dragged text');
        fd.close();
      },
      action: (x) => events.push(`source action ${x}`),
      dndDropPerformed: () => events.push('source drop performed'),
      dndFinished: () => events.push('source finished'),
      cancelled: () => events.push('source cancelled'),
    });
    source.offer('text/plain');
    source.setActions(COPY | MOVE);
    a.device.startDrag(source, a.surface, null, a.buttons[0]!);
    await a.c.roundtrip();
    expect(events.filter((e) => e.startsWith('a '))).toContain('a pointer leave');
    expect(events).toContain(`a dnd enter ${a.surfaceId} 10 10 offer`);

    events.length = 0;
    b.scene.owner.feedback.pointerEnter(b.scene, 5, 6);
    await b.c.roundtrip();
    await a.c.roundtrip();
    expect(events).toEqual(['a dnd leave', 'b offer text/plain', `b source_actions ${COPY | MOVE}`, `b dnd enter ${b.surfaceId} 5 6 offer`]);

    events.length = 0;
    const offer = b.offers.at(-1)!;
    offer.accept(0, 'text/plain');
    offer.setActions(COPY | MOVE, MOVE);
    await b.c.roundtrip();
    await a.c.roundtrip();
    expect(events.sort()).toEqual([`b offer action ${MOVE}`, `source action ${MOVE}`, 'source target text/plain']);

    events.length = 0;
    b.scene.owner.feedback.pointerMotion(2, 7, 8);
    fbA.pointerButton(3, 272, 'released');
    await b.c.roundtrip();
    await a.c.roundtrip();
    expect(events).toEqual(expect.arrayContaining(['b dnd motion 7 8', 'b dnd drop', 'source drop performed', `b pointer enter ${b.surfaceId}`]));
    expect(events).not.toContain('b button 0'); // the drag took the release

    events.length = 0;
    const [r, w] = pipe();
    offer.receive('text/plain', w);
    closeFd(w);
    await b.c.roundtrip();
    await a.c.roundtrip();
    await waitFor(() => events.includes('source send text/plain'), 2000, 'data_source.send');
    const buf = Buffer.alloc(100);
    const n = readSync(r, buf);
    closeFd(r);
    expect(buf.subarray(0, n).toString()).toBe('dragged text');
    offer.finish();
    await b.c.roundtrip();
    await a.c.roundtrip();
    expect(events).toContain('source finished');
  });

  it('cancels a drop nobody accepted, and ignores a drag without the held button serial', async () => {
    const events: string[] = [];
    const a = await app('a', events);
    const b = await app('b', events);
    const fbA = a.scene.owner.feedback;
    fbA.pointerEnter(a.scene, 10, 10);
    fbA.pointerButton(1, 272, 'pressed');
    await a.c.roundtrip();
    const origin = a.surface;
    const bad = a.c.dataDeviceManager.createDataSource().listen({ cancelled: () => events.push('bad cancelled') });
    bad.offer('text/plain');
    a.device.startDrag(bad, origin, null, a.buttons[0]! + 1);
    await a.c.roundtrip();
    expect(events).toContain('bad cancelled');
    expect(events.some((e) => e.includes('dnd enter'))).toBe(false);

    const source = a.c.dataDeviceManager.createDataSource().listen({ cancelled: () => events.push('source cancelled') });
    source.offer('text/plain');
    a.device.startDrag(source, origin, null, a.buttons[0]!);
    await a.c.roundtrip();
    b.scene.owner.feedback.pointerEnter(b.scene, 1, 1);
    fbA.pointerButton(2, 272, 'released');
    await a.c.roundtrip();
    await b.c.roundtrip();
    expect(events).toEqual(expect.arrayContaining([`b dnd enter ${b.surfaceId} 1 1 offer`, 'b dnd leave', 'source cancelled']));
    expect(events).not.toContain('b dnd drop');
  });
});
