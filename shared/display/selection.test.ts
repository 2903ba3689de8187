/**
 * The display's selection against a real compositor (weston's x11 backend in
 * Xvfb, which has a seat). weston ignores a selection whose serial is not
 * newer than the current one's, and when a selection's source goes away it
 * restores its own copy of it with that serial: a selection we offer with the
 * serial of our last one must wait for the next input event, and then be the
 * compositor's.
 */
import { describe, expect, it } from 'vitest';
import { run, skipUnless } from '../../e2e/harness/process.js';
import { startWeston } from '../../e2e/harness/weston.js';
import { Scene } from '../scene/scene.js';
import type { Fd } from '../fd.js';
import { LocalDisplay } from './local-display.js';
import { solidContent, TestOwner } from './test-owner.js';

/** A selection of ours offering one mime type (its type tells whose selection the compositor holds). */
function selectionOf(mime: string): { mimeTypes: string[]; send: (mime: string, fd: Fd) => void; cancelled: () => void } {
  return { mimeTypes: [mime], send: (_mime, fd) => fd.close(), cancelled: () => {} };
}

describe.skipIf(skipUnless('weston', 'Xvfb', 'xdotool', 'weston-debug', 'wl-paste'))('DisplaySelection on weston x11', () => {
  it('a selection set with the serial of our last one (after withdrawing or replacing it) waits for the next input event, then is the compositor\'s', async () => {
    const weston = await startWeston({ backend: 'x11', width: 640, height: 480 });
    const display = new LocalDisplay({ display: weston.socket, shell: 'xdg' });
    /** The mime types of the compositor's clipboard, as another client sees them ('' when there is none). */
    const types = async (): Promise<string> => (await run('sh', ['-c', 'wl-paste --list-types || true'], { env: weston.env, timeoutMs: 10_000 })).trim();
    try {
      await display.start();
      const scene = new Scene();
      const owner = new TestOwner();
      display.attach(scene);
      const s = owner.toplevel(scene, { title: 'selection owner', content: solidContent(200, 150, 0xff336699) });
      await owner.waitFor('keyboardEnter', (c) => c.surface === s, 10_000);

      // Withdrawn, then a new one before any input (the same serial): it waits.
      expect(display.selection.set('clipboard', selectionOf('text/x-first'))).toBe(true);
      display.selection.clear('clipboard');
      expect(display.selection.set('clipboard', selectionOf('text/x-after-clear'))).toBe(true);
      await display.roundtrip();
      let seen = owner.calls.length;
      // wl-paste takes keyboard focus and gives it back: the enter brings a new serial.
      expect(await types()).not.toBe('text/x-after-clear');
      await owner.waitFor('keyboardEnter', (c) => c.surface === s, 10_000, seen);
      await display.roundtrip();
      seen = owner.calls.length;
      expect(await types()).toBe('text/x-after-clear');

      // Replacing our own with the same serial (a fresh one, after wl-paste gave focus back): the same.
      await owner.waitFor('keyboardEnter', (c) => c.surface === s, 10_000, seen);
      await display.roundtrip();
      expect(display.selection.set('clipboard', selectionOf('text/x-one'))).toBe(true);
      expect(display.selection.set('clipboard', selectionOf('text/x-replaced'))).toBe(true);
      await display.roundtrip();
      seen = owner.calls.length;
      expect(await types()).toBe('text/x-one');
      await owner.waitFor('keyboardEnter', (c) => c.surface === s, 10_000, seen);
      await display.roundtrip();
      expect(await types()).toBe('text/x-replaced');
    } finally {
      display.close();
      await weston.stop();
    }
  }, 60_000);
});
