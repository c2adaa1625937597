// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof serve's routing: which bpfprof command line each /debug/pprof/
 * request runs, which requests are refused and how, and the --listen
 * address syntax.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "serve/route.h"
#include "serve/server.h"

/* Query parameters as "name=value" strings, NULL-terminated. */
static const char *param(void *ctx, const char *name)
{
	const char *const *kv = ctx;
	size_t n = strlen(name);

	for (; *kv; kv++)
		if (!strncmp(*kv, name, n) && (*kv)[n] == '=')
			return *kv + n + 1;
	return NULL;
}

static const char *const pid_args[] = { "-p", "42", "--unwind-mem=32" };

static const struct serve_config config = {
	.target_args = pid_args,
	.ntarget_args = 3,
	.max_ns = 600 * 1000000000LL,
	.cmdline = "app\0--flag",
	.cmdline_len = 10,
	.target_desc = "pid 42 <app>",
};

/* The route's command line as one string, words separated by spaces. */
static const char *route_args(const char *method, const char *path, const char *const *query,
			      struct serve_route *r)
{
	static char line[SERVE_MAX_ARGS * SERVE_ARG_LEN];
	size_t n = 0;
	int i;

	assert_int_equal(serve_route(&config, method, path, param, (void *)query, r), 0);
	line[0] = '\0';
	for (i = 0; i < r->nargs; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%s", i ? " " : "", r->args[i]);
	return line;
}

static void test_profile(void **state)
{
	const char *const none[] = { NULL };
	const char *const q[] = { "seconds=5", "hz=499", NULL };
	struct serve_route r;

	/* Go's default: 30 seconds. */
	assert_string_equal(route_args("GET", "/debug/pprof/profile", none, &r),
			    "cpu -p 42 --unwind-mem=32 --duration=30 --top=0");
	assert_int_equal(r.action, SERVE_CAPTURE);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/octet-stream");
	assert_string_equal(r.name, "profile");
	assert_string_equal(route_args("GET", "/debug/pprof/profile", q, &r),
			    "cpu -p 42 --unwind-mem=32 --freq=499 --duration=5 --top=0");
	assert_string_equal(route_args("HEAD", "/debug/pprof/profile", q, &r),
			    "cpu -p 42 --unwind-mem=32 --freq=499 --duration=5 --top=0");
}

static void test_other_profiles(void **state)
{
	const char *const q[] = { "seconds=1.5", NULL };
	const char *const rate[] = { "seconds=2", "rate=4k", NULL };
	const char *const waiter[] = { "by=waiter", NULL };
	struct serve_route r;

	assert_string_equal(route_args("GET", "/debug/pprof/block", q, &r),
			    "offcpu -p 42 --unwind-mem=32 --duration=1.5 --top=0");
	assert_string_equal(route_args("GET", "/debug/pprof/heap", rate, &r),
			    "heap -p 42 --unwind-mem=32 --rate=4k --duration=2 --top=0");
	assert_string_equal(route_args("GET", "/debug/pprof/allocs", rate, &r),
			    "heap -p 42 --unwind-mem=32 --allocs --rate=4k --duration=2 --top=0");
	/* Go's mutex profile is the holders'; by=waiter is offered too. */
	assert_string_equal(route_args("GET", "/debug/pprof/mutex", q, &r),
			    "mutex -p 42 --unwind-mem=32 --by=holder --duration=1.5 --top=0");
	assert_string_equal(
		route_args("GET", "/debug/pprof/mutex", waiter, &r),
		"mutex -p 42 --unwind-mem=32 --by=holder --by=waiter --duration=30 --top=0");
	assert_string_equal(route_args("GET", "/debug/pprof/threadcreate", q, &r),
			    "threadcreate -p 42 --unwind-mem=32 --duration=1.5 --top=0");
}

static void test_text_views(void **state)
{
	const char *const none[] = { NULL };
	const char *const debug1[] = { "debug=1", NULL };
	const char *const debug2[] = { "debug=2", NULL };
	const char *const top[] = { "seconds=3", "debug=1", NULL };
	struct serve_route r;

	/* goroutine is now: no window; debug gives the text view. */
	assert_string_equal(route_args("GET", "/debug/pprof/goroutine", none, &r),
			    "threads -p 42 --unwind-mem=32 --top=0");
	assert_int_equal(r.action, SERVE_CAPTURE);
	assert_string_equal(route_args("GET", "/debug/pprof/goroutine", debug1, &r),
			    "threads -p 42 --unwind-mem=32 --text --top=0");
	assert_int_equal(r.action, SERVE_CAPTURE_TEXT);
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");
	assert_string_equal(route_args("GET", "/debug/pprof/goroutine", debug2, &r),
			    "threads -p 42 --unwind-mem=32 --text --top=0");
	/* A capture's text view is its top table. */
	assert_string_equal(route_args("GET", "/debug/pprof/profile", top, &r),
			    "cpu -p 42 --unwind-mem=32 --duration=3 --top=50");
	assert_int_equal(r.action, SERVE_CAPTURE_TEXT);
}

static void expect_error(const char *method, const char *path, const char *const *query, int status,
			 const char *message)
{
	struct serve_route r;

	assert_int_equal(serve_route(&config, method, path, param, (void *)query, &r), 0);
	assert_int_equal(r.action, SERVE_ERROR);
	assert_int_equal(r.status, status);
	if (!strstr(r.message, message))
		fail_msg("%s %s: '%s' does not say '%s'", method, path, r.message, message);
}

/* view=flame: the flame graph page of the same capture, on every capture endpoint. */
static void test_flame_view(void **state)
{
	const char *const flame[] = { "seconds=2", "view=flame", NULL };
	const char *const flame_debug[] = { "view=flame", "debug=1", NULL };
	const char *const bad[] = { "view=svg", NULL };
	struct serve_route r;

	assert_string_equal(route_args("GET", "/debug/pprof/profile", flame, &r),
			    "cpu -p 42 --unwind-mem=32 --duration=2 --top=0");
	assert_int_equal(r.action, SERVE_CAPTURE_HTML);
	assert_string_equal(r.content_type, "text/html; charset=utf-8");
	assert_string_equal(route_args("GET", "/debug/pprof/heap", flame, &r),
			    "heap -p 42 --unwind-mem=32 --duration=2 --top=0");
	assert_int_equal(r.action, SERVE_CAPTURE_HTML);
	/* The page is the view: debug's text is not asked for beside it. */
	assert_string_equal(route_args("GET", "/debug/pprof/goroutine", flame_debug, &r),
			    "threads -p 42 --unwind-mem=32 --top=0");
	assert_int_equal(r.action, SERVE_CAPTURE_HTML);
	expect_error("GET", "/debug/pprof/profile", bad, 400, "invalid view 'svg'");
}

static void test_refused(void **state)
{
	const char *const none[] = { NULL };
	const char *const bad[] = { "seconds=abc", NULL };
	const char *const zero[] = { "seconds=0", NULL };
	const char *const neg[] = { "seconds=-3", NULL };
	const char *const long_[] = { "seconds=601", NULL };
	const char *const baddebug[] = { "debug=x", NULL };
	const char *const snap[] = { "seconds=5", NULL };
	char big[SERVE_ARG_LEN + 16];
	const char *const huge[] = { big, NULL };

	expect_error("GET", "/debug/pprof/profile", bad, 400, "invalid seconds 'abc'");
	expect_error("GET", "/debug/pprof/heap", zero, 400, "invalid seconds '0'");
	expect_error("GET", "/debug/pprof/block", neg, 400, "invalid seconds '-3'");
	expect_error("GET", "/debug/pprof/profile", long_, 400,
		     "over this server's limit of 600 s");
	expect_error("GET", "/debug/pprof/profile", baddebug, 400, "invalid debug 'x'");
	expect_error("GET", "/debug/pprof/goroutine", snap, 400, "takes no seconds");
	expect_error("GET", "/debug/pprof/nothing", none, 404, "Unknown profile: nothing");
	expect_error("GET", "/debug/pprof/trace", none, 404, "no execution traces");
	expect_error("GET", "/", none, 404, "/debug/pprof/");
	expect_error("GET", "/debug/pprofile", none, 404, "/debug/pprof/");
	expect_error("POST", "/debug/pprof/profile", none, 405, "method POST not allowed");
	expect_error("DELETE", "/debug/pprof/", none, 405, "method DELETE not allowed");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "hz=", 3);
	expect_error("GET", "/debug/pprof/profile", huge, 400, "invalid hz: too long");
}

