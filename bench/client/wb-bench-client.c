/*
 * wb-bench-client: the benchmark's workload, a wl_shm + xdg-shell client with
 * honest, controlled damage, paced by frame callbacks.
 *
 * Every frame repaints a centred rectangle that covers --damage of each
 * surface (same aspect ratio as the surface), damages exactly that rectangle
 * and commits; the next frame of a surface is drawn when its frame callback
 * arrives.  Outside the rectangle the picture is painted once per buffer and
 * never changes.  Several surfaces (--surfaces) each run their own loop.
 *
 * Content of the rectangle:
 *   noise  new pseudo-random pixels every frame (incompressible)
 *   text   a page of glyph-like strokes scrolled 4 px per frame
 *          (compressible; rows blank in both frames stay the same)
 *   video  smooth colour fields and shapes that move every frame, with a
 *          fine grain in the two low bits of each channel, like camera
 *          footage: a lossy codec keeps it small, a lossless one cannot
 *
 * At the end it prints frames/s, commit->frame-done and commit->presented
 * statistics and a "RESULT key=value ..." line; --csv writes one line per
 * frame (CLOCK_MONOTONIC commit and frame-done times, so that weston's
 * timeline and the relay's log can be lined up with them).
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"
#include "presentation-time-client-protocol.h"

#define MAX_BUFFERS 4
#define MAX_SURFACES 16
#define TEXT_SCROLL_PX 4
#define LINE_H 16
#define GLYPH_W 8
#define NGLYPHS 64

enum content { CONTENT_NOISE, CONTENT_TEXT, CONTENT_VIDEO };
static const char *const content_names[] = { "noise", "text", "video" };

struct buffer {
	struct wl_buffer *wl;
	uint32_t *data;
	bool busy, painted;
};

struct win;

struct frame_rec {
	struct win *win;
	uint64_t commit_ns;      /* CLOCK_MONOTONIC */
	uint64_t commit_pclk_ns; /* presentation clock */
	uint64_t done_ns;        /* CLOCK_MONOTONIC */
	uint64_t present_ns;     /* presentation clock */
	bool discarded;
};

struct app;

struct win {
	struct app *app;
	int index;
	struct wl_surface *surface;
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	struct buffer buffers[MAX_BUFFERS];
	struct frame_rec *recs;
	bool configured, finished, need_draw;
	int committed, done, buffer_waits;
};

struct app {
	int width, height, frames, warmup, nbuffers, nsurfaces;
	double fraction, timeout_s;
	enum content content;
	bool fullscreen;
	const char *csv_path, *title;

	struct wl_display *display;
	struct wl_compositor *compositor;
	uint32_t compositor_version;
	struct wl_shm *shm;
	struct xdg_wm_base *wm_base;
	struct wp_presentation *presentation;
	clockid_t clock;

	struct win wins[MAX_SURFACES];
	int rx, ry, rw, rh; /* the damage rectangle */
	uint32_t *tex;      /* noise pool or text page */
	size_t tex_len;     /* noise: words; text: rows */
	uint8_t wave[4096]; /* video: one period of a smooth wave */
	uint32_t palette[256];
	uint32_t *grain;    /* video: low-bit noise pool */
	size_t grain_len;

