// SPDX-License-Identifier: Apache-2.0
/*
 * agent/http.c, the agent's --listen: real HTTP requests (libcurl) to a
 * listener on 127.0.0.1 with fake ops that return canned bytes, block until
 * released or fail.  Status codes, headers, the query reaching the agent,
 * the token and Host checks, the bound on profile requests at once, and a
 * stop that does not wait for a blocked profile.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include <cmocka.h>

#include "agent/http.h"
#include "util/util.h"

static const char canned[] = "\x1f\x8b pretend gzipped pprof";
static const char metrics_text[] = "# TYPE bpfprof_samples_total counter\n"
				   "bpfprof_samples_total{type=\"cpu\"} 42\n";

enum mode {
	CANNED,	  /* return the canned body */
	BLOCK,	  /* wait until released or cancelled */
	FAIL_404, /* a status and a message */
	FAIL_ERRNO,
};

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum mode mode;
	const char *not_live; /* an endpoint has_endpoint says no to */
	int calls, waiting, done;
	bool released, cancelled;
	/* When set, cancel asks it for a profile: stopping, it must refuse at once. */
	struct agent_http *probe;
	long probe_status;
	/* The last query seen, copied. */
	char endpoint[16], service[64], pod[64], namespace[64], container[64], container_id[80];
	int seconds;
};

static struct fake fake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "(any)");
}

