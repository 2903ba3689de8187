/**
 * wl_data_device_manager v3: the clipboard of the display's clients (the
 * rules live in selection.ts).
 *
 * - set_selection(source, serial) asks the display's clipboard Selection to
 *   take the source; a refused source gets `cancelled`.
 * - A client shown a selection gets a fresh data_offer with the source's
 *   mime types, then `selection`; data_offer.receive(mime, fd) becomes the
 *   source's send(mime, fd) (for a client's source: data_source.send, our
 *   copy of the fd closed once the event is queued, the library sends a
 *   duplicate).
 * - Drag and drop: drag.ts.
 */
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  WlDataDeviceManagerResource,
  WlDataDeviceResource,
  WlDataOfferResource,
  WlDataSourceError,
  WlDataSourceResource,
} from '../../shared/generated/wayland/index.js';
import { MAX_MIME_TYPES } from '../../shared/clipboard/transfer.js';
import type { DisplayContext } from './context.js';
import { ClientSource, type SelectionDevice, type SelectionSource } from './selection.js';
import { startDrag } from './drag.js';

export const DATA_DEVICE_MANAGER_VERSION = 3;

/** A client's wl_data_source. */
export class ClientDataSource extends ClientSource<WlDataSourceResource> {
  /** wl_data_source.set_actions (drag and drop), 0 until set. */
  actions = 0;
  actionsSet = false;
  /** Set once the source was used for a selection or a drag (it cannot be used twice). */
  used = false;
}

const dataSources = new WeakMap<WlDataSourceResource, ClientDataSource>();

export function dataSourceOf(resource: WlDataSourceResource): ClientDataSource | undefined {
  return dataSources.get(resource);
}

/**
 * A data_offer for `source` on `device`, its mime types sent. receive goes to
 * the source as long as it exists, also after the selection moved on (as
 * weston does: an application may read an offer it was shown a moment ago).
 */
export function sendDataOffer(device: WlDataDeviceResource, source: SelectionSource): WlDataOfferResource {
  const offer = device.sendDataOffer();
  offer.listen({
    receive: (mime, fd) => source.send(mime, fd),
    accept: () => {},
    finish: () => {},
    setActions: () => {},
    destroy: () => {},
  });
  for (const mime of source.mimeTypes) offer.sendOffer(mime);
  return offer;
}

export function registerDataDevice(ctx: DisplayContext): void {
  const selection = ctx.clipboard.clipboard;
  ctx.server.addGlobal(WlDataDeviceManagerResource, DATA_DEVICE_MANAGER_VERSION, (manager, wsClient: WaylandServerClient) => {
    const client = ctx.clientOf(wsClient);
    manager.listen({
      createDataSource: (resource) => {
        const source = new ClientDataSource(resource, client);
        dataSources.set(resource, source);
        resource.listen({
          offer: (mime) => {
            if (source.mimeTypes.length < MAX_MIME_TYPES && !source.mimeTypes.includes(mime)) source.mimeTypes.push(mime);
          },
          setActions: (actions) => {
            if ((actions >>> 0) & ~7) {
              resource.postError(WlDataSourceError.InvalidActionMask, `invalid action mask ${actions}`);
              return;
            }
            source.actions = actions >>> 0;
            source.actionsSet = true;
          },
          destroy: () => {},
        });
        resource.onDestroy(() => selection.sourceGone(source));
      },
      getDataDevice: (device) => {
        client.dataDevices.add(device);
        const shown: SelectionDevice = {
          offer: (source) => {
            if (device.destroyed) return;
            if (source === null) {
              device.sendSelection(null);
              return;
            }
            device.sendSelection(sendDataOffer(device, source));
          },
        };
        device.onDestroy(() => {
          client.dataDevices.delete(device);
          selection.removeDevice(client, shown);
        });
        device.listen({
          setSelection: (sourceResource, serial) => {
            const source = sourceResource === null ? null : (dataSources.get(sourceResource) ?? null);
            if (source !== null && source.used && selection.current !== source) {
              sourceResource!.postError(WlDataSourceError.InvalidSource, 'the data source was already used');
              return;
            }
            if (source !== null) source.used = true;
            selection.request(client, source, serial);
          },
          startDrag: (sourceResource, origin, _icon, serial) => {
            const source = sourceResource === null ? null : (dataSources.get(sourceResource) ?? null);
            if (source !== null) {
              if (source.used) {
                sourceResource!.postError(WlDataSourceError.InvalidSource, 'the data source was already used');
                return;
              }
              source.used = true;
            }
            startDrag(ctx, client, source, origin, serial);
          },
          release: () => {},
        });
        selection.addDevice(client, shown);
      },
    });
  });
}
