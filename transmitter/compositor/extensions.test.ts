import { describe, expect, it } from 'vitest';
import { PeerError } from '../../shared/wire/errors.js';
import {
  WlSeatProxy,
  XdgActivationV1Proxy,
  ZwpPointerConstraintsV1Lifetime,
  ZwpPointerConstraintsV1Proxy,
  ZwpRelativePointerManagerV1Proxy,
  ZwpTextInputManagerV3Proxy,
  ZxdgDecorationManagerV1Proxy,
  ZxdgToplevelDecorationV1Error,
  ZxdgToplevelDecorationV1Mode,
} from '../../shared/generated/wayland/index.js';
import { TestClient, displayPerTest, lastSurface } from './test/helpers.js';

const t = displayPerTest();

function bind<T extends import('../../shared/wire/object.js').WireObject>(c: TestClient, ctor: import('../../shared/wire/object.js').WireObjectClass<T>): T {
  return c.registry.bind(ctor, c.registry.find(ctor.spec.name)!, 1);
}

describe('xdg-decoration', () => {
  it('is client-side until a consumer offers server-side decorations, then server-side; a mode the consumer reports wins', async () => {
    const c = await t.connect();
    const manager = bind(c, ZxdgDecorationManagerV1Proxy);
    const surface = c.compositor.createSurface();
    const xdg = c.wm.getXdgSurface(surface);
    const toplevel = xdg.getToplevel();
    const modes: number[] = [];
    let configures = 0;
    xdg.listen({ configure: (serial) => (configures++, xdg.ackConfigure(serial)) });
    const deco = manager.getToplevelDecoration(toplevel).listen({ configure: (mode) => modes.push(mode) });
    deco.setMode(ZxdgToplevelDecorationV1Mode.ServerSide);
    surface.commit();
    await c.roundtrip();
    expect(modes.at(-1)).toBe(ZxdgToplevelDecorationV1Mode.ClientSide);
    const scene = lastSurface(t.display);
    expect(scene.role?.kind === 'toplevel' && scene.role.decoration).toBe('server'); // the wish, for consumers

    const consumer = {};
    t.display.scene.setConsumerOffers(consumer, ['server-side-decorations']);
    const before = configures;
    await c.roundtrip();
    expect(modes.at(-1)).toBe(ZxdgToplevelDecorationV1Mode.ServerSide);
    expect(configures).toBeGreaterThan(before); // followed by xdg_surface.configure

    // The consumer's compositor chose client-side for this window after all.
    scene.owner.feedback.decorationMode?.(scene, 'client');
    await c.roundtrip();
    expect(modes.at(-1)).toBe(ZxdgToplevelDecorationV1Mode.ClientSide);

    // An application that asks for client-side keeps it.
    const s2 = c.compositor.createSurface();
    const t2 = c.wm.getXdgSurface(s2).getToplevel();
    const m2: number[] = [];
    manager.getToplevelDecoration(t2).listen({ configure: (m) => m2.push(m) }).setMode(ZxdgToplevelDecorationV1Mode.ClientSide);
    await c.roundtrip();
    expect(m2.at(-1)).toBe(ZxdgToplevelDecorationV1Mode.ClientSide);
  });

  it('raises already_constructed for a second decoration and unconfigured_buffer after a buffer', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    const manager = bind(c, ZxdgDecorationManagerV1Proxy);
    manager.getToplevelDecoration(top.toplevel);
    manager.getToplevelDecoration(top.toplevel);
    const errors: PeerError[] = [];
    c.client.on('error', (e) => errors.push(e as PeerError));
    await expect(c.roundtrip()).rejects.toBeInstanceOf(PeerError);
    expect(errors[0]!.errorCode).toBe(ZxdgToplevelDecorationV1Error.AlreadyConstructed);

    const d = await t.connect();
    const shown = await d.toplevel();
    shown.show(d.buffer(4, 4, () => 0));
    bind(d, ZxdgDecorationManagerV1Proxy).getToplevelDecoration(shown.toplevel);
    const errors2: PeerError[] = [];
    d.client.on('error', (e) => errors2.push(e as PeerError));
    await expect(d.roundtrip()).rejects.toBeInstanceOf(PeerError);
    expect(errors2[0]!.errorCode).toBe(ZxdgToplevelDecorationV1Error.UnconfiguredBuffer);
  });
});

