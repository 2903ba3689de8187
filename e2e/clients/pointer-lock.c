/*
 * pointer-lock: an xdg toplevel (app_id "pointer-lock", 300x200, grey) that
 * locks the pointer (zwp_pointer_constraints_v1, persistent) as soon as it
 * has a wl_pointer, and prints one line per event on stdout:
 *   "locked", "unlocked", "enter X Y", "motion X Y", "relative DX DY".
 * Runs until killed. Built by the tests: wayland-scanner on
 * protocol/wayland/xdg-shell.xml, pointer-constraints-unstable-v1.xml and
 * relative-pointer-unstable-v1.xml.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"
#include "simple-toplevel.h"
#include "pointer-constraints-unstable-v1-client-protocol.h"
#include "relative-pointer-unstable-v1-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm;
static struct wl_seat *seat;
static struct zwp_pointer_constraints_v1 *constraints;
static struct zwp_relative_pointer_manager_v1 *relative_manager;
static struct wl_surface *surface;
static struct wl_pointer *pointer;
static void seat_capabilities(void *data, struct wl_seat *s, uint32_t caps);
static void seat_name(void *data, struct wl_seat *s, const char *name) {}
static const struct wl_seat_listener seat_listener = {seat_capabilities, seat_name};

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "xdg_wm_base") == 0) wm = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
  else if (strcmp(interface, "wl_seat") == 0 && seat == NULL) {
    seat = wl_registry_bind(registry, name, &wl_seat_interface, 5);
    wl_seat_add_listener(seat, &seat_listener, NULL);
  }
  else if (strcmp(interface, "zwp_pointer_constraints_v1") == 0) constraints = wl_registry_bind(registry, name, &zwp_pointer_constraints_v1_interface, 1);
  else if (strcmp(interface, "zwp_relative_pointer_manager_v1") == 0) relative_manager = wl_registry_bind(registry, name, &zwp_relative_pointer_manager_v1_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}
static const struct wl_registry_listener registry_listener = {global, global_remove};

static void say(const char *format, double a, double b, int n) {
  if (n == 0) printf("%s\n", format);
  else printf(format, a, b);
  fflush(stdout);
}

static void locked(void *data, struct zwp_locked_pointer_v1 *lock) { say("locked", 0, 0, 0); }
static void unlocked(void *data, struct zwp_locked_pointer_v1 *lock) { say("unlocked", 0, 0, 0); }
static const struct zwp_locked_pointer_v1_listener lock_listener = {locked, unlocked};

static void relative_motion(void *data, struct zwp_relative_pointer_v1 *rel, uint32_t hi, uint32_t lo, wl_fixed_t dx, wl_fixed_t dy, wl_fixed_t dxu, wl_fixed_t dyu) {
  say("relative %.2f %.2f\n", wl_fixed_to_double(dx), wl_fixed_to_double(dy), 2);
}
static const struct zwp_relative_pointer_v1_listener relative_listener = {relative_motion};

static void p_enter(void *d, struct wl_pointer *p, uint32_t serial, struct wl_surface *s, wl_fixed_t x, wl_fixed_t y) {
  say("enter %.2f %.2f\n", wl_fixed_to_double(x), wl_fixed_to_double(y), 2);
}
static void p_leave(void *d, struct wl_pointer *p, uint32_t serial, struct wl_surface *s) { say("leave", 0, 0, 0); }
static void p_motion(void *d, struct wl_pointer *p, uint32_t time, wl_fixed_t x, wl_fixed_t y) {
  say("motion %.2f %.2f\n", wl_fixed_to_double(x), wl_fixed_to_double(y), 2);
}
static void p_button(void *d, struct wl_pointer *p, uint32_t serial, uint32_t time, uint32_t button, uint32_t state) {}
static void p_axis(void *d, struct wl_pointer *p, uint32_t time, uint32_t axis, wl_fixed_t value) {}
static void p_frame(void *d, struct wl_pointer *p) {}
static void p_axis_source(void *d, struct wl_pointer *p, uint32_t source) {}
static void p_axis_stop(void *d, struct wl_pointer *p, uint32_t time, uint32_t axis) {}
static void p_axis_discrete(void *d, struct wl_pointer *p, uint32_t axis, int32_t discrete) {}
static const struct wl_pointer_listener pointer_listener = {p_enter, p_leave, p_motion, p_button, p_axis, p_frame, p_axis_source, p_axis_stop, p_axis_discrete};

static uint32_t seat_caps;

/* Once the surface exists and the seat has a pointer: relative pointer and lock. */
static void setup_pointer(void) {
  if ((seat_caps & WL_SEAT_CAPABILITY_POINTER) && pointer == NULL && surface != NULL) {
    pointer = wl_seat_get_pointer(seat);
    wl_pointer_add_listener(pointer, &pointer_listener, NULL);
    struct zwp_relative_pointer_v1 *rel = zwp_relative_pointer_manager_v1_get_relative_pointer(relative_manager, pointer);
    zwp_relative_pointer_v1_add_listener(rel, &relative_listener, NULL);
    struct zwp_locked_pointer_v1 *lock = zwp_pointer_constraints_v1_lock_pointer(constraints, surface, pointer, NULL, ZWP_POINTER_CONSTRAINTS_V1_LIFETIME_PERSISTENT);
    zwp_locked_pointer_v1_add_listener(lock, &lock_listener, NULL);
    wl_surface_commit(surface);
    say("pointer", 0, 0, 0);
  }
}

static void seat_capabilities(void *data, struct wl_seat *s, uint32_t caps) {
  seat_caps = caps;
  setup_pointer();
}

int main(void) {
  const int w = 300, h = 200;
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (!compositor || !shm || !wm || !seat || !constraints || !relative_manager) {
    fprintf(stderr, "missing a global (compositor, shm, xdg_wm_base, seat, pointer constraints, relative pointer)\n");
    return 1;
  }
  xdg_wm_base_add_listener(wm, &wm_listener, NULL);
  struct wl_buffer *buffer = solid_buffer(shm, w, h, 0xff808080);

  surface = wl_compositor_create_surface(compositor);
  struct xdg_surface *xdg_surface = xdg_wm_base_get_xdg_surface(wm, surface);
  xdg_surface_add_listener(xdg_surface, &surface_listener, NULL);
  struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg_surface);
  xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
  xdg_toplevel_set_title(toplevel, "pointer-lock");
  xdg_toplevel_set_app_id(toplevel, "pointer-lock");
  wl_surface_commit(surface);
  while (!configured && wl_display_dispatch(display) != -1) {}
  wl_surface_attach(surface, buffer, 0, 0);
  wl_surface_damage(surface, 0, 0, w, h);
  wl_surface_commit(surface);
  setup_pointer();
  wl_display_roundtrip(display);
  say("committed", 0, 0, 0);
  while (wl_display_dispatch(display) != -1) {}
  return 0;
}