	int feedback_pending, finished;
	bool closed;
	uint64_t t_start_ns;
	double cpu_at_warmup_s;
	int warm_surfaces;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* ------------------------------------------------------------- content */

static uint32_t *random_pool(size_t words, uint32_t mask, uint32_t or)
{
	uint32_t seed = 0x2545f491u;
	uint32_t *p = malloc(words * sizeof(uint32_t));
	if (!p) {
		perror("malloc");
		exit(1);
	}
	for (size_t i = 0; i < words; i++)
		p[i] = (xorshift32(&seed) & mask) | or;
	return p;
}

/* Dark glyph-like strokes on white: 16 px lines, ragged line ends and a
 * blank line between paragraphs. */
static void make_text_page(struct app *a)
{
	uint16_t glyphs[NGLYPHS][LINE_H];
	uint32_t seed = 4242;
	const uint32_t fg = 0xff1d2125u, bg = 0xfffcfcfcu;
	int w = a->width;

	memset(glyphs, 0, sizeof(glyphs));
	for (int g = 0; g < NGLYPHS; g++) {
		int strokes = 2 + (int)(xorshift32(&seed) % 3);
		for (int s = 0; s < strokes; s++) {
			if (xorshift32(&seed) & 1) {
				int x = 1 + (int)(xorshift32(&seed) % 6);
				for (int y = 4 + (int)(xorshift32(&seed) % 4); y < 13; y++)
					glyphs[g][y] |= (uint16_t)(1u << x);
			} else {
				int y = 4 + (int)(xorshift32(&seed) % 9);
				for (int x = 1; x < 7; x++)
					glyphs[g][y] |= (uint16_t)(1u << x);
			}
		}
	}
	int lines = (2 * a->height) / LINE_H + 1;
	a->tex_len = (size_t)lines * LINE_H;
	a->tex = malloc(a->tex_len * (size_t)w * sizeof(uint32_t));
	if (!a->tex) {
		perror("malloc");
		exit(1);
	}
	for (size_t i = 0; i < a->tex_len * (size_t)w; i++)
		a->tex[i] = bg;
	int cols = (w - 48) / GLYPH_W;
	for (int l = 0; l < lines; l++) {
		if (xorshift32(&seed) % 8 == 0)
			continue;
		int len = cols / 3 + (int)(xorshift32(&seed) % (uint32_t)(cols - cols / 3));
		for (int c = 0; c < len;) {
			int word = 2 + (int)(xorshift32(&seed) % 8);
			for (int k = 0; k < word && c < len; k++, c++) {
				int g = (int)(xorshift32(&seed) % NGLYPHS);
				for (int y = 0; y < LINE_H; y++) {
					uint32_t *row = a->tex + ((size_t)l * LINE_H + y) * (size_t)w +
							24 + c * GLYPH_W;
					for (int x = 0; x < GLYPH_W; x++)
						if (glyphs[g][y] & (1u << x))
							row[x] = fg;
				}
			}
			c++;
		}
	}
}

static void make_video_tables(struct app *a)
{
	for (int i = 0; i < 4096; i++)
		a->wave[i] = (uint8_t)lround(127.5 + 127.5 * sin(i * 2 * M_PI / 4096));
	for (int i = 0; i < 256; i++) {
		double t = i / 256.0 * 2 * M_PI;
		uint32_t r = (uint32_t)lround(128 + 100 * sin(t));
		uint32_t g = (uint32_t)lround(128 + 100 * sin(t + 2.1));
		uint32_t b = (uint32_t)lround(128 + 100 * sin(t + 4.2));
		a->palette[i] = 0xff000000u | r << 16 | g << 8 | b;
	}
	/* two low bits of each channel: fine grain */
	a->grain_len = (size_t)a->rw * 64 + 65537;
	a->grain = random_pool(a->grain_len, 0x00030303u, 0);
}

static void paint_background(struct app *a, uint32_t *p)
{
	for (int y = 0; y < a->height; y++)
		for (int x = 0; x < a->width; x++) {
			uint32_t r = (uint32_t)(x * 255 / a->width);
			uint32_t g = (uint32_t)(y * 255 / a->height);
			uint32_t v = 0xff000000u | r << 16 | g << 8 | 0x50u;
			if (x % 64 == 0 || y % 64 == 0)
				v = 0xff2c2c2cu;
			p[(size_t)y * a->width + x] = v;
		}
}

/* A moving plasma of three waves through a palette, three soft-edged discs
 * moving across it, then grain. */
static void paint_video(struct app *a, struct win *w, uint32_t *p, int frame)
{
	int t = frame + w->index * 97;
	struct { int cx, cy, r; uint32_t c; } disc[3];
	for (int i = 0; i < 3; i++) {
		disc[i].cx = (int)(a->rw / 2 + (a->rw / 3) * sin((t * (0.031 + 0.011 * i)) + i * 2));
		disc[i].cy = (int)(a->rh / 2 + (a->rh / 3) * cos((t * (0.023 + 0.007 * i)) + i));
		disc[i].r = a->rh / (5 + i * 2) + 1;
		disc[i].c = i == 0 ? 0xffe8c040u : i == 1 ? 0xff3070d0u : 0xffd04060u;
	}
	for (int y = 0; y < a->rh; y++) {
		uint32_t *dst = p + (size_t)(a->ry + y) * a->width + a->rx;
		const uint32_t *gr = a->grain + ((size_t)t * 7919u + (size_t)y * (size_t)a->rw) %
			(a->grain_len - (size_t)a->rw);
		int wy = a->wave[(y * 5 + t * 13) & 4095];
		for (int x = 0; x < a->rw; x++) {
			int v = a->wave[(x * 3 + t * 17) & 4095] + wy +
				a->wave[((x + y) * 2 + t * 29) & 4095];
			dst[x] = a->palette[(v / 3 + t) & 255];
		}
		for (int i = 0; i < 3; i++) {
			int dy = y - disc[i].cy;
			if (dy < -disc[i].r || dy > disc[i].r)
				continue;
			int half = (int)sqrt((double)disc[i].r * disc[i].r - (double)dy * dy);
			int x0 = disc[i].cx - half, x1 = disc[i].cx + half;
			if (x0 < 0) x0 = 0;
			if (x1 > a->rw) x1 = a->rw;
			for (int x = x0; x < x1; x++) {
				/* shade by distance from the disc's centre */
				int d = abs(x - disc[i].cx) * 64 / (half + 1);
				uint32_t c = disc[i].c, k = (uint32_t)(64 - d / 2);
				dst[x] = 0xff000000u |
					(((c >> 16 & 255) * k / 64) << 16) |
					(((c >> 8 & 255) * k / 64) << 8) | ((c & 255) * k / 64);
			}
		}
		for (int x = 0; x < a->rw; x++)
			dst[x] ^= gr[x];
	}
}

static void paint_rect(struct app *a, struct win *w, uint32_t *p, int frame)
{
	if (a->content == CONTENT_VIDEO) {
		paint_video(a, w, p, frame);
		return;
	}
	for (int y = 0; y < a->rh; y++) {
		uint32_t *dst = p + (size_t)(a->ry + y) * a->width + a->rx;
		const uint32_t *src;
		if (a->content == CONTENT_NOISE) {
			size_t span = a->tex_len - (size_t)a->rw;
			src = a->tex + ((size_t)(frame + w->index * 1000) * 40503u +
					(size_t)y * (size_t)a->rw) % span;
		} else {
			size_t row = ((size_t)frame * TEXT_SCROLL_PX + (size_t)(a->ry + y)) %
				     a->tex_len;
			src = a->tex + row * (size_t)a->width + a->rx;
		}
		memcpy(dst, src, (size_t)a->rw * sizeof(uint32_t));
	}
}

/* ------------------------------------------------------------- buffers */

static void buffer_release(void *data, struct wl_buffer *wl_buffer)
{
	struct buffer *b = data;
	(void)wl_buffer;
	b->busy = false;
}
static const struct wl_buffer_listener buffer_listener = { buffer_release };

static int create_buffer(struct app *a, struct buffer *b)
{
	int stride = a->width * 4;
	size_t size = (size_t)stride * a->height;
	int fd = memfd_create("wb-bench-client", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror("memfd");
		return -1;
	}
	b->data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b->data == MAP_FAILED) {
		perror("mmap");
		close(fd);
		return -1;
	}
	struct wl_shm_pool *pool = wl_shm_create_pool(a->shm, fd, (int32_t)size);
	b->wl = wl_shm_pool_create_buffer(pool, 0, a->width, a->height, stride,
					  WL_SHM_FORMAT_XRGB8888);
	wl_buffer_add_listener(b->wl, &buffer_listener, b);
	wl_shm_pool_destroy(pool);
	close(fd);
	return 0;
}

