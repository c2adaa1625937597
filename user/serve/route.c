// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_type/profile_type.h"
#include "util/exitcode.h"
#include "serve/route.h"
#include "util/util.h"

/*
 * An endpoint: a capture of a profile type (its descriptor lists the
 * endpoints it answers, profile_type.h), or one of the few below.
 */
struct endpoint {
	const char *name;
	const struct profile_type *type; /* NULL: not a capture */
	const struct type_endpoint *ep;	 /* the type's: fixed options, passed parameter */
	const char *desc;
};

static const struct endpoint others[] = {
	{ "cmdline", NULL, NULL, "The target's command line." },
	{ "symbol", NULL, NULL, "Profiles are symbolized already: no symbols." },
};

/* Every endpoint: the profile types' (at most 4 each), then the others. */
#define MAX_ENDPOINTS 64

static size_t list_endpoints(struct endpoint *out)
{
	size_t i, n = 0;
	int j;

	for (i = 0; i < nprofile_types; i++) {
		const struct profile_type *t = profile_types[i];

		for (j = 0; j < t->nendpoints && n < MAX_ENDPOINTS; j++)
			out[n++] = (struct endpoint){ t->endpoints[j].name, t, &t->endpoints[j],
						      t->endpoints[j].desc };
	}
	for (i = 0; i < ARRAY_SIZE(others) && n < MAX_ENDPOINTS; i++)
		out[n++] = others[i];
	return n;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct endpoint *)a)->name, ((const struct endpoint *)b)->name);
}

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

static bool find_endpoint(const char *name, struct endpoint *out)
{
	struct endpoint all[MAX_ENDPOINTS];
	size_t i, n = list_endpoints(all);

	for (i = 0; i < n; i++) {
		if (!strcmp(all[i].name, name)) {
			*out = all[i];
			return true;
		}
	}
	return false;
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
	struct endpoint all[MAX_ENDPOINTS];
	size_t len = 0, i, n = list_endpoints(all);
	FILE *f = open_memstream(&r->html, &len);

	if (!f)
		return -ENOMEM;
	fputs("<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
	      "<p>bpfprof serve: pprof profiles of ",
	      f);
	put_escaped(f, c->target_desc ? c->target_desc : "the target");
	fprintf(f,
		", taken when asked. Captures last <code>seconds</code> (default %d); "
		"add <code>debug=1</code> for a top table as text, <code>view=flame</code> for an "
		"interactive flame graph page.</p>\n<table>\n",
		SERVE_DEFAULT_SECONDS);
	/* In name order, as Go's index page. */
	qsort(all, n, sizeof(all[0]), by_name);
	for (i = 0; i < n; i++) {
		const struct endpoint *e = &all[i];
		const char *query = !e->type ? "" : e->type->snapshot ? "?debug=1" : "?seconds=10";

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
	const char *secs = param(ctx, "seconds"), *pass = NULL, *view = param(ctx, "view");
	int64_t ns = (int64_t)SERVE_DEFAULT_SECONDS * 1000000000;
	bool flame = false;
	int debug, i;

	if (!secs && ns > c->max_ns)
		ns = c->max_ns;
	debug = debug_level(param(ctx, "debug"));
	if (debug < 0) {
		error_route(r, 400, "invalid debug '%s': expected 0, 1 or 2", param(ctx, "debug"));
		return;
	}
	if (view && *view) {
		if (strcmp(view, "flame")) {
			error_route(r, 400, "invalid view '%s': expected flame", view);
			return;
		}
		/* The page is the view: no text beside it. */
		flame = true;
		debug = 0;
	}
	if (secs && e->type->snapshot) {
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
	if (e->ep->pass.param)
		pass = param(ctx, e->ep->pass.param);
	if (pass && strlen(pass) > SERVE_ARG_LEN - 24) {
		error_route(r, 400, "invalid %s: too long", e->ep->pass.param);
		return;
	}

	r->action = flame ? SERVE_CAPTURE_HTML : debug ? SERVE_CAPTURE_TEXT : SERVE_CAPTURE;
	r->status = 200;
	r->content_type = flame	  ? "text/html; charset=utf-8"
			  : debug ? "text/plain; charset=utf-8"
				  : "application/octet-stream";
	snprintf(r->name, sizeof(r->name), "%s", e->name);
	add_arg(r, e->type->name);
	for (i = 0; i < c->ntarget_args; i++)
		add_arg(r, c->target_args[i]);
	for (i = 0; i < 2 && e->ep->fixed[i]; i++)
		add_arg(r, e->ep->fixed[i]);
	/* One word per option: a value can never be read as another option. */
	if (pass)
		add_made_arg(r, "%s=%s", e->ep->pass.option, pass);
	if (e->type->snapshot) {
		if (debug)
			add_arg(r, "--text");
	} else {
		add_made_arg(r, "--duration=%.9g", ns / 1e9);
	}
	/* The top table is the text view of a capture; otherwise nothing on stdout. */
	add_arg(r, debug && !e->type->snapshot ? "--top=50" : "--top=0");
}

int serve_route(const struct serve_config *c, const char *method, const char *path,
		serve_param_fn param, void *ctx, struct serve_route *r)
{
	static const char prefix[] = "/debug/pprof/";
	struct endpoint found, *e;
	const char *name;

	memset(r, 0, sizeof(*r));
	if (!strcmp(path, "/debug/pprof"))
		path = prefix;
	if (strncmp(path, prefix, sizeof(prefix) - 1)) {
		error_route(r, 404, "bpfprof serves profiles under %s", prefix);
		return 0;
	}
	name = path + sizeof(prefix) - 1;
	e = find_endpoint(name, &found) ? &found : NULL;
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
	if (e->type) {
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
