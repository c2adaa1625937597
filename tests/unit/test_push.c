// SPDX-License-Identifier: Apache-2.0
/*
 * The Pyroscope push sink against a small HTTP/1.1 receiver on a thread of
 * the test: what is sent (read back with our pb reader and with protoc),
 * headers, retries, the queue's bounds, flush and free against a backend
 * that is dead or never answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "agent/push.h"
#include "profile/pb.h"

#define PROTO_DIR "tests/e2e"
#define PROTO PROTO_DIR "/pyroscope_push.proto"
#define MAX_RX 32

struct rx_req {
	char head[4096]; /* request line and headers */
	uint8_t *body;
	size_t len;
};

/* The receiver: answers each request with the next scripted status. */
struct rx {
	int lfd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int script[8];
	int nscript;
	bool hang;	  /* never answer */
	bool gate_closed; /* answer only once opened */
	bool stop;
	struct rx_req reqs[MAX_RX];
	int nreq;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static bool rx_stopping(struct rx *rx)
{
	bool stop;

	pthread_mutex_lock(&rx->lock);
	stop = rx->stop;
	pthread_mutex_unlock(&rx->lock);
	return stop;
}

static void rx_serve(struct rx *rx, int fd)
{
	static char buf[1 << 16];
	size_t got = 0, want = 0, hlen;
	char *end = NULL, *cl, resp[256];
	struct rx_req *q;
	int status, n;
	ssize_t r;

	while (!end || got < want) {
		r = read(fd, buf + got, sizeof(buf) - got);
		if (r <= 0)
			return;
		got += r;
		if (!end && (end = memmem(buf, got, "\r\n\r\n", 4))) {
			hlen = end + 4 - buf;
			*end = '\0';
			cl = strcasestr(buf, "\r\nContent-Length:");
			want = hlen + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			assert_true(want <= sizeof(buf));
		}
	}
	pthread_mutex_lock(&rx->lock);
	if (rx->nreq < MAX_RX) {
		q = &rx->reqs[rx->nreq];
		snprintf(q->head, sizeof(q->head), "%.4000s", buf);
		q->len = want - hlen;
		q->body = malloc(q->len + 1);
		memcpy(q->body, buf + hlen, q->len);
	}
	n = rx->nreq++;
	pthread_cond_broadcast(&rx->cond);
	while (!rx->stop && (rx->hang || rx->gate_closed))
		pthread_cond_wait(&rx->cond, &rx->lock);
	status = n < rx->nscript ? rx->script[n] : 200;
	pthread_mutex_unlock(&rx->lock);
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s",
		     status, status == 200 ? 0 : strlen("{\"message\":\"no\"}"),
		     status == 200 ? "" : "{\"message\":\"no\"}");
	if (write(fd, resp, n) < 0)
		return;
}

static void *rx_thread(void *arg)
{
	struct rx *rx = arg;
	struct pollfd pfd = { .fd = rx->lfd, .events = POLLIN };
	int fd;

	while (!rx_stopping(rx)) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(rx->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		rx_serve(rx, fd);
		close(fd);
	}
	return NULL;
}

/* A port on 127.0.0.1; listening when rx is given, else closed (refused). */
static int local_port(int *fdp, bool listening)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	if (listening)
		assert_int_equal(listen(fd, 8), 0);
	*fdp = fd;
	return ntohs(a.sin_port);
}

static struct rx *rx_start(const int *script, int n)
{
	struct rx *rx = calloc(1, sizeof(*rx));

	assert_non_null(rx);
	rx->port = local_port(&rx->lfd, true);
	if (n)
		memcpy(rx->script, script, n * sizeof(*script));
	rx->nscript = n;
	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->cond, NULL);
	assert_int_equal(pthread_create(&rx->thread, NULL, rx_thread, rx), 0);
	return rx;
}

static void rx_stop(struct rx *rx)
{
	int i;

	pthread_mutex_lock(&rx->lock);
	rx->stop = true;
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
	pthread_join(rx->thread, NULL);
	close(rx->lfd);
	for (i = 0; i < rx->nreq && i < MAX_RX; i++)
		free(rx->reqs[i].body);
	free(rx);
}

