/*
 * xdg-window W H RRGGBB: one solid-colour xdg_toplevel whose window
 * management requests are driven by lines on stdin, and which prints what the
 * compositor answers, one line per event, on stdout.
 *
 * stdin:
 *   fullscreen | unfullscreen | maximize | unmaximize | minimize
 *   move-on-press           the next button press starts xdg_toplevel.move (with its serial)
 *   resize-on-press EDGES   the next button press starts xdg_toplevel.resize
 *   popup X Y W H ANCHOR GRAVITY ADJUSTMENT
 *                           an orange popup of W x H on the anchor rectangle (X, Y, 1, 1)
 *                           (window coordinates), with that xdg_positioner anchor, gravity
 *                           and constraint_adjustment
 *   reposition X Y W H ANCHOR GRAVITY ADJUSTMENT   xdg_popup.reposition (xdg_wm_base v3)
 * stdout:
 *   configure W H STATE,...     xdg_toplevel.configure (states by name, "-" for none)
 *   drawn W H                   a buffer of that size was committed
 *   popup-configure X Y W H     xdg_popup.configure
 *   popup-repositioned TOKEN
 *   popup-done
 *   button SERIAL STATE X Y
 *   move SERIAL | resize SERIAL EDGES
 *
 * The window keeps the size of its last configure; a configure of 0x0 gives
 * it back its windowed size (the last one it had neither fullscreen nor
 * maximized, W x H at first), as xdg-shell clients do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm_base;
static struct wl_seat *seat;
static struct wl_pointer *pointer;
static struct wl_surface *surface;
static struct xdg_surface *xdg_surface;
static struct xdg_toplevel *toplevel;
static uint32_t colour;
static int windowed_w, windowed_h, cur_w, cur_h, pending_w, pending_h;
static int pending_fullscreen, pending_maximized;
static double px, py;
static int press_action; /* 0 nothing, 1 move, 2 resize */
static uint32_t press_edges;

static struct {
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_popup *popup;
	int w, h, pending_w, pending_h;
} popup;

static void buffer_release(void *data, struct wl_buffer *buffer) { wl_buffer_destroy(buffer); }
static const struct wl_buffer_listener buffer_listener = { buffer_release };

static void draw(struct wl_surface *s, int w, int h, uint32_t argb) {
	struct wl_buffer *b = solid_buffer(shm, w, h, argb);
	wl_buffer_add_listener(b, &buffer_listener, NULL);
	wl_surface_attach(s, b, 0, 0);
	wl_surface_damage_buffer(s, 0, 0, w, h);
	wl_surface_commit(s);
}

static void wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial) { xdg_wm_base_pong(wm, serial); }
static const struct xdg_wm_base_listener wm_listener = { wm_ping };

static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h, struct wl_array *states) {
	char names[128] = "";
	uint32_t *st;
	pending_fullscreen = pending_maximized = 0;
	wl_array_for_each(st, states) {
		const char *n = *st == XDG_TOPLEVEL_STATE_MAXIMIZED ? "maximized"
			: *st == XDG_TOPLEVEL_STATE_FULLSCREEN ? "fullscreen"
			: *st == XDG_TOPLEVEL_STATE_RESIZING ? "resizing"
			: *st == XDG_TOPLEVEL_STATE_ACTIVATED ? "activated" : "other";
		if (*st == XDG_TOPLEVEL_STATE_MAXIMIZED) pending_maximized = 1;
		if (*st == XDG_TOPLEVEL_STATE_FULLSCREEN) pending_fullscreen = 1;
		if (names[0]) strncat(names, ",", sizeof names - strlen(names) - 1);
		strncat(names, n, sizeof names - strlen(names) - 1);
	}
	printf("configure %d %d %s\n", w, h, names[0] ? names : "-");
	pending_w = w;
	pending_h = h;
}
static void toplevel_close(void *data, struct xdg_toplevel *t) { exit(0); }
static const struct xdg_toplevel_listener toplevel_listener = { toplevel_configure, toplevel_close };

static void surface_configure(void *data, struct xdg_surface *x, uint32_t serial) {
	xdg_surface_ack_configure(x, serial);
	int w = pending_w > 0 ? pending_w : windowed_w, h = pending_h > 0 ? pending_h : windowed_h;
	if (!pending_fullscreen && !pending_maximized) {
		windowed_w = w;
		windowed_h = h;
	}
	if (w != cur_w || h != cur_h || !cur_w) {
		cur_w = w;
		cur_h = h;
		draw(surface, w, h, colour);
		printf("drawn %d %d\n", w, h);
	} else {
		wl_surface_commit(surface);
	}
}
static const struct xdg_surface_listener surface_listener = { surface_configure };

