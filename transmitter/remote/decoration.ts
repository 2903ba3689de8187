/**
 * xdg-decoration over the link: a toplevel whose application asked for a
 * decoration mode gets a wthp_toplevel_decoration (before the commit that
 * maps it on the receiver) carrying that wish; the mode the receiving
 * compositor chose comes back to the producer (`feedback.decorationMode`).
 */
import { WthpToplevelDecorationMode, type WthpToplevelDecorationProxy, type WthpToplevelProxy } from '../../shared/generated/waltham/waltham.js';
import type { ToplevelRole } from '../../shared/scene/scene.js';
import type { ConnectionState, LinkContext, Remote } from './remote.js';

const sent = new WeakMap<Remote, { proxy: WthpToplevelDecorationProxy; mode: number }>();

export function sendDecoration(ctx: LinkContext, conn: ConnectionState, r: Remote, role: ToplevelRole): void {
  if (conn.decorations === null || role.decoration === undefined || r.role === null) return;
  const mode = role.decoration === 'server' ? WthpToplevelDecorationMode.ServerSide : WthpToplevelDecorationMode.ClientSide;
  let d = sent.get(r);
  if (d === undefined) {
    const proxy = conn.decorations.getToplevelDecoration(r.role as WthpToplevelProxy);
    const s = r.scene;
    proxy.listen({
      configure: (m) => {
        if (m === WthpToplevelDecorationMode.ServerSide || m === WthpToplevelDecorationMode.ClientSide) {
          ctx.feedbackFor(s).decorationMode?.(s, m === WthpToplevelDecorationMode.ServerSide ? 'server' : 'client');
        }
      },
    });
    d = { proxy, mode: 0 };
    sent.set(r, d);
  }
  if (d.mode !== mode) {
    d.proxy.setMode(mode);
    d.mode = mode;
  }
}
