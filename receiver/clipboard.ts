/**
 * The receiver's side of wthp_clipboard: the local compositor's clipboard
 * and primary selection shared with every connected transmitter.
 *
 * - The local selection changes (someone copied on the display): every
 *   transmitter gets its mime types; a transmitter's `receive` reads it from
 *   the local compositor and streams it back (FdSender).
 * - A transmitter's application sets a selection: it becomes the local
 *   compositor's selection (a wl_data_source of ours); a paste on the
 *   display asks that transmitter for the data (`send`) and writes what
 *   comes into the pasting application's pipe (FdReceiver).
 * - A transmitter that goes away takes its selection with it.
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
} from '../shared/clipboard/transfer.js';
import type { DisplayOffer, DisplaySelection } from '../shared/display/selection.js';
import type { WthpClipboardResource } from '../shared/generated/waltham/waltham.js';
import type { WalthamLogger as Logger } from '../shared/waltham/connection.js';
import { Fd } from '../shared/fd.js';
import { pipe } from '../shared/native.js';

interface Peer {
  readonly resource: WthpClipboardResource;
  readonly label: string;
  readonly pending: Record<SelectionKind, string[]>;
  readonly transfers: Map<number, FdSender | FdReceiver>;
}

export interface ClipboardHubOptions {
  readonly logger: Logger;
  /** Most bytes of one transfer (default 16 MiB). */
  readonly limit?: number;
}

export class ClipboardHub {
  private display: DisplaySelection | null = null;
  private readonly peers = new Set<Peer>();
  /** The local selection of each kind, with the id transmitters know it by. */
  private readonly local: Record<SelectionKind, { id: number; offer: DisplayOffer; relayed: boolean } | null> = { clipboard: null, primary: null };
  /** The transmitter whose selection the local compositor shows, per kind. */
  private readonly owner: Record<SelectionKind, Peer | null> = { clipboard: null, primary: null };
  private nextId = 1;
  private readonly ids = new TransferIds(true);
  private readonly logger: Logger;
  readonly limit: number;

  constructor(options: ClipboardHubOptions) {
    this.logger = options.logger;
    this.limit = options.limit ?? DEFAULT_CLIPBOARD_LIMIT;
  }

  /** Share the selections of this local compositor. */
  attach(display: DisplaySelection): void {
    this.display = display;
    display.on('selection', (kind, offer) => this.localSelection(kind, offer));
  }

  private localSelection(kind: SelectionKind, offer: DisplayOffer | null): void {
    this.owner[kind] = null;
    const current = this.local[kind];
    if (offer !== null && current !== null && !current.relayed && sameList(current.offer.mimeTypes, offer.mimeTypes)) {
      // The compositor shows the selection again each time we get focus, with a new offer: reads
      // of the id transmitters know go to the newest offer, and they are not told again.
      this.local[kind] = { id: current.id, offer, relayed: false };
      return;
    }
    const id = offer === null ? 0 : this.nextId++;
    this.local[kind] = offer === null ? null : { id, offer, relayed: false };
    for (const peer of this.peers) this.announce(peer, kind);
  }

  private announce(peer: Peer, kind: SelectionKind): void {
    const local = this.local[kind];
    if (local === null) {
      peer.resource.sendSelection(kindCode(kind), 0);
      return;
    }
    for (const mime of local.offer.mimeTypes) peer.resource.sendOffer(kindCode(kind), mime);
    peer.resource.sendSelection(kindCode(kind), local.id);
  }

  /** A transmitter bound wthp_clipboard. */
  bind(resource: WthpClipboardResource, label: string): void {
    const peer: Peer = { resource, label, pending: { clipboard: [], primary: [] }, transfers: new Map() };
    this.peers.add(peer);
    const kind = (code: number): SelectionKind | undefined => {
      const k = kindOf(code);
      if (k === undefined) this.logger.warn({ peer: label }, `${label}: wthp_clipboard: unknown selection kind ${code}, ignored`);
      return k;
    };
    resource.listen({
      destroy: () => {},
      offer: (code, mime) => {
        const k = kind(code);
        if (k !== undefined && peer.pending[k].length < MAX_MIME_TYPES) peer.pending[k].push(mime);
      },
      setSelection: (code, id) => {
        const k = kind(code);
        if (k === undefined) return;
        const mimes = peer.pending[k];
        peer.pending[k] = [];
        this.remoteSelection(peer, k, id, mimes);
      },
      receive: (transfer, code, id, mime) => {
        const k = kind(code);
        if (k !== undefined) this.serveLocal(peer, transfer, k, id, mime);
        else resource.sendCancel(transfer);
      },
      ...transferEvents(peer.transfers),
    });
    resource.onDestroy(() => this.peerGone(peer));
    for (const k of SELECTION_KINDS) if (this.local[k] !== null) this.announce(peer, k);
  }

