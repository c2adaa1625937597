// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/exitcode.h"
#include "serve/route.h"
#include "util/util.h"

/* The query parameter passed to the command as --OPTION=VALUE, if given. */
struct passed_param {
	const char *param;
	const char *option;
};

struct endpoint {
	const char *name;
	const char *cmd;	  /* the bpfprof command; NULL: not a capture */
	const char *fixed[2];	  /* options always given */
	struct passed_param pass; /* one query parameter handed on */
	bool snapshot;		  /* no capture window: "seconds" is refused */
	const char *desc;
};

static const struct endpoint endpoints[] = {
	{ "allocs",
	  "heap",
	  { "--allocs" },
	  { "rate", "--rate" },
	  false,
	  "Allocations during the window, by stack (heap's uprobes; alloc_space shown first). "
	  "rate=BYTES samples one allocation per BYTES (default 512k)." },
	{ "block",
	  "offcpu",
	  { 0 },
	  { 0 },
	  false,
	  "Time threads spent off the CPU during the window (sleeping, I/O, locks, run "
	  "queue), by stack and state." },
	{ "cmdline", NULL, { 0 }, { 0 }, false, "The target's command line." },
	{ "goroutine",
	  "threads",
	  { 0 },
	  { 0 },
	  true,
	  "Every thread's state and stack, now. debug=1 or debug=2 gives text." },
	{ "heap",
	  "heap",
	  { 0 },
	  { "rate", "--rate" },
	  false,
	  "Memory allocated during the window and still live at its end, by stack (uprobes "
	  "on the allocator). rate=BYTES as for allocs." },
	{ "mutex",
	  "mutex",
	  { "--by=holder" },
	  { "by", "--by" },
	  false,
	  "Lock contention during the window, at the holders' stacks (by=waiter: at the "
	  "waiters')." },
	{ "profile",
	  "cpu",
	  { 0 },
	  { "hz", "--freq" },
	  false,
	  "CPU profile: stacks sampled on the CPU during the window. hz=N samples per second "
	  "(default 99)." },
	{ "symbol", NULL, { 0 }, { 0 }, false, "Profiles are symbolized already: no symbols." },
	{ "threadcreate",
	  "threadcreate",
	  { 0 },
	  { 0 },
	  false,
	  "Stacks that created threads and processes during the window." },
};

static void error_route(struct serve_route *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void error_route(struct serve_route *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->action = SERVE_ERROR;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
	r->body = r->message;
	r->body_len = strlen(r->message);
}

/* Adds a word that outlives the route: a static string or the config's. */
static void add_arg(struct serve_route *r, const char *word)
{
	if (r->nargs < SERVE_MAX_ARGS)
		r->args[r->nargs++] = word;
}

/* Adds a word made for this request (at most SERVE_ARG_LEN - 1 characters). */
static void add_made_arg(struct serve_route *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_made_arg(struct serve_route *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nwords >= (int)ARRAY_SIZE(r->words))
		return;
	va_start(ap, fmt);
	vsnprintf(r->words[r->nwords], SERVE_ARG_LEN, fmt, ap);
	va_end(ap);
	add_arg(r, r->words[r->nwords++]);
}

static const struct endpoint *find_endpoint(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(endpoints); i++)
		if (!strcmp(endpoints[i].name, name))
			return &endpoints[i];
	return NULL;
}

/* Text for an HTML page: the five characters that matter, escaped. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static int index_page(const struct serve_config *c, struct serve_route *r)
{
	size_t len = 0, i;
	FILE *f = open_memstream(&r->html, &len);

	if (!f)
		return -ENOMEM;
	fputs("<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
	      "<p>bpfprof serve: pprof profiles of ",
	      f);
	put_escaped(f, c->target_desc ? c->target_desc : "the target");
	fprintf(f,
		", taken when asked. Captures last <code>seconds</code> (default %d); "
		"add <code>debug=1</code> for a top table as text.</p>\n<table>\n",
		SERVE_DEFAULT_SECONDS);
	for (i = 0; i < ARRAY_SIZE(endpoints); i++) {
		const struct endpoint *e = &endpoints[i];

		const char *query = !e->cmd ? "" : e->snapshot ? "?debug=1" : "?seconds=10";

		fprintf(f, "<tr><td><a href='%s%s'>%s</a></td><td>", e->name, query, e->name);
		put_escaped(f, e->desc);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<p>For example: <code>go tool pprof -http=:8080 "
	      "http://HOST:PORT/debug/pprof/profile?seconds=30</code></p>\n</body>\n</html>\n",
	      f);
	if (fclose(f)) {
		free(r->html);
		r->html = NULL;
		return -ENOMEM;
	}
	r->action = SERVE_BODY;
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	r->body = r->html;
	r->body_len = len;
	return 0;
}

/* debug=N: 0 for the profile itself, above 0 for text; -1 for a bad value. */
static int debug_level(const char *v)
{
	long n;

	if (!v || !*v)
		return 0;
	if (parse_long(v, 0, 1000, &n))
		return -1;
	return n;
}

