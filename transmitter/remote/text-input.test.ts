import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Scene, type SceneSurface } from '../../shared/scene/scene.js';
import type { WindowRequest } from '../../shared/scene/window-requests.js';
import type { TextInputState } from '../../shared/scene/text-input.js';
import { ReceiverServer } from '../../receiver/server.js';
import { ReceiverLink } from './link.js';
import { captureLogger, produce, solid, TestOwner, toplevelRole, waitFor } from '../../shared/remote/test/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function pair() {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, textInput: true });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const producer = new Scene();
  const owner = new TestOwner('app');
  const link = new ReceiverLink({ host: '127.0.0.1', port, scene: producer, logger: captureLogger().logger, backoff: { initialMs: 50, maxMs: 400 } });
  link.start();
  cleanups.push(() => link.stop());
  await once(link, 'connected');
  const app = produce(producer, owner, toplevelRole({ title: 'editor' }), solid(8, 8, 0xff204060));
  const remote = await waitFor(() => [...receiver.scene.surfaces].find((s) => s.content !== null), 'the window on the receiver');
  const requests: WindowRequest[] = [];
  remote.on('request', (r) => requests.push(r));
  return { owner, app, remote, requests };
}

function setTextInput(s: SceneSurface, state: TextInputState | null): void {
  s.textInput = state;
  s.request({ kind: 'text-input' });
}

const state: TextInputState = {
  surrounding: { text: 'grüße 東京', cursor: 7, anchor: 7 },
  changeCause: 1,
  contentHint: 0x200,
  contentPurpose: 13,
  cursorRect: { x: 12, y: -3, width: 1, height: 18 },
};

describe('text input over the link', () => {
  it("carries the application's text input state to the receiver's surface at once, and its disabling", async () => {
    const { app, remote, requests } = await pair();
    setTextInput(app, state);
    await waitFor(() => remote.textInput, 'the state on the receiver');
    expect(remote.textInput).toEqual(state);
    expect(requests).toEqual([{ kind: 'text-input' }]);
    setTextInput(app, { ...state, cursorRect: { x: 40, y: 2, width: 1, height: 18 } });
    await waitFor(() => remote.textInput?.cursorRect?.x === 40, 'the new cursor rectangle');
    setTextInput(app, null);
    await waitFor(() => remote.textInput === null, 'disabled on the receiver');
    expect(requests).toHaveLength(3);
  });

  it("brings what the receiver's input method composed to the application intact, in order", async () => {
    const { owner, app, remote } = await pair();
    setTextInput(app, state);
    await waitFor(() => remote.textInput, 'the state on the receiver');
    const fb = remote.owner.feedback;
    fb.textInputDone?.(remote, { preedit: { text: 'grüße 東京', cursorBegin: 0, cursorEnd: 14 }, commit: null, deleteSurrounding: null });
    fb.textInputDone?.(remote, { preedit: null, commit: 'grüße 東京', deleteSurrounding: { before: 3, after: 1 } });
    await waitFor(() => owner.of('textInputDone').length >= 2, 'the composed text');
    expect(owner.of('textInputDone').map((c) => c.args)).toEqual([
      [app, { preedit: { text: 'grüße 東京', cursorBegin: 0, cursorEnd: 14 }, commit: null, deleteSurrounding: null }],
      [app, { preedit: null, commit: 'grüße 東京', deleteSurrounding: { before: 3, after: 1 } }],
    ]);
  });
});