/* ------------------------------------------------------------- frames */

static void draw_frame(struct win *w);

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct win *w = data;
	struct app *a = w->app;
	(void)time;
	wl_callback_destroy(cb);
	w->recs[w->done].done_ns = now_ns(CLOCK_MONOTONIC);
	w->done++;
	if (w->done == a->warmup && ++a->warm_surfaces == a->nsurfaces)
		a->cpu_at_warmup_s = cpu_seconds();
	if (w->done >= a->warmup + a->frames) {
		w->finished = true;
		a->finished++;
	} else {
		draw_frame(w);
	}
}
static const struct wl_callback_listener frame_listener = { frame_done };

static void fb_sync_output(void *data, struct wp_presentation_feedback *fb,
			   struct wl_output *output)
{
	(void)data; (void)fb; (void)output;
}

static void fb_presented(void *data, struct wp_presentation_feedback *fb,
			 uint32_t sec_hi, uint32_t sec_lo, uint32_t nsec,
			 uint32_t refresh, uint32_t seq_hi, uint32_t seq_lo,
			 uint32_t flags)
{
	struct frame_rec *r = data;
	(void)refresh; (void)seq_hi; (void)seq_lo; (void)flags;
	r->present_ns = (((uint64_t)sec_hi << 32) | sec_lo) * 1000000000ull + nsec;
	r->win->app->feedback_pending--;
	wp_presentation_feedback_destroy(fb);
}

