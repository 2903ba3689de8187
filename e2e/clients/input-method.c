/*
 * input-method: a minimal input method (zwp_input_method_v2) for the
 * compositor it connects to. At each activation it composes the text given
 * as argument: first as preedit (cursor at its end), then, at the next
 * commit, as commit string. Prints one line per event it gets ("activate",
 * "deactivate", "surrounding TEXT CURSOR ANCHOR", "content_type HINT
 * PURPOSE", "done N"), "composed" after it committed the text, and
 * "unavailable" when another input method holds the seat. Built by the
 * tests: wayland-scanner on e2e/clients/input-method-min.xml.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wayland-client.h>
#include "input-method-min-client-protocol.h"

static struct wl_seat *seat;
static struct zwp_input_method_manager_v2 *manager;
static const char *text;
static uint32_t dones;
static int active, pending_active, composed;

static void global(void *data, struct wl_registry *registry, uint32_t name, const char *interface, uint32_t version) {
  if (strcmp(interface, "wl_seat") == 0 && seat == NULL) seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
  else if (strcmp(interface, "zwp_input_method_manager_v2") == 0) manager = wl_registry_bind(registry, name, &zwp_input_method_manager_v2_interface, 1);
}

static void global_remove(void *data, struct wl_registry *registry, uint32_t name) {}

static const struct wl_registry_listener registry_listener = {global, global_remove};

static void activate(void *data, struct zwp_input_method_v2 *im) { pending_active = 1; printf("activate\n"); }
static void deactivate(void *data, struct zwp_input_method_v2 *im) { pending_active = 0; printf("deactivate\n"); }
static void surrounding_text(void *data, struct zwp_input_method_v2 *im, const char *t, uint32_t cursor, uint32_t anchor) {
  printf("surrounding %s %u %u\n", t, cursor, anchor);
}
static void text_change_cause(void *data, struct zwp_input_method_v2 *im, uint32_t cause) {}
static void content_type(void *data, struct zwp_input_method_v2 *im, uint32_t hint, uint32_t purpose) { printf("content_type %u %u\n", hint, purpose); }

static void done(void *data, struct zwp_input_method_v2 *im) {
  dones++;
  printf("done %u\n", dones);
  int was = active;
  active = pending_active;
  if (active && !was) {
    composed = 0;
    /* Compose: the preedit first, in a commit of its own, then the text committed. */
    zwp_input_method_v2_set_preedit_string(im, text, (int32_t)strlen(text), (int32_t)strlen(text));
    zwp_input_method_v2_commit(im, dones);
    zwp_input_method_v2_commit_string(im, text);
    zwp_input_method_v2_commit(im, dones);
    composed = 1;
    printf("composed\n");
  }
  fflush(stdout);
}

static void unavailable(void *data, struct zwp_input_method_v2 *im) {
  printf("unavailable\n");
  fflush(stdout);
  exit(1);
}

static const struct zwp_input_method_v2_listener im_listener = {activate, deactivate, surrounding_text, text_change_cause, content_type, done, unavailable};

int main(int argc, char **argv) {
  text = argc > 1 ? argv[1] : "text";
  struct wl_display *display = wl_display_connect(NULL);
  if (display == NULL) return 1;
  wl_registry_add_listener(wl_display_get_registry(display), &registry_listener, NULL);
  wl_display_roundtrip(display);
  if (seat == NULL || manager == NULL) {
    fprintf(stderr, "missing wl_seat or zwp_input_method_manager_v2\n");
    return 1;
  }
  struct zwp_input_method_v2 *im = zwp_input_method_manager_v2_get_input_method(manager, seat);
  zwp_input_method_v2_add_listener(im, &im_listener, NULL);
  wl_display_roundtrip(display);
  printf("ready\n");
  fflush(stdout);
  while (wl_display_dispatch(display) != -1) {}
  return 0;
}
