/** The virtual Wayland display of the transmitter (see display.ts). */
export { VirtualDisplay, type VirtualDisplayEvents, type VirtualDisplayOptions } from './display.js';
export type { OutputInfo } from '../../shared/scene/output.js';
export { ClientState } from './client-state.js';
export { DEFAULT_KEYMAP } from './keymap.js';
export { MAX_BUFFER_PIXELS, SHM_FORMATS } from './shm.js';
