import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { SceneSurface } from '../../shared/scene/scene.js';
import { ShmMapping, closeFd } from '../../shared/native.js';
import { IviApplicationError, WlOutputProxy, ZxdgOutputManagerV1Proxy } from '../../shared/generated/wayland/index.js';
import { DEFAULT_KEYMAP } from './keymap.js';
import { FakeConsumer, OUTPUT, TestClient, displayPerTest, lastSurface, waitFor } from './test/helpers.js';

const t = displayPerTest();
const { connect } = t;

function readFd(fd: number, size: number): string {
  const m = ShmMapping.map(fd, 0, size, false);
  const text = Buffer.from(new Uint8Array(m.buffer)).toString('utf8');
  m.unmap();
  return text;
}

async function mappedWindow(c: TestClient, w = 200, h = 100): Promise<{ top: Awaited<ReturnType<TestClient['toplevel']>>; scene: SceneSurface }> {
  const top = await c.toplevel();
  top.show(c.buffer(w, h, () => 0));
  await c.roundtrip();
  return { top, scene: lastSurface(t.display) };
}

describe('keyboard', () => {
  it('sends repeat_info and a readable keymap fd holding the default keymap', async () => {
    const c = await connect();
    const kb = c.keyboard();
    await c.roundtrip();
    expect(kb.events[0]).toBe('repeat 40 400');
    expect(kb.events[1]).toBe(`keymap 1 ${Buffer.byteLength(DEFAULT_KEYMAP) + 1}`);
    const text = readFd(kb.keymap!.fd, kb.keymap!.size);
    expect(text).toBe(DEFAULT_KEYMAP + '\0');
    closeFd(kb.keymap!.fd);
  });

  it('switches to a consumer keymap and resends it to bound keyboards', async () => {
    const c = await connect();
    const kb = c.keyboard();
    const { scene } = await mappedWindow(c);
    const keymap = 'xkb_keymap { xkb_keycodes { include "evdev" }; xkb_types { include "basic" }; xkb_compat { include "basic" }; xkb_symbols { include "pc+de" }; };\n';
    scene.owner.feedback.keymap(keymap);
    scene.owner.feedback.keymap(keymap); // same text: not sent again
    await c.roundtrip();
    expect(kb.events.filter((e) => e.startsWith('keymap'))).toEqual([`keymap 1 ${Buffer.byteLength(DEFAULT_KEYMAP) + 1}`, `keymap 1 ${keymap.length + 1}`]);
    expect(readFd(kb.keymap!.fd, kb.keymap!.size)).toBe(keymap + '\0');
    closeFd(kb.keymap!.fd);
  });

  it('gives a newly mapped toplevel focus, then follows the consumer', async () => {
    const c = await connect();
    const kb = c.keyboard();
    const a = await mappedWindow(c);
    const b = await mappedWindow(c);
    // Each new toplevel took focus: enter a, leave a, enter b.
    expect(kb.events.filter((e) => /^(enter|leave)/.test(e))).toEqual([`enter ${a.top.surface.id} []`, `leave ${a.top.surface.id}`, `enter ${b.top.surface.id} []`]);
    kb.events.length = 0;
    const fb = a.scene.owner.feedback;
    fb.keyboardEnter(a.scene, [30]);
    fb.modifiers(1, 0, 2, 0);
    fb.key(1234, 31, 'pressed');
    fb.key(1240, 31, 'released');
    await c.roundtrip();
    expect(kb.events).toEqual([
      `leave ${b.top.surface.id}`,
      `enter ${a.top.surface.id} [30]`,
      'modifiers 0 0 0 0',
      'modifiers 1 0 2 0',
      'key 1234 31 1',
      'key 1240 31 0',
    ]);
    // Once a consumer drives focus, a new toplevel does not take it.
    kb.events.length = 0;
    await mappedWindow(c);
    expect(kb.events.filter((e) => e.startsWith('enter'))).toEqual([]);
  });
});

