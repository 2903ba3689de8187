/**
 * The globals applications ask for beyond the core set (issue: "the globals
 * applications ask for"), one file each; this registers them all, so the
 * display's constructor keeps a single hook.
 */
import type { DisplayContext } from './context.js';
import { registerViewporter } from './viewporter.js';

export function registerExtensions(ctx: DisplayContext): void {
  registerViewporter(ctx);
}
