/**
 * The transmitter's side of wthp_clipboard on one receiver link.
 *
 * - The virtual display's selection changes (an application copied): the
 *   receiver gets its mime types; when someone pastes it on the display,
 *   the receiver asks (`send`) and the source writes into a pipe we read
 *   and stream back (FdSender).
 * - The receiver's compositor has a new selection: it becomes the virtual
 *   display's selection (from outside, no focus rules); an application that
 *   pastes it gets the data fetched from the receiver (FdReceiver).
 * - A selection that came from this receiver is not sent back to it. When
 *   the link drops, transfers are cancelled and the receiver's selection
 *   stops being the display's.
 */
import {
  DEFAULT_CLIPBOARD_LIMIT,
  FdReceiver,
  FdSender,
  MAX_MIME_TYPES,
  MAX_TRANSFERS,
  SELECTION_KINDS,
  TransferIds,
  kindCode,
  kindOf,
  transferEvents,
  type SelectionKind,
  type TransferWire,
} from '../../shared/clipboard/transfer.js';
import type { WthpClipboardProxy } from '../../shared/generated/waltham/waltham.js';
import { Fd } from '../../shared/fd.js';
import { pipe } from '../../shared/native.js';
import type { WalthamLogger } from '../../shared/waltham/connection.js';
import type { Selections, SelectionSource } from '../compositor/selection.js';

export class ClipboardLink {
  private proxy: WthpClipboardProxy | null = null;
  private readonly pending: Record<SelectionKind, string[]> = { clipboard: [], primary: [] };
  /** What we announced to the receiver, per kind: the id and the source behind it. */
  private readonly announced: Record<SelectionKind, { id: number; source: SelectionSource } | null> = { clipboard: null, primary: null };
  /** The receiver's selections we made the display's. */
  private readonly remote: Record<SelectionKind, SelectionSource | null> = { clipboard: null, primary: null };
  private readonly transfers = new Map<number, FdSender | FdReceiver>();
  private readonly ids = new TransferIds(false);
  private nextId = 1;
  private readonly listeners: [SelectionKind, (source: SelectionSource | null) => void][] = [];

  constructor(
    private readonly selections: Selections,
    private readonly logger: WalthamLogger,
    private readonly where: string,
    private readonly limit = DEFAULT_CLIPBOARD_LIMIT,
  ) {
    for (const kind of SELECTION_KINDS) {
      const listener = (source: SelectionSource | null): void => {
        try {
          this.announce(kind, source);
        } catch (error) {
          // The connection is closing: the selection goes out again after the reconnection.
          this.logger.debug({ err: error }, `${this.where}: ${kind} selection not sent: ${(error as Error).message}`);
        }
      };
      selections.of(kind).on('changed', listener);
      this.listeners.push([kind, listener]);
    }
  }

  /** Our announcements the receiver has not confirmed yet (a roundtrip each). */
  private settling = 0;
  private roundtrip: () => Promise<void> = () => Promise.resolve();

  /** The link is up and the receiver has wthp_clipboard; `roundtrip` is the connection's. */
  connected(proxy: WthpClipboardProxy, roundtrip: () => Promise<void>): void {
    this.proxy = proxy;
    this.roundtrip = roundtrip;
    this.settling = 0;
    proxy.listen({
      offer: (code, mime) => {
        const kind = kindOf(code);
        if (kind !== undefined && this.pending[kind].length < MAX_MIME_TYPES) this.pending[kind].push(mime);
      },
      selection: (code, id) => {
        const kind = kindOf(code);
        if (kind === undefined) return;
        const mimes = this.pending[kind];
        this.pending[kind] = [];
        // Sent before the receiver had our newest selection: ours replaces it there.
        if (this.settling > 0) return;
        this.remoteSelection(kind, id, mimes);
      },
      send: (transfer, code, id, mime) => this.serve(transfer, kindOf(code), id, mime),
      ...transferEvents(this.transfers),
    });
    for (const kind of SELECTION_KINDS) {
      const current = this.selections.of(kind).current;
      if (current !== null) this.announce(kind, current);
    }
  }

  disconnected(): void {
    this.proxy = null;
    for (const t of [...this.transfers.values()]) t.cancel();
    this.transfers.clear();
    for (const kind of SELECTION_KINDS) {
      this.pending[kind] = [];
      this.announced[kind] = null;
      const remote = this.remote[kind];
      this.remote[kind] = null;
      if (remote !== null) this.selections.of(kind).sourceGone(remote);
    }
  }