static int fake_profile(void *ctx, const struct agent_query *q, uint8_t **body, size_t *len,
			char *err, size_t errlen)
{
	struct fake *f = ctx;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	f->calls++;
	copy(f->endpoint, sizeof(f->endpoint), q->endpoint);
	copy(f->service, sizeof(f->service), q->service);
	copy(f->pod, sizeof(f->pod), q->pod);
	copy(f->namespace, sizeof(f->namespace), q->namespace);
	copy(f->container, sizeof(f->container), q->container);
	copy(f->container_id, sizeof(f->container_id), q->container_id);
	f->seconds = q->seconds;
	if (f->mode == BLOCK) {
		f->waiting++;
		pthread_cond_broadcast(&f->cond);
		while (!f->released && !f->cancelled)
			pthread_cond_wait(&f->cond, &f->lock);
		f->waiting--;
		if (f->cancelled) {
			snprintf(err, errlen, "agent stopping");
			rc = 503;
		}
	} else if (f->mode == FAIL_404) {
		snprintf(err, errlen, "no service named %s", q->service ? q->service : "?");
		rc = 404;
	} else if (f->mode == FAIL_ERRNO) {
		rc = -ENOMEM;
	}
	if (!rc) {
		*body = malloc(sizeof(canned) - 1);
		memcpy(*body, canned, sizeof(canned) - 1);
		*len = sizeof(canned) - 1;
	}
	f->done++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_metrics(void *ctx, char **text, size_t *len)
{
	*text = strdup(metrics_text);
	*len = strlen(metrics_text);
	return *text ? 0 : -ENOMEM;
}

static bool fake_has_endpoint(void *ctx, const char *endpoint)
{
	struct fake *f = ctx;

	return !f->not_live || strcmp(endpoint, f->not_live);
}

struct reply;
static long probe(struct agent_http *h);

static void fake_cancel(void *ctx)
{
	struct fake *f = ctx;

	if (f->probe)
		f->probe_status = probe(f->probe);
	pthread_mutex_lock(&f->lock);
	f->cancelled = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static const struct agent_http_ops ops = {
	.profile = fake_profile,
	.metrics = fake_metrics,
	.has_endpoint = fake_has_endpoint,
	.cancel = fake_cancel,
	.ctx = &fake,
};

static struct agent_http *start(int max_requests, const char *token_file)
{
	struct agent_http_opts o = { .listen = "127.0.0.1:0",
				     .token_file = token_file,
				     .max_requests = max_requests,
				     .ops = &ops };
	struct agent_http *h;

	pthread_mutex_lock(&fake.lock);
	fake.mode = CANNED;
	fake.not_live = NULL;
	fake.calls = fake.waiting = fake.done = 0;
	fake.released = fake.cancelled = false;
	fake.probe = NULL;
	fake.endpoint[0] = '\0';
	pthread_mutex_unlock(&fake.lock);
	h = agent_http__start(&o);
	assert_non_null(h);
	assert_true(agent_http__port(h) > 0);
	return h;
}

struct reply {
	long status;
	char type[128], disposition[128], retry[16], allow[32], go_pprof[8], auth[64];
	char body[8192];
	size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;
	size_t take = size * n;

	if (take > sizeof(r->body) - 1 - r->len)
		take = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, data, take);
	r->len += take;
	r->body[r->len] = '\0';
	return size * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t len)
{
	size_t k = strlen(name), v;

	if (n <= k + 1 || strncasecmp(line, name, k) || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n && *line == ' ')
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	v = n < len - 1 ? n : len - 1;
	memcpy(out, line, v);
	out[v] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *cls)
{
	struct reply *r = cls;

	header_value(line, size * n, "Content-Type", r->type, sizeof(r->type));
	header_value(line, size * n, "Content-Disposition", r->disposition, sizeof(r->disposition));
	header_value(line, size * n, "Retry-After", r->retry, sizeof(r->retry));
	header_value(line, size * n, "Allow", r->allow, sizeof(r->allow));
	header_value(line, size * n, "X-Go-Pprof", r->go_pprof, sizeof(r->go_pprof));
	header_value(line, size * n, "WWW-Authenticate", r->auth, sizeof(r->auth));
	return size * n;
}

/*
 * One request: method (NULL: GET), path with query, an extra header or
 * NULL, a timeout in ms (0: 10 s).  Returns curl's code; r->status 0 when no
 * answer came.
 */
static CURLcode request(struct agent_http *h, const char *method, const char *path,
			const char *header, long timeout_ms, struct reply *r)
{
	struct curl_slist *headers = NULL;
	char url[512];
	CURLcode rc;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", agent_http__port(h), path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (method && !strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (header) {
		headers = curl_slist_append(headers, header);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return rc;
}

static long get(struct agent_http *h, const char *path, struct reply *r)
{
	assert_int_equal(request(h, NULL, path, NULL, 0, r), CURLE_OK);
	return r->status;
}

static long probe(struct agent_http *h)
{
	struct reply r;

	if (request(h, NULL, "/debug/pprof/mutex", NULL, 0, &r) != CURLE_OK || r.status != 503)
		return r.status;
	return request(h, NULL, "/metrics", NULL, 0, &r) == CURLE_OK ? r.status : 0;
}

static void test_profile(void **state)
{
	struct agent_http *h = start(0, NULL);
	struct reply r;

	assert_int_equal(get(h, "/debug/pprof/profile", &r), 200);
	assert_string_equal(r.type, "application/octet-stream");
	assert_string_equal(r.disposition, "attachment; filename=\"profile\"");
	assert_int_equal(r.len, sizeof(canned) - 1);
	assert_memory_equal(r.body, canned, r.len);
	assert_string_equal(r.go_pprof, "");
	/* Go's default window for CPU, no filter. */
	assert_string_equal(fake.endpoint, "profile");
	assert_int_equal(fake.seconds, 30);
	assert_string_equal(fake.service, "(any)");

	assert_int_equal(get(h, "/debug/pprof/block", &r), 200);
	assert_string_equal(r.disposition, "attachment; filename=\"block\"");
	assert_string_equal(fake.endpoint, "block");
	/* Cumulative since the start, as Go's. */
	assert_int_equal(fake.seconds, 0);
	assert_int_equal(get(h, "/debug/pprof/allocs?seconds=7", &r), 200);
	assert_string_equal(fake.endpoint, "allocs");
	assert_int_equal(fake.seconds, 7);
	assert_int_equal(get(h, "/debug/pprof/mutex?debug=0", &r), 200);
	assert_string_equal(fake.endpoint, "mutex");

	/* HEAD answers as GET, without the body. */
	assert_int_equal(request(h, "HEAD", "/debug/pprof/profile?seconds=1", NULL, 0, &r),
			 CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "application/octet-stream");
	assert_int_equal(r.len, 0);
	agent_http__stop(h);
}

static void test_query(void **state)
{
	struct agent_http *h = start(0, NULL);
	struct reply r;
	int calls;

	assert_int_equal(get(h, "/debug/pprof/profile?seconds=5&service=api", &r), 200);
	assert_int_equal(fake.seconds, 5);
	assert_string_equal(fake.service, "api");
	assert_string_equal(fake.pod, "(any)");
	assert_int_equal(get(h, "/debug/pprof/block?service=db%20main&pod=p-1&container=c1", &r),
			 200);
	assert_string_equal(fake.service, "db main");
	assert_string_equal(fake.pod, "p-1");
	assert_string_equal(fake.container, "c1");
	assert_string_equal(fake.namespace, "(any)");
	assert_string_equal(fake.container_id, "(any)");
	assert_int_equal(get(h, "/debug/pprof/profile?namespace=shop&container_id=0aF9", &r), 200);
	assert_string_equal(fake.namespace, "shop");
	assert_string_equal(fake.container_id, "0aF9");
	assert_string_equal(fake.pod, "(any)");
	assert_string_equal(fake.service, "(any)");
	assert_int_equal(get(h, "/debug/pprof/profile?seconds=3600", &r), 200);
	assert_int_equal(fake.seconds, 3600);

	calls = fake.calls;
	assert_int_equal(get(h, "/debug/pprof/profile?seconds=0", &r), 400);
	assert_string_equal(r.body, "bpfprof: invalid seconds '0': expected 1..3600\n");
	assert_string_equal(r.go_pprof, "1");
	assert_string_equal(r.type, "text/plain; charset=utf-8");
	assert_int_equal(get(h, "/debug/pprof/profile?seconds=3601", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?seconds=1.5", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/mutex?seconds=", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?seconds=2&seconds=3", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?hz=99", &r), 400);
	assert_non_null(strstr(r.body, "unknown parameter 'hz'"));
	assert_int_equal(get(h, "/debug/pprof/profile?service=", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?service=a%0Ab", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?debug=1", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?pod=a&pod=b", &r), 400);
	assert_string_equal(r.body, "bpfprof: pod given twice\n");
	assert_int_equal(get(h, "/debug/pprof/profile?namespace=", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?container_id=abc&container_id=abc", &r), 400);
	assert_int_equal(get(h, "/debug/pprof/profile?container_id=checkout", &r), 400);
	assert_string_equal(r.body,
			    "bpfprof: invalid container_id 'checkout': expected hex digits\n");
	/* None of them reached the agent. */
	assert_int_equal(fake.calls, calls);
	agent_http__stop(h);
}

static void test_errors(void **state)
{
	struct agent_http *h = start(0, NULL);
	struct reply r;

	/* A type not running: 404 naming the --types value, and the agent is not asked. */
	fake.not_live = "block";
	assert_int_equal(get(h, "/debug/pprof/block?seconds=3", &r), 404);
	assert_string_equal(r.body,
			    "bpfprof: block: this agent does not capture it: add offcpu to its "
			    "--types\n");
	assert_int_equal(fake.calls, 0);
	assert_int_equal(get(h, "/debug/pprof/", &r), 200);
	assert_string_equal(r.type, "text/html; charset=utf-8");
	assert_non_null(strstr(r.body, "<a href='profile?seconds=30'>profile</a>"));
	assert_non_null(strstr(r.body, "<a href='mutex'>mutex</a>"));
	assert_null(strstr(r.body, "<a href='block'>"));
	assert_non_null(strstr(r.body, "add offcpu to --types"));
	assert_int_equal(get(h, "/debug/pprof", &r), 200);

	/* The agent's own status and message. */
	fake.mode = FAIL_404;
	assert_int_equal(get(h, "/debug/pprof/profile?service=nope", &r), 404);
	assert_string_equal(r.body, "no service named nope\n");
	assert_string_equal(r.go_pprof, "1");
	fake.mode = FAIL_ERRNO;
	assert_int_equal(get(h, "/debug/pprof/profile", &r), 500);
	assert_non_null(strstr(r.body, strerror(ENOMEM)));

	assert_int_equal(get(h, "/debug/pprof/heap", &r), 404);
	assert_string_equal(r.body, "Unknown profile: heap\n");
	assert_int_equal(get(h, "/", &r), 404);
	assert_int_equal(get(h, "/debug/pprof/profile/x", &r), 404);
	assert_int_equal(request(h, "POST", "/debug/pprof/profile", NULL, 0, &r), CURLE_OK);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	assert_int_equal(request(h, "DELETE", "/metrics", NULL, 0, &r), CURLE_OK);
	assert_int_equal(r.status, 405);
	agent_http__stop(h);
}

static void test_metrics(void **state)
{
	struct agent_http *h = start(0, NULL);
	struct reply r;

	assert_int_equal(get(h, "/metrics", &r), 200);
	assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
	assert_string_equal(r.body, metrics_text);
	/* Scrapers' own parameters are not refused. */
	assert_int_equal(get(h, "/metrics?x=1", &r), 200);
	agent_http__stop(h);
}

static void test_token_and_host(void **state)
{
	char path[] = "/tmp/test_agent_http.XXXXXX";
	int fd = mkstemp(path);
	struct agent_http *h;
	struct reply r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret\n", 7), 7);
	close(fd);
	h = start(0, path);
	assert_int_equal(get(h, "/debug/pprof/profile", &r), 401);
	assert_string_equal(r.auth, "Bearer realm=\"bpfprof\"");
	assert_int_equal(get(h, "/metrics", &r), 401);
	assert_int_equal(request(h, NULL, "/metrics", "Authorization: Bearer s3cre", 0, &r),
			 CURLE_OK);
	assert_int_equal(r.status, 401);
	assert_int_equal(fake.calls, 0);
	assert_int_equal(
		request(h, NULL, "/debug/pprof/profile", "Authorization: Bearer s3cret", 0, &r),
		CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(fake.calls, 1);
	agent_http__stop(h);
	unlink(path);

	/* A missing token file: no listener, one line said why. */
	struct agent_http_opts o = { .listen = "127.0.0.1:0", .token_file = path, .ops = &ops };

	assert_null(agent_http__start(&o));
	o.token_file = NULL;
	o.listen = "127.0.0.1:99999";
	assert_null(agent_http__start(&o));
	o.listen = "no such host name.invalid:80";
	assert_null(agent_http__start(&o));

	/* HTTP/1.1 without Host ("Host:" makes curl leave it out). */
	h = start(0, NULL);
	assert_int_equal(request(h, NULL, "/metrics", "Host:", 0, &r), CURLE_OK);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "Host"));
	agent_http__stop(h);
}

struct client {
	struct agent_http *h;
	const char *path;
	long timeout_ms;
	struct reply r;
	pthread_t thread;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;

	request(c->h, NULL, c->path, NULL, c->timeout_ms, &c->r);
	return NULL;
}

/* Waits up to 5 s for fake's counter to reach n. */
static void wait_for(int *counter, int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&fake.lock);
	while (*counter < n)
		if (pthread_cond_timedwait(&fake.cond, &fake.lock, &until))
			break;
	assert_true(*counter >= n);
	pthread_mutex_unlock(&fake.lock);
}

static void release(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.released = true;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
}

static void test_concurrency(void **state)
{
	struct agent_http *h = start(2, NULL);
	struct client c[2] = { { h, "/debug/pprof/profile?seconds=1" },
			       { h, "/debug/pprof/block" } };
	struct reply r;
	int i;

	fake.mode = BLOCK;
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&c[i].thread, NULL, client_thread, &c[i]), 0);
	wait_for(&fake.waiting, 2);
	/* Two profiles being built: the third waits for nothing, it is told to retry. */
	assert_int_equal(get(h, "/debug/pprof/mutex", &r), 503);
	assert_string_equal(r.retry, "5");
	assert_string_equal(r.go_pprof, "1");
	assert_non_null(strstr(r.body, "busy"));
	/* /metrics is not a profile: it still answers. */
	assert_int_equal(get(h, "/metrics", &r), 200);
	release();
	for (i = 0; i < 2; i++) {
		pthread_join(c[i].thread, NULL);
		assert_int_equal(c[i].r.status, 200);
	}
	assert_int_equal(get(h, "/debug/pprof/mutex", &r), 200);
	agent_http__stop(h);
}

static void test_client_gone(void **state)
{
	struct agent_http *h = start(1, NULL);
	struct client c = { h, "/debug/pprof/profile", 300 };
	struct reply r;

	fake.mode = BLOCK;
	assert_int_equal(pthread_create(&c.thread, NULL, client_thread, &c), 0);
	wait_for(&fake.waiting, 1);
	pthread_join(c.thread, NULL);
	/* The client gave up; the profile is still being built. */
	assert_int_equal(c.r.status, 0);
	assert_int_equal(fake.done, 0);
	release();
	wait_for(&fake.done, 1);
	/* Its place among the requests is back: max_requests is 1. */
	fake.mode = CANNED;
	assert_int_equal(get(h, "/debug/pprof/profile", &r), 200);
	agent_http__stop(h);
}

/* Releases the blocked profile after 3 s if stop has not: a broken stop fails, not hangs. */
static void *rescuer(void *arg)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&fake.lock);
	while (!fake.done)
		if (pthread_cond_timedwait(&fake.cond, &fake.lock, &until))
			break;
	pthread_mutex_unlock(&fake.lock);
	release();
	return NULL;
}

