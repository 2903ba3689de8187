/**
 * Keyboard focus between transmitters. The local compositor decides which
 * surface has the keyboard; weston and most shells give it to a window as
 * soon as it maps. So a transmitter could take the keys typed for another
 * one's application by mapping a window (a transparent fullscreen one with
 * a borrowed title, say) while the user types.
 *
 * The rule: the keyboard focus moves from one transmitter to another only
 * when the user pressed (pointer button or touch) on a surface of the new
 * one, or when the old one has gone away. Until then the focus the
 * compositor gave is held back: the new transmitter gets no enter and no
 * keys (they reach nobody), and it gets the enter when the user presses on
 * its surface. Within one transmitter the compositor's focus is followed as
 * it is.
 */

/** What the guard needs of a transmitter. */
export interface FocusPeer {
  /** Whether it is still connected. */
  readonly gone: boolean;
}

export class FocusGuard<P extends FocusPeer> {
  /** The transmitter that last had keyboard focus (null: none yet, or it went away). */
  private holder: P | null = null;
  /** The transmitter the user last pressed on. */
  private pressed: P | null = null;
  /** Held back keyboard enters, by transmitter: delivered on a press on it. */
  private readonly waiting = new Map<P, () => void>();

  /**
   * The compositor gave `peer` the keyboard focus: true when it may have it
   * now; else `deliver` runs once the user presses on it (or never).
   */
  enter(peer: P, deliver: () => void): boolean {
    if (this.holder !== null && this.holder.gone) this.holder = null;
    if (this.holder === null || this.holder === peer || this.pressed === peer) {
      this.holder = peer;
      this.waiting.delete(peer);
      return true;
    }
    this.waiting.set(peer, deliver);
    return false;
  }

  /** The compositor took the keyboard focus from `peer` (before it had delivered, it is simply forgotten). */
  leave(peer: P): void {
    this.waiting.delete(peer);
  }

  /** Whether keys and modifiers may go to `peer` (it holds the focus, not a held back one). */
  mayType(peer: P): boolean {
    return this.holder === peer && !this.waiting.has(peer);
  }

  /** The user pressed on a surface of `peer`: a held back focus is given now. */
  press(peer: P): void {
    this.pressed = peer;
    const deliver = this.waiting.get(peer);
    if (deliver === undefined) return;
    this.waiting.delete(peer);
    this.holder = peer;
    deliver();
  }

  /** `peer` went away. */
  forget(peer: P): void {
    this.waiting.delete(peer);
    if (this.holder === peer) this.holder = null;
    if (this.pressed === peer) this.pressed = null;
  }
}