static void test_bodies(void **state)
{
	const char *const none[] = { NULL };
	struct serve_route r;

	assert_int_equal(serve_route(&config, "GET", "/debug/pprof/", param, (void *)none, &r), 0);
	assert_int_equal(r.action, SERVE_BODY);
	assert_string_equal(r.content_type, "text/html; charset=utf-8");
	/* The target's description is escaped; every endpoint is linked. */
	assert_non_null(strstr(r.body, "pid 42 &lt;app&gt;"));
	assert_non_null(strstr(r.body, "href='profile?seconds=10'"));
	assert_non_null(strstr(r.body, "href='goroutine?debug=1'"));
	assert_int_equal(strlen(r.body), r.body_len);
	free(r.html);
	/* Without the slash: the same page. */
	assert_int_equal(serve_route(&config, "GET", "/debug/pprof", param, (void *)none, &r), 0);
	assert_int_equal(r.action, SERVE_BODY);
	free(r.html);

	assert_int_equal(
		serve_route(&config, "GET", "/debug/pprof/cmdline", param, (void *)none, &r), 0);
	assert_int_equal(r.body_len, 10);
	assert_memory_equal(r.body, "app\0--flag", 10);
	/* pprof posts addresses to symbol: there are none to give. */
	assert_int_equal(
		serve_route(&config, "POST", "/debug/pprof/symbol", param, (void *)none, &r), 0);
	assert_string_equal(r.body, "num_symbols: 0\n");
}