static void fb_discarded(void *data, struct wp_presentation_feedback *fb)
{
	struct frame_rec *r = data;
	r->discarded = true;
	r->win->app->feedback_pending--;
	wp_presentation_feedback_destroy(fb);
}

static const struct wp_presentation_feedback_listener feedback_listener = {
	fb_sync_output, fb_presented, fb_discarded
};

static void draw_frame(struct win *w)
{
	struct app *a = w->app;
	struct buffer *b = NULL;
	for (int i = 0; i < a->nbuffers; i++)
		if (!w->buffers[i].busy) {
			b = &w->buffers[i];
			break;
		}
	if (!b) {
		/* every buffer still held by the compositor: draw on release */
		w->need_draw = true;
		w->buffer_waits++;
		return;
	}
	w->need_draw = false;
	int n = w->committed;
	if (!b->painted) {
		paint_background(a, b->data);
		b->painted = true;
	}
	paint_rect(a, w, b->data, n);
	wl_surface_attach(w->surface, b->wl, 0, 0);
	if (n == 0)
		wl_surface_damage(w->surface, 0, 0, a->width, a->height);
	else if (a->compositor_version >= 4)
		wl_surface_damage_buffer(w->surface, a->rx, a->ry, a->rw, a->rh);
	else
		wl_surface_damage(w->surface, a->rx, a->ry, a->rw, a->rh);
	struct wl_callback *cb = wl_surface_frame(w->surface);
	wl_callback_add_listener(cb, &frame_listener, w);
	if (a->presentation) {
		struct wp_presentation_feedback *fb =
			wp_presentation_feedback(a->presentation, w->surface);
		wp_presentation_feedback_add_listener(fb, &feedback_listener, &w->recs[n]);
		a->feedback_pending++;
	}
	w->recs[n].commit_pclk_ns = now_ns(a->clock);
	w->recs[n].commit_ns = now_ns(CLOCK_MONOTONIC);
	wl_surface_commit(w->surface);
	b->busy = true;
	w->committed++;
}