static void rx_open_gate(struct rx *rx)
{
	pthread_mutex_lock(&rx->lock);
	rx->gate_closed = false;
	pthread_cond_broadcast(&rx->cond);
	pthread_mutex_unlock(&rx->lock);
}

/* Waits until n requests arrived; how many did. */
static int rx_wait(struct rx *rx, int n, int timeout_ms)
{
	double end = now_s() + timeout_ms / 1e3;
	int got;

	for (;;) {
		pthread_mutex_lock(&rx->lock);
		got = rx->nreq;
		pthread_mutex_unlock(&rx->lock);
		if (got >= n || now_s() > end)
			return got;
		usleep(5000);
	}
}

static char *url_of(int port, const char *suffix)
{
	static char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, suffix);
	return url;
}

/* Fast backoff so that retries take milliseconds. */
static struct push_opts fast_opts(int port)
{
	struct push_opts o = { .url = url_of(port, ""),
			       .backoff_min_ms = 20,
			       .backoff_max_ms = 80 };

	return o;
}

/* A decoded PushRequest. */
struct dec_series {
	int nlabels, nsamples;
	char names[8][32], values[8][64];
	char profile[64];
	size_t plen;
	char id[64];
};

static void copy_str(char *dst, size_t cap, const struct pb_field *f)
{
	assert_int_equal(f->wire, PB_LEN);
	assert_true(f->len < cap);
	memcpy(dst, f->data, f->len);
	dst[f->len] = '\0';
}

static int decode(const uint8_t *data, size_t len, struct dec_series *out, int max)
{
	struct pb_reader r = pb_reader_init(data, len), rs, rl;
	struct pb_field f, g, h;
	struct dec_series *s;
	int n = 0;

	memset(out, 0, max * sizeof(*out));
	while (pb_next(&r, &f) == 1) {
		assert_int_equal(f.num, 1);
		assert_true(n < max);
		s = &out[n++];
		assert_int_equal(pb_want_message(&f, &rs), 0);
		while (pb_next(&rs, &g) == 1) {
			assert_int_equal(pb_want_message(&g, &rl), 0);
			if (g.num == 1) {
				while (pb_next(&rl, &h) == 1) {
					assert_true(h.num == 1 || h.num == 2);
					copy_str(h.num == 1 ? s->names[s->nlabels]
							    : s->values[s->nlabels],
						 32, &h);
				}
				s->nlabels++;
			} else {
				assert_int_equal(g.num, 2);
				s->nsamples++;
				while (pb_next(&rl, &h) == 1) {
					assert_true(h.num == 1 || h.num == 2);
					if (h.num == 1) {
						copy_str(s->profile, sizeof(s->profile), &h);
						s->plen = h.len;
					} else {
						copy_str(s->id, sizeof(s->id), &h);
					}
				}
			}
		}
	}
	assert_ptr_equal(r.p, r.end);
	return n;
}

static const struct push_label cpu_labels[] = {
	{ "__name__", "process_cpu" },
	{ "service_name", "api" },
	{ "__delta__", "false" },
	{ "node", "host-1" },
};
static const struct push_label mutex_labels[] = {
	{ "__name__", "mutex" },
	{ "service_name", "db" },
	{ "__delta__", "false" },
};

static const uint8_t prof_a[] = "\x1f\x8b profile-A";
static const uint8_t prof_b[] = "\x1f\x8b profile-B";

static const struct push_series two[] = {
	{ cpu_labels, 4, prof_a, sizeof(prof_a) - 1 },
	{ mutex_labels, 3, prof_b, sizeof(prof_b) - 1 },
};