/* The target's words are passed whole, whatever their length (a container's cgroup). */
static void test_long_target(void **state)
{
	const char *const none[] = { NULL };
	char cgroup[600];
	const char *args[] = { cgroup };
	struct serve_config c = config;
	struct serve_route r;

	memset(cgroup, 'x', sizeof(cgroup) - 1);
	cgroup[sizeof(cgroup) - 1] = '\0';
	memcpy(cgroup, "--cgroup=/", 10);
	c.target_args = args;
	c.ntarget_args = 1;
	assert_int_equal(serve_route(&c, "GET", "/debug/pprof/block", param, (void *)none, &r), 0);
	assert_int_equal(r.nargs, 4);
	assert_string_equal(r.args[1], cgroup);
}

static void test_limits(void **state)
{
	const char *const none[] = { NULL };
	const char *const q[] = { "seconds=10", NULL };
	struct serve_config c = config;
	struct serve_route r;

	/* A server limit below Go's default shortens the default. */
	c.max_ns = 5 * 1000000000LL;
	assert_int_equal(serve_route(&c, "GET", "/debug/pprof/profile", param, (void *)none, &r),
			 0);
	assert_string_equal(r.args[4], "--duration=5");
	assert_int_equal(serve_route(&c, "GET", "/debug/pprof/profile", param, (void *)q, &r), 0);
	assert_int_equal(r.status, 400);
	/* No single process: no command line to give. */
	c.cmdline = NULL;
	assert_int_equal(serve_route(&c, "GET", "/debug/pprof/cmdline", param, (void *)none, &r),
			 0);
	assert_int_equal(r.status, 404);
}

static void test_status_of_exit(void **state)
{
	assert_int_equal(serve_status_of_exit(0), 200);
	assert_int_equal(serve_status_of_exit(1), 500);
	assert_int_equal(serve_status_of_exit(2), 400);
	assert_int_equal(serve_status_of_exit(3), 404);
	assert_int_equal(serve_status_of_exit(4), 500);
	assert_int_equal(serve_status_of_exit(130), 503);
}