describe('wl_seat capabilities', () => {
  it('are pointer and keyboard before any consumer speaks, then follow the consumers, and change on the bound seats', async () => {
    const c = await t.connect();
    const caps: number[] = [];
    c.registry.bind(WlSeatProxy, c.registry.find('wl_seat')!, 7).listen({ capabilities: (v) => caps.push(v) });
    await c.roundtrip();
    expect(caps).toEqual([3]);
    const a = {};
    const b = {};
    t.display.scene.setConsumerOffers(a, ['seat:keyboard']);
    await c.roundtrip();
    t.display.scene.setConsumerOffers(b, ['seat:pointer', 'seat:touch']);
    await c.roundtrip();
    t.display.scene.setConsumerOffers(b, null);
    await c.roundtrip();
    expect(caps).toEqual([3, 2, 7, 2]);
  });
});

describe('pointer constraints and relative pointer', () => {
  it('a lock is active while the surface has the pointer: locked, no absolute motion, relative motion, unlocked on leave', async () => {
    const c = await t.connect();
    const top = await c.toplevel();
    top.show(c.buffer(100, 100, () => 0xff000000));
    await c.roundtrip();
    const pointer = c.pointer();
    const relative: string[] = [];
    bind(c, ZwpRelativePointerManagerV1Proxy)
      .getRelativePointer(pointer.proxy)
      .listen({ relativeMotion: (_hi, _lo, dx, dy) => relative.push(`${dx} ${dy}`) });
    const events: string[] = [];
    bind(c, ZwpPointerConstraintsV1Proxy)
      .lockPointer(top.surface, pointer.proxy, null, ZwpPointerConstraintsV1Lifetime.Persistent)
      .listen({ locked: () => events.push('locked'), unlocked: () => events.push('unlocked') });
    await c.roundtrip();
    expect(events).toEqual([]);
    const scene = lastSurface(t.display);
    const fb = scene.owner.feedback;
    fb.pointerEnter(scene, 10, 10);
    await c.roundtrip();
    expect(events).toEqual(['locked']);
    fb.pointerMotion(1000, 15, 12);
    fb.pointerFrame();
    await c.roundtrip();
    expect(relative).toEqual(['5 2']);
    expect(pointer.events.filter((e) => e.startsWith('motion'))).toEqual([]);
    fb.pointerLeave(scene);
    await c.roundtrip();
    expect(events).toEqual(['locked', 'unlocked']);
    // Persistent: locked again at the next enter.
    fb.pointerEnter(scene, 1, 1);
    await c.roundtrip();
    expect(events).toEqual(['locked', 'unlocked', 'locked']);
  });
});

describe('text-input v3 and xdg-activation', () => {
  it('text inputs enter the surface with keyboard focus; activation tokens are issued once per token object', async () => {
    const c = await t.connect();
    c.keyboard();
    const ti: string[] = [];
    bind(c, ZwpTextInputManagerV3Proxy)
      .getTextInput(c.seat)
      .listen({ enter: (s) => ti.push(`enter ${s.id}`), leave: (s) => ti.push(`leave ${s.id}`) });
    const top = await c.toplevel();
    top.show(c.buffer(4, 4, () => 0));
    await c.roundtrip();
    expect(ti).toEqual([`enter ${top.surface.id}`]);

    const tokens: string[] = [];
    const token = bind(c, XdgActivationV1Proxy).getActivationToken();
    token.listen({ done: (s) => tokens.push(s) });
    token.commit();
    await c.roundtrip();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatch(/^[0-9a-f]{32}$/);
  });
});