static void check_uuid4(const char *id)
{
	int i;

	assert_int_equal(strlen(id), 36);
	for (i = 0; i < 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(id[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", id[i]));
	assert_int_equal(id[14], '4');
	assert_non_null(strchr("89ab", id[19]));
}

static void check_two(const uint8_t *data, size_t len)
{
	struct dec_series d[4];
	int i;

	assert_int_equal(decode(data, len, d, 4), 2);
	assert_int_equal(d[0].nlabels, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(d[0].names[i], cpu_labels[i].name);
		assert_string_equal(d[0].values[i], cpu_labels[i].value);
	}
	assert_int_equal(d[1].nlabels, 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(d[1].names[i], mutex_labels[i].name);
		assert_string_equal(d[1].values[i], mutex_labels[i].value);
	}
	assert_int_equal(d[0].nsamples, 1);
	assert_int_equal(d[1].nsamples, 1);
	assert_int_equal(d[0].plen, sizeof(prof_a) - 1);
	assert_memory_equal(d[0].profile, prof_a, sizeof(prof_a) - 1);
	assert_memory_equal(d[1].profile, prof_b, sizeof(prof_b) - 1);
	check_uuid4(d[0].id);
	check_uuid4(d[1].id);
	assert_string_not_equal(d[0].id, d[1].id);
}

static void test_encode(void **state)
{
	struct pb_buf b = { 0 };

	assert_int_equal(push_encode(two, 2, &b), 0);
	check_two(b.data, b.len);
	free(b.data);
}

/* protoc reads it with Pyroscope's field numbers, not only our own reader. */
static void test_encode_protoc(void **state)
{
	char path[] = "/tmp/test_push.XXXXXX", cmd[512], out[8192], *idp;
	struct dec_series d[2];
	struct pb_buf b = { 0 };
	size_t n = 0;
	FILE *f;
	int fd;

	assert_int_equal(push_encode(two, 2, &b), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "protoc --proto_path=" PROTO_DIR " --decode push.v1.PushRequest " PROTO
		 " < %s 2>&1",
		 path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	assert_int_equal(pclose(f), 0);
	unlink(path);

	assert_int_equal(decode(b.data, b.len, d, 2), 2);
	/* Field by field, in the order given. */
	assert_non_null(strstr(out, "series {\n  labels {\n    name: \"__name__\"\n"
				    "    value: \"process_cpu\"\n  }\n  labels {\n"
				    "    name: \"service_name\"\n    value: \"api\"\n  }\n"));
	assert_non_null(strstr(out, "    name: \"__delta__\"\n    value: \"false\"\n"));
	assert_non_null(strstr(out, "  samples {\n    raw_profile: \"\\037\\213 profile-A\"\n"
				    "    ID: \""));
	idp = strstr(out, "ID: \"");
	assert_non_null(idp);
	assert_memory_equal(idp + 5, d[0].id, 36);
	assert_non_null(strstr(out, d[1].id));
	assert_non_null(strstr(out, "value: \"mutex\""));
	assert_null(strstr(out, "1: ")); /* no field protoc does not know */
	free(b.data);
}

static const char *header(struct rx_req *q, const char *name)
{
	static char v[256];
	char key[64], *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strcasestr(q->head, key);
	if (!p)
		return NULL;
	p += strlen(key);
	e = strchrnul(p, '\r');
	snprintf(v, sizeof(v), "%.*s", (int)(e - p), p);
	return v;
}

static void test_push_ok(void **state)
{
	const int script[] = { 200 };
	struct rx *rx = rx_start(script, 1);
	struct push_opts o = fast_opts(rx->port);
	struct push_stats st;
	struct pusher *p;
	double t0 = now_s();

	/* A base URL with a slash works as without. */
	o.url = url_of(rx->port, "/");
	o.tenant = "team-a";
	o.basic_auth = "user:secret";
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, two, 2), 0);
	assert_int_equal(pusher__flush(p, 5000), 0);
	assert_int_equal(rx_wait(rx, 1, 0), 1);
	assert_memory_equal(rx->reqs[0].head, "POST /push.v1.PusherService/Push HTTP/1.1\r\n", 43);
	assert_string_equal(header(&rx->reqs[0], "Content-Type"), "application/proto");
	assert_string_equal(header(&rx->reqs[0], "X-Scope-OrgID"), "team-a");
	/* base64("user:secret") */
	assert_string_equal(header(&rx->reqs[0], "Authorization"), "Basic dXNlcjpzZWNyZXQ=");
	check_two(rx->reqs[0].body, rx->reqs[0].len);

	pusher__stats(p, &st);
	assert_int_equal(st.requests_ok, 1);
	assert_int_equal(st.series_ok, 2);
	assert_int_equal(st.bytes_ok, rx->reqs[0].len);
	assert_int_equal(st.permanent_errors + st.transient_errors + st.dropped_requests, 0);
	assert_int_equal(st.queue_requests + st.queue_bytes, 0);
	assert_int_equal(st.latency_count, 1);
	assert_true(st.last_latency_s > 0 && st.last_latency_s <= now_s() - t0);
	assert_true(st.latency_sum_s == st.last_latency_s);
	assert_true(st.last_success > time(NULL) - 10 && st.last_success <= time(NULL) + 1);
	pusher__free(p);
	rx_stop(rx);
}

static void test_bearer(void **state)
{
	struct rx *rx = rx_start(NULL, 0);
	struct push_opts o = fast_opts(rx->port);
	struct pusher *p;

	o.bearer = "tok-123";
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, two, 1), 0);
	assert_int_equal(pusher__flush(p, 5000), 0);
	assert_int_equal(rx_wait(rx, 1, 0), 1);
	assert_string_equal(header(&rx->reqs[0], "Authorization"), "Bearer tok-123");
	assert_null(header(&rx->reqs[0], "X-Scope-OrgID"));
	pusher__free(p);
	rx_stop(rx);
}