/* ------------------------------------------------------------- shell */

static void xdg_surface_configure(void *data, struct xdg_surface *s, uint32_t serial)
{
	struct win *w = data;
	xdg_surface_ack_configure(s, serial);
	if (!w->configured) {
		w->configured = true;
		draw_frame(w);
	}
}
static const struct xdg_surface_listener xdg_surface_listener = { xdg_surface_configure };

static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t width,
			       int32_t height, struct wl_array *states)
{
	(void)data; (void)t; (void)width; (void)height; (void)states; /* fixed size */
}
static void toplevel_close(void *data, struct xdg_toplevel *t)
{
	struct win *w = data;
	(void)t;
	w->app->closed = true;
}
static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = toplevel_configure,
	.close = toplevel_close,
};

static void wm_base_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	(void)data;
	xdg_wm_base_pong(wm, serial);
}
static const struct xdg_wm_base_listener wm_base_listener = { wm_base_ping };

static void presentation_clock_id(void *data, struct wp_presentation *p, uint32_t clk_id)
{
	struct app *a = data;
	(void)p;
	a->clock = (clockid_t)clk_id;
}
static const struct wp_presentation_listener presentation_listener = { presentation_clock_id };

static void registry_global(void *data, struct wl_registry *reg, uint32_t name,
			    const char *iface, uint32_t version)
{
	struct app *a = data;
	if (strcmp(iface, wl_compositor_interface.name) == 0) {
		a->compositor_version = version < 4 ? version : 4;
		a->compositor = wl_registry_bind(reg, name, &wl_compositor_interface,
						 a->compositor_version);
	} else if (strcmp(iface, wl_shm_interface.name) == 0) {
		a->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	} else if (strcmp(iface, xdg_wm_base_interface.name) == 0) {
		a->wm_base = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(a->wm_base, &wm_base_listener, a);
	} else if (strcmp(iface, wp_presentation_interface.name) == 0) {
		a->presentation = wl_registry_bind(reg, name, &wp_presentation_interface, 1);
		wp_presentation_add_listener(a->presentation, &presentation_listener, a);
	}
}
static void registry_global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	(void)data; (void)reg; (void)name;
}
static const struct wl_registry_listener registry_listener = {
	registry_global, registry_global_remove
};

static void create_window(struct app *a, struct win *w)
{
	char title[96];
	if (a->nsurfaces > 1)
		snprintf(title, sizeof(title), "%s-%d", a->title, w->index);
	else
		snprintf(title, sizeof(title), "%s", a->title);
	w->surface = wl_compositor_create_surface(a->compositor);
	w->xdg_surface = xdg_wm_base_get_xdg_surface(a->wm_base, w->surface);
	xdg_surface_add_listener(w->xdg_surface, &xdg_surface_listener, w);
	w->toplevel = xdg_surface_get_toplevel(w->xdg_surface);
	xdg_toplevel_add_listener(w->toplevel, &toplevel_listener, w);
	xdg_toplevel_set_title(w->toplevel, title);
	xdg_toplevel_set_app_id(w->toplevel, "wb-bench-client");
	xdg_toplevel_set_min_size(w->toplevel, a->width, a->height);
	xdg_toplevel_set_max_size(w->toplevel, a->width, a->height);
	if (a->fullscreen)
		xdg_toplevel_set_fullscreen(w->toplevel, NULL);
	wl_surface_commit(w->surface);
}

/* ------------------------------------------------------------- stats */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

struct stats { int n; double med, p90, max; };

static struct stats summarize(double *v, int n)
{
	struct stats s = { 0 };
	if (n <= 0)
		return s;
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	s.n = n;
	s.med = v[n / 2];
	s.p90 = v[(int)((n - 1) * 0.9)];
	s.max = v[n - 1];
	return s;
}

