/**
 * An output (a screen) as every part describes it: the local compositor's
 * outputs (wl_output, xdg_output), a receiver's output on the wire
 * (wthp_output) and the one output of the transmitter's virtual display.
 * Units are wl_output's (wayland.xml): pixels for the mode, mHz for the
 * refresh rate, millimetres for the physical size.
 */

export interface OutputInfo {
  /** wl_output v4 or xdg_output name ('HDMI-A-1', 'X1', 'headless'...); '' when none is known (wthp_output carries none). */
  readonly name: string;
  /** wl_output v4 or xdg_output description; '' when none is known. */
  readonly description: string;
  readonly make: string;
  readonly model: string;
  /** Position in the compositor's global space (wl_output.geometry x, y). */
  readonly x: number;
  readonly y: number;
  /** Current mode, in pixels. */
  readonly width: number;
  readonly height: number;
  /** Refresh rate of the current mode, in mHz (60 Hz = 60000). */
  readonly refresh: number;
  /** Integer output scale (wl_output.scale). */
  readonly scale: number;
  /** Physical size in millimetres (0 when unknown). */
  readonly physicalWidth: number;
  readonly physicalHeight: number;
  /** wl_output.subpixel */
  readonly subpixel: number;
  /** wl_output.transform */
  readonly transform: number;
}

/** What an output is taken to be until a real one is known. */
export const DEFAULT_OUTPUT: OutputInfo = {
  name: 'WALTHAM-1',
  description: '',
  make: 'waltham-bridge',
  model: 'remote output',
  x: 0,
  y: 0,
  width: 1920,
  height: 1080,
  refresh: 60000,
  scale: 1,
  physicalWidth: 0,
  physicalHeight: 0,
  subpixel: 0,
  transform: 0,
};
