/**
 * The selections of the local compositor (wl_data_device clipboard, and the
 * primary selection where the compositor offers
 * zwp_primary_selection_device_manager_v1), as a client of it:
 *
 * - `selection` events report the compositor's selection (its mime types,
 *   and `receive(mime)` giving the read end of a pipe the owner writes
 *   into). The compositor sends them while we have keyboard focus. Our own
 *   selection coming back is not reported.
 * - `set(kind, ...)` offers a selection of ours (a wl_data_source) with the
 *   newest serial the compositor sent us (keyboard enter, key, button);
 *   `send(mime, fd)` is called when someone pastes it.
 */
import {
  type WlDataDeviceProxy,
  WlDataDeviceManagerProxy,
  type WlDataOfferProxy,
  type WlDataSourceProxy,
  type WlSeatProxy,
  type ZwpPrimarySelectionDeviceV1Proxy,
  ZwpPrimarySelectionDeviceManagerV1Proxy,
  type ZwpPrimarySelectionOfferV1Proxy,
  type ZwpPrimarySelectionSourceV1Proxy,
} from '../generated/wayland/index.js';
import type { Fd } from '../fd.js';
import { closeFd, pipe } from '../native.js';
import { MAX_MIME_TYPES, type SelectionKind } from '../clipboard/transfer.js';
import type { Logger } from '../log.js';
import type { Registry } from '../wayland/client.js';
import { Emitter } from '../wayland/emitter.js';

/** A selection of the local compositor. */
export interface DisplayOffer {
  readonly kind: SelectionKind;
  readonly mimeTypes: readonly string[];
  /** The read end of a pipe the selection's owner writes `mime` into; the caller owns it. */
  receive(mime: string): number;
}

export interface OwnSelection {
  readonly mimeTypes: readonly string[];
  /** Someone pastes: write `mime` into `fd` (the callee owns it). */
  send(mime: string, fd: Fd): void;
  /** The compositor's selection is someone else's now. */
  cancelled(): void;
}

export interface DisplaySelectionEvents extends Record<string, unknown[]> {
  selection: [kind: SelectionKind, offer: DisplayOffer | null];
}

type AnyOffer = WlDataOfferProxy | ZwpPrimarySelectionOfferV1Proxy;
type AnySource = WlDataSourceProxy | ZwpPrimarySelectionSourceV1Proxy;

export class DisplaySelection extends Emitter<DisplaySelectionEvents> {
  private dataDevice: WlDataDeviceProxy | null = null;
  private primaryDevice: ZwpPrimarySelectionDeviceV1Proxy | null = null;
  private manager: WlDataDeviceManagerProxy | null = null;
  private primaryManager: ZwpPrimarySelectionDeviceManagerV1Proxy | null = null;
  private readonly mimes = new WeakMap<AnyOffer, string[]>();
  private readonly shown: { clipboard: AnyOffer | null; primary: AnyOffer | null } = { clipboard: null, primary: null };
  private readonly own: { clipboard: AnySource | null; primary: AnySource | null } = { clipboard: null, primary: null };
  private serial = 0;
  /** The serial of our last set or clear request of each kind (null: none yet). */
  private readonly usedSerial: { clipboard: number | null; primary: number | null } = { clipboard: null, primary: null };
  /** A selection waiting for a newer serial (compositors ignore one not newer than the current selection's). */
  private readonly deferred: { clipboard: OwnSelection | null; primary: OwnSelection | null } = { clipboard: null, primary: null };
  /** set/clear requests whose effect the compositor has not confirmed yet (a roundtrip each). */
  private settling = 0;
  private roundtrip: () => Promise<void> = () => Promise.resolve();

  constructor(private readonly logger: Logger) {
    super();
  }

  /** Which selections the compositor offers. */
  get kinds(): SelectionKind[] {
    const out: SelectionKind[] = [];
    if (this.dataDevice !== null) out.push('clipboard');
    if (this.primaryDevice !== null) out.push('primary');
    return out;
  }

  /** Bind the managers the compositor offers and get the devices of `seat`. */
  bind(registry: Registry, seat: WlSeatProxy, roundtrip?: () => Promise<void>): void {
    if (roundtrip !== undefined) this.roundtrip = roundtrip;
    const dm = registry.find('wl_data_device_manager');
    if (dm !== undefined && this.manager === null) {
      this.manager = registry.bind(WlDataDeviceManagerProxy, dm, Math.min(dm.version, 3));
      const device = this.manager.getDataDevice(seat);
      this.dataDevice = device;
      device.listen({
        dataOffer: (offer) => this.track(offer),
        selection: (offer) => this.onSelection('clipboard', offer),
        // Drags from the local compositor are not carried: their offers are dropped.
        enter: (_serial, _surface, _x, _y, offer) => offer?.destroy(),
      });
    }
    const pm = registry.find('zwp_primary_selection_device_manager_v1');
    if (pm !== undefined && this.primaryManager === null) {
      this.primaryManager = registry.bind(ZwpPrimarySelectionDeviceManagerV1Proxy, pm, 1);
      const device = this.primaryManager.getDevice(seat);
      this.primaryDevice = device;
      device.listen({
        dataOffer: (offer) => this.track(offer),
        selection: (offer) => this.onSelection('primary', offer),
      });
    }
  }

