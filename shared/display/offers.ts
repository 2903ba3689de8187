/**
 * What this display's compositor offers, told to the scenes it shows
 * (`Scene.setConsumerOffers`): its seat's capabilities and server-side
 * decorations. The transmitter's virtual display adapts to them (wl_seat
 * capabilities, xdg-decoration modes) when it is shown on a local
 * compositor (`--display`).
 */
import { WlSeatCapability } from '../generated/wayland/index.js';
import type { ConsumerOffer } from '../scene/scene.js';
import type { DisplayState } from './state.js';

export function displayOffers(d: DisplayState): ConsumerOffer[] {
  const out: ConsumerOffer[] = [];
  if ((d.seatCapabilities & WlSeatCapability.Pointer) !== 0) out.push('seat:pointer');
  if ((d.seatCapabilities & WlSeatCapability.Keyboard) !== 0) out.push('seat:keyboard');
  if ((d.seatCapabilities & WlSeatCapability.Touch) !== 0) out.push('seat:touch');
  if (d.decorationManager !== null) out.push('server-side-decorations');
  if (d.fractionalScaleManager !== null) out.push('fractional-scale');
  return out;
}

/** Tell every attached scene (again). */
export function announceDisplayOffers(d: DisplayState, owner: object): void {
  const offers = displayOffers(d);
  for (const scene of d.bindings.keys()) scene.setConsumerOffers(owner, offers);
}
