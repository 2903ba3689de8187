/**
 * The globals applications ask for beyond the core set (issue: "the globals
 * applications ask for"), one file each; this registers them all, so the
 * display's constructor keeps a single hook.
 */
import type { DisplayContext } from './context.js';
import { registerActivation } from './activation.js';
import { registerDecoration } from './decoration.js';
import { registerFractionalScale } from './fractional-scale.js';
import { registerIdleInhibit } from './idle-inhibit.js';
import { registerPointerConstraints } from './pointer-constraints.js';
import { registerRelativePointer } from './relative-pointer.js';
import { registerSeatCapabilities } from './seat-capabilities.js';
import { registerTextInputV3 } from './text-input-v3.js';
import { registerViewporter } from './viewporter.js';

export function registerExtensions(ctx: DisplayContext): void {
  registerViewporter(ctx);
  registerDecoration(ctx);
  registerTextInputV3(ctx);
  registerActivation(ctx);
  registerRelativePointer(ctx);
  registerPointerConstraints(ctx);
  registerIdleInhibit(ctx);
  registerSeatCapabilities(ctx);
  registerFractionalScale(ctx);
}