/* Runs fn with stderr going to a file; returns what was written. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	static char out[4096];
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

struct run {
	struct rx *rx;
	struct push_stats st;
	size_t left;
};

static void run_retry(void *arg)
{
	struct run *r = arg;
	struct push_opts o = fast_opts(r->rx->port);
	struct pusher *p = pusher__new(&o);

	assert_non_null(p);
	assert_int_equal(pusher__submit(p, two, 2), 0);
	r->left = pusher__flush(p, 5000);
	pusher__stats(p, &r->st);
	pusher__free(p);
}

/* 5xx and 429 are retried, the same bytes, with one line down and one up. */
static void test_retry(void **state)
{
	const int script[] = { 500, 429, 503, 200 };
	struct run r = { .rx = rx_start(script, 4) };
	char *log = capture_stderr(run_retry, &r);
	int i;

	assert_int_equal(r.left, 0);
	assert_int_equal(rx_wait(r.rx, 4, 0), 4);
	for (i = 1; i < 4; i++) {
		assert_int_equal(r.rx->reqs[i].len, r.rx->reqs[0].len);
		assert_memory_equal(r.rx->reqs[i].body, r.rx->reqs[0].body, r.rx->reqs[0].len);
	}
	assert_int_equal(r.st.transient_errors, 3);
	assert_int_equal(r.st.requests_ok, 1);
	assert_int_equal(r.st.permanent_errors, 0);
	assert_int_equal(count(log, "\n"), 2);
	assert_int_equal(count(log, "failing (HTTP 500"), 1);
	assert_int_equal(count(log, "working again after 3 failed attempts"), 1);
	rx_stop(r.rx);
}

static void run_permanent(void *arg)
{
	struct run *r = arg;
	struct push_opts o = fast_opts(r->rx->port);
	struct pusher *p = pusher__new(&o);

	assert_non_null(p);
	assert_int_equal(pusher__submit(p, &two[0], 1), 0);
	assert_int_equal(pusher__submit(p, &two[1], 1), 0);
	r->left = pusher__flush(p, 5000);
	/* Longer than any backoff: a retry would have come. */
	usleep(300 * 1000);
	pusher__stats(p, &r->st);
	pusher__free(p);
}

/* A 400 drops that request at once, and the next one goes. */
static void test_permanent(void **state)
{
	const int script[] = { 400, 200 };
	struct run r = { .rx = rx_start(script, 2) };
	char *log = capture_stderr(run_permanent, &r);
	struct dec_series d[1];

	assert_int_equal(r.left, 0);
	assert_int_equal(rx_wait(r.rx, 2, 0), 2);
	decode(r.rx->reqs[0].body, r.rx->reqs[0].len, d, 1);
	assert_string_equal(d[0].values[0], "process_cpu");
	decode(r.rx->reqs[1].body, r.rx->reqs[1].len, d, 1);
	assert_string_equal(d[0].values[0], "mutex");
	assert_int_equal(r.st.permanent_errors, 1);
	assert_int_equal(r.st.transient_errors, 0);
	assert_int_equal(r.st.requests_ok, 1);
	assert_int_equal(count(log, "\n"), 1);
	assert_non_null(strstr(log, "refused (HTTP 400: {\"message\":\"no\"}): dropped"));
	rx_stop(r.rx);
}

