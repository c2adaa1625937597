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
#include <stddef.h>
#include <sys/socket.h>
#include <microhttpd.h>

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

/*
 * The HTTP layer serve shares with the agent's --listen (agent/http.c):
 * one way to listen, to check a request and to answer it.
 */

/*
 * A listening socket for a --listen spec (serve_split_listen's syntax);
 * shown gets the address as bound ("127.0.0.1:6060", "[::]:6060").  Prints
 * why not; the fd, or -errno (-EINVAL: a bad spec or host).
 */
int serve_listen(const char *spec, char *shown, size_t shown_len);
/* The port fd is bound to (port 0 asks the kernel for one), or -errno. */
int serve_listen_port(int fd);
/*
 * One warning line when fd listens beyond loopback: what ("captures",
 * "profiles") is then open to the network, and how to restrict it.
 */
void serve_warn_exposed(int fd, bool token, const char *what);

/* A request's state between libmicrohttpd's calls of the handler (*state). */
struct serve_request {
	size_t uploaded;
	bool counted; /* the caller's: it counts this request among those open */
};

/*
 * A libmicrohttpd daemon on the listening fd, a thread per connection (a
 * handler may block for as long as its profile takes); it owns fd once
 * started.  The handler begins with serve_request_ready().  completed (cls
 * as the handler's), called when a request's answer is sent or abandoned,
 * ends with serve_request_end(state); NULL for just that.  NULL on failure.
 */
struct MHD_Daemon *serve_start_daemon(int fd, MHD_AccessHandlerCallback handler, void *cls,
				      MHD_RequestCompletedCallback completed);
/* Frees the request's state. */
void serve_request_end(void **state);
/*
 * In a handler: true when the request is complete and is to be answered
 * now; otherwise the handler returns *ret.  A body is read and dropped, up to
 * 64 KiB; more closes the connection.
 */
bool serve_request_ready(void **state, size_t *upload_size, enum MHD_Result *ret);
/*
 * What every request passes first: one Host header in HTTP/1.1, and the
 * bearer token when token is not NULL.  0, or the status of the error
 * already queued (400, 401), *ret to be returned.
 */
int serve_check_request(struct MHD_Connection *conn, const char *version, const char *token,
			enum MHD_Result *ret);
/* The request's query as "?a=1&b=2" (cut at len), for a log line. */
void serve_query_string(struct MHD_Connection *conn, char *buf, size_t len);

/*
 * A response with the headers every answer carries (nosniff; on an error
 * Go's X-Go-Pprof: 1, on 503 Retry-After).  NULL when out of memory (data
 * is freed then if mode is MHD_RESPMEM_MUST_FREE).
 */
struct MHD_Response *serve_response(int status, const char *type, const void *data, size_t len,
				    enum MHD_ResponseMemoryMode mode);
/* Queues resp (NULL: MHD_NO, the connection is closed) and drops our reference. */
enum MHD_Result serve_queue(struct MHD_Connection *conn, int status, struct MHD_Response *resp);
/* A plain text error: msg and a newline. */
enum MHD_Result serve_send_error(struct MHD_Connection *conn, int status, const char *msg);

#endif
