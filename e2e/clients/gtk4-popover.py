#!/usr/bin/python3
"""gtk4-popover.py: a small GTK 4 application (Python through GObject
introspection: Debian python3-gi and gir1.2-gtk-4.0) for e2e/gtk4.test.ts.

One window, titled "waltham gtk4", app_id org.waltham.gtk4-popover, 480x320:

- a GtkMenuButton drawn solid #ffc000 whose popover holds a #00c0c0 block of
  200x120 (the popover's contents, by CSS);
- a GtkDropDown drawn solid #0000ff whose list popover is #c000c0;
- a GtkEntry drawn #00c000 that turns #ff00ff once it holds "wayland".

GTK draws everything itself (no theme colours are relied on): the test finds
the widgets and the popovers on the receiver's screen by these colours.

stdin, one command a line:
  popup | popdown     gtk_menu_button_popup / gtk_menu_button_popdown
  dropdown            open the drop-down's list (its "activate" signal)
  quit
stdout, one line an event:
  ready
  popover mapped | popover unmapped | popover drawn N
  dropdown mapped | dropdown unmapped
  selected N          the drop-down's selected item
  entry TEXT          the entry's text after each change
"""
import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

TITLE = "waltham gtk4"
APP_ID = "org.waltham.gtk4-popover"

CSS = b"""
window, window.background { background: #ffffff; }
menubutton.probe > button { background: #ffc000; background-image: none; border: none; box-shadow: none; min-width: 120px; min-height: 40px; }
popover.probe > contents { background: #00c0c0; padding: 0; border: none; box-shadow: none; }
dropdown.probe > button { background: #0000ff; background-image: none; border: none; box-shadow: none; color: #ffffff; min-width: 120px; min-height: 40px; }
dropdown.probe popover > contents, dropdown.probe popover listview, dropdown.probe popover row,
dropdown.probe popover scrolledwindow { background: #c000c0; color: #ffffff; border: none; box-shadow: none; }
entry.probe { background: #00c000; background-image: none; min-height: 40px; }
entry.probe.typed { background: #ff00ff; }
"""


def say(line):
    print(line, flush=True)


class Probe(Gtk.Widget):
    """The popover's content: draws nothing itself (the popover's CSS colours
    it) but says each time GTK draws the popover."""

    drawn = 0

    def do_snapshot(self, _snapshot):
        Probe.drawn += 1
        say(f"popover drawn {Probe.drawn}")


def main():
    GLib.set_prgname(APP_ID)
    Gtk.init()
    provider = Gtk.CssProvider()
    provider.load_from_data(CSS)
    Gtk.StyleContext.add_provider_for_display(Gdk.Display.get_default(), provider, Gtk.STYLE_PROVIDER_PRIORITY_USER)

    loop = GLib.MainLoop()
    window = Gtk.Window(title=TITLE)
    window.set_default_size(480, 320)
    window.connect("close-request", lambda *_: loop.quit() or False)

    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=24)
    box.set_margin_top(24)
    box.set_margin_start(24)
    box.set_margin_end(24)
    box.set_margin_bottom(24)
    window.set_child(box)

    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=24)
    box.append(row)

    # The menu button and its popover, whose content says when GTK draws it.
    menu = Gtk.MenuButton(label="menu")
    menu.add_css_class("probe")
    menu.set_halign(Gtk.Align.START)
    popover = Gtk.Popover()
    popover.add_css_class("probe")
    area = Probe()
    area.set_size_request(200, 120)
    popover.set_child(area)
    menu.set_popover(popover)
    popover.connect("map", lambda *_: say("popover mapped"))
    popover.connect("unmap", lambda *_: say("popover unmapped"))
    row.append(menu)

    # The drop-down: its list lives in a popover of its own.
    dropdown = Gtk.DropDown.new_from_strings(["one", "two", "three"])
    dropdown.add_css_class("probe")
    dropdown.set_halign(Gtk.Align.START)
    dropdown.connect("notify::selected", lambda d, _p: say(f"selected {d.get_selected()}"))
    row.append(dropdown)

    def watch_dropdown_popover():
        # GtkDropDown keeps its popover as an internal child: find it once realized.
        child = dropdown.get_first_child()
        while child is not None:
            if isinstance(child, Gtk.Popover):
                child.connect("map", lambda *_: say("dropdown mapped"))
                child.connect("unmap", lambda *_: say("dropdown unmapped"))
                return
            child = child.get_next_sibling()
        say("dropdown popover not found")

    entry = Gtk.Entry()
    entry.add_css_class("probe")
    entry.set_placeholder_text("type here")

    def changed(e):
        text = e.get_text()
        say(f"entry {text}")
        if text == "wayland":
            e.add_css_class("typed")
        else:
            e.remove_css_class("typed")

    entry.connect("changed", changed)
    box.append(entry)

    def command(channel, condition):
        if condition & (GLib.IOCondition.HUP | GLib.IOCondition.ERR):
            loop.quit()
            return False
        line = channel.readline().strip()
        if line == "":
            loop.quit()
            return False
        if line == "popup":
            menu.popup()
        elif line == "popdown":
            menu.popdown()
        elif line == "dropdown":
            dropdown.activate()
        elif line == "quit":
            loop.quit()
            return False
        else:
            say(f"unknown command {line}")
        return True

    stdin = GLib.IOChannel.unix_new(sys.stdin.fileno())
    GLib.io_add_watch(stdin, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR, command)

    window.present()
    watch_dropdown_popover()
    say("ready")
    loop.run()


if __name__ == "__main__":
    main()