static void one_series(struct push_series *s, const char *name, struct push_label *l)
{
	l[0] = (struct push_label){ "__name__", name };
	*s = (struct push_series){ l, 1, prof_a, sizeof(prof_a) - 1 };
}

/*
 * A, B, C, D into a queue of two while A is being sent: B and C fall out,
 * A (in flight) and D arrive, in order.
 */
static void overflow(bool by_bytes)
{
	struct rx *rx = rx_start(NULL, 0);
	struct push_opts o = fast_opts(rx->port);
	const char *names[] = { "A", "B", "C", "D" };
	struct push_series s[4];
	struct push_label l[4][1];
	struct dec_series d[1];
	struct push_stats st;
	struct pb_buf b = { 0 };
	struct pusher *p;
	int i;

	for (i = 0; i < 4; i++)
		one_series(&s[i], names[i], l[i]);
	assert_int_equal(push_encode(&s[0], 1, &b), 0);
	if (by_bytes)
		o.max_bytes = 2 * b.len + b.len / 2;
	else
		o.max_requests = 2;
	free(b.data);
	rx->gate_closed = true;
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, &s[0], 1), 0);
	assert_int_equal(rx_wait(rx, 1, 5000), 1);
	for (i = 1; i < 4; i++)
		assert_int_equal(pusher__submit(p, &s[i], 1), 0);
	pusher__stats(p, &st);
	assert_int_equal(st.dropped_requests, 2);
	assert_int_equal(st.dropped_series, 2);
	assert_int_equal(st.queue_requests, 2);
	assert_int_equal(st.queue_bytes, 2 * rx->reqs[0].len);
	rx_open_gate(rx);
	assert_int_equal(pusher__flush(p, 5000), 0);
	assert_int_equal(rx_wait(rx, 2, 0), 2);
	decode(rx->reqs[0].body, rx->reqs[0].len, d, 1);
	assert_string_equal(d[0].values[0], "A");
	decode(rx->reqs[1].body, rx->reqs[1].len, d, 1);
	assert_string_equal(d[0].values[0], "D");
	pusher__stats(p, &st);
	assert_int_equal(st.requests_ok, 2);
	assert_int_equal(st.dropped_requests, 2);
	pusher__free(p);
	rx_stop(rx);
}

static void test_overflow_requests(void **state)
{
	overflow(false);
}

static void test_overflow_bytes(void **state)
{
	overflow(true);
}

/*
 * A queue with room for one: B pushes out A while A is being sent.  A's
 * transfer ends (500) and A is counted dropped, not retried; B goes.
 */
static void test_overflow_inflight(void **state)
{
	const int script[] = { 500 };
	struct rx *rx = rx_start(script, 1);
	struct push_opts o = fast_opts(rx->port);
	struct push_series s[2];
	struct push_label l[2][1];
	struct dec_series d[1];
	struct push_stats st;
	struct pusher *p;

	one_series(&s[0], "A", l[0]);
	one_series(&s[1], "B", l[1]);
	o.max_requests = 1;
	rx->gate_closed = true;
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, &s[0], 1), 0);
	assert_int_equal(rx_wait(rx, 1, 5000), 1);
	assert_int_equal(pusher__submit(p, &s[1], 1), 0);
	pusher__stats(p, &st);
	assert_int_equal(st.queue_requests, 1);
	assert_int_equal(st.queue_bytes, rx->reqs[0].len);
	rx_open_gate(rx);
	assert_int_equal(pusher__flush(p, 5000), 0);
	usleep(200 * 1000);
	assert_int_equal(rx_wait(rx, 2, 0), 2);
	decode(rx->reqs[1].body, rx->reqs[1].len, d, 1);
	assert_string_equal(d[0].values[0], "B");
	pusher__stats(p, &st);
	assert_int_equal(st.dropped_requests, 1);
	assert_int_equal(st.dropped_series, 1);
	assert_int_equal(st.requests_ok, 1);
	assert_int_equal(st.transient_errors, 0);
	pusher__free(p);
	rx_stop(rx);
}

/*
 * A dead backend: flush gives up at its timeout, retrying meanwhile rather
 * than waiting out the 1 s backoff; free is prompt.
 */
