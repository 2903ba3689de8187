/**
 * Drag and drop between the windows of the virtual display
 * (wl_data_device.start_drag, wayland.xml), as weston runs it:
 *
 * - start_drag is honoured from the client that has the pointer, with the
 *   serial of the button press it is holding; the origin loses the pointer
 *   (wl_pointer.leave) while the drag lasts.
 * - The surface under the pointer gets wl_data_device.enter with a fresh
 *   data_offer (the source's mime types and, v3, source_actions), motion,
 *   and leave when the pointer moves to another surface. A drag without a
 *   source only enters surfaces of its own client, with no offer.
 * - accept becomes wl_data_source.target; set_actions on the offer picks the
 *   action (the preferred one when both sides allow it, else copy, move, ask
 *   in that order) sent to both as `action`.
 * - Releasing the button drops: on a target that accepted a mime type (and,
 *   v3, an action) the target gets drop and the source dnd_drop_performed,
 *   then dnd_finished when the target calls finish; otherwise the target
 *   gets leave and the source cancelled.
 * - The icon surface is not shown (consumers have no drag icon role).
 */
import {
  WlDataOfferError,
  type WlDataDeviceResource,
  type WlDataOfferResource,
  type WlSurfaceResource,
} from '../../shared/generated/wayland/index.js';
import type { ClientState } from './client-state.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';
import type { ClientDataSource } from './data-device.js';

const COPY = 1;
const MOVE = 2;
const ASK = 4;

/** The action both sides agree on, or 0. */
export function chooseAction(sourceActions: number, offerActions: number, preferred: number): number {
  const both = sourceActions & offerActions;
  if ((preferred & both) !== 0 && [COPY, MOVE, ASK].includes(preferred)) return preferred;
  for (const a of [COPY, MOVE, ASK]) if ((both & a) !== 0) return a;
  return 0;
}

interface Target {
  readonly surface: Surface;
  readonly devices: WlDataDeviceResource[];
  readonly offers: WlDataOfferResource[];
  accepted: string | null;
  offerActions: number;
  preferred: number;
  action: number;
}

export class Drag {
  private target: Target | null = null;
  private ended = false;
  /** After a drop on a target: waiting for its finish. */
  private dropped: Target | null = null;

  constructor(
    private readonly ctx: DisplayContext,
    readonly client: ClientState,
    readonly source: ClientDataSource | null,
  ) {
    source?.resource.onDestroy(() => this.cancel());
  }

  /** Check a start_drag request; the reason it is ignored, or null. */
  static refusal(ctx: DisplayContext, client: ClientState, origin: Surface, serial: number): string | null {
    const focus = ctx.seat.pointerFocus;
    if (ctx.seat.drag !== null) return 'a drag is already under way';
    if (focus === null || focus.client !== client || origin.client !== client) return 'the client does not have the pointer';
    if (!ctx.seat.buttonHeld || serial !== client.lastButtonSerial) return `serial ${serial} is not that of a button held down`;
    return null;
  }

  private get sourceActions(): number {
    const s = this.source;
    if (s === null) return 0;
    return s.actionsSet ? s.actions : COPY;
  }

  /** The pointer is over `surface` (null: over nothing of ours). */
  enter(surface: Surface | null, x: number, y: number): void {
    if (this.ended) return;
    if (this.target?.surface === surface) return;
    this.leaveTarget();
    if (surface === null || surface.isDestroyed) return;
    const devices = [...surface.client.dataDevices];
    if (devices.length === 0) return;
    if (this.source === null && surface.client !== this.client) return;
    const target: Target = { surface, devices, offers: [], accepted: null, offerActions: 0, preferred: 0, action: 0 };
    this.target = target;
    const serial = this.ctx.serial();
    for (const device of devices) {
      let offer: WlDataOfferResource | null = null;
      if (this.source !== null) offer = this.offerFor(device, target);
      device.sendEnter(serial, surface.resource, x, y, offer);
    }
  }

