/**
 * The receiver's output (wthp_output): geometry, current mode and scale,
 * reported once complete (wthp_output.done, or each mode event of a
 * version 1 output).
 */
import { WthpOutputMode, type WthpOutputProxy } from '../../shared/generated/waltham/waltham.js';
import type { OutputInfo } from '../../shared/scene/output.js';
import type { ConnectionState } from './remote.js';
import { outputInfo } from './clamp.js';

export function listenOutput(conn: ConnectionState, output: WthpOutputProxy, emit: (info: OutputInfo) => void): void {
  const done = (): void => {
    const o = conn.output;
    // wthp_output names no output: name and description stay empty. Clamped: a receiver's values reach applications.
    emit(outputInfo({
      name: '',
      description: '',
      x: o.x ?? 0,
      y: o.y ?? 0,
      physicalWidth: o.physicalWidth ?? 0,
      physicalHeight: o.physicalHeight ?? 0,
      subpixel: o.subpixel ?? 0,
      make: o.make ?? '',
      model: o.model ?? '',
      transform: o.transform ?? 0,
      width: o.width ?? 0,
      height: o.height ?? 0,
      refresh: o.refresh ?? 0,
      scale: o.scale ?? 1,
    }));
  };
  output.listen({
    geometry: (x, y, physicalWidth, physicalHeight, subpixel, make, model, transform) => {
      Object.assign(conn.output, { x, y, physicalWidth, physicalHeight, subpixel, make, model, transform });
    },
    mode: (flags, width, height, refresh) => {
      if (flags & WthpOutputMode.Current) Object.assign(conn.output, { width, height, refresh });
      if (output.version < 2) done();
    },
    scale: (factor) => {
      conn.output.scale = factor;
    },
    done: () => done(),
  });
}
