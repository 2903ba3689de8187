/**
 * The local display's text input, with the transmitter's virtual display as
 * the compositor (it has text-input v3 and a seat whose keyboard focus
 * follows the newest window): a producer's enabled state reaches the
 * compositor's text input on the window that shows the surface, and what the
 * compositor's side composes comes back to the producer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type SceneSurface } from '../scene/scene.js';
import type { TextInputState } from '../scene/text-input.js';
import { produce, solid, TestOwner, toplevelRole, waitFor } from '../remote/test/fixtures.js';
import { startDisplay, type TestDisplay } from '../../transmitter/compositor/test/helpers.js';
import { LocalDisplay } from './local-display.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

const state: TextInputState = {
  surrounding: { text: 'grüße', cursor: 7, anchor: 2 },
  changeCause: 0,
  contentHint: 0x200,
  contentPurpose: 6,
  cursorRect: { x: 10, y: 20, width: 2, height: 16 },
};

function setTextInput(s: SceneSurface, next: TextInputState | null): void {
  s.textInput = next;
  s.request({ kind: 'text-input' });
}

async function shown(): Promise<{ compositor: TestDisplay; owner: TestOwner; app: SceneSurface; window: SceneSurface }> {
  const compositor = startDisplay();
  cleanups.push(() => compositor.close());
  const display = new LocalDisplay({ display: compositor.display.socketPath!, shell: 'xdg' });
  await display.start();
  cleanups.push(() => display.close());
  expect(display.textInput).toBe(true);
  const scene = new Scene();
  display.attach(scene);
  const owner = new TestOwner('app');
  const app = produce(scene, owner, toplevelRole({ title: 'field' }), solid(8, 8, 0xff808080));
  const window = await waitFor(() => [...compositor.display.scene.surfaces].find((s) => s.content !== null), 'the window on the compositor');
  return { compositor, owner, app, window };
}

describe('LocalDisplay: text input', () => {
  it("mirrors the producer's text input state to the compositor's text input on the window, and its disabling", async () => {
    const { app, window } = await shown();
    setTextInput(app, state);
    await waitFor(() => window.textInput, "the state on the compositor's text input");
    expect(window.textInput).toEqual(state);
    setTextInput(app, { ...state, cursorRect: { x: 30, y: 20, width: 2, height: 16 } });
    await waitFor(() => window.textInput?.cursorRect?.x === 30, 'the new cursor rectangle');
    setTextInput(app, null);
    await waitFor(() => window.textInput === null || undefined, 'disabled on the compositor');
  });

  it('brings what the compositor composed to the producer at each done, in order and intact', async () => {
    const { owner, app, window } = await shown();
    setTextInput(app, state);
    await waitFor(() => window.textInput, "the state on the compositor's text input");
    window.owner.feedback.textInputDone?.(window, { preedit: { text: '東京', cursorBegin: 0, cursorEnd: 6 }, commit: null, deleteSurrounding: null });
    window.owner.feedback.textInputDone?.(window, { preedit: null, commit: 'grüße 東京', deleteSurrounding: { before: 1, after: 2 } });
    await waitFor(() => owner.of('textInputDone').length >= 2, 'the composed text');
    expect(owner.of('textInputDone').map((c) => c.args)).toEqual([
      [app, { preedit: { text: '東京', cursorBegin: 0, cursorEnd: 6 }, commit: null, deleteSurrounding: null }],
      [app, { preedit: null, commit: 'grüße 東京', deleteSurrounding: { before: 1, after: 2 } }],
    ]);
  });
});
