/*
 * viewport-quad W H: an xdg toplevel (app_id "viewport-quad") whose 100x100
 * buffer holds four quadrants (red top left, green top right, blue bottom
 * left, white bottom right); a wp_viewport crops it to the green quadrant
 * (source 50,0 50x50) and scales that to W x H. Shown right, the window is
 * W x H of green only. Prints "committed" after its first buffer, then
 * "enter X Y" and "motion X Y" for the pointer (surface coordinates, i.e. of
 * the W x H destination), runs until killed. Built by the tests: wayland-scanner on protocol/wayland/xdg-shell.xml
 * and viewporter.xml.
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
#include "viewporter-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm;
static struct wp_viewporter *viewporter;
static struct wl_seat *seat;

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "xdg_wm_base") == 0) wm = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
  else if (strcmp(interface, "wp_viewporter") == 0) viewporter = wl_registry_bind(registry, name, &wp_viewporter_interface, 1);
  else if (strcmp(interface, "wl_seat") == 0 && seat == NULL) seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
}

static void pointer_enter(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s, wl_fixed_t x, wl_fixed_t y) {
  printf("enter %.0f %.0f\n", wl_fixed_to_double(x), wl_fixed_to_double(y));
  fflush(stdout);
}
static void pointer_leave(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s) {}
static void pointer_motion(void *data, struct wl_pointer *p, uint32_t time, wl_fixed_t x, wl_fixed_t y) {
  printf("motion %.0f %.0f\n", wl_fixed_to_double(x), wl_fixed_to_double(y));
  fflush(stdout);
}
static void pointer_button(void *data, struct wl_pointer *p, uint32_t serial, uint32_t time, uint32_t button, uint32_t state) {}
static void pointer_axis(void *data, struct wl_pointer *p, uint32_t time, uint32_t axis, wl_fixed_t value) {}

static const struct wl_pointer_listener pointer_listener = {pointer_enter, pointer_leave, pointer_motion, pointer_button, pointer_axis};

static void seat_capabilities(void *data, struct wl_seat *s, uint32_t caps) {
  static struct wl_pointer *pointer;
  if ((caps & WL_SEAT_CAPABILITY_POINTER) && pointer == NULL) {
    pointer = wl_seat_get_pointer(s);
    wl_pointer_add_listener(pointer, &pointer_listener, NULL);
  }
}

static const struct wl_seat_listener seat_listener = {seat_capabilities};

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

/* Red, green, blue and white quadrants (top left, top right, bottom left, bottom right). */
static void quadrants(uint32_t *px, int w, int h, void *data) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      px[y * w + x] = x < w / 2 ? (y < h / 2 ? 0xffff0000 : 0xff0000ff) : (y < h / 2 ? 0xff00ff00 : 0xffffffff);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: viewport-quad W H\n");
    return 2;
  }
  int dw = atoi(argv[1]), dh = atoi(argv[2]);
  const int size = 100;
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (compositor == NULL || shm == NULL || wm == NULL || viewporter == NULL) {
    fprintf(stderr, "missing wl_compositor, wl_shm, xdg_wm_base or wp_viewporter\n");
    return 1;
  }
  xdg_wm_base_add_listener(wm, &wm_listener, NULL);
  if (seat != NULL) wl_seat_add_listener(seat, &seat_listener, NULL);

  struct wl_buffer *buffer = shm_buffer(shm, size, size, quadrants, NULL);

  struct wl_surface *surface = wl_compositor_create_surface(compositor);
  struct wp_viewport *viewport = wp_viewporter_get_viewport(viewporter, surface);
  struct xdg_surface *xdg_surface = xdg_wm_base_get_xdg_surface(wm, surface);
  xdg_surface_add_listener(xdg_surface, &surface_listener, NULL);
  struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg_surface);
  xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
  xdg_toplevel_set_title(toplevel, "viewport-quad");
  xdg_toplevel_set_app_id(toplevel, "viewport-quad");
  wl_surface_commit(surface);
  while (!configured && wl_display_dispatch(display) != -1) {}

  wp_viewport_set_source(viewport, wl_fixed_from_int(size / 2), 0, wl_fixed_from_int(size / 2), wl_fixed_from_int(size / 2));
  wp_viewport_set_destination(viewport, dw, dh);
  wl_surface_attach(surface, buffer, 0, 0);
  wl_surface_damage(surface, 0, 0, dw, dh);
  wl_surface_commit(surface);
  wl_display_roundtrip(display);
  printf("committed\n");
  fflush(stdout);
  while (wl_display_dispatch(display) != -1) {}
  return 0;
}
