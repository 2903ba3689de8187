import { afterEach, describe, expect, it } from 'vitest';
import type { SceneSurface } from '../shared/scene/scene.js';
import type { WindowRequest } from '../shared/scene/window-requests.js';
import { WthpCompositorProxy, WthpContentProxy, WthpRemoteShellProxy, WthpTextInputManagerProxy } from '../shared/generated/waltham/waltham.js';
import { PeerError } from '../shared/wire/errors.js';
import { connectWaltham } from '../shared/waltham/index.js';
import { CODEC_SOLID, FORMAT_ARGB8888 } from '../shared/remote/tiles.js';
import { captureLogger, globalBinder, waitFor } from '../shared/remote/test/fixtures.js';
import { ReceiverServer } from './server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(textInput: boolean) {
  const receiver = new ReceiverServer({ host: '127.0.0.1', port: 0, logger: captureLogger().logger, textInput });
  const { port } = await receiver.listen();
  cleanups.push(() => receiver.close());
  const client = await connectWaltham('127.0.0.1', port, { logger: captureLogger().logger });
  cleanups.push(() => client.destroy());
  const bind = await globalBinder(client);
  const names = (await client.globals()).map((g) => g.interface);
  if (!textInput) return { receiver, client, names, surface: null, ti: null, scene: null };
  const compositor = bind<WthpCompositorProxy>(WthpCompositorProxy);
  const content = bind<WthpContentProxy>(WthpContentProxy);
  const surface = compositor.createSurface();
  bind<WthpRemoteShellProxy>(WthpRemoteShellProxy).getToplevel(surface);
  content.begin(surface, 4, 4, FORMAT_ARGB8888);
  content.tile(surface, 0, 0, 4, 4, CODEC_SOLID, new Uint8Array([0, 0, 0xff, 0xff]));
  surface.commit();
  const ti = bind<WthpTextInputManagerProxy>(WthpTextInputManagerProxy).getTextInput(surface);
  await client.roundtrip();
  const scene = [...receiver.scene.surfaces][0]!;
  return { receiver, client, names, surface, ti, scene };
}

function requests(s: SceneSurface): WindowRequest[] {
  const seen: WindowRequest[] = [];
  s.on('request', (r) => seen.push(r));
  return seen;
}

describe('receiver: text input', () => {
  it('offers wthp_text_input_manager only when its compositor has text-input v3', async () => {
    expect((await start(false)).names).not.toContain('wthp_text_input_manager');
    expect((await start(true)).names).toContain('wthp_text_input_manager');
  });

  it('applies the state at commit, announces it, and sends what the input method composed back with done', async () => {
    const t = await start(true);
    const ti = t.ti!;
    const scene = t.scene!;
    const seen = requests(scene);
    const events: string[] = [];
    ti.listen({
      preeditString: (text, b, e) => events.push(`preedit ${text} ${b} ${e}`),
      commitString: (text) => events.push(`commit ${text}`),
      deleteSurroundingText: (b, a) => events.push(`delete ${b} ${a}`),
      done: () => events.push('done'),
    });
    ti.enable();
    ti.setSurroundingText('grüße', 3, 3);
    ti.setContentType(1, 0);
    ti.setCursorRectangle(10, 20, 2, 16);
    await t.client.roundtrip();
    expect(scene.textInput).toBeNull();
    ti.commit();
    await t.client.roundtrip();
    expect(scene.textInput).toEqual({ surrounding: { text: 'grüße', cursor: 3, anchor: 3 }, changeCause: 0, contentHint: 1, contentPurpose: 0, cursorRect: { x: 10, y: 20, width: 2, height: 16 } });
    expect(seen).toEqual([{ kind: 'text-input' }]);

    scene.owner.feedback.textInputDone?.(scene, { preedit: { text: '東', cursorBegin: 0, cursorEnd: 3 }, commit: null, deleteSurrounding: null });
    scene.owner.feedback.textInputDone?.(scene, { preedit: null, commit: '東京', deleteSurrounding: { before: 1, after: 0 } });
    await waitFor(() => events.length >= 5, 'the composed text');
    expect(events).toEqual(['preedit 東 0 3', 'done', 'commit 東京', 'delete 1 0', 'done']);

    ti.disable();
    ti.commit();
    await t.client.roundtrip();
    expect(scene.textInput).toBeNull();
    expect(seen).toHaveLength(2);
  });

  it('drops a transmitter that sends a surrounding text over 4000 bytes, with the error', async () => {
    const t = await start(true);
    t.ti!.setSurroundingText('ü'.repeat(2001), 0, 0);
    const e = await t.client.closed;
    expect(e).toBeInstanceOf(PeerError);
    expect((e as PeerError).text).toMatch(/wthp_text_input@\d+\.set_surrounding_text: text of 4002 bytes \(at most 4000\)/);
  });

  it('drops a transmitter whose committed state has a cursor outside the text or an unknown purpose', async () => {
    const a = await start(true);
    a.ti!.enable();
    a.ti!.setSurroundingText('abc', 4, 0);
    a.ti!.commit();
    expect(((await a.client.closed) as PeerError).text).toMatch(/wthp_text_input@\d+\.commit: cursor 4 or anchor 0 outside the surrounding text of 3 bytes/);
    expect(a.scene!.textInput).toBeNull();

    const b = await start(true);
    b.ti!.enable();
    b.ti!.setContentType(0, 99);
    b.ti!.commit();
    expect(((await b.client.closed) as PeerError).text).toMatch(/commit: unknown content purpose 99/);
  });

  it('drops a transmitter that creates a second text input for one surface', async () => {
    const t = await start(true);
    const globals = await t.client.globals();
    const g = globals.find((x) => x.interface === 'wthp_text_input_manager')!;
    t.client.bind(WthpTextInputManagerProxy, g.name, g.version).getTextInput(t.surface!);
    expect(((await t.client.closed) as PeerError).text).toMatch(/get_text_input: wthp_surface@\d+ already has wthp_text_input@\d+/);
  });
});