static void popup_configure(void *data, struct xdg_popup *p, int32_t x, int32_t y, int32_t w, int32_t h) {
	printf("popup-configure %d %d %d %d\n", x, y, w, h);
	popup.pending_w = w;
	popup.pending_h = h;
}
static void popup_done(void *data, struct xdg_popup *p) { printf("popup-done\n"); }
static void popup_repositioned(void *data, struct xdg_popup *p, uint32_t token) { printf("popup-repositioned %u\n", token); }
static const struct xdg_popup_listener popup_listener = { popup_configure, popup_done, popup_repositioned };

static void popup_surface_configure(void *data, struct xdg_surface *x, uint32_t serial) {
	xdg_surface_ack_configure(x, serial);
	if (popup.pending_w != popup.w || popup.pending_h != popup.h || !popup.w) {
		popup.w = popup.pending_w;
		popup.h = popup.pending_h;
		draw(popup.surface, popup.w, popup.h, 0xffff8000);
	} else {
		wl_surface_commit(popup.surface);
	}
}
static const struct xdg_surface_listener popup_surface_listener = { popup_surface_configure };

static void p_enter(void *d, struct wl_pointer *p, uint32_t serial, struct wl_surface *s, wl_fixed_t x, wl_fixed_t y) {
	px = wl_fixed_to_double(x);
	py = wl_fixed_to_double(y);
}
static void p_leave(void *d, struct wl_pointer *p, uint32_t serial, struct wl_surface *s) {}
static void p_motion(void *d, struct wl_pointer *p, uint32_t time, wl_fixed_t x, wl_fixed_t y) {
	px = wl_fixed_to_double(x);
	py = wl_fixed_to_double(y);
}
static void p_button(void *d, struct wl_pointer *p, uint32_t serial, uint32_t time, uint32_t button, uint32_t state) {
	printf("button %u %s %d %d\n", serial, state ? "pressed" : "released", (int)px, (int)py);
	if (!state || !press_action) return;
	if (press_action == 1) {
		xdg_toplevel_move(toplevel, seat, serial);
		printf("move %u\n", serial);
	} else {
		xdg_toplevel_resize(toplevel, seat, serial, press_edges);
		printf("resize %u %u\n", serial, press_edges);
	}
	press_action = 0;
}
static void p_axis(void *d, struct wl_pointer *p, uint32_t time, uint32_t axis, wl_fixed_t v) {}
static const struct wl_pointer_listener pointer_listener = { p_enter, p_leave, p_motion, p_button, p_axis };

static void seat_caps(void *d, struct wl_seat *s, uint32_t caps) {
	if ((caps & WL_SEAT_CAPABILITY_POINTER) && !pointer) {
		pointer = wl_seat_get_pointer(s);
		wl_pointer_add_listener(pointer, &pointer_listener, NULL);
	}
}
static void seat_name(void *d, struct wl_seat *s, const char *name) {}
static const struct wl_seat_listener seat_listener = { seat_caps, seat_name };

static void reg_add(void *d, struct wl_registry *r, uint32_t n, const char *i, uint32_t v) {
	if (!strcmp(i, "wl_compositor")) compositor = wl_registry_bind(r, n, &wl_compositor_interface, 4);
	else if (!strcmp(i, "wl_shm")) shm = wl_registry_bind(r, n, &wl_shm_interface, 1);
	else if (!strcmp(i, "xdg_wm_base")) wm_base = wl_registry_bind(r, n, &xdg_wm_base_interface, v < 3 ? v : 3);
	else if (!strcmp(i, "wl_seat") && !seat) {
		seat = wl_registry_bind(r, n, &wl_seat_interface, 1);
		wl_seat_add_listener(seat, &seat_listener, NULL);
	}
}
static void reg_rm(void *d, struct wl_registry *r, uint32_t n) {}
static const struct wl_registry_listener registry_listener = { reg_add, reg_rm };

static struct xdg_positioner *positioner(int x, int y, int w, int h, int anchor, int gravity, int adj) {
	struct xdg_positioner *p = xdg_wm_base_create_positioner(wm_base);
	xdg_positioner_set_size(p, w, h);
	xdg_positioner_set_anchor_rect(p, x, y, 1, 1);
	xdg_positioner_set_anchor(p, anchor);
	xdg_positioner_set_gravity(p, gravity);
	xdg_positioner_set_constraint_adjustment(p, adj);
	return p;
}

