import { describe, expect, it } from 'vitest';
import { readSync, writeSync } from 'node:fs';
import { closeFd, pipe } from '../../shared/native.js';
import {
  type WlDataOfferProxy,
  type WlDataSourceProxy,
  ZwpPrimarySelectionDeviceManagerV1Proxy,
  type ZwpPrimarySelectionOfferV1Proxy,
} from '../../shared/generated/wayland/index.js';
import type { SceneSurface } from '../../shared/scene/scene.js';
import type { SelectionSource } from './selection.js';
import { TestClient, displayPerTest, lastSurface, waitFor } from './test/helpers.js';

const t = displayPerTest();

/** A client with a keyboard (enter serials recorded), a data device (offers recorded) and a window. */
async function app(): Promise<{
  c: TestClient;
  enters: number[];
  offers: { mimes: string[]; offer: WlDataOfferProxy }[];
  selections: (WlDataOfferProxy | null)[];
  device: ReturnType<TestClient['dataDeviceManager']['getDataDevice']>;
  map(): Promise<SceneSurface>;
}> {
  const c = await t.connect();
  const enters: number[] = [];
  c.seat.getKeyboard().listen({ enter: (serial) => enters.push(serial) });
  const offers: { mimes: string[]; offer: WlDataOfferProxy }[] = [];
  const selections: (WlDataOfferProxy | null)[] = [];
  const device = c.dataDeviceManager.getDataDevice(c.seat).listen({
    dataOffer: (offer) => {
      const entry = { mimes: [] as string[], offer };
      offer.listen({ offer: (m) => entry.mimes.push(m) });
      offers.push(entry);
    },
    selection: (offer) => selections.push(offer),
  });
  const map = async (): Promise<SceneSurface> => {
    const top = await c.toplevel();
    top.show(c.buffer(40, 30, () => 0));
    await c.roundtrip();
    return lastSurface(t.display);
  };
  return { c, enters, offers, selections, device, map };
}

/** A data source offering `mimes` that writes `text` for each send; `events` records send and cancelled. */
function source(c: TestClient, mimes: string[], text: string): { proxy: WlDataSourceProxy; events: string[] } {
  const events: string[] = [];
  const proxy = c.dataDeviceManager.createDataSource().listen({
    send: (mime, fd) => {
      events.push(`send ${mime}`);
      writeSync(fd.fd, `${text} as ${mime}`);
      fd.close();
    },
    cancelled: () => events.push('cancelled'),
  });
  for (const m of mimes) proxy.offer(m);
  return { proxy, events };
}

/** Read what arrives in the read end of a pipe until EOF. */
function drain(fd: number): string {
  const buf = Buffer.alloc(65536);
  let out = '';
  for (;;) {
    const n = readSync(fd, buf);
    if (n === 0) break;
    out += buf.subarray(0, n).toString();
  }
  closeFd(fd);
  return out;
}