  private announce(kind: SelectionKind, source: SelectionSource | null): void {
    const proxy = this.proxy;
    if (proxy === null) return;
    if (source !== null && source.origin === this) return; // the receiver's own selection
    if (source === null) {
      this.announced[kind] = null;
      proxy.setSelection(kindCode(kind), 0);
      this.settle();
      return;
    }
    const id = this.nextId++;
    this.announced[kind] = { id, source };
    for (const mime of source.mimeTypes) proxy.offer(kindCode(kind), mime);
    proxy.setSelection(kindCode(kind), id);
    this.settle();
  }

  /** Until the receiver answers a roundtrip, its selection events crossed ours and are stale. */
  private settle(): void {
    this.settling++;
    const proxy = this.proxy;
    this.roundtrip()
      .catch(() => {})
      .finally(() => {
        if (this.proxy === proxy) this.settling = Math.max(0, this.settling - 1);
      });
  }

  private remoteSelection(kind: SelectionKind, id: number, mimeTypes: string[]): void {
    const selection = this.selections.of(kind);
    const previous = this.remote[kind];
    this.logger.debug({}, `${this.where}: ${kind} selection ${id} of the receiver: ${mimeTypes.join(', ')}`);
    if (id === 0) {
      this.remote[kind] = null;
      if (previous !== null) selection.sourceGone(previous);
      return;
    }
    const source: SelectionSource = {
      mimeTypes,
      client: null,
      origin: this,
      send: (mime, fd) => this.fetch(kind, id, mime, fd),
      cancelled: () => {
        if (this.remote[kind] === source) this.remote[kind] = null;
      },
    };
    this.remote[kind] = source;
    selection.setExternal(source);
  }

  /** An application pastes the receiver's selection into `fd`. */
  private fetch(kind: SelectionKind, id: number, mime: string, fd: Fd): void {
    const proxy = this.proxy;
    if (proxy === null || this.transfers.size >= MAX_TRANSFERS) {
      if (proxy !== null) this.logger.warn({}, `${this.where}: more than ${MAX_TRANSFERS} clipboard transfers at once, a paste is refused`);
      fd.close();
      return;
    }
    const transfer = this.ids.take();
    const wire: TransferWire = {
      data: () => {},
      done: () => {},
      ack: (bytes) => this.proxy?.ack(transfer, bytes),
      cancel: () => this.proxy?.cancel(transfer),
    };
    this.transfers.set(
      transfer,
      new FdReceiver(fd, wire, {
        logger: this.logger,
        label: `${this.where}: ${kind} transfer ${transfer} (${mime})`,
        limit: this.limit,
        ended: () => this.transfers.delete(transfer),
      }),
    );
    proxy.receive(transfer, kindCode(kind), id, mime);
  }

  /** The receiver's compositor pastes our selection: read it from its source and stream it. */
  private serve(transfer: number, kind: SelectionKind | undefined, id: number, mime: string): void {
    const proxy = this.proxy;
    if (proxy === null) return;
    const announced = kind === undefined ? null : this.announced[kind];
    if (
      kind === undefined ||
      announced === null ||
      announced.id !== id ||
      this.selections.of(kind).current !== announced.source ||
      (transfer & 0x80000000) === 0 ||
      this.transfers.has(transfer) ||
      this.transfers.size >= MAX_TRANSFERS
    ) {
      proxy.cancel(transfer);
      return;
    }
    const [r, w] = pipe();
    announced.source.send(mime, new Fd(w));
    const wire: TransferWire = {
      data: (bytes) => this.proxy?.data(transfer, bytes),
      done: () => this.proxy?.done(transfer),
      ack: () => {},
      cancel: () => this.proxy?.cancel(transfer),
    };
    this.transfers.set(
      transfer,
      new FdSender(new Fd(r), wire, {
        logger: this.logger,
        label: `${this.where}: ${kind} transfer ${transfer} (${mime})`,
        limit: this.limit,
        ended: () => this.transfers.delete(transfer),
      }),
    );
  }

  /** Stop following the display's selections. */
  close(): void {
    this.disconnected();
    for (const [kind, listener] of this.listeners) this.selections.of(kind).off('changed', listener);
  }
}
