import { describe, expect, it } from 'vitest';
import { ZwpTextInputManagerV3Proxy, type ZwpTextInputV3Proxy } from '../../shared/generated/wayland/index.js';
import type { WindowRequest } from '../../shared/scene/window-requests.js';
import { TestClient, displayPerTest, lastSurface } from './test/helpers.js';

const t = displayPerTest();

async function focusedTextInput(c: TestClient) {
  c.keyboard();
  const events: string[] = [];
  const ti: ZwpTextInputV3Proxy = c.registry.bind(ZwpTextInputManagerV3Proxy, c.registry.find('zwp_text_input_manager_v3')!, 1).getTextInput(c.seat);
  ti.listen({
    enter: (s) => events.push(`enter ${s.id}`),
    leave: (s) => events.push(`leave ${s.id}`),
    preeditString: (text, b, e) => events.push(`preedit ${text} ${b} ${e}`),
    commitString: (text) => events.push(`commit ${text}`),
    deleteSurroundingText: (b, a) => events.push(`delete ${b} ${a}`),
    done: (serial) => events.push(`done ${serial}`),
  });
  const top = await c.toplevel();
  top.show(c.buffer(4, 4, () => 0));
  await c.roundtrip();
  const scene = lastSurface(t.display);
  const requests: WindowRequest[] = [];
  scene.on('request', (r) => requests.push(r));
  return { ti, events, top, scene, requests };
}

describe('text-input v3', () => {
  it('the committed state of an enabled text input becomes its focused surface\'s scene state, announced at once', async () => {
    const c = await t.connect();
    const { ti, events, top, scene, requests } = await focusedTextInput(c);
    expect(events).toEqual([`enter ${top.surface.id}`]);
    ti.enable();
    ti.setSurroundingText('grüße', 3, 3);
    ti.setContentType(1, 0);
    ti.setCursorRectangle(10, 20, 2, 16);
    await c.roundtrip();
    expect(scene.textInput).toBeNull(); // double-buffered
    ti.commit();
    await c.roundtrip();
    expect(scene.textInput).toEqual({ surrounding: { text: 'grüße', cursor: 3, anchor: 3 }, changeCause: 0, contentHint: 1, contentPurpose: 0, cursorRect: { x: 10, y: 20, width: 2, height: 16 } });
    expect(requests).toEqual([{ kind: 'text-input' }]);
    ti.disable();
    ti.commit();
    await c.roundtrip();
    expect(scene.textInput).toBeNull();
    expect(requests).toHaveLength(2);
  });

  it('what the consumer composed reaches the application with done carrying its number of commits', async () => {
    const c = await t.connect();
    const { ti, events, top, scene } = await focusedTextInput(c);
    ti.enable();
    ti.commit();
    ti.setCursorRectangle(1, 2, 3, 4);
    ti.commit();
    await c.roundtrip();
    scene.owner.feedback.textInputDone?.(scene, { preedit: { text: 'grüße', cursorBegin: 0, cursorEnd: 7 }, commit: null, deleteSurrounding: null });
    await c.roundtrip();
    ti.commit();
    await c.roundtrip();
    scene.owner.feedback.textInputDone?.(scene, { preedit: null, commit: '東京', deleteSurrounding: { before: 2, after: 0 } });
    // Out of range (a cursor past the preedit text): dropped.
    scene.owner.feedback.textInputDone?.(scene, { preedit: { text: 'a', cursorBegin: 0, cursorEnd: 9 }, commit: null, deleteSurrounding: null });
    await c.roundtrip();
    expect(events).toEqual([`enter ${top.surface.id}`, 'preedit grüße 0 7', 'done 2', 'commit 東京', 'delete 2 0', 'done 3']);
  });

  it('focus loss leaves the text input and clears the scene state; the application enables again at the next enter', async () => {
    const c = await t.connect();
    const { ti, events, top, scene, requests } = await focusedTextInput(c);
    ti.enable();
    ti.commit();
    await c.roundtrip();
    expect(scene.textInput).not.toBeNull();
    scene.owner.feedback.keyboardLeave(scene);
    await c.roundtrip();
    expect(events).toEqual([`enter ${top.surface.id}`, `leave ${top.surface.id}`]);
    expect(scene.textInput).toBeNull();
    expect(requests).toHaveLength(2);
    // Nothing is composed for a text input that is not entered.
    scene.owner.feedback.textInputDone?.(scene, { preedit: null, commit: 'x', deleteSurrounding: null });
    scene.owner.feedback.keyboardEnter(scene, []);
    await c.roundtrip();
    expect(events.at(-1)).toBe(`enter ${top.surface.id}`);
    expect(scene.textInput).toBeNull();
    ti.enable();
    ti.commit();
    await c.roundtrip();
    expect(scene.textInput).not.toBeNull();
  });
});