static void capture(const struct serve_config *c, const struct endpoint *e, serve_param_fn param,
		    void *ctx, struct serve_route *r)
{
	const char *secs = param(ctx, "seconds"), *pass = NULL;
	int64_t ns = (int64_t)SERVE_DEFAULT_SECONDS * 1000000000;
	int debug, i;

	if (!secs && ns > c->max_ns)
		ns = c->max_ns;
	debug = debug_level(param(ctx, "debug"));
	if (debug < 0) {
		error_route(r, 400, "invalid debug '%s': expected 0, 1 or 2", param(ctx, "debug"));
		return;
	}
	if (secs && e->snapshot) {
		error_route(r, 400, "%s is a snapshot of now: it takes no seconds", e->name);
		return;
	}
	if (secs && (parse_duration_ns(secs, &ns) || ns <= 0)) {
		error_route(r, 400, "invalid seconds '%s': expected a positive number of seconds",
			    secs);
		return;
	}
	if (ns > c->max_ns) {
		error_route(r, 400,
			    "seconds=%s is over this server's limit of %" PRId64
			    " s (bpfprof serve --max-seconds)",
			    secs, c->max_ns / 1000000000);
		return;
	}
	if (e->pass.param)
		pass = param(ctx, e->pass.param);
	if (pass && strlen(pass) > SERVE_ARG_LEN - 24) {
		error_route(r, 400, "invalid %s: too long", e->pass.param);
		return;
	}

	r->action = debug ? SERVE_CAPTURE_TEXT : SERVE_CAPTURE;
	r->status = 200;
	r->content_type = debug ? "text/plain; charset=utf-8" : "application/octet-stream";
	snprintf(r->name, sizeof(r->name), "%s", e->name);
	add_arg(r, e->cmd);
	for (i = 0; i < c->ntarget_args; i++)
		add_arg(r, c->target_args[i]);
	for (i = 0; i < 2 && e->fixed[i]; i++)
		add_arg(r, e->fixed[i]);
	/* One word per option: a value can never be read as another option. */
	if (pass)
		add_made_arg(r, "%s=%s", e->pass.option, pass);
	if (e->snapshot) {
		if (debug)
			add_arg(r, "--text");
	} else {
		add_made_arg(r, "--duration=%.9g", ns / 1e9);
	}
	/* The top table is the text view of a capture; otherwise nothing on stdout. */
	add_arg(r, debug && !e->snapshot ? "--top=50" : "--top=0");
}

int serve_route(const struct serve_config *c, const char *method, const char *path,
		serve_param_fn param, void *ctx, struct serve_route *r)
{
	static const char prefix[] = "/debug/pprof/";
	const struct endpoint *e;
	const char *name;

	memset(r, 0, sizeof(*r));
	if (!strcmp(path, "/debug/pprof"))
		path = prefix;
	if (strncmp(path, prefix, sizeof(prefix) - 1)) {
		error_route(r, 404, "bpfprof serves profiles under %s", prefix);
		return 0;
	}
	name = path + sizeof(prefix) - 1;
	e = find_endpoint(name);
	/* Go's pprof client posts addresses to symbol; everything else is read. */
	if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
	    !(e && !strcmp(e->name, "symbol") && !strcmp(method, "POST"))) {
		error_route(r, 405, "method %s not allowed: use GET", method);
		return 0;
	}
	if (!*name)
		return index_page(c, r);
	if (!e) {
		if (!strcmp(name, "trace"))
			error_route(r, 404, "bpfprof serves no execution traces");
		else
			error_route(r, 404, "Unknown profile: %s", name);
		return 0;
	}
	if (e->cmd) {
		capture(c, e, param, ctx, r);
		return 0;
	}
	r->action = SERVE_BODY;
	r->status = 200;
	r->content_type = "text/plain; charset=utf-8";
	if (!strcmp(e->name, "symbol")) {
		/* Tells pprof there is nothing to look up: frames come symbolized. */
		r->body = "num_symbols: 0\n";
		r->body_len = strlen(r->body);
	} else if (c->cmdline) {
		r->body = c->cmdline;
		r->body_len = c->cmdline_len;
	} else {
		error_route(r, 404, "cmdline: the target is not one process");
	}
	return 0;
}

int serve_status_of_exit(int code)
{
	switch (code) {
	case EXIT_OK:
		return 200;
	case EXIT_USAGE:
		return 400;
	case EXIT_TARGET:
		return 404;
	case EXIT_ABORTED:
		return 503;
	default:
		return 500;
	}
}
