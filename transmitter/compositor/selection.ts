/**
 * The selections of the virtual display (the clipboard of wl_data_device and
 * the primary selection), with the rules a compositor applies to them:
 *
 * - a client sets a selection only while it has keyboard focus, with a
 *   serial of that focus (the keyboard enter's or a later one it was sent)
 *   and not older than the serial of the current selection; other requests
 *   are refused: logged, and the source gets `cancelled`;
 * - the previous source gets `cancelled` when another one replaces it;
 * - the client with keyboard focus gets the new selection at once, and every
 *   client gets the current one right before it gains keyboard focus (and
 *   when it creates a device while it has focus);
 * - a selection can also come from outside (a receiver's compositor): it
 *   bypasses the focus rules, which that compositor applied.
 *
 * `changed` tells consumers (the receiver links) about every new selection.
 */
import { EventEmitter } from 'node:events';
import type { SelectionKind } from '../../shared/clipboard/transfer.js';
import type { Fd } from '../../shared/fd.js';
import type { ClientState } from './client-state.js';
import type { DisplayContext } from './context.js';

export interface SelectionSource {
  readonly mimeTypes: readonly string[];
  /** The client that set it; null for a selection from outside. */
  readonly client: ClientState | null;
  /** Who set it from outside (a receiver link), so it is not sent back there. */
  readonly origin?: unknown;
  /** Write the data in `mime` into `fd`; the callee owns `fd` (closes it or hands it on). */
  send(mime: string, fd: Fd): void;
  /** It is no longer the selection. */
  cancelled(): void;
}

/** The protocol object behind a client's source: wl_data_source or zwp_primary_selection_source_v1. */
interface SourceResource {
  readonly destroyed: boolean;
  sendSend(mime: string, fd: Fd): void;
  sendCancelled(): void;
}

/** A source a client made (wl_data_source, primary selection source): its events go to its resource. */
export class ClientSource<R extends SourceResource> implements SelectionSource {
  readonly mimeTypes: string[] = [];

  constructor(
    readonly resource: R,
    readonly client: ClientState,
  ) {}

  send(mime: string, fd: Fd): void {
    try {
      if (!this.resource.destroyed) this.resource.sendSend(mime, fd); // the connection sends a duplicate
    } finally {
      fd.close();
    }
  }

  cancelled(): void {
    if (!this.resource.destroyed) this.resource.sendCancelled();
  }
}

/** A wl_data_device or primary selection device of a client: shows it a selection (null: none). */
export interface SelectionDevice {
  offer(source: SelectionSource | null): void;
}

export interface SelectionEvents {
  changed: [source: SelectionSource | null];
}

/** `a` is `b` or later, in serial order (serials wrap at 2^32). */
function notBefore(a: number, b: number): boolean {
  return ((a - b) >>> 0) < 0x80000000;
}

export class Selection extends EventEmitter<SelectionEvents> {
  private source: SelectionSource | null = null;
  /** The serial the current source was set with (client sources). */
  private serial = 0;
  private readonly devices = new Map<ClientState, Set<SelectionDevice>>();

  constructor(
    readonly kind: SelectionKind,
    private readonly ctx: DisplayContext,
  ) {
    super();
  }

  get current(): SelectionSource | null {
    return this.source;
  }

  /** Why a client's set_selection with `serial` is refused, or null when it is accepted. */
  refusal(client: ClientState, serial: number): string | null {
    const seat = this.ctx.seat;
    const focus = seat.keyboardFocus;
    if (focus === null || focus.client !== client) return 'the client does not have keyboard focus';
    if (!notBefore(serial, seat.keyboardFocusSerial)) return `serial ${serial} is older than its keyboard focus (${seat.keyboardFocusSerial})`;
    if (!notBefore(this.ctx.server.serial, serial)) return `serial ${serial} was never sent`;
    if (this.source !== null && this.source.client !== null && !notBefore(serial, this.serial)) {
      return `serial ${serial} is older than the current selection's (${this.serial})`;
    }
    return null;
  }

  /** A client's set_selection; returns whether it was accepted (a refused source gets `cancelled`). */
  request(client: ClientState, source: SelectionSource | null, serial: number): boolean {
    const why = this.refusal(client, serial);
    if (why !== null) {
      this.ctx.logger.debug({ client: client.name }, `${this.kind} selection of ${client.name} refused: ${why}`);
      if (source !== null && source !== this.source) source.cancelled();
      return false;
    }
    this.serial = serial;
    this.set(source);
    return true;
  }

  /** A selection from outside (null clears it). */
  setExternal(source: SelectionSource | null): void {
    this.set(source);
  }

  /** A source was destroyed: if it was the selection, there is none now. */
  sourceGone(source: SelectionSource): void {
    if (this.source === source) this.set(null, false);
  }

  private set(source: SelectionSource | null, cancelPrevious = true): void {
    const previous = this.source;
    if (previous === source) return;
    this.source = source;
    if (previous !== null && cancelPrevious) previous.cancelled();
    const focus = this.ctx.seat.keyboardFocus;
    if (focus !== null) this.offerTo(focus.client);
    this.emit('changed', source);
  }

  addDevice(client: ClientState, device: SelectionDevice): void {
    let set = this.devices.get(client);
    if (set === undefined) {
      set = new Set();
      this.devices.set(client, set);
    }
    set.add(device);
    if (this.ctx.seat.keyboardFocus?.client === client) device.offer(this.source);
  }

  removeDevice(client: ClientState, device: SelectionDevice): void {
    const set = this.devices.get(client);
    if (set === undefined) return;
    set.delete(device);
    if (set.size === 0) this.devices.delete(client);
  }

  /** Show `client` the current selection on each of its devices. */
  offerTo(client: ClientState): void {
    for (const device of this.devices.get(client) ?? []) device.offer(this.source);
  }
}

/** Both selections of the display. */
export class Selections {
  readonly clipboard: Selection;
  readonly primary: Selection;

  constructor(ctx: DisplayContext) {
    this.clipboard = new Selection('clipboard', ctx);
    this.primary = new Selection('primary', ctx);
  }

  of(kind: SelectionKind): Selection {
    return kind === 'clipboard' ? this.clipboard : this.primary;
  }

  /** `client` gains keyboard focus: it gets both selections first. */
  focusMoved(client: ClientState): void {
    this.clipboard.offerTo(client);
    this.primary.offerTo(client);
  }
}