describe('pointer', () => {
  it('delivers enter, motion and button in surface-local coordinates to the right client only', async () => {
    const c1 = await connect();
    const c2 = await connect();
    const p1 = c1.pointer();
    const p2 = c2.pointer();
    await mappedWindow(c1);
    const w2 = await mappedWindow(c2);
    const fb = w2.scene.owner.feedback;
    fb.pointerEnter(w2.scene, 10.5, 20.25);
    fb.pointerFrame();
    fb.pointerMotion(1000, 30, 40.5);
    fb.pointerFrame();
    fb.pointerButton(1010, 0x110, 'pressed');
    fb.pointerButton(1020, 0x110, 'released');
    fb.pointerAxis(1030, 0, 10);
    fb.pointerFrame();
    await c2.roundtrip();
    await c1.roundtrip();
    expect(p2.events).toEqual([
      `enter ${w2.top.surface.id} 10.5 20.25`,
      'frame',
      'motion 1000 30 40.5',
      'frame',
      'button 1010 272 1',
      'button 1020 272 0',
      'axis 1030 0 10',
      'frame',
    ]);
    expect(p1.events).toEqual([]);
  });

  it('sends axis_source, axis_discrete and axis_stop to v5+ pointers in the order given, within the frame, and the axis alone below v5', async () => {
    const c = await connect();
    const p7 = c.pointer();
    const p5 = c.pointer(5);
    const p4 = c.pointer(4);
    const w = await mappedWindow(c);
    const fb = w.scene.owner.feedback;
    fb.pointerEnter(w.scene, 5, 6);
    fb.pointerFrame();
    // One wheel click up, as weston reports it: source, discrete steps, then the axis, then the frame.
    fb.pointerAxisSource(0);
    fb.pointerAxisDiscrete(0, -1);
    fb.pointerAxis(2000, 0, -10);
    fb.pointerFrame();
    // A touchpad scroll ending; and a tilt wheel (wheel_tilt is wl_pointer v6).
    fb.pointerAxisSource(1);
    fb.pointerAxis(2010, 1, 3.5);
    fb.pointerFrame();
    fb.pointerAxisSource(1);
    fb.pointerAxisStop(2020, 1);
    fb.pointerFrame();
    fb.pointerAxisSource(3);
    fb.pointerAxisDiscrete(1, 1);
    fb.pointerAxis(2030, 1, 10);
    fb.pointerFrame();
    // What is not an axis, a source or a step is dropped.
    fb.pointerAxisSource(9);
    fb.pointerAxisDiscrete(2, 1);
    fb.pointerAxisStop(2040, 5);
    fb.pointerAxisDiscrete(0, 0.5);
    await c.roundtrip();
    const enter = [`enter ${w.top.surface.id} 5 6`, 'frame'];
    const v5 = [
      ...enter,
      'axis_source 0',
      'axis_discrete 0 -1',
      'axis 2000 0 -10',
      'frame',
      'axis_source 1',
      'axis 2010 1 3.5',
      'frame',
      'axis_source 1',
      'axis_stop 2020 1',
      'frame',
      'axis_source 0',
      'axis_discrete 1 1',
      'axis 2030 1 10',
      'frame',
    ];
    expect(p5.events).toEqual(v5);
    // v6+ gets the tilt wheel as such; v5 got it as a wheel.
    const v7 = [...v5];
    v7[v5.lastIndexOf('axis_source 0')] = 'axis_source 3';
    expect(p7.events).toEqual(v7);
    // wl_pointer v4 has neither these events nor frame.
    expect(p4.events).toEqual([`enter ${w.top.surface.id} 5 6`, 'axis 2000 0 -10', 'axis 2010 1 3.5', 'axis 2030 1 10']);
  });

  it('moves focus between clients with leave and enter, and ends event groups with a frame by itself', async () => {
    const c1 = await connect();
    const c2 = await connect();
    const p1 = c1.pointer();
    const p2 = c2.pointer();
    const w1 = await mappedWindow(c1);
    const w2 = await mappedWindow(c2);
    w1.scene.owner.feedback.pointerEnter(w1.scene, 1, 2);
    w2.scene.owner.feedback.pointerEnter(w2.scene, 3, 4);
    // No pointerFrame from the consumer: frames come at the end of the tick.
    await c1.roundtrip();
    await c2.roundtrip();
    expect(p1.events).toEqual([`enter ${w1.top.surface.id} 1 2`, `leave ${w1.top.surface.id}`, 'frame']);
    expect(p2.events).toEqual([`enter ${w2.top.surface.id} 3 4`, 'frame']);
    // Motion from another owner's feedback does not reach a client without focus.
    w1.scene.owner.feedback.pointerMotion(5, 9, 9);
    await c1.roundtrip();
    expect(p1.events.at(-1)).toBe('frame');
  });

  it('accepts set_cursor from the focused client and publishes the cursor surface', async () => {
    const c = await connect();
    const p = c.pointer();
    const w = await mappedWindow(c);
    let enterSerial = 0;
    p.proxy.listen({ enter: (serial) => (enterSerial = serial) });
    w.scene.owner.feedback.pointerEnter(w.scene, 5, 5);
    await c.roundtrip();
    const cursor = c.compositor.createSurface();
    cursor.attach(c.buffer(16, 16, () => 0xffffffff).buffer, 0, 0);
    cursor.commit();
    p.proxy.setCursor(enterSerial, cursor, 3, 4);
    await c.roundtrip();
    const cursorScene = lastSurface(t.display);
    expect(t.display.scene.cursors.get(w.scene.owner)).toBe(cursorScene);
    expect(cursorScene.role).toEqual({ kind: 'cursor', hotspotX: 3, hotspotY: 4 });
    expect(cursorScene.mapped).toBe(true);
    p.proxy.setCursor(enterSerial, null, 0, 0);
    await c.roundtrip();
    expect(t.display.scene.cursors.get(w.scene.owner)).toBeNull();
  });
});

