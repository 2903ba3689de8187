/*
 * text-input: an xdg toplevel (app_id "text-input", 200x100, grey) with a
 * zwp_text_input_v3, as a text field uses it: enabled at each enter (content
 * type email with the multiline hint, surrounding text "hello" with the
 * cursor at its end, a cursor rectangle), disabled at leave. Prints
 * "committed" after its first buffer, "enter" and "leave", and what the
 * input method composes at each done: "preedit TEXT BEGIN END",
 * "commit TEXT", "delete BEFORE AFTER", then "done SERIAL" (the number of
 * text input commits so far). Waits for a keyboard on the seat before it
 * creates its text input (text inputs enter with keyboard focus). Built by
 * the tests: wayland-scanner on protocol/wayland/xdg-shell.xml and
 * text-input-unstable-v3.xml.
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
#include "text-input-unstable-v3-client-protocol.h"
#include "shm-buffer.h"

static struct wl_compositor *compositor;
static struct wl_shm *shm;
static struct xdg_wm_base *wm;
static struct wl_seat *seat;
static struct wl_keyboard *keyboard;
static struct zwp_text_input_manager_v3 *manager;
static uint32_t commits;
static char *preedit, *commit_text;
static int32_t preedit_begin, preedit_end;
static uint32_t delete_before, delete_after;

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_compositor") == 0) compositor = wl_registry_bind(registry, name, &wl_compositor_interface, 1);
  else if (strcmp(interface, "wl_shm") == 0) shm = wl_registry_bind(registry, name, &wl_shm_interface, 1);
  else if (strcmp(interface, "xdg_wm_base") == 0) wm = wl_registry_bind(registry, name, &xdg_wm_base_interface, 1);
  else if (strcmp(interface, "wl_seat") == 0 && seat == NULL) seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
  else if (strcmp(interface, "zwp_text_input_manager_v3") == 0) manager = wl_registry_bind(registry, name, &zwp_text_input_manager_v3_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

static void keymap(void *data, struct wl_keyboard *k, uint32_t format, int32_t fd, uint32_t size) { close(fd); }
static void kb_enter(void *data, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s, struct wl_array *keys) {}
static void kb_leave(void *data, struct wl_keyboard *k, uint32_t serial, struct wl_surface *s) {}
static void key(void *data, struct wl_keyboard *k, uint32_t serial, uint32_t time, uint32_t key, uint32_t state) {}
static void modifiers(void *data, struct wl_keyboard *k, uint32_t serial, uint32_t d, uint32_t l, uint32_t lk, uint32_t g) {}

static const struct wl_keyboard_listener keyboard_listener = {keymap, kb_enter, kb_leave, key, modifiers};

static void capabilities(void *data, struct wl_seat *s, uint32_t caps) {
  if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && keyboard == NULL) {
    keyboard = wl_seat_get_keyboard(s);
    wl_keyboard_add_listener(keyboard, &keyboard_listener, NULL);
  }
}

static const struct wl_seat_listener seat_listener = {capabilities};

static void ti_enter(void *data, struct zwp_text_input_v3 *ti, struct wl_surface *surface) {
  printf("enter\n");
  zwp_text_input_v3_enable(ti);
  zwp_text_input_v3_set_surrounding_text(ti, "hello", 5, 5);
  zwp_text_input_v3_set_content_type(ti, ZWP_TEXT_INPUT_V3_CONTENT_HINT_MULTILINE, ZWP_TEXT_INPUT_V3_CONTENT_PURPOSE_EMAIL);
  zwp_text_input_v3_set_cursor_rectangle(ti, 10, 20, 2, 16);
  zwp_text_input_v3_commit(ti);
  commits++;
  fflush(stdout);
}

static void ti_leave(void *data, struct zwp_text_input_v3 *ti, struct wl_surface *surface) {
  printf("leave\n");
  zwp_text_input_v3_disable(ti);
  zwp_text_input_v3_commit(ti);
  commits++;
  fflush(stdout);
}

static void ti_preedit(void *data, struct zwp_text_input_v3 *ti, const char *text, int32_t begin, int32_t end) {
  free(preedit);
  preedit = text == NULL ? NULL : strdup(text);
  preedit_begin = begin;
  preedit_end = end;
}

static void ti_commit_string(void *data, struct zwp_text_input_v3 *ti, const char *text) {
  free(commit_text);
  commit_text = text == NULL ? NULL : strdup(text);
}

static void ti_delete(void *data, struct zwp_text_input_v3 *ti, uint32_t before, uint32_t after) {
  delete_before = before;
  delete_after = after;
}

static void ti_done(void *data, struct zwp_text_input_v3 *ti, uint32_t serial) {
  if (preedit != NULL) printf("preedit %s %d %d\n", preedit, preedit_begin, preedit_end);
  if (commit_text != NULL) printf("commit %s\n", commit_text);
  if (delete_before != 0 || delete_after != 0) printf("delete %u %u\n", delete_before, delete_after);
  printf("done %u (commits %u)\n", serial, commits);
  fflush(stdout);
  free(preedit);
  free(commit_text);
  preedit = commit_text = NULL;
  delete_before = delete_after = 0;
}

static const struct zwp_text_input_v3_listener ti_listener = {ti_enter, ti_leave, ti_preedit, ti_commit_string, ti_delete, ti_done};

int main(void) {
  const int w = 200, h = 100;
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (compositor == NULL || shm == NULL || wm == NULL || seat == NULL || manager == NULL) {
    fprintf(stderr, "missing wl_compositor, wl_shm, xdg_wm_base, wl_seat or zwp_text_input_manager_v3\n");
    return 1;
  }
  xdg_wm_base_add_listener(wm, &wm_listener, NULL);
  wl_seat_add_listener(seat, &seat_listener, NULL);
  for (int i = 0; i < 100 && keyboard == NULL; i++) {
    wl_display_roundtrip(display);
    if (keyboard == NULL) usleep(100000);
  }
  if (keyboard == NULL) {
    fprintf(stderr, "no keyboard on the seat\n");
    return 1;
  }
  struct zwp_text_input_v3 *ti = zwp_text_input_manager_v3_get_text_input(manager, seat);
  zwp_text_input_v3_add_listener(ti, &ti_listener, NULL);
  struct wl_buffer *buffer = solid_buffer(shm, w, h, 0xff808080);
  struct wl_surface *surface = wl_compositor_create_surface(compositor);
  struct xdg_surface *xdg_surface = xdg_wm_base_get_xdg_surface(wm, surface);
  xdg_surface_add_listener(xdg_surface, &surface_listener, NULL);
  struct xdg_toplevel *toplevel = xdg_surface_get_toplevel(xdg_surface);
  xdg_toplevel_add_listener(toplevel, &toplevel_listener, NULL);
  xdg_toplevel_set_title(toplevel, "text-input");
  xdg_toplevel_set_app_id(toplevel, "text-input");
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