  private peerGone(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    for (const t of [...peer.transfers.values()]) t.cancel();
    for (const k of SELECTION_KINDS) {
      if (this.owner[k] !== peer) continue;
      this.owner[k] = null;
      this.display?.clear(k);
    }
  }

  /** A transmitter's selection becomes the local one (id 0: it has none now). */
  private remoteSelection(peer: Peer, kind: SelectionKind, id: number, mimeTypes: string[]): void {
    const display = this.display;
    if (display === null) return;
    this.logger.debug({ peer: peer.label }, `${peer.label}: ${kind} selection ${id}${id === 0 ? ' (none)' : `: ${mimeTypes.join(', ')}`}${this.owner[kind] === peer ? ', replacing its own' : ''}`);
    if (id === 0) {
      if (this.owner[kind] === peer) {
        this.owner[kind] = null;
        display.clear(kind);
      }
      return;
    }
    const accepted = display.set(kind, {
      mimeTypes,
      send: (mime, fd) => this.fetchRemote(peer, kind, id, mime, fd),
      cancelled: () => {
        if (this.owner[kind] === peer) this.owner[kind] = null;
      },
    });
    if (!accepted) {
      this.logger.debug({ peer: peer.label }, `${peer.label}: the local compositor has no ${kind} selection`);
      return;
    }
    this.owner[kind] = peer;
    // Other transmitters see it as the local selection; their pastes are fetched from its owner.
    const relayed: DisplayOffer = {
      kind,
      mimeTypes,
      receive: (mime) => {
        const [r, w] = pipe();
        this.fetchRemote(peer, kind, id, mime, new Fd(w));
        return r;
      },
    };
    this.local[kind] = { id: this.nextId++, offer: relayed, relayed: true };
    for (const other of this.peers) if (other !== peer) this.announce(other, kind);
  }

  /** A local application pastes a transmitter's selection: `fd` is its pipe. */
  private fetchRemote(peer: Peer, kind: SelectionKind, id: number, mime: string, fd: Fd): void {
    if (peer.transfers.size >= MAX_TRANSFERS) {
      this.logger.warn({ peer: peer.label }, `${peer.label}: more than ${MAX_TRANSFERS} clipboard transfers at once, a paste is refused`);
      fd.close();
      return;
    }
    const transfer = this.ids.take();
    const wire: TransferWire = {
      data: () => {},
      done: () => {},
      ack: (bytes) => peer.resource.sendAck(transfer, bytes),
      cancel: () => peer.resource.sendCancel(transfer),
    };
    const sink = new FdReceiver(fd, wire, {
      logger: this.logger,
      label: `${peer.label}: ${kind} transfer ${transfer} (${mime})`,
      limit: this.limit,
      ended: () => peer.transfers.delete(transfer),
    });
    if (!this.peers.has(peer)) {
      sink.cancel();
      return;
    }
    peer.transfers.set(transfer, sink);
    peer.resource.sendSend(transfer, kindCode(kind), id, mime);
  }

  /** A transmitter's application pastes the local selection. */
  private serveLocal(peer: Peer, transfer: number, kind: SelectionKind, id: number, mime: string): void {
    const local = this.local[kind];
    if (peer.transfers.size >= MAX_TRANSFERS) {
      this.logger.warn({ peer: peer.label }, `${peer.label}: more than ${MAX_TRANSFERS} clipboard transfers at once, transfer ${transfer} cancelled`);
      peer.resource.sendCancel(transfer);
      return;
    }
    if (local === null || local.id !== id || (transfer & 0x80000000) !== 0 || peer.transfers.has(transfer)) {
      peer.resource.sendCancel(transfer);
      return;
    }
    let fd: Fd;
    try {
      fd = new Fd(local.offer.receive(mime));
    } catch (error) {
      this.logger.debug({ err: error }, `${kind} selection: cannot read ${mime}: ${(error as Error).message}`);
      peer.resource.sendCancel(transfer);
      return;
    }
    const wire: TransferWire = {
      data: (bytes) => peer.resource.sendData(transfer, bytes),
      done: () => peer.resource.sendDone(transfer),
      ack: () => {},
      cancel: () => peer.resource.sendCancel(transfer),
    };
    const sender = new FdSender(fd, wire, {
      logger: this.logger,
      label: `${peer.label}: ${kind} transfer ${transfer} (${mime})`,
      limit: this.limit,
      ended: () => peer.transfers.delete(transfer),
    });
    peer.transfers.set(transfer, sender);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
