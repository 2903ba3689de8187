/**
 * What the receiver's compositor offers, announced to the scene's producers
 * (`Scene.setConsumerOffers`): its seat's capabilities (wthp_seat) and
 * server-side decorations (the receiver offers wthp_decoration_manager only
 * when its compositor has xdg-decoration).
 */
import { WthpSeatCapability } from '../../shared/generated/waltham/waltham.js';
import type { ConsumerOffer, Scene } from '../../shared/scene/scene.js';
import type { ConnectionState } from './remote.js';

export function announceOffers(scene: Scene, conn: ConnectionState): void {
  const offers: ConsumerOffer[] = [];
  const caps = conn.seatCapabilities;
  if ((caps & WthpSeatCapability.Pointer) !== 0) offers.push('seat:pointer');
  if ((caps & WthpSeatCapability.Keyboard) !== 0) offers.push('seat:keyboard');
  if ((caps & WthpSeatCapability.Touch) !== 0) offers.push('seat:touch');
  if (conn.decorations !== null) offers.push('server-side-decorations');
  if (conn.fractionalScale !== null) offers.push('fractional-scale');
  scene.setConsumerOffers(conn, offers);
}
