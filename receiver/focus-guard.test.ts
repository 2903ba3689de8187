/**
 * An attack: "a second peer maps a transparent fullscreen window titled like
 * another's: it gets the keyboard focus and the keys typed for the other
 * application". Two transmitters over real TCP to a ReceiverServer; the
 * local compositor's focus changes are played through the surfaces'
 * feedback, as the local display reports them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WthpCompositorProxy, WthpContentProxy, WthpRemoteShellProxy, WthpSeatProxy } from '../shared/generated/waltham/waltham.js';
import { connectWaltham } from '../shared/waltham/index.js';
import { CODEC_SOLID, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { captureLogger, globalBinder, waitFor } from '../shared/remote/test/fixtures.js';
import type { SceneSurface, ToplevelRole } from '../shared/scene/scene.js';
import { ReceiverServer } from './server.js';
import { FocusGuard } from './focus-guard.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A transmitter with one toplevel `title` of `width` x `height` (colour `argb`), recording its keyboard events. */
async function transmitter(port: number, title: string, width: number, height: number, argb: number) {
  const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const bind = await globalBinder(client);
  const events: string[] = [];
  const keyboard = bind<WthpSeatProxy>(WthpSeatProxy).getKeyboard();
  keyboard.listen({
    enter: () => events.push('enter'),
    leave: () => events.push('leave'),
    key: (_serial, _time, key) => events.push(`key ${key}`),
  });
  const surface = bind<WthpCompositorProxy>(WthpCompositorProxy).createSurface();
  bind<WthpRemoteShellProxy>(WthpRemoteShellProxy).getToplevel(surface).setTitle(title);
  const content = bind<WthpContentProxy>(WthpContentProxy);
  content.begin(surface, width, height, FORMAT_ARGB8888);
  const px = new Uint8Array(4);
  new DataView(px.buffer).setUint32(0, argb >>> 0, true);
  content.tile(surface, 0, 0, width, height, CODEC_SOLID, px);
  surface.commit();
  await client.roundtrip();
  return { client, events };
}

describe('keyboard focus between transmitters', () => {
  it('a second transmitter mapping a look-alike transparent fullscreen window gets no keys until the user presses on it', async () => {
    const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    const { port } = await receiver.listen();
    cleanups.push(() => receiver.close());
    const victim = await transmitter(port, 'Navigation', 64, 48, 0xff2040c0);
    const attacker = await transmitter(port, 'Navigation', 1920, 1080, 0x00000000);
    const windows = await waitFor(() => {
      const all = [...receiver.scene.surfaces].filter((s) => s.content !== null && (s.role as ToplevelRole).title === 'Navigation');
      return all.length === 2 ? all : undefined;
    }, 'both windows');
    const [v, a] = windows.sort((x, y) => x.content!.width - y.content!.width) as [SceneSurface, SceneSurface];
    // The compositor focuses the victim's window, the user types.
    v.owner.feedback.keyboardEnter(v, []);
    v.owner.feedback.key(1, 30, 'pressed');
    // The attacker's window maps on top; the compositor moves the focus to it; the user goes on typing.
    v.owner.feedback.keyboardLeave(v);
    a.owner.feedback.keyboardEnter(a, []);
    a.owner.feedback.modifiers(1, 0, 0, 0);
    a.owner.feedback.key(2, 31, 'pressed');
    a.owner.feedback.key(3, 32, 'pressed');
    await victim.client.roundtrip();
    await attacker.client.roundtrip();
    expect(victim.events).toEqual(['enter', 'key 30', 'leave']);
    expect(attacker.events).toEqual([]);
    // The user touches the victim's window again: focus and keys go back there.
    v.owner.feedback.touchDown(v, 4, 0, 1, 1);
    a.owner.feedback.keyboardLeave(a);
    v.owner.feedback.keyboardEnter(v, []);
    v.owner.feedback.key(5, 33, 'pressed');
    await victim.client.roundtrip();
    expect(victim.events).toEqual(['enter', 'key 30', 'leave', 'enter', 'key 33']);
    // Only a press on the other transmitter's surface gives it the focus the compositor gave.
    v.owner.feedback.keyboardLeave(v);
    a.owner.feedback.keyboardEnter(a, []);
    a.owner.feedback.key(6, 34, 'pressed');
    a.owner.feedback.pointerButton(7, 272, 'pressed');
    a.owner.feedback.key(8, 35, 'pressed');
    await attacker.client.roundtrip();
    expect(attacker.events).toEqual(['enter', 'key 35']);
  });

  it('follows the compositor within one transmitter, and after the focused one went away', () => {
    const guard = new FocusGuard<{ gone: boolean }>();
    const a = { gone: false };
    const b = { gone: false };
    expect(guard.enter(a, () => {})).toBe(true);
    expect(guard.enter(a, () => {})).toBe(true);
    let delivered = 0;
    expect(guard.enter(b, () => delivered++)).toBe(false);
    expect(guard.mayType(b)).toBe(false);
    a.gone = true;
    expect(guard.enter(b, () => {})).toBe(true);
    expect(guard.mayType(b)).toBe(true);
    expect(delivered).toBe(0);
  });
});
