/**
 * zwp_primary_selection_device_manager_v1 (version 1): the primary selection
 * (select to copy, middle click to paste), with the same rules as the
 * clipboard (selection.ts): set only with a serial of the client's keyboard
 * focus, shown to a client right before it gains keyboard focus.
 */
import type { WaylandServerClient } from '../../shared/wayland/index.js';
import {
  ZwpPrimarySelectionDeviceManagerV1Resource,
  ZwpPrimarySelectionSourceV1Resource,
} from '../../shared/generated/wayland/index.js';
import { MAX_MIME_TYPES } from '../../shared/clipboard/transfer.js';
import type { DisplayContext } from './context.js';
import { ClientSource, type SelectionDevice } from './selection.js';

export const PRIMARY_SELECTION_VERSION = 1;

class PrimarySource extends ClientSource<ZwpPrimarySelectionSourceV1Resource> {}

export function registerPrimarySelection(ctx: DisplayContext): void {
  const selection = ctx.clipboard.primary;
  const sources = new WeakMap<ZwpPrimarySelectionSourceV1Resource, PrimarySource>();
  ctx.server.addGlobal(ZwpPrimarySelectionDeviceManagerV1Resource, PRIMARY_SELECTION_VERSION, (manager, wsClient: WaylandServerClient) => {
    const client = ctx.clientOf(wsClient);
    manager.listen({
      createSource: (resource) => {
        const source = new PrimarySource(resource, client);
        sources.set(resource, source);
        resource.listen({
          offer: (mime) => {
            if (source.mimeTypes.length < MAX_MIME_TYPES && !source.mimeTypes.includes(mime)) source.mimeTypes.push(mime);
          },
          destroy: () => {},
        });
        resource.onDestroy(() => selection.sourceGone(source));
      },
      getDevice: (device) => {
        const shown: SelectionDevice = {
          offer: (source) => {
            if (device.destroyed) return;
            if (source === null) {
              device.sendSelection(null);
              return;
            }
            const offer = device.sendDataOffer();
            offer.listen({
              receive: (mime, fd) => source.send(mime, fd),
              destroy: () => {},
            });
            for (const mime of source.mimeTypes) offer.sendOffer(mime);
            device.sendSelection(offer);
          },
        };
        device.onDestroy(() => selection.removeDevice(client, shown));
        device.listen({
          setSelection: (sourceResource, serial) => {
            const source = sourceResource === null ? null : (sources.get(sourceResource) ?? null);
            selection.request(client, source, serial);
          },
          destroy: () => {},
        });
        selection.addDevice(client, shown);
      },
      destroy: () => {},
    });
  });
}
