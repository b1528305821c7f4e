// SPDX-License-Identifier: GPL-2.0
/* C client of `tdx-codegen sim serve`: fixed-size little-endian frames. */
#define _POSIX_C_SOURCE 200809L
#include "simclient.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REQUEST_SIZE 40
#define RESPONSE_SIZE 48
#define REQUEST_MAGIC 0x53584454u	/* "TDXS" */
#define RESPONSE_MAGIC 0x52584454u	/* "TDXR" */
#define PROTOCOL_VERSION 1

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_tcp(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, colon - hostport);
	host[colon - hostport] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int sim_connect(const char *address)
{
	if (!strncmp(address, "tcp:", 4))
		return connect_tcp(address + 4);
	if (!strncmp(address, "unix:", 5))
		address += 5;
	return connect_unix(address);
}

static int write_all(int fd, const uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t r = read(fd, buf, n);

		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

int sim_seamcall(int fd, const struct sim_regs *in, struct sim_regs *out,
		 uint8_t *page, uint32_t *page_len)
{
	uint8_t req[REQUEST_SIZE], resp[RESPONSE_SIZE], sink[SIM_PAGE_SIZE];
	uint64_t len;
	int error;

	put_le(req, REQUEST_MAGIC, 4);
	put_le(req + 4, PROTOCOL_VERSION, 2);
	put_le(req + 6, REQUEST_SIZE, 2);
	put_le(req + 8, in->rax, 8);
	put_le(req + 16, in->rcx, 8);
	put_le(req + 24, in->rdx, 8);
	put_le(req + 32, in->r8, 8);
	if (write_all(fd, req, sizeof(req)) || read_all(fd, resp, sizeof(resp)))
		return -1;
	if (get_le(resp, 4) != RESPONSE_MAGIC || get_le(resp + 4, 2) != PROTOCOL_VERSION)
		return -1;
	error = (int)get_le(resp + 6, 2);
	out->rax = get_le(resp + 8, 8);
	out->rcx = get_le(resp + 16, 8);
	out->rdx = get_le(resp + 24, 8);
	out->r8 = get_le(resp + 32, 8);
	len = get_le(resp + 40, 4);
	if (len > SIM_PAGE_SIZE || read_all(fd, page ? page : sink, len))
		return -1;
	if (page_len)
		*page_len = (uint32_t)len;
	return error;
}
