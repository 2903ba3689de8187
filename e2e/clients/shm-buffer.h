/*
 * One XRGB8888 wl_shm buffer for the test clients: a memfd of w x h pixels,
 * filled with one colour or by a function, handed to the compositor as a
 * wl_buffer (the pool and the fd are not kept). Exits on failure.
 */
#ifndef WB_TEST_SHM_BUFFER_H
#define WB_TEST_SHM_BUFFER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>

typedef void (*shm_fill_fn)(uint32_t *px, int w, int h, void *data);

static inline struct wl_buffer *shm_buffer(struct wl_shm *shm, int w, int h, shm_fill_fn fill, void *data) {
  int stride = w * 4, size = stride * h;
  int fd = memfd_create("wb-test-client", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, size) < 0) {
    perror("memfd");
    exit(1);
  }
  uint32_t *px = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (px == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  fill(px, w, h, data);
  munmap(px, size);
  struct wl_shm_pool *pool = wl_shm_create_pool(shm, fd, size);
  struct wl_buffer *buffer = wl_shm_pool_create_buffer(pool, 0, w, h, stride, WL_SHM_FORMAT_XRGB8888);
  wl_shm_pool_destroy(pool);
  close(fd);
  return buffer;
}

static inline void shm_fill_solid(uint32_t *px, int w, int h, void *data) {
  uint32_t colour = *(const uint32_t *)data;
  for (int i = 0; i < w * h; i++) px[i] = colour;
}

static inline struct wl_buffer *solid_buffer(struct wl_shm *shm, int w, int h, uint32_t colour) {
  return shm_buffer(shm, w, h, shm_fill_solid, &colour);
}

#endif