static void command(char *line) {
	int x, y, w, h, a, g, adj;
	if (!strcmp(line, "fullscreen")) xdg_toplevel_set_fullscreen(toplevel, NULL);
	else if (!strcmp(line, "unfullscreen")) xdg_toplevel_unset_fullscreen(toplevel);
	else if (!strcmp(line, "maximize")) xdg_toplevel_set_maximized(toplevel);
	else if (!strcmp(line, "unmaximize")) xdg_toplevel_unset_maximized(toplevel);
	else if (!strcmp(line, "minimize")) xdg_toplevel_set_minimized(toplevel);
	else if (!strcmp(line, "move-on-press")) press_action = 1;
	else if (sscanf(line, "resize-on-press %d", &a) == 1) { press_action = 2; press_edges = a; }
	else if (sscanf(line, "popup %d %d %d %d %d %d %d", &x, &y, &w, &h, &a, &g, &adj) == 7 && !popup.popup) {
		struct xdg_positioner *p = positioner(x, y, w, h, a, g, adj);
		popup.surface = wl_compositor_create_surface(compositor);
		popup.xdg_surface = xdg_wm_base_get_xdg_surface(wm_base, popup.surface);
		xdg_surface_add_listener(popup.xdg_surface, &popup_surface_listener, NULL);
		popup.popup = xdg_surface_get_popup(popup.xdg_surface, xdg_surface, p);
		xdg_popup_add_listener(popup.popup, &popup_listener, NULL);
		xdg_positioner_destroy(p);
		wl_surface_commit(popup.surface);
	} else if (sscanf(line, "reposition %d %d %d %d %d %d %d", &x, &y, &w, &h, &a, &g, &adj) == 7 && popup.popup) {
		struct xdg_positioner *p = positioner(x, y, w, h, a, g, adj);
		xdg_popup_reposition(popup.popup, p, 7);
		xdg_positioner_destroy(p);
	} else {
		printf("unknown command: %s\n", line);
	}
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: xdg-window W H RRGGBB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	windowed_w = atoi(argv[1]);
	windowed_h = atoi(argv[2]);
	colour = 0xff000000 | strtoul(argv[3], NULL, 16);
	struct wl_display *d = wl_display_connect(NULL);
	if (!d) { fprintf(stderr, "cannot connect\n"); return 1; }
	wl_registry_add_listener(wl_display_get_registry(d), &registry_listener, NULL);
	wl_display_roundtrip(d);
	if (!compositor || !shm || !wm_base) { fprintf(stderr, "missing globals\n"); return 1; }
	xdg_wm_base_add_listener(wm_base, &wm_listener, NULL);
	surface = wl_compositor_create_surface(compositor);
	xdg_surface = xdg_wm_base_get_xdg_surface(wm_base, surface);
	xdg_surface_add_listener(xdg_surface, &surface_listener, NULL);
	toplevel = xdg_surface_get_toplevel(xdg_surface);
	xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
	xdg_toplevel_set_title(toplevel, "xdg-window");
	xdg_toplevel_set_app_id(toplevel, "org.waltham.xdg-window");
	wl_surface_commit(surface);

	char buf[512];
	size_t len = 0;
	struct pollfd fds[2] = { { wl_display_get_fd(d), POLLIN, 0 }, { 0, POLLIN, 0 } };
	int nfds = 2;
	for (;;) {
		while (wl_display_prepare_read(d) != 0) wl_display_dispatch_pending(d);
		if (wl_display_flush(d) < 0 && errno != EAGAIN) return 1;
		if (poll(fds, nfds, -1) < 0) {
			wl_display_cancel_read(d);
			if (errno == EINTR) continue;
			return 1;
		}
		if (fds[0].revents & POLLIN) {
			if (wl_display_read_events(d) < 0) return 1;
		} else {
			wl_display_cancel_read(d);
		}
		if (fds[0].revents & (POLLERR | POLLHUP)) return 1;
		if (wl_display_dispatch_pending(d) < 0) return 1;
		if (nfds == 2 && fds[1].revents) {
			ssize_t n = read(0, buf + len, sizeof buf - 1 - len);
			if (n <= 0) { nfds = 1; continue; }
			len += n;
			char *nl;
			while ((nl = memchr(buf, '\n', len)) != NULL) {
				*nl = 0;
				command(buf);
				len -= nl + 1 - buf;
				memmove(buf, nl + 1, len);
			}
			if (len == sizeof buf - 1) len = 0;
			wl_display_flush(d);
		}
	}
}