describe('selection rules', () => {
  it('takes a selection set with the serial of the keyboard focus and shows it to the next client that gains focus', async () => {
    const a = await app();
    await a.map();
    expect(a.enters).toHaveLength(1);
    const src = source(a.c, ['text/plain;charset=utf-8', 'TEXT'], 'hello');
    a.device.setSelection(src.proxy, a.enters[0]!);
    await a.c.roundtrip();
    expect(t.display.selections.clipboard.current?.mimeTypes).toEqual(['text/plain;charset=utf-8', 'TEXT']);
    // The focused client itself is shown its selection at once.
    expect(a.offers.at(-1)?.mimes).toEqual(['text/plain;charset=utf-8', 'TEXT']);

    const b = await app();
    expect(b.offers).toHaveLength(0); // no focus yet: nothing shown
    await b.map(); // takes focus: the selection comes right before the enter
    expect(b.offers).toHaveLength(1);
    expect(b.offers[0]!.mimes).toEqual(['text/plain;charset=utf-8', 'TEXT']);
    expect(b.selections.at(-1)).toBe(b.offers[0]!.offer);
    const [r, w] = pipe();
    b.offers[0]!.offer.receive('TEXT', w);
    closeFd(w);
    await b.c.roundtrip();
    await a.c.roundtrip();
    await waitFor(() => src.events.includes('send TEXT'), 2000, 'data_source.send');
    expect(drain(r)).toBe('hello as TEXT');
  });

  it('refuses a client without keyboard focus, and cancels its source', async () => {
    const a = await app();
    await a.map();
    const b = await app();
    await b.map(); // b has focus now
    const src = source(a.c, ['TEXT'], 'from a');
    a.device.setSelection(src.proxy, a.enters[0]!);
    await a.c.roundtrip();
    expect(src.events).toEqual(['cancelled']);
    expect(t.display.selections.clipboard.current).toBeNull();
  });

  it('refuses a serial older than the focus and one never sent, takes a newer one', async () => {
    const a = await app();
    const aScene = await a.map();
    const b = await app();
    await b.map();
    // Focus back to a: a new enter, whose serial is the oldest a may use.
    aScene.owner.feedback.keyboardEnter(aScene, []);
    await a.c.roundtrip();
    expect(a.enters).toHaveLength(2);
    const old = source(a.c, ['TEXT'], 'old');
    a.device.setSelection(old.proxy, a.enters[0]!); // the serial of its first focus
    const future = source(a.c, ['TEXT'], 'future');
    a.device.setSelection(future.proxy, a.enters[1]! + 1000);
    await a.c.roundtrip();
    expect(old.events).toEqual(['cancelled']);
    expect(future.events).toEqual(['cancelled']);
    expect(t.display.selections.clipboard.current).toBeNull();
    const ok = source(a.c, ['TEXT'], 'ok');
    a.device.setSelection(ok.proxy, a.enters[1]!);
    await a.c.roundtrip();
    expect(ok.events).toEqual([]);
    expect(t.display.selections.clipboard.current?.client).toBe(aScene.owner);
    // A second selection replaces it: the first source is cancelled.
    const next = source(a.c, ['UTF8_STRING'], 'next');
    a.device.setSelection(next.proxy, a.enters[1]!);
    await a.c.roundtrip();
    expect(ok.events).toEqual(['cancelled']);
    expect(t.display.selections.clipboard.current?.mimeTypes).toEqual(['UTF8_STRING']);
  });

  it('takes a selection from outside without focus rules, tells consumers, and serves it to the focused client', async () => {
    const changes: (SelectionSource | null)[] = [];
    t.display.selections.clipboard.on('changed', (s) => changes.push(s));
    const a = await app();
    await a.map();
    const sent: string[] = [];
    const external: SelectionSource = {
      mimeTypes: ['text/plain'],
      client: null,
      send: (mime, fd) => {
        sent.push(mime);
        writeSync(fd.fd, 'from the receiver');
        fd.close();
      },
      cancelled: () => sent.push('cancelled'),
    };
    t.display.selections.clipboard.setExternal(external);
    await a.c.roundtrip();
    expect(changes).toEqual([external]);
    expect(a.offers.at(-1)?.mimes).toEqual(['text/plain']);
    const [r, w] = pipe();
    a.offers.at(-1)!.offer.receive('text/plain', w);
    closeFd(w);
    await a.c.roundtrip();
    expect(sent).toEqual(['text/plain']);
    expect(drain(r)).toBe('from the receiver');
    // A client's selection replaces it: the outside one is cancelled.
    const src = source(a.c, ['TEXT'], 'mine');
    a.device.setSelection(src.proxy, a.enters[0]!);
    await a.c.roundtrip();
    expect(sent).toEqual(['text/plain', 'cancelled']);
    expect(changes).toHaveLength(2);
  });
});

describe('primary selection', () => {
  it('follows the same rules as the clipboard', async () => {
    const a = await app();
    const b = await app();
    const primary = (c: TestClient): ZwpPrimarySelectionDeviceManagerV1Proxy =>
      c.registry.bind(ZwpPrimarySelectionDeviceManagerV1Proxy, c.registry.find('zwp_primary_selection_device_manager_v1')!, 1);
    const pa = primary(a.c);
    const pb = primary(b.c);
    const deviceA = pa.getDevice(a.c.seat);
    const offersB: { mimes: string[]; offer: ZwpPrimarySelectionOfferV1Proxy }[] = [];
    pb.getDevice(b.c.seat).listen({
      dataOffer: (offer) => {
        const entry = { mimes: [] as string[], offer };
        offer.listen({ offer: (m) => entry.mimes.push(m) });
        offersB.push(entry);
      },
    });
    await a.map();
    const sent: string[] = [];
    const src = pa.createSource().listen({
      send: (mime, fd) => {
        sent.push(mime);
        writeSync(fd.fd, 'selected text');
        fd.close();
      },
      cancelled: () => sent.push('cancelled'),
    });
    src.offer('text/plain');
    // b has no focus: refused.
    const srcB = pb.createSource().listen({ cancelled: () => sent.push('b cancelled') });
    srcB.offer('text/plain');
    pb.getDevice(b.c.seat).setSelection(srcB, 1);
    await b.c.roundtrip();
    expect(sent).toEqual(['b cancelled']);
    deviceA.setSelection(src, a.enters[0]!);
    await a.c.roundtrip();
    expect(t.display.selections.primary.current?.mimeTypes).toEqual(['text/plain']);
    expect(t.display.selections.clipboard.current).toBeNull();
    await b.map();
    expect(offersB.at(-1)?.mimes).toEqual(['text/plain']);
    const [r, w] = pipe();
    offersB.at(-1)!.offer.receive('text/plain', w);
    closeFd(w);
    await b.c.roundtrip();
    await a.c.roundtrip();
    await waitFor(() => sent.includes('text/plain'), 2000, 'primary source send');
    expect(drain(r)).toBe('selected text');
  });
});
