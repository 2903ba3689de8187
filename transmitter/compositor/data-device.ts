/**
 * wl_data_device_manager v3: a clipboard shared by the display's clients.
 *
 * - set_selection makes a data source the selection (the previous source
 *   gets `cancelled`); the client with keyboard focus gets a fresh data_offer
 *   with the source's mime types and `selection`, and so does every client
 *   right before it gets keyboard focus (wayland.xml, wl_data_device.selection).
 * - data_offer.receive(mime, fd) becomes data_source.send(mime, fd) to the
 *   source's client, which writes into the pipe; our copy of the fd is closed
 *   once the event is queued (the library sends a duplicate).
 * - Drag and drop is not offered: start_drag cancels the source at once.
 */
import { closeFd } from '../../shared/native.js';
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  WlDataDeviceManagerResource,
  WlDataDeviceResource,
  WlDataOfferResource,
  WlDataSourceError,
  WlDataSourceResource,
} from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import type { DisplayContext } from './context.js';

export const DATA_DEVICE_MANAGER_VERSION = 3;

interface Source {
  readonly resource: WlDataSourceResource;
  readonly client: ClientState;
  readonly mimeTypes: string[];
}

/** Most mime types one source may offer (a guard against unbounded growth). */
const MAX_MIME_TYPES = 256;

export class Clipboard {
  private selection: Source | null = null;
  private readonly sources = new WeakMap<WlDataSourceResource, Source>();

  constructor(private readonly ctx: DisplayContext) {}

  register(): void {
    this.ctx.server.addGlobal(WlDataDeviceManagerResource, DATA_DEVICE_MANAGER_VERSION, (manager, client) =>
      this.bind(manager, client),
    );
  }

  /** The current selection's mime types, or null when there is none. */
  get selectionMimeTypes(): readonly string[] | null {
    return this.selection?.mimeTypes ?? null;
  }

  private bind(manager: WlDataDeviceManagerResource, wsClient: WaylandServerClient): void {
    const client = this.ctx.clientOf(wsClient);
    manager.listen({
      createDataSource: (resource) => {
        const source: Source = { resource, client, mimeTypes: [] };
        this.sources.set(resource, source);
        resource.listen({
          offer: (mime) => {
            if (source.mimeTypes.length < MAX_MIME_TYPES && !source.mimeTypes.includes(mime)) source.mimeTypes.push(mime);
          },
          setActions: (actions) => {
            if ((actions >>> 0) & ~7) resource.postError(WlDataSourceError.InvalidActionMask, `invalid action mask ${actions}`);
          },
          destroy: () => {},
        });
        resource.onDestroy(() => {
          if (this.selection === source) this.setSelection(null);
        });
      },
      getDataDevice: (device) => {
        client.dataDevices.add(device);
        device.onDestroy(() => client.dataDevices.delete(device));
        device.listen({
          setSelection: (sourceResource) => {
            const source = sourceResource === null ? null : (this.sources.get(sourceResource) ?? null);
            this.setSelection(source);
          },
          startDrag: (sourceResource) => {
            // Drag and drop is not offered: the drag ends at once.
            if (sourceResource !== null && !sourceResource.destroyed) sourceResource.sendCancelled();
          },
          release: () => {},
        });
        if (this.ctx.seat.keyboardFocus?.client === client) this.offerTo(device);
      },
    });
  }

  private setSelection(source: Source | null): void {
    const previous = this.selection;
    if (previous === source) return;
    this.selection = source;
    if (previous !== null && !previous.resource.destroyed) previous.resource.sendCancelled();
    const focus = this.ctx.seat.keyboardFocus;
    if (focus !== null) this.focusMoved(focus.client);
  }

  /** `client` gets keyboard focus (or the selection changed while it has it): send it the selection. */
  focusMoved(client: ClientState): void {
    for (const device of client.dataDevices) this.offerTo(device);
  }

  private offerTo(device: WlDataDeviceResource): void {
    const source = this.selection;
    if (source === null) {
      device.sendSelection(null);
      return;
    }
    const offer: WlDataOfferResource = device.sendDataOffer();
    offer.listen({
      receive: (mime, fd) => {
        try {
          if (this.selection === source && !source.resource.destroyed) source.resource.sendSend(mime, fd);
        } finally {
          closeFd(fd);
        }
      },
      accept: () => {},
      finish: () => {},
      destroy: () => {},
    });
    for (const mime of source.mimeTypes) offer.sendOffer(mime);
    device.sendSelection(offer);
  }
}
