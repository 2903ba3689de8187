/*
 * ivi-solid ID W H RRGGBB: one solid-colour ivi_application surface with ivi
 * id ID, shown until the program is killed. Debian's weston demo clients
 * prefer xdg_wm_base wherever ivi-shell also offers it, so the ivi tests use
 * this. Built by the tests: wayland-scanner on protocol/wayland/ivi-application.xml.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "ivi-application-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct ivi_application *ivi;

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "ivi_application") == 0) ivi = wl_registry_bind(registry, name, &ivi_application_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: ivi-solid ID WIDTH HEIGHT RRGGBB\n");
    return 2;
  }
  uint32_t id = strtoul(argv[1], NULL, 0);
  int width = atoi(argv[2]), height = atoi(argv[3]);
  uint32_t colour = 0xff000000u | strtoul(argv[4], NULL, 16);
  if (width <= 0 || height <= 0) return 2;
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) {
    fprintf(stderr, "ivi-solid: cannot connect to the display\n");
    return 1;
  }
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (compositor == NULL || shm == NULL || ivi == NULL) {
    fprintf(stderr, "ivi-solid: wl_compositor, wl_shm or ivi_application missing\n");
    return 1;
  }
  struct wl_buffer *buffer = solid_buffer(shm, width, height, colour);
  struct wl_surface *surface = wl_compositor_create_surface(compositor);
  ivi_application_surface_create(ivi, id, surface);
  wl_surface_attach(surface, buffer, 0, 0);
  wl_surface_damage(surface, 0, 0, width, height);
  wl_surface_commit(surface);
  printf("ivi-solid %u committed\n", id);
  fflush(stdout);
  while (wl_display_dispatch(display) != -1) {
  }
  return 0;
}