/* ------------------------------------------------------------- main */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [options]\n"
		"  --width=W --height=H      surface size (default 1920x1080)\n"
		"  --damage=F                share of the surface repainted per frame, 0 < F <= 1 (default 1)\n"
		"  --content=noise|text|video  what changes (default noise)\n"
		"  --surfaces=N              toplevels at once, each with its own frame loop (default 1)\n"
		"  --fullscreen              ask for fullscreen (default: a window)\n"
		"  --frames=N                measured frames per surface (default 300)\n"
		"  --warmup=K                frames before those (default 30)\n"
		"  --buffers=B               shm buffers per surface, 2..4 (default 2)\n"
		"  --title=T                 window title (default wb-bench-client; -I appended with several)\n"
		"  --timeout=S               give up after S seconds (default 120)\n"
		"  --csv=FILE                per-frame timings\n", argv0);
}

int main(int argc, char **argv)
{
	static struct app a = {
		.width = 1920, .height = 1080, .frames = 300, .warmup = 30,
		.nbuffers = 2, .nsurfaces = 1, .fraction = 1.0, .timeout_s = 120,
		.content = CONTENT_NOISE, .clock = CLOCK_MONOTONIC,
		.title = "wb-bench-client",
	};
	static const struct option opts[] = {
		{ "width", required_argument, NULL, 'w' },
		{ "height", required_argument, NULL, 'h' },
		{ "damage", required_argument, NULL, 'd' },
		{ "content", required_argument, NULL, 'c' },
		{ "surfaces", required_argument, NULL, 's' },
		{ "fullscreen", no_argument, NULL, 'f' },
		{ "frames", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'k' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "title", required_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 't' },
		{ "csv", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, '?' },
		{ 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w': a.width = atoi(optarg); break;
		case 'h': a.height = atoi(optarg); break;
		case 'd': a.fraction = atof(optarg); break;
		case 's': a.nsurfaces = atoi(optarg); break;
		case 'f': a.fullscreen = true; break;
		case 'n': a.frames = atoi(optarg); break;
		case 'k': a.warmup = atoi(optarg); break;
		case 'b': a.nbuffers = atoi(optarg); break;
		case 'T': a.title = optarg; break;
		case 't': a.timeout_s = atof(optarg); break;
		case 'o': a.csv_path = optarg; break;
		case 'c':
			for (c = 0; c < 3 && strcmp(optarg, content_names[c]) != 0; c++)
				;
			if (c == 3) {
				usage(argv[0]);
				return 2;
			}
			a.content = (enum content)c;
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (a.width < 16 || a.height < 16 || !(a.fraction > 0 && a.fraction <= 1) ||
	    a.frames < 1 || a.warmup < 1 || a.nbuffers < 2 || a.nbuffers > MAX_BUFFERS ||
	    a.nsurfaces < 1 || a.nsurfaces > MAX_SURFACES) {
		usage(argv[0]);
		return 2;
	}

	double side = sqrt(a.fraction);
	a.rw = (int)lround(a.width * side);
	a.rh = (int)lround(a.height * side);
	if (a.rw < 1) a.rw = 1;
	if (a.rh < 1) a.rh = 1;
	a.rx = (a.width - a.rw) / 2;
	a.ry = (a.height - a.rh) / 2;
	if (a.content == CONTENT_NOISE) {
		a.tex_len = (size_t)a.rw * a.rh + 65537;
		a.tex = random_pool(a.tex_len, 0xffffffffu, 0xff000000u);
	} else if (a.content == CONTENT_TEXT) {
		make_text_page(&a);
	} else {
		make_video_tables(&a);
	}

	int total = a.warmup + a.frames;
	for (int i = 0; i < a.nsurfaces; i++) {
		struct win *w = &a.wins[i];
		w->app = &a;
		w->index = i;
		w->recs = calloc((size_t)total + 1, sizeof(*w->recs));
		for (int k = 0; k <= total; k++)
			w->recs[k].win = w;
	}

	a.display = wl_display_connect(NULL);
	if (!a.display) {
		perror("wl_display_connect");
		return 1;
	}
	a.t_start_ns = now_ns(CLOCK_MONOTONIC);
	struct wl_registry *reg = wl_display_get_registry(a.display);
	wl_registry_add_listener(reg, &registry_listener, &a);
	wl_display_roundtrip(a.display);
	wl_display_roundtrip(a.display); /* presentation clock id */
	if (!a.compositor || !a.shm || !a.wm_base) {
		fprintf(stderr, "wb-bench-client: no wl_compositor, wl_shm or xdg_wm_base\n");
		return 1;
	}
	for (int i = 0; i < a.nsurfaces; i++) {
		for (int k = 0; k < a.nbuffers; k++)
			if (create_buffer(&a, &a.wins[i].buffers[k]) < 0)
				return 1;
		create_window(&a, &a.wins[i]);
	}

	uint64_t deadline = a.t_start_ns + (uint64_t)(a.timeout_s * 1e9), drain = 0;
	bool timed_out = false;
	int fd = wl_display_get_fd(a.display);
	/* after the last frame, wait for outstanding presentation feedback
	 * (at most 1 s) */
	for (;;) {
		bool running = a.finished < a.nsurfaces && !a.closed && !timed_out;
		if (!running && (a.feedback_pending <= 0 || now_ns(CLOCK_MONOTONIC) > drain))
			break;
		for (int i = 0; i < a.nsurfaces; i++) {
			struct win *w = &a.wins[i];
			if (w->need_draw && !w->finished)
				for (int k = 0; k < a.nbuffers; k++)
					if (!w->buffers[k].busy) {
						draw_frame(w);
						break;
					}
		}
		while (wl_display_prepare_read(a.display) != 0)
			wl_display_dispatch_pending(a.display);
		if (wl_display_flush(a.display) < 0 && errno != EAGAIN) {
			wl_display_cancel_read(a.display);
			perror("wl_display_flush");
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 200) > 0) {
			if (wl_display_read_events(a.display) < 0) {
				perror("wl_display_read_events");
				break;
			}
		} else {
			wl_display_cancel_read(a.display);
		}
		if (wl_display_dispatch_pending(a.display) < 0) {
			perror("wl_display_dispatch");
			break;
		}
		uint64_t t = now_ns(CLOCK_MONOTONIC);
		if (running && t > deadline)
			timed_out = true;
		if (running && (a.finished >= a.nsurfaces || a.closed || timed_out))
			drain = t + 1000000000ull;
	}
	double cpu_end = cpu_seconds();

	/* ------------------------------------------------------------ report */
	FILE *csv = a.csv_path ? fopen(a.csv_path, "w") : NULL;
	if (csv)
		fprintf(csv, "surface,frame,commit_mono_ns,done_mono_ns,c2p_ns\n");
	double fps_sum = 0, fps_min = 1e9;
	uint64_t t_begin = UINT64_MAX, t_end = 0;
	int measured_all = 0, ok = !timed_out && !a.closed;
	double *v = calloc((size_t)total * (size_t)a.nsurfaces + 1, sizeof(double));
	double *p = calloc((size_t)total * (size_t)a.nsurfaces + 1, sizeof(double));
	int nv = 0, np = 0, ndisc = 0;
	for (int i = 0; i < a.nsurfaces; i++) {
		struct win *w = &a.wins[i];
		int first = a.warmup, last = w->done - 1, measured = last - first + 1;
		if (csv)
			for (int k = 0; k < w->committed; k++) {
				const struct frame_rec *r = &w->recs[k];
				long long c2p = r->present_ns ?
					(long long)(r->present_ns - r->commit_pclk_ns) : -1;
				fprintf(csv, "%d,%d,%llu,%llu,%lld\n", i, k,
					(unsigned long long)r->commit_ns,
					(unsigned long long)r->done_ns, c2p);
			}
		if (measured < 2) {
			ok = 0;
			fps_min = 0;
			continue;
		}
		double span = (double)(w->recs[last].done_ns - w->recs[first - 1].done_ns) / 1e9;
		double fps = measured / span;
		fps_sum += fps;
		if (fps < fps_min)
			fps_min = fps;
		if (w->recs[first].commit_ns < t_begin)
			t_begin = w->recs[first].commit_ns;
		if (w->recs[last].done_ns > t_end)
			t_end = w->recs[last].done_ns;
		measured_all += measured;
		for (int k = first; k <= last; k++) {
			v[nv++] = (double)(w->recs[k].done_ns - w->recs[k].commit_ns) / 1e6;
			if (w->recs[k].present_ns)
				p[np++] = ((double)w->recs[k].present_ns -
					   (double)w->recs[k].commit_pclk_ns) / 1e6;
			else if (w->recs[k].discarded)
				ndisc++;
		}
		printf("surface %d: %.2f frames/s over %d measured frames, %d buffer waits\n",
		       i, fps, measured, w->buffer_waits);
	}
	if (csv)
		fclose(csv);
	if (measured_all == 0) {
		fprintf(stderr, "wb-bench-client: no measured frames (%s)\n",
			timed_out ? "timeout" : "window closed");
		printf("RESULT ok=0\n");
		return 1;
	}
	struct stats c2d = summarize(v, nv), c2p = summarize(p, np);
	printf("wb-bench-client %dx%d x%d %s content=%s damage=%dx%d+%d+%d (%.4f, %zu bytes/frame)%s\n",
	       a.width, a.height, a.nsurfaces, a.fullscreen ? "fullscreen" : "windowed",
	       content_names[a.content], a.rw, a.rh, a.rx, a.ry,
	       (double)a.rw * a.rh / ((double)a.width * a.height), (size_t)a.rw * a.rh * 4,
	       timed_out ? " TIMED-OUT" : "");
	printf("  frames/s per surface  mean %.2f  min %.2f\n", fps_sum / a.nsurfaces, fps_min);
	printf("  commit->frame done ms median %.2f  p90 %.2f  max %.2f\n", c2d.med, c2d.p90, c2d.max);
	if (np)
		printf("  commit->presented  ms median %.2f  p90 %.2f  max %.2f  (%d presented, %d discarded)\n",
		       c2p.med, c2p.p90, c2p.max, np, ndisc);
	printf("RESULT ok=%d fps=%.3f fps_min=%.3f surfaces=%d frames=%d c2d_med_ms=%.3f "
	       "c2d_p90_ms=%.3f c2p_med_ms=%.3f c2p_p90_ms=%.3f c2p_n=%d "
	       "first_frame_ms=%.2f client_cpu_s=%.4f t_begin_ns=%llu t_end_ns=%llu\n",
	       ok, fps_sum / a.nsurfaces, fps_min, a.nsurfaces, measured_all / a.nsurfaces,
	       c2d.med, c2d.p90, np ? c2p.med : -1.0, np ? c2p.p90 : -1.0, np,
	       (double)(a.wins[0].recs[0].done_ns - a.t_start_ns) / 1e6,
	       cpu_end - a.cpu_at_warmup_s, (unsigned long long)t_begin,
	       (unsigned long long)t_end);
	fflush(stdout);
	free(v);
	free(p);
	for (int i = 0; i < a.nsurfaces; i++) {
		struct win *w = &a.wins[i];
		for (int k = 0; k < a.nbuffers; k++)
			wl_buffer_destroy(w->buffers[k].wl);
		xdg_toplevel_destroy(w->toplevel);
		xdg_surface_destroy(w->xdg_surface);
		wl_surface_destroy(w->surface);
	}
	wl_display_roundtrip(a.display);
	wl_display_disconnect(a.display);
	return ok ? 0 : 1;
}