describe('feedback from consumers', () => {
  it('ignores surfaces of other owners, destroyed surfaces and non-finite coordinates', async () => {
    const c1 = await connect();
    const c2 = await connect();
    const p1 = c1.pointer();
    const p2 = c2.pointer();
    const w1 = await mappedWindow(c1);
    const w2 = await mappedWindow(c2);
    w1.scene.owner.feedback.pointerEnter(w2.scene, 1, 1); // w2 belongs to another owner
    w2.scene.owner.feedback.pointerEnter(w2.scene, NaN, 1);
    w2.scene.owner.feedback.pointerEnter(w2.scene, 1, Infinity);
    await c1.roundtrip();
    await c2.roundtrip();
    expect(p1.events).toEqual([]);
    expect(p2.events).toEqual([]);
    w2.top.toplevel.destroy();
    w2.top.xdgSurface.destroy();
    w2.top.surface.destroy();
    await c2.roundtrip();
    expect(() => {
      w2.scene.owner.feedback.pointerEnter(w2.scene, 1, 1);
      w2.scene.owner.feedback.configure(w2.scene, 10, 10, ['activated']);
      w2.scene.owner.feedback.presented(w2.scene, 0);
      w2.scene.owner.feedback.close(w2.scene);
    }).not.toThrow();
    await c2.roundtrip();
    expect(p2.events).toEqual([]);
  });
});

describe('touch', () => {
  it('delivers down, motion, up and frame to the touched client', async () => {
    const c = await connect();
    const events: string[] = [];
    c.seat.getTouch().listen({
      down: (serial, time, surface, id, x, y) => events.push(`down ${time} ${surface.id} ${id} ${x} ${y}`),
      motion: (time, id, x, y) => events.push(`motion ${time} ${id} ${x} ${y}`),
      up: (serial, time, id) => events.push(`up ${time} ${id}`),
      frame: () => events.push('frame'),
    });
    const w = await mappedWindow(c);
    const fb = w.scene.owner.feedback;
    fb.touchDown(w.scene, 1, 0, 5, 6);
    fb.touchFrame();
    fb.touchMotion(2, 0, 7, 8);
    fb.touchUp(3, 0);
    fb.touchFrame();
    await c.roundtrip();
    expect(events).toEqual([`down 1 ${w.top.surface.id} 0 5 6`, 'frame', 'motion 2 0 7 8', 'up 3 0', 'frame']);
  });
});

describe('output', () => {
  it('describes the remote output, enters mapped surfaces, and resends on setOutput', async () => {
    const c = await connect();
    const events: string[] = [];
    const output = c.registry.bind(WlOutputProxy, c.registry.find('wl_output')!, 3);
    output.listen({
      geometry: (x, y, pw, ph, sub, make, model) => events.push(`geometry ${pw} ${ph} ${make} ${model}`),
      mode: (flags, w, h, refresh) => events.push(`mode ${flags} ${w} ${h} ${refresh}`),
      scale: (f) => events.push(`scale ${f}`),
      done: () => events.push('done'),
    });
    const registry = c.registry;
    const manager = registry.bind(ZxdgOutputManagerV1Proxy, registry.find('zxdg_output_manager_v1')!, 3);
    const xdgOutput = manager.getXdgOutput(output);
    xdgOutput.listen({
      logicalSize: (w, h) => events.push(`logical ${w} ${h}`),
      name: (n) => events.push(`name ${n}`),
    });
    await c.roundtrip();
    expect(events).toEqual([
      `geometry ${OUTPUT.physicalWidth} ${OUTPUT.physicalHeight} ${OUTPUT.make} ${OUTPUT.model}`,
      `mode 3 ${OUTPUT.width} ${OUTPUT.height} ${OUTPUT.refresh}`,
      'scale 1',
      'done',
      `logical ${OUTPUT.width} ${OUTPUT.height}`,
      `name ${OUTPUT.name}`,
      'done',
    ]);
    const top = await c.toplevel();
    let entered = 0;
    top.surface.listen({ enter: (o) => (entered += o === output ? 1 : 0) });
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    expect(entered).toBe(1);
    events.length = 0;
    t.display.setOutput({ ...OUTPUT, width: 1920, height: 1080, scale: 2 });
    await c.roundtrip();
    expect(events).toEqual([
      `geometry ${OUTPUT.physicalWidth} ${OUTPUT.physicalHeight} ${OUTPUT.make} ${OUTPUT.model}`,
      `mode 3 1920 1080 ${OUTPUT.refresh}`,
      'scale 2',
      'logical 960 540',
      'done',
    ]);
  });
});

