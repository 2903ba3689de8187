/*
 * count-relay: forwards ONE stream connection and logs every read.
 *
 *   count-relay LISTEN CONNECT LOG
 *
 * LISTEN and CONNECT are unix socket paths or tcp:IPV4:PORT (TCP_NODELAY on
 * TCP ends).  It accepts one connection on LISTEN, connects to CONNECT and
 * copies both ways until both directions are closed.  LOG gets one line per
 * read, "<CLOCK_MONOTONIC ns> <dir> <bytes>" (dir 0: accepted -> connected,
 * the application's side towards the display; dir 1: back), and at the end
 * "# total <dir 0 bytes> <dir 1 bytes>".  SIGTERM and SIGINT end it with
 * the log flushed.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 20)

struct endpoint {
	int family;
	socklen_t len;
	union {
		struct sockaddr_un un;
		struct sockaddr_in in;
	} sa;
	const char *path;
};

struct pipe_dir {
	int from, to;
	char *buf;
	size_t len, off;
	bool eof, done;
	unsigned long long total;
};

static FILE *log_file;
static struct pipe_dir dirs[2];
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int parse(const char *s, struct endpoint *e)
{
	memset(e, 0, sizeof(*e));
	if (strncmp(s, "tcp:", 4) == 0) {
		char host[64];
		const char *colon = strrchr(s + 4, ':');
		size_t n = colon ? (size_t)(colon - (s + 4)) : 0;
		if (!colon || n >= sizeof(host))
			goto bad;
		memcpy(host, s + 4, n);
		host[n] = 0;
		e->family = AF_INET;
		e->sa.in.sin_family = AF_INET;
		e->sa.in.sin_port = htons((unsigned short)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &e->sa.in.sin_addr) != 1)
			goto bad;
		e->len = sizeof(e->sa.in);
		return 0;
	}
	if (strlen(s) >= sizeof(e->sa.un.sun_path))
		goto bad;
	e->family = AF_UNIX;
	e->path = s;
	e->sa.un.sun_family = AF_UNIX;
	strcpy(e->sa.un.sun_path, s);
	e->len = sizeof(e->sa.un);
	return 0;
bad:
	fprintf(stderr, "count-relay: bad address: %s\n", s);
	return -1;
}

static void tune(int fd, const struct endpoint *e)
{
	int one = 1;
	if (e->family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void finish(int code)
{
	if (log_file) {
		fprintf(log_file, "# total %llu %llu\n", dirs[0].total, dirs[1].total);
		fclose(log_file);
	}
	exit(code);
}

int main(int argc, char **argv)
{
	struct endpoint le, ce;
	if (argc != 4) {
		fprintf(stderr, "usage: %s LISTEN CONNECT LOG\n", argv[0]);
		return 2;
	}
	if (parse(argv[1], &le) < 0 || parse(argv[2], &ce) < 0)
		return 2;
	log_file = fopen(argv[3], "w");
	if (!log_file) {
		perror("count-relay: log");
		return 1;
	}
	setvbuf(log_file, NULL, _IOFBF, 1 << 20);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: accept and poll return */
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int one = 1, lfd = socket(le.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (le.path)
		unlink(le.path);
	else if (lfd >= 0)
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&le.sa, le.len) < 0 || listen(lfd, 1) < 0) {
		perror("count-relay: listen");
		return 1;
	}
	int a = -1;
	while (a < 0 && !stop) {
		a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0 && errno != EINTR) {
			perror("count-relay: accept");
			return 1;
		}
	}
	close(lfd);
	if (le.path)
		unlink(le.path);
	if (stop)
		finish(0);
	int b = socket(ce.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b < 0 || connect(b, (struct sockaddr *)&ce.sa, ce.len) < 0) {
		perror("count-relay: connect");
		return 1;
	}
	tune(a, &le);
	tune(b, &ce);
	dirs[0] = (struct pipe_dir){ .from = a, .to = b, .buf = malloc(BUF_SIZE) };
	dirs[1] = (struct pipe_dir){ .from = b, .to = a, .buf = malloc(BUF_SIZE) };

	while (!stop && !(dirs[0].done && dirs[1].done)) {
		struct pollfd p[2];
		for (int i = 0; i < 2; i++) {
			struct pipe_dir *d = &dirs[i];
			p[i].fd = -1;
			p[i].events = 0;
			if (d->done)
				continue;
			if (d->len > d->off) {
				p[i].fd = d->to;
				p[i].events = POLLOUT;
			} else if (!d->eof) {
				p[i].fd = d->from;
				p[i].events = POLLIN;
			}
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("count-relay: poll");
			finish(1);
		}
		for (int i = 0; i < 2; i++) {
			struct pipe_dir *d = &dirs[i];
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (d->len > d->off) {
				ssize_t w = write(d->to, d->buf + d->off, d->len - d->off);
				if (w < 0 && errno != EAGAIN && errno != EINTR) {
					d->done = true; /* the far end is gone */
					shutdown(d->from, SHUT_RD);
					continue;
				}
				if (w > 0)
					d->off += (size_t)w;
				if (d->off == d->len)
					d->off = d->len = 0;
			} else {
				ssize_t r = read(d->from, d->buf, BUF_SIZE);
				if (r > 0) {
					d->len = (size_t)r;
					d->off = 0;
					d->total += (unsigned long long)r;
					fprintf(log_file, "%llu %d %zd\n", mono_ns(), i, r);
				} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					d->eof = true;
				}
			}
			if (d->eof && d->len == d->off && !d->done) {
				shutdown(d->to, SHUT_WR);
				d->done = true;
			}
		}
	}
	finish(0);
}
