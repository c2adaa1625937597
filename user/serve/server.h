/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP side of `bpfprof serve` (libmicrohttpd, a thread per
 * connection).  Every capture runs as a child process, the bpfprof command
 * line route.c built, writing into a private directory: the same code, the
 * same checks and messages as on the command line, isolated from the server
 * and from each other.
 */
#ifndef BPFPROF_SERVE_SERVER_H
#define BPFPROF_SERVE_SERVER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "serve/route.h"

/* The longest bearer token --token-file may hold. */
#define SERVE_MAX_TOKEN 4096

struct serve_server;

struct serve_server_opts {
	struct serve_config config;
	int listen_fd;	  /* bound and listening; the server owns it */
	int max_captures; /* captures running at once; more get 503 */
	const char *exe;  /* the bpfprof binary the captures run */
	/* When not NULL: every request must carry "Authorization: Bearer TOKEN". */
	const char *token;
};

/*
 * Starts serving; NULL (errno set) on failure.  Listening on an address
 * other than loopback prints a warning: the captures are open to the network.
 */
struct serve_server *serve_server__start(const struct serve_server_opts *o);
/*
 * Stops accepting connections and asks every capture running to stop now
 * and send what it recorded (SIGINT, as a Ctrl-C would); again, to abort.
 */
void serve_server__quiesce(struct serve_server *s, bool abort);
/* Requests being answered now. */
int serve_server__busy(struct serve_server *s);
/* Stops the server and frees it (NULL is fine). */
void serve_server__free(struct serve_server *s);

/*
 * Splits a --listen address: "HOST:PORT", ":PORT" (every address),
 * "[V6]:PORT" or "PORT" (localhost).  host is "" for every address.
 * -EINVAL otherwise.
 */
int serve_split_listen(const char *spec, char *host, size_t hlen, char *port, size_t plen);

/* Whether sa is a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
bool serve_addr_is_loopback(const struct sockaddr *sa);

/*
 * Reads the bearer token of --token-file into buf: the file's first line,
 * visible ASCII, not empty.  Prints why not; 0 or -errno (-EINVAL: bad token).
 */
int serve_read_token(const char *path, char *buf, size_t len);

/*
 * Whether an Authorization header value is "Bearer TOKEN" with the token
 * wanted, compared in a time that does not depend on where they differ.
 */
bool serve_authorized(const char *header, const char *token);

#endif
