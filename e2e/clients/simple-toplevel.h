/*
 * The xdg-shell part the simple test clients share: pong to pings, ack every
 * configure of the xdg_surface (then `configured` is 1), ignore the
 * toplevel's configures, exit when the compositor closes the window.
 * Include after xdg-shell-client-protocol.h.
 */
#ifndef WB_TEST_SIMPLE_TOPLEVEL_H
#define WB_TEST_SIMPLE_TOPLEVEL_H

#include <stdlib.h>

static int configured;

static void simple_ping(void *data, struct xdg_wm_base *base, uint32_t serial) { xdg_wm_base_pong(base, serial); }

static const struct xdg_wm_base_listener wm_listener = {simple_ping};

static void simple_surface_configure(void *data, struct xdg_surface *surface, uint32_t serial) {
  xdg_surface_ack_configure(surface, serial);
  configured = 1;
}

static const struct xdg_surface_listener surface_listener = {simple_surface_configure};

static void simple_toplevel_configure(void *data, struct xdg_toplevel *toplevel, int32_t w, int32_t h, struct wl_array *states) {}
static void simple_toplevel_close(void *data, struct xdg_toplevel *toplevel) { exit(0); }

static const struct xdg_toplevel_listener toplevel_listener = {simple_toplevel_configure, simple_toplevel_close};

#endif
