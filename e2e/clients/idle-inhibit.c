/*
 * idle-inhibit: an xdg toplevel (app_id "idle-inhibit", 200x100, blue) that
 * holds a zwp_idle_inhibitor_v1 on its surface, as a video player does.
 * Prints "committed" after its first buffer, runs until killed. Built by the
 * tests: wayland-scanner on protocol/wayland/xdg-shell.xml and
 * idle-inhibit-unstable-v1.xml.
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
#include "idle-inhibit-unstable-v1-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm;
static struct zwp_idle_inhibit_manager_v1 *idle;

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "xdg_wm_base") == 0) wm = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
  else if (strcmp(interface, "zwp_idle_inhibit_manager_v1") == 0) idle = wl_registry_bind(registry, name, &zwp_idle_inhibit_manager_v1_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

int main(void) {
  const int w = 200, h = 100;
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (compositor == NULL || shm == NULL || wm == NULL || idle == NULL) {
    fprintf(stderr, "missing wl_compositor, wl_shm, xdg_wm_base or zwp_idle_inhibit_manager_v1\n");
    return 1;
  }
  xdg_wm_base_add_listener(wm, &wm_listener, NULL);
  struct wl_buffer *buffer = solid_buffer(shm, w, h, 0xff0000ff);
  struct wl_surface *surface = wl_compositor_create_surface(compositor);
  struct xdg_surface *xdg_surface = xdg_wm_base_get_xdg_surface(wm, surface);
  xdg_surface_add_listener(xdg_surface, &surface_listener, NULL);
  struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg_surface);
  xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
  xdg_toplevel_set_title(toplevel, "idle-inhibit");
  xdg_toplevel_set_app_id(toplevel, "idle-inhibit");
  zwp_idle_inhibit_manager_v1_create_inhibitor(idle, surface);
  wl_surface_commit(surface);
  while (!configured && wl_display_dispatch(display) != -1) {}
  wl_surface_attach(surface, buffer, 0, 0);
  wl_surface_damage(surface, 0, 0, w, h);
  wl_surface_commit(surface);
  wl_display_roundtrip(display);
  printf("committed\n");
  fflush(stdout);
  while (wl_display_dispatch(display) != -1) {}
  return 0;
}