static void test_stop_while_blocked(void **state)
{
	struct agent_http *h = start(0, NULL);
	struct client c = { h, "/debug/pprof/profile?seconds=3600" };
	pthread_t rescue;
	int64_t t0;

	fake.mode = BLOCK;
	assert_int_equal(pthread_create(&c.thread, NULL, client_thread, &c), 0);
	wait_for(&fake.waiting, 1);
	assert_int_equal(pthread_create(&rescue, NULL, rescuer, NULL), 0);
	fake.probe = h;
	t0 = mono_ns();
	agent_http__stop(h);
	pthread_join(rescue, NULL);
	assert_true(mono_ns() - t0 < 2000000000LL);
	pthread_join(c.thread, NULL);
	/* Released by cancel: the agent's answer reached the client before the close. */
	assert_int_equal(c.r.status, 503);
	assert_string_equal(c.r.body, "agent stopping\n");
	assert_int_equal(fake.waiting, 0);
	/* A request that came once the stop had begun: refused, not left waiting. */
	assert_int_equal(fake.probe_status, 503);
	assert_int_equal(fake.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile),	       cmocka_unit_test(test_query),
		cmocka_unit_test(test_errors),	       cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_token_and_host), cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_client_gone),    cmocka_unit_test(test_stop_while_blocked),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
