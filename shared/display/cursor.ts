/**
 * The local pointer image: the cursor surface of the owner of the surface
 * under the pointer (wl_pointer.set_cursor).
 */
import type { SceneOwner, SceneSurface } from '../scene/scene.js';
import type { Binding } from './mirror.js';
import type { DisplayParts, DisplayState } from './state.js';

export class CursorImage {
  constructor(
    private readonly d: DisplayState,
    private readonly p: DisplayParts,
  ) {}

  onCursor(binding: Binding, owner: SceneOwner, cursor: SceneSurface | null): void {
    if (this.d.isClosed) return;
    if (cursor !== null) {
      this.p.scenes.track(cursor, binding);
      this.p.show.sync(cursor);
    }
    // Cursor surfaces no longer current for anybody go away.
    for (const m of [...this.d.mirrors.values()]) if (m.kind === 'cursor' && !this.p.show.isCurrentCursor(m.scene)) this.p.objects.destroyMirror(m);
    if (this.d.input.pointerFocus?.owner === owner) this.applyCursor();
  }

  /** Set the local pointer image for the owner under the pointer. */
  applyCursor(): void {
    const focus = this.d.input.pointerFocus;
    const mirror = focus === null ? undefined : this.d.mirrors.get(focus);
    const pointer = this.d.pointer;
    if (mirror === undefined || pointer === null || pointer.destroyed || this.d.isClosed) return;
    const serial = this.d.input.pointerSerial;
    const owner = mirror.scene.owner;
    const cursors = mirror.binding.scene.cursors;
    if (!cursors.has(owner)) return; // never set: keep the compositor's image
    const c = cursors.get(owner) ?? null;
    if (c === null) {
      pointer.setCursor(serial, null, 0, 0);
      return;
    }
    const m = this.d.mirrors.get(c);
    if (m === undefined || c.role === null || c.role.kind !== 'cursor') {
      pointer.setCursor(serial, null, 0, 0);
      return;
    }
    pointer.setCursor(serial, m.wl, c.role.hotspotX, c.role.hotspotY);
  }
}