static void test_flush_dead(void **state)
{
	struct push_opts o = { 0 };
	struct push_stats st;
	struct pusher *p;
	int fd, port = local_port(&fd, false);
	double t0;

	o.url = url_of(port, "");
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, two, 2), 0);
	t0 = now_s();
	assert_int_equal(pusher__flush(p, 400), 1);
	assert_true(now_s() - t0 >= 0.39);
	assert_true(now_s() - t0 < 1.0);
	pusher__stats(p, &st);
	assert_true(st.transient_errors >= 2);
	assert_int_equal(st.queue_requests, 1);
	assert_int_equal(st.requests_ok, 0);
	t0 = now_s();
	pusher__free(p);
	assert_true(now_s() - t0 < 0.5);
	close(fd);
}

static void free_pusher(void *p)
{
	pusher__free(p);
}

/* A receiver that never answers: free aborts the transfer, promptly. */
static void test_free_hung(void **state)
{
	struct rx *rx = rx_start(NULL, 0);
	struct push_opts o = { .url = url_of(rx->port, "") };
	struct push_stats st;
	struct pusher *p;
	double t0;

	rx->hang = true;
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, two, 2), 0);
	assert_int_equal(rx_wait(rx, 1, 5000), 1);
	pusher__stats(p, &st);
	assert_int_equal(st.queue_requests, 1);
	assert_true(st.queue_bytes > 0);
	assert_int_equal(pusher__flush(p, 200), 1);
	t0 = now_s();
	/* Its own abort is no failing backend to report. */
	assert_string_equal(capture_stderr(free_pusher, p), "");
	assert_true(now_s() - t0 < 0.5);
	rx_stop(rx);
}

static void bad_calls(void *arg)
{
	struct push_opts o = { .url = "http://127.0.0.1:1" };
	struct push_series big = two[0];
	struct push_label nameless[] = { { NULL, "x" } };
	struct push_series bad = { nameless, 1, prof_a, 3 };
	struct push_stats st;
	struct pusher *p;

	assert_null(pusher__new(&(struct push_opts){ .url = NULL }));
	assert_null(pusher__new(&(struct push_opts){ .url = "ftp://host" }));
	assert_null(pusher__new(&(struct push_opts){ .url = "localhost:4040" }));
	assert_null(
		pusher__new(&(struct push_opts){ .url = "http://h", .tenant = "a\r\nX-Evil: 1" }));
	assert_null(pusher__new(
		&(struct push_opts){ .url = "http://h", .basic_auth = "u:p", .bearer = "t" }));
	assert_null(pusher__new(&(struct push_opts){ .url = "http://h", .basic_auth = "nocolon" }));

	o.max_bytes = 100;
	o.backoff_min_ms = 60000;
	p = pusher__new(&o);
	assert_non_null(p);
	assert_int_equal(pusher__submit(p, two, 0), -EINVAL);
	assert_int_equal(pusher__submit(p, &bad, 1), -EINVAL);
	big.len = 200;
	big.profile = calloc(1, 200);
	assert_int_equal(pusher__submit(p, &big, 1), -E2BIG);
	free((void *)big.profile);
	pusher__stats(p, &st);
	assert_int_equal(st.dropped_requests, 1);
	assert_int_equal(st.dropped_series, 1);
	assert_int_equal(st.queue_requests, 0);
	pusher__free(p);
	pusher__free(NULL);
}

/* Refusals, each with its one line. */
static void test_bad_calls(void **state)
{
	char *log = capture_stderr(bad_calls, NULL);

	assert_int_equal(count(log, "\n"), 9);
	assert_int_equal(count(log, "bpfprof: "), 9);
	assert_non_null(strstr(log, "invalid push URL ftp://host: it must start with http://"));
	assert_non_null(strstr(log, "over the queue's 100: dropped"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_protoc),
		cmocka_unit_test(test_push_ok),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_permanent),
		cmocka_unit_test(test_overflow_requests),
		cmocka_unit_test(test_overflow_bytes),
		cmocka_unit_test(test_overflow_inflight),
		cmocka_unit_test(test_flush_dead),
		cmocka_unit_test(test_free_hung),
		cmocka_unit_test(test_bad_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
