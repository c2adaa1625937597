/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `bpfprof serve` answers to a request: the /debug/pprof/ paths of Go's
 * net/http/pprof, each mapped to a bpfprof command line (run as a child
 * process, see server.c), a small text or HTML body, or an HTTP error.  Pure:
 * no I/O, so every mapping is unit-tested.
 */
#ifndef BPFPROF_SERVE_ROUTE_H
#define BPFPROF_SERVE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_MAX_ARGS 24
#define SERVE_ARG_LEN 96
#define SERVE_DEFAULT_SECONDS 30

/* What serve was started with, shared by every request. */
struct serve_config {
	/* The target as bpfprof options ("-p" "42", "-a", ...), then stack options. */
	const char *const *target_args;
	int ntarget_args;
	int64_t max_ns; /* the longest capture a request may ask for */
	/* For /debug/pprof/cmdline: the target's command line (NULs between words), or NULL. */
	const char *cmdline;
	size_t cmdline_len;
	const char *target_desc; /* "pid 42 (nginx)", for the index page */
};

enum serve_action {
	SERVE_CAPTURE,	    /* run `bpfprof ARGS -o FILE` and send FILE */
	SERVE_CAPTURE_TEXT, /* run `bpfprof ARGS -o FILE` and send what it printed on stdout */
	SERVE_CAPTURE_HTML, /* run `bpfprof ARGS -o FILE --html PAGE` and send PAGE (view=flame) */
	SERVE_BODY,	    /* send body */
	SERVE_ERROR,	    /* send status and message */
};

struct serve_route {
	enum serve_action action;
	int status;		  /* 200, or the error's */
	const char *content_type; /* of a 200 response */
	char name[16];		  /* the profile's name: Content-Disposition's filename */
	/*
	 * SERVE_CAPTURE*: the command line after the program name, without -o.
	 * Words point into the config (the target, which may be long: a
	 * cgroup path, a thousand pids), static strings or words[].
	 */
	const char *args[SERVE_MAX_ARGS];
	int nargs;
	char words[4][SERVE_ARG_LEN]; /* the words made for this request */
	int nwords;
	/* SERVE_BODY (points into config or a static string) or SERVE_ERROR (message). */
	const char *body;
	size_t body_len;
	char message[256];
	char *html; /* SERVE_BODY for the index page: malloc'd, the caller frees it */
};

/* Looks up a query parameter of the request: its decoded value, or NULL. */
typedef const char *(*serve_param_fn)(void *ctx, const char *name);

/*
 * Maps a request (method, decoded path without the query, parameters) to
 * what to do.  Fills *r; returns 0, or -ENOMEM (the index page's buffer).
 */
int serve_route(const struct serve_config *c, const char *method, const char *path,
		serve_param_fn param, void *ctx, struct serve_route *r);

/* The HTTP status for a bpfprof child's exit code (exitcode.h). */
int serve_status_of_exit(int code);

#endif
