/**
 * xdg_activation_v1 v1: activation tokens, and activate.
 *
 * A token is issued for every commit of a token object (the display has no
 * focus-stealing policy of its own: the receiving compositor has the last
 * word on what is shown in front). `activate` with a token this display
 * issued gives the surface keyboard focus while no consumer drives focus;
 * otherwise it is logged and ignored, as a compositor may do. Tokens are
 * single use and expire after 30 s.
 */
import { randomBytes } from 'node:crypto';
import { XdgActivationTokenV1Error, XdgActivationV1Resource } from '../../shared/generated/wayland/index.js';
import { Surface } from './compositor.js';
import type { DisplayContext } from './context.js';

const TOKEN_LIFETIME_MS = 30_000;

export function registerActivation(ctx: DisplayContext): void {
  const tokens = new Map<string, number>();
  ctx.server.addGlobal(XdgActivationV1Resource, 1, (activation) => {
    activation.listen({
      destroy: () => {},
      getActivationToken: (id) => {
        let committed = false;
        const used = (): boolean => {
          if (!committed) return false;
          id.postError(XdgActivationTokenV1Error.AlreadyUsed, `${id.toString()} was already committed`);
          return true;
        };
        id.listen({
          setSerial: () => void used(),
          setAppId: () => void used(),
          setSurface: () => void used(),
          destroy: () => {},
          commit: () => {
            if (used()) return;
            committed = true;
            const now = Date.now();
            for (const [t, at] of tokens) if (now - at > TOKEN_LIFETIME_MS) tokens.delete(t);
            const token = randomBytes(16).toString('hex');
            tokens.set(token, now);
            id.sendDone(token);
          },
        });
      },
      activate: (token, surfaceResource) => {
        const at = tokens.get(token);
        tokens.delete(token);
        const surface = Surface.fromResource(surfaceResource);
        if (at === undefined || Date.now() - at > TOKEN_LIFETIME_MS || surface === undefined || !surface.scene.mapped) {
          ctx.logger.debug({ client: surface?.client.name }, 'xdg_activation_v1.activate ignored (unknown or expired token, or an unmapped surface)');
          return;
        }
        if (!ctx.seat.consumerDrivesFocus) ctx.seat.setKeyboardFocus(surface);
      },
    });
  });
}
