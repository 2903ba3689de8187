/**
 * zwp_text_input_manager_v1 v1, inert: text inputs are created and accept
 * every request, but no input method exists, so they are never entered
 * (no `enter` event) and never receive text. weston-editor exits without the
 * global; it types through wl_keyboard like any other client.
 */
import { ZwpTextInputManagerV1Resource } from '../../shared/generated/wayland/index.js';
import type { DisplayContext } from './context.js';

export function registerTextInput(ctx: DisplayContext): void {
  ctx.server.addGlobal(ZwpTextInputManagerV1Resource, 1, (manager) => {
    manager.listen({
      createTextInput: (textInput) => {
        textInput.listen({
          activate: () => {},
          deactivate: () => {},
          showInputPanel: () => {},
          hideInputPanel: () => {},
          reset: () => {},
          setSurroundingText: () => {},
          setContentType: () => {},
          setCursorRectangle: () => {},
          setPreferredLanguage: () => {},
          commitState: () => {},
          invokeAction: () => {},
        });
      },
    });
  });
}