static void expect_listen(const char *spec, const char *host, const char *port)
{
	char h[64], p[16];

	assert_int_equal(serve_split_listen(spec, h, sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, host);
	assert_string_equal(p, port);
}

static void test_listen(void **state)
{
	char h[64], p[16];

	expect_listen("localhost:6060", "localhost", "6060");
	expect_listen(":6060", "", "6060");
	expect_listen("6060", "localhost", "6060");
	expect_listen("0.0.0.0:0", "0.0.0.0", "0");
	expect_listen("[::1]:6060", "::1", "6060");
	expect_listen("[::]:80", "::", "80");
	assert_int_equal(serve_split_listen("::1:6060", h, sizeof(h), p, sizeof(p)), -EINVAL);
	assert_int_equal(serve_split_listen("host:", h, sizeof(h), p, sizeof(p)), -EINVAL);
	assert_int_equal(serve_split_listen("host:http", h, sizeof(h), p, sizeof(p)), -EINVAL);
	assert_int_equal(serve_split_listen("host:65536", h, sizeof(h), p, sizeof(p)), -EINVAL);
	assert_int_equal(serve_split_listen("[::1]6060", h, sizeof(h), p, sizeof(p)), -EINVAL);
	assert_int_equal(serve_split_listen("", h, sizeof(h), p, sizeof(p)), -EINVAL);
}

static bool loopback(const char *addr)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };

	if (inet_pton(AF_INET, addr, &a4.sin_addr) == 1)
		return serve_addr_is_loopback((struct sockaddr *)&a4);
	assert_int_equal(inet_pton(AF_INET6, addr, &a6.sin6_addr), 1);
	return serve_addr_is_loopback((struct sockaddr *)&a6);
}

/* What --listen exposes: anything but loopback gets serve's warning. */
static void test_loopback(void **state)
{
	assert_true(loopback("127.0.0.1"));
	assert_true(loopback("127.1.2.3"));
	assert_true(loopback("::1"));
	assert_true(loopback("::ffff:127.0.0.1"));
	assert_false(loopback("0.0.0.0"));
	assert_false(loopback("::"));
	assert_false(loopback("10.0.0.1"));
	assert_false(loopback("128.0.0.1"));
	assert_false(loopback("::ffff:10.0.0.1"));
	assert_false(loopback("::2"));
}

static void test_authorized(void **state)
{
	assert_true(serve_authorized("Bearer s3cret", "s3cret"));
	assert_true(serve_authorized("bearer  s3cret ", "s3cret")); /* the scheme is case-blind */
	assert_false(serve_authorized(NULL, "s3cret"));
	assert_false(serve_authorized("", "s3cret"));
	assert_false(serve_authorized("Bearer ", "s3cret"));
	assert_false(serve_authorized("Bearer s3cre", "s3cret"));
	assert_false(serve_authorized("Bearer s3cret2", "s3cret"));
	assert_false(serve_authorized("Bearer S3cret", "s3cret"));
	assert_false(serve_authorized("Basic s3cret", "s3cret"));
	assert_false(serve_authorized("s3cret", "s3cret"));
}

/* Writes text to a temporary file and reads it as --token-file; returns what it returned. */
static int read_token(const char *text, char *buf, size_t len)
{
	char path[] = "/tmp/test_serve_token.XXXXXX";
	int fd = mkstemp(path), err;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	err = serve_read_token(path, buf, len);
	unlink(path);
	return err;
}

static void test_token_file(void **state)
{
	char buf[SERVE_MAX_TOKEN + 2], big[SERVE_MAX_TOKEN + 8];

	assert_int_equal(read_token("abc-123_~+/=\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc-123_~+/=");
	assert_int_equal(read_token("tok\r\nsecond line\n", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tok");
	assert_int_equal(read_token("", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(read_token("\n", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(read_token("two words\n", buf, sizeof(buf)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(read_token(big, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(serve_read_token("/nonexistent/token", buf, sizeof(buf)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile),	       cmocka_unit_test(test_other_profiles),
		cmocka_unit_test(test_text_views),     cmocka_unit_test(test_flame_view),
		cmocka_unit_test(test_refused),	       cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_limits),	       cmocka_unit_test(test_long_target),
		cmocka_unit_test(test_status_of_exit), cmocka_unit_test(test_listen),
		cmocka_unit_test(test_loopback),       cmocka_unit_test(test_authorized),
		cmocka_unit_test(test_token_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
