/*
 * fractional-scale: an xdg toplevel (app_id "fractional-scale", a 100x100
 * grey buffer) that asks for its preferred scale through
 * wp_fractional_scale_manager_v1 and prints "preferred_scale N" (N = scale
 * times 120) for each one it gets, or "no wp_fractional_scale_manager_v1"
 * and exits 3 when the display does not offer it. Runs until killed. Built
 * by the tests: wayland-scanner on protocol/wayland/xdg-shell.xml and
 * fractional-scale-v1.xml.
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
#include "fractional-scale-v1-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm;
static struct wp_fractional_scale_manager_v1 *manager;

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "xdg_wm_base") == 0) wm = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
  else if (strcmp(interface, "wp_fractional_scale_manager_v1") == 0) manager = wl_registry_bind(registry, name, &wp_fractional_scale_manager_v1_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

static void preferred_scale(void *data, struct wp_fractional_scale_v1 *fractional, uint32_t scale) {
  printf("preferred_scale %u\n", scale);
  fflush(stdout);
}

static const struct wp_fractional_scale_v1_listener fractional_listener = {preferred_scale};

int main(void) {
  const int size = 100;
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (compositor == NULL || shm == NULL || wm == NULL) {
    fprintf(stderr, "missing wl_compositor, wl_shm or xdg_wm_base\n");
    return 1;
  }
  if (manager == NULL) {
    printf("no wp_fractional_scale_manager_v1\n");
    fflush(stdout);
    return 3;
  }
  xdg_wm_base_add_listener(wm, &wm_listener, NULL);

  struct wl_buffer *buffer = solid_buffer(shm, size, size, 0xff808080);

  struct wl_surface *surface = wl_compositor_create_surface(compositor);
  struct wp_fractional_scale_v1 *fractional = wp_fractional_scale_manager_v1_get_fractional_scale(manager, surface);
  wp_fractional_scale_v1_add_listener(fractional, &fractional_listener, NULL);
  struct xdg_surface *xdg_surface = xdg_wm_base_get_xdg_surface(wm, surface);
  xdg_surface_add_listener(xdg_surface, &surface_listener, NULL);
  struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg_surface);
  xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
  xdg_toplevel_set_title(toplevel, "fractional-scale");
  xdg_toplevel_set_app_id(toplevel, "fractional-scale");
  wl_surface_commit(surface);
  while (!configured && wl_display_dispatch(display) != -1) {}

  wl_surface_attach(surface, buffer, 0, 0);
  wl_surface_damage(surface, 0, 0, size, size);
  wl_surface_commit(surface);
  printf("committed\n");
  fflush(stdout);
  while (wl_display_dispatch(display) != -1) {}
  return 0;
}