describe('clipboard', () => {
  it('offers a selection to the focused client and pipes receive to the source', async () => {
    const src = await connect();
    const dst = await connect();
    const srcDevice = src.dataDeviceManager.getDataDevice(src.seat);
    const dstDevice = dst.dataDeviceManager.getDataDevice(dst.seat);
    const offers: { mimes: string[]; offer: import('../../shared/generated/wayland/index.js').WlDataOfferProxy }[] = [];
    dstDevice.listen({
      dataOffer: (offer) => {
        const entry = { mimes: [] as string[], offer };
        offer.listen({ offer: (m) => entry.mimes.push(m) });
        offers.push(entry);
      },
      selection: () => {},
    });
    const enters: number[] = [];
    src.seat.getKeyboard().listen({ enter: (serial) => enters.push(serial) });
    const srcWindow = await mappedWindow(src);
    const source = src.dataDeviceManager.createDataSource();
    const sent: string[] = [];
    source.listen({
      send: (mime, fd) => {
        sent.push(mime);
        writeSync(fd.fd, `payload for ${mime}`);
        fd.close();
      },
    });
    source.offer('text/plain;charset=utf-8');
    source.offer('TEXT');
    srcDevice.setSelection(source, enters[0]!); // a serial of its keyboard focus
    await src.roundtrip();
    void srcWindow;
    const dstWindow = await mappedWindow(dst); // takes keyboard focus: gets the selection first
    await dst.roundtrip();
    expect(offers).toHaveLength(1);
    expect(offers[0]!.mimes).toEqual(['text/plain;charset=utf-8', 'TEXT']);
    // A file stands in for the pipe: what matters is that the fd reaches the source.
    const dir = mkdtempSync('/tmp/vd-clip-');
    const file = `${dir}/out`;
    const writeFd = openSync(file, 'w');
    offers[0]!.offer.receive('TEXT', writeFd);
    closeSync(writeFd);
    await dst.roundtrip();
    await waitFor(() => sent.length === 1, 2000, 'data_source.send');
    expect(sent).toEqual(['TEXT']);
    expect(readFileSync(file, 'utf8')).toBe('payload for TEXT');
    rmSync(dir, { recursive: true, force: true });
    void dstWindow;
  });
});

describe('ivi_application', () => {
  it('maps ivi surfaces with their id, configures them, and rejects a taken id', async () => {
    const c = await connect();
    const surface = c.compositor.createSurface();
    const ivi = c.ivi.surfaceCreate(1001, surface);
    const sizes: string[] = [];
    ivi.listen({ configure: (w, h) => sizes.push(`${w}x${h}`) });
    surface.attach(c.buffer(40, 30, () => 0).buffer, 0, 0);
    surface.commit();
    await c.roundtrip();
    const scene = lastSurface(t.display);
    expect(scene.role).toEqual({ kind: 'ivi', iviId: 1001 });
    expect(scene.mapped).toBe(true);
    expect(t.display.scene.roots()).toContain(scene);
    const consumer = new FakeConsumer(t.display);
    scene.owner.feedback.configure(scene, 315, 320, []);
    await c.roundtrip();
    expect(sizes).toEqual(['315x320']);
    consumer.detach();
    const d = await connect();
    d.ivi.surfaceCreate(1001, d.compositor.createSurface());
    await expect(d.roundtrip()).rejects.toMatchObject({ errorCode: IviApplicationError.IviId });
  });
});