  private offerFor(device: WlDataDeviceResource, target: Target): WlDataOfferResource {
    const source = this.source!;
    const offer = device.sendDataOffer();
    target.offers.push(offer);
    const live = (): boolean => this.target === target || this.dropped === target;
    offer.listen({
      accept: (_serial, mime) => {
        if (!live()) return;
        target.accepted = mime;
        if (!source.resource.destroyed) source.resource.sendTarget(mime);
      },
      receive: (mime, fd) => source.send(mime, fd),
      setActions: (actions, preferred) => {
        if ((actions >>> 0) & ~7) {
          offer.postError(WlDataOfferError.InvalidActionMask, `invalid action mask ${actions}`);
          return;
        }
        if (preferred !== 0 && ![COPY, MOVE, ASK].includes(preferred)) {
          offer.postError(WlDataOfferError.InvalidAction, `invalid preferred action ${preferred}`);
          return;
        }
        if (!live()) return;
        target.offerActions = actions >>> 0;
        target.preferred = preferred >>> 0;
        this.updateAction(target);
      },
      finish: () => {
        if (this.dropped !== target) {
          offer.postError(WlDataOfferError.InvalidFinish, 'finish without a drop');
          return;
        }
        this.dropped = null;
        if (!source.resource.destroyed && source.resource.version >= 3) source.resource.sendDndFinished();
      },
      destroy: () => {},
    });
    for (const mime of source.mimeTypes) offer.sendOffer(mime);
    if (offer.version >= 3) offer.sendSourceActions(this.sourceActions);
    return offer;
  }

  private updateAction(target: Target): void {
    const action = chooseAction(this.sourceActions, target.offerActions, target.preferred);
    if (action === target.action) return;
    target.action = action;
    for (const offer of target.offers) if (!offer.destroyed && offer.version >= 3) offer.sendAction(action);
    const s = this.source?.resource;
    if (s !== undefined && !s.destroyed && s.version >= 3) s.sendAction(action);
  }

  motion(timeMs: number, x: number, y: number): void {
    const target = this.target;
    if (this.ended || target === null || target.surface.isDestroyed) return;
    for (const device of target.devices) if (!device.destroyed) device.sendMotion(timeMs >>> 0, x, y);
  }

  private leaveTarget(): void {
    const target = this.target;
    this.target = null;
    if (target === null || target.surface.isDestroyed) return;
    for (const device of target.devices) if (!device.destroyed) device.sendLeave();
  }

  /** The button was released: drop on the target, or cancel. */
  drop(): void {
    if (this.ended) return;
    const target = this.target;
    const source = this.source;
    const accepted = target !== null && source !== null && target.accepted !== null && (source.resource.version < 3 || target.action !== 0);
    if (target !== null && accepted && !target.surface.isDestroyed) {
      this.target = null;
      this.dropped = target;
      for (const device of target.devices) if (!device.destroyed) device.sendDrop();
      if (!source.resource.destroyed && source.resource.version >= 3) source.resource.sendDndDropPerformed();
      this.end();
      return;
    }
    if (target !== null && source === null && !target.surface.isDestroyed) {
      // A drag inside one client: it handles the drop itself.
      this.target = null;
      for (const device of target.devices) if (!device.destroyed) device.sendDrop();
      this.end();
      return;
    }
    this.cancel();
  }

  /** The drag ends without a drop (source destroyed, nothing accepted). */
  cancel(): void {
    if (this.ended) return;
    this.leaveTarget();
    const s = this.source?.resource;
    if (s !== undefined && !s.destroyed) s.sendCancelled();
    this.end();
  }

  private end(): void {
    this.ended = true;
    this.ctx.seat.dragEnded(this);
  }
}

/** wl_data_device.start_drag. */
export function startDrag(
  ctx: DisplayContext,
  client: ClientState,
  source: ClientDataSource | null,
  originResource: WlSurfaceResource,
  serial: number,
): void {
  const origin = Surface.fromResource(originResource);
  const why = origin === undefined ? 'unknown origin surface' : Drag.refusal(ctx, client, origin, serial);
  if (why !== null) {
    ctx.logger.debug({ client: client.name }, `start_drag of ${client.name} ignored: ${why}`);
    if (source !== null) source.cancelled();
    return;
  }
  ctx.seat.startDrag(new Drag(ctx, client, source));
}