  /** A serial the compositor sent us with input (the newest is used for set_selection). */
  noteSerial(serial: number): void {
    this.serial = serial;
    for (const kind of ['clipboard', 'primary'] as const) {
      const waiting = this.deferred[kind];
      if (waiting !== null && serial !== this.usedSerial[kind]) {
        this.deferred[kind] = null;
        this.set(kind, waiting);
      }
    }
  }

  private track(offer: AnyOffer): void {
    const list: string[] = [];
    this.mimes.set(offer, list);
    offer.listen({
      offer: (mime: string) => {
        if (list.length < MAX_MIME_TYPES && !list.includes(mime)) list.push(mime);
      },
    });
  }

  private onSelection(kind: SelectionKind, offer: AnyOffer | null): void {
    const previous = this.shown[kind];
    this.shown[kind] = offer;
    if (previous !== null && previous !== offer && !previous.destroyed) previous.destroy();
    // Our own selection shown back to us, or one our set/clear request in flight replaces.
    if (this.own[kind] !== null || this.settling > 0) return;
    this.logger.debug(`local ${kind} selection: ${offer === null ? 'none' : (this.mimes.get(offer) ?? []).join(', ')}`);
    if (offer === null) {
      this.emit('selection', kind, null);
      return;
    }
    const mimeTypes = this.mimes.get(offer) ?? [];
    this.emit('selection', kind, {
      kind,
      mimeTypes,
      receive: (mime) => {
        const [r, w] = pipe();
        try {
          if (offer.destroyed) throw new Error('the selection changed');
          offer.receive(mime, w);
        } catch (error) {
          closeFd(r);
          throw error;
        } finally {
          closeFd(w); // the connection sends a duplicate
        }
        return r;
      },
    });
  }

  /** Make `selection` the compositor's selection of `kind`; false when the compositor has no such selection. */
  set(kind: SelectionKind, selection: OwnSelection): boolean {
    if (this.serial === this.usedSerial[kind]) {
      // The compositor ignores a selection whose serial is not newer than the current one's,
      // which may be the one we set last: wait for the next input event.
      if (kind === 'clipboard' ? this.manager === null : this.primaryManager === null) return false;
      this.deferred[kind]?.cancelled();
      this.deferred[kind] = selection;
      return true;
    }
    this.deferred[kind] = null;
    let source: AnySource;
    if (kind === 'clipboard') {
      if (this.manager === null || this.dataDevice === null) return false;
      source = this.manager.createDataSource();
    } else {
      if (this.primaryManager === null || this.primaryDevice === null) return false;
      source = this.primaryManager.createSource();
    }
    const dropOwn = (): void => {
      if (this.own[kind] === source) this.own[kind] = null;
      if (!source.destroyed) source.destroy();
    };
    source.listen({
      send: (mime, fd) => {
        try {
          selection.send(mime, fd);
        } catch (error) {
          fd.close(); // unless the owner closed or took it already
          this.logger.warn({ err: error }, `${kind} selection: cannot serve ${mime}: ${(error as Error).message}`);
        }
      },
      cancelled: () => {
        dropOwn();
        selection.cancelled();
      },
    });
    for (const mime of selection.mimeTypes) source.offer(mime);
    const previous = this.own[kind];
    this.own[kind] = source;
    this.usedSerial[kind] = this.serial;
    if (kind === 'clipboard') this.dataDevice!.setSelection(source as WlDataSourceProxy, this.serial);
    else this.primaryDevice!.setSelection(source as ZwpPrimarySelectionSourceV1Proxy, this.serial);
    if (previous !== null && !previous.destroyed) previous.destroy();
    this.settle();
    return true;
  }

  /** Selection events until the compositor has handled our request are about what it replaced. */
  private settle(): void {
    this.settling++;
    this.roundtrip()
      .catch(() => {})
      .finally(() => this.settling--);
  }

  /** Withdraw our selection of `kind`, if the compositor's selection is still ours. */
  clear(kind: SelectionKind): void {
    this.deferred[kind] = null;
    const source = this.own[kind];
    if (source === null) return;
    this.own[kind] = null;
    this.usedSerial[kind] = this.serial;
    if (kind === 'clipboard') this.dataDevice?.setSelection(null, this.serial);
    else this.primaryDevice?.setSelection(null, this.serial);
    if (!source.destroyed) source.destroy();
    this.settle();
  }
}
