/*
 * frame-only W H EVERY: an xdg toplevel that draws the way a browser's
 * content surface commits: after each wl_callback.done it commits again with
 * only a frame callback (no buffer attached), and every EVERY-th time, or
 * after a SIGUSR1, with a new buffer in the next colour (red, green, blue,
 * ...). It prints "done N" for each frame callback, "drew N RRGGBB"
 * for each new buffer, "presented N" / "discarded N" for wp_presentation
 * feedback when the compositor offers it. EVERY 0 draws only on SIGUSR1.
 * Built by the tests: wayland-scanner on protocol/wayland/xdg-shell.xml and
 * presentation-time.xml.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"
#include "presentation-time-client-protocol.h"
#include "shm-buffer.h"
#include "simple-toplevel.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm_base;
static struct wp_presentation *presentation;
static struct wl_surface *surface;
static int width, height, every;
static unsigned long frames, draws, presented, discarded;
static const uint32_t colours[] = {0xff0000, 0x00ff00, 0x0000ff, 0xffff00, 0x00ffff, 0xff00ff};

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 4);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "xdg_wm_base") == 0) wm_base = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
  else if (strcmp(interface, "wp_presentation") == 0) presentation = wl_registry_bind(registry, name, &wp_presentation_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

static void feedback_sync(void *data, struct wp_presentation_feedback *f, struct wl_output *output) {}

static void feedback_presented(void *data, struct wp_presentation_feedback *f, uint32_t sec_hi, uint32_t sec_lo, uint32_t nsec,
                               uint32_t refresh, uint32_t seq_hi, uint32_t seq_lo, uint32_t flags) {
  printf("presented %lu refresh %u flags %u\n", ++presented, refresh, flags);
  wp_presentation_feedback_destroy(f);
}

static void feedback_discarded(void *data, struct wp_presentation_feedback *f) {
  printf("discarded %lu\n", ++discarded);
  wp_presentation_feedback_destroy(f);
}

static const struct wp_presentation_feedback_listener feedback_listener = {feedback_sync, feedback_presented, feedback_discarded};

static struct wl_buffer *new_buffer(uint32_t colour) { return solid_buffer(shm, width, height, 0xff000000 | colour); }

static void buffer_release(void *data, struct wl_buffer *buffer) { wl_buffer_destroy(buffer); }

static const struct wl_buffer_listener buffer_listener = {buffer_release};

static volatile sig_atomic_t draw_requested;

static void on_usr1(int sig) { draw_requested = 1; }
static void frame_done(void *data, struct wl_callback *cb, uint32_t time);
static const struct wl_callback_listener frame_listener = {frame_done};

/* One commit: a frame callback, presentation feedback, and a new buffer when it is time to draw. */
static void commit(int draw) {
  struct wl_callback *cb = wl_surface_frame(surface);
  wl_callback_add_listener(cb, &frame_listener, NULL);
  if (presentation != NULL) wp_presentation_feedback_add_listener(wp_presentation_feedback(presentation, surface), &feedback_listener, NULL);
  if (draw) {
    uint32_t colour = colours[draws % (sizeof colours / sizeof colours[0])];
    struct wl_buffer *buffer = new_buffer(colour);
    wl_buffer_add_listener(buffer, &buffer_listener, NULL);
    wl_surface_attach(surface, buffer, 0, 0);
    wl_surface_damage_buffer(surface, 0, 0, width, height);
    printf("drew %lu %06x\n", ++draws, colour);
  }
  wl_surface_commit(surface);
}

static void frame_done(void *data, struct wl_callback *cb, uint32_t time) {
  wl_callback_destroy(cb);
  printf("done %lu\n", ++frames);
  int draw = draw_requested || (every > 0 && frames % every == 0);
  draw_requested = 0;
  commit(draw);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: frame-only W H EVERY\n");
    return 2;
  }
  width = atoi(argv[1]);
  height = atoi(argv[2]);
  every = atoi(argv[3]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (compositor == NULL || shm == NULL || wm_base == NULL) {
    fprintf(stderr, "wl_compositor, wl_shm or xdg_wm_base missing\n");
    return 1;
  }
  xdg_wm_base_add_listener(wm_base, &wm_listener, NULL);
  surface = wl_compositor_create_surface(compositor);
  struct xdg_surface *xdg = xdg_wm_base_get_xdg_surface(wm_base, surface);
  xdg_surface_add_listener(xdg, &surface_listener, NULL);
  struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg);
  xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
  xdg_toplevel_set_title(toplevel, "frame-only");
  xdg_toplevel_set_app_id(toplevel, "frame-only");
  wl_surface_commit(surface);
  while (!configured) {
    if (wl_display_dispatch(display) < 0) return 1;
  }
  printf("presentation %s\n", presentation != NULL ? "yes" : "no");
  commit(1);

  while (wl_display_dispatch(display) != -1) {
  }
  return 1;
}
