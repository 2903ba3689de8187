/**
 * The virtual display's selections shared with the sending ECU's own
 * compositor (`--display`): a copy in an application on the virtual display
 * can be pasted on the local compositor and the other way, as with a
 * receiver but without Waltham in between (the data goes from pipe to pipe,
 * at the pace the pasting application reads).
 */
import { Socket } from 'node:net';
import { SELECTION_KINDS, type SelectionKind } from '../shared/clipboard/transfer.js';
import type { DisplayOffer, DisplaySelection } from '../shared/display/selection.js';
import type { Logger } from '../shared/log.js';
import type { Selections, SelectionSource } from './compositor/selection.js';

/** Copy everything from the read end `from` into `to`; both fds are closed at the end. */
function pump(from: number, to: number): void {
  const input = new Socket({ fd: from, readable: true, writable: false });
  const output = new Socket({ fd: to, readable: false, writable: true });
  const done = (): void => {
    input.destroy();
    output.destroy();
  };
  input.on('error', done);
  output.on('error', done);
  input.pipe(output);
}

/** Start sharing; returns a function that stops it. */
export function shareSelections(selections: Selections, display: DisplaySelection, logger: Logger): () => void {
  const token = {};
  const fromDisplay = new Map<SelectionKind, SelectionSource>();
  const latest = new Map<SelectionKind, DisplayOffer>();
  const onDisplay = (kind: SelectionKind, offer: DisplayOffer | null): void => {
    const selection = selections.of(kind);
    const previous = fromDisplay.get(kind);
    if (offer === null) {
      fromDisplay.delete(kind);
      latest.delete(kind);
      if (previous !== undefined) selection.sourceGone(previous);
      return;
    }
    latest.set(kind, offer);
    // The compositor shows its selection again, with a new offer, each time we get focus: reads go
    // to the newest offer, and applications are not told of a new selection for it.
    if (previous !== undefined && selection.current === previous && sameList(previous.mimeTypes, offer.mimeTypes)) return;
    const source: SelectionSource = {
      mimeTypes: offer.mimeTypes,
      client: null,
      origin: token,
      send: (mime, fd) => {
        try {
          pump((latest.get(kind) ?? offer).receive(mime), fd.take());
        } catch (error) {
          fd.close(); // unless pump took it
          logger.debug({ err: error }, `local ${kind} selection: cannot read ${mime}: ${(error as Error).message}`);
        }
      },
      cancelled: () => {
        if (fromDisplay.get(kind) === source) fromDisplay.delete(kind);
      },
    };
    fromDisplay.set(kind, source);
    selection.setExternal(source);
  };
  display.on('selection', onDisplay);
  const listeners = SELECTION_KINDS.map((kind) => {
    const listener = (source: SelectionSource | null): void => {
      if (source !== null && source.origin === token) return;
      try {
        if (source === null) display.clear(kind);
        else display.set(kind, { mimeTypes: source.mimeTypes, send: (mime, fd) => source.send(mime, fd), cancelled: () => {} });
      } catch (error) {
        // The local compositor went away: the transmitter runs on headless.
        logger.debug({ err: error }, `local ${kind} selection not set: ${(error as Error).message}`);
      }
    };
    selections.of(kind).on('changed', listener);
    return [kind, listener] as const;
  });
  return () => {
    display.off('selection', onDisplay);
    for (const [kind, listener] of listeners) selections.of(kind).off('changed', listener);
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
