/*
 * floor-relay: bench/lib/floor-relay.ts as a plain epoll program, for
 * bench/loop-floor.ts: what a native process pays for the same exchanges.
 *
 *   floor-relay TCP_PORT UNIX_PATH WARMUP
 *
 * Connects to 127.0.0.1:TCP_PORT (TCP_NODELAY) and to the unix socket
 * UNIX_PATH. Each read from TCP sends 100 bytes to the unix socket; each
 * read from the unix socket is one exchange and sends 40 bytes over TCP.
 * When the TCP peer closes it prints its CPU time since the WARMUP-th
 * exchange as one JSON line, {"exchanges": N, "cpuUs": N}, and exits.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static long cpu_us(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000L + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static int watch(int epoll, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct sockaddr_un ua = { .sun_family = AF_UNIX };
	struct sockaddr_in ta = { .sin_family = AF_INET };
	int unix_fd, tcp_fd, epoll, warmup, one = 1, exchanges = 0;
	long start = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: floor-relay TCP_PORT UNIX_PATH WARMUP\n");
		return 2;
	}
	warmup = atoi(argv[3]);
	snprintf(ua.sun_path, sizeof ua.sun_path, "%s", argv[2]);
	unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (unix_fd < 0 || connect(unix_fd, (struct sockaddr *)&ua, sizeof ua) < 0) {
		perror("floor-relay: unix socket");
		return 1;
	}
	ta.sin_port = htons(atoi(argv[1]));
	ta.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tcp_fd < 0 || connect(tcp_fd, (struct sockaddr *)&ta, sizeof ta) < 0) {
		perror("floor-relay: tcp");
		return 1;
	}
	setsockopt(tcp_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	epoll = epoll_create1(EPOLL_CLOEXEC);
	if (epoll < 0 || watch(epoll, tcp_fd) < 0 || watch(epoll, unix_fd) < 0) {
		perror("floor-relay: epoll");
		return 1;
	}
	for (;;) {
		struct epoll_event evs[2];
		int n = epoll_wait(epoll, evs, 2, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

			if (got == 0 && fd == tcp_fd) {
				printf("{\"exchanges\":%d,\"cpuUs\":%ld}\n", exchanges - warmup, cpu_us() - start);
				return 0;
			}
			if (got == 0) {
				fprintf(stderr, "floor-relay: the unix socket's peer closed first\n");
				return 1;
			}
			if (got <= 0)
				continue;
			if (fd == tcp_fd) {
				send(unix_fd, buf, 100, MSG_DONTWAIT | MSG_NOSIGNAL);
			} else {
				if (++exchanges == warmup)
					start = cpu_us();
				send(tcp_fd, buf, 40, MSG_DONTWAIT | MSG_NOSIGNAL);
			}
		}
	}
}
