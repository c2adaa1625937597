// SPDX-License-Identifier: Apache-2.0
/*
 * Pyroscope push sink: a FIFO of encoded PushRequests and one thread that
 * sends them with a reused libcurl handle (and its connection).
 *
 * The head of the queue is the request being sent or retried: order is
 * kept, and a retry resends the same bytes (same sample IDs), so a request
 * that reached the store before its answer was lost is recognisable there.
 * While a transfer runs the thread works on the head without the lock;
 * submit may still drop it (queue full), which only marks it so the thread
 * frees it when the transfer returns.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "agent/push.h"
#include "util/log.h"

#define PUSH_PATH "/push.v1.PusherService/Push"
/* While flushing, a failed attempt is retried after this, not the backoff. */
#define FLUSH_RETRY_MS 100
/* How much of an error answer's body the log line shows. */
#define RESP_KEEP 200

/* PushRequest, RawProfileSeries, RawSample, types.v1.LabelPair */
enum { PUSH_REQUEST_SERIES = 1 };
enum { SERIES_LABELS = 1, SERIES_SAMPLES = 2 };
enum { SAMPLE_RAW_PROFILE = 1, SAMPLE_ID = 2 };
enum { LABEL_NAME = 1, LABEL_VALUE = 2 };

struct push_req {
	struct push_req *next;
	uint8_t *body;
	size_t len, nseries;
};

enum send_result { SENT, PERMANENT, TRANSIENT, ABORTED };

struct pusher {
	char *endpoint;	 /* base URL + PUSH_PATH */
	char *shown_url; /* for log lines: without user:password@ */
	size_t max_requests, max_bytes;
	unsigned int backoff_min_ms, backoff_max_ms;

	CURL *curl; /* the push thread's alone after pusher__new */
	CURLM *multi;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	char resp[RESP_KEEP + 1];
	size_t resp_len;
	char why[CURL_ERROR_SIZE + RESP_KEEP + 64];

	pthread_t thread;
	bool started;
	atomic_bool stop; /* read by the transfer's progress callback */

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;  /* to the thread: work, flush, stop */
	pthread_cond_t moved; /* to flushers: a request left the queue */
	struct push_req *head, *tail;
	struct push_req *inflight; /* being sent, head unless dropped */
	bool inflight_dropped;	   /* dropped by submit while being sent */
	size_t flushing;	   /* flushers waiting */
	bool down;		   /* the last attempt failed transiently */
	bool dropping;		   /* said so since the backend was last up */
	uint64_t failed_attempts;  /* since the backend was last up */
	unsigned int backoff_ms;   /* the next retry's delay before jitter */
	struct timespec retry_at;  /* CLOCK_MONOTONIC */
	struct timespec failed_at;
	struct push_stats st;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct timespec ts_add_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

static struct timespec now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static double ts_diff_s(struct timespec a, struct timespec b)
{
	return (double)(a.tv_sec - b.tv_sec) + (a.tv_nsec - b.tv_nsec) / 1e9;
}

static int random_bytes(void *buf, size_t len)
{
	ssize_t n = getrandom(buf, len, 0);

	return n == (ssize_t)len ? 0 : -(n < 0 ? errno : EIO);
}

/* A version 4 UUID, 36 characters and a NUL. */
static int uuid4(char out[37])
{
	uint8_t u[16];
	int i, n = 0, err = random_bytes(u, sizeof(u));

	if (err)
		return err;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[n++] = '-';
		n += sprintf(out + n, "%02x", u[i]);
	}
	return 0;
}

int push_encode(const struct push_series *s, size_t n, struct pb_buf *out)
{
	size_t i, j, series, label, sample;
	char id[37];
	int err;

	for (i = 0; i < n && !out->err; i++) {
		err = uuid4(id);
		if (err) {
			pr_warn("push: cannot draw a random profile ID: %s\n", strerror(-err));
			return err;
		}
		series = pb_begin(out);
		for (j = 0; j < s[i].nlabels; j++) {
			const struct push_label *l = &s[i].labels[j];

			label = pb_begin(out);
			pb_bytes(out, LABEL_NAME, l->name, strlen(l->name));
			pb_bytes(out, LABEL_VALUE, l->value ? l->value : "",
				 l->value ? strlen(l->value) : 0);
			pb_end(out, SERIES_LABELS, label);
		}
		sample = pb_begin(out);
		pb_bytes(out, SAMPLE_RAW_PROFILE, s[i].profile, s[i].len);
		pb_bytes(out, SAMPLE_ID, id, 36);
		pb_end(out, SERIES_SAMPLES, sample);
		pb_end(out, PUSH_REQUEST_SERIES, series);
	}
	return out->err;
}

static void req_free(struct push_req *r)
{
	if (r) {
		free(r->body);
		free(r);
	}
}

/* Takes the head off the queue; the caller holds the lock. */
static struct push_req *unlink_head(struct pusher *p)
{
	struct push_req *r = p->head;

	p->head = r->next;
	if (!p->head)
		p->tail = NULL;
	p->st.queue_requests--;
	p->st.queue_bytes -= r->len;
	return r;
}

/* Makes room for a request of len bytes, oldest first; the lock is held. */
static void make_room(struct pusher *p, size_t len)
{
	struct push_req **pp, *r;

	while (p->head && (p->st.queue_requests + 1 > p->max_requests ||
			   p->st.queue_bytes + len > p->max_bytes)) {
		/* The request being sent may still arrive: drop it last. */
		pp = &p->head;
		if (*pp == p->inflight && (*pp)->next)
			pp = &(*pp)->next;
		r = *pp;
		if (r == p->inflight) {
			unlink_head(p);
			/* Counted when its transfer ends, as what it turns out to be. */
			p->inflight_dropped = true;
		} else {
			*pp = r->next;
			if (p->tail == r)
				p->tail = pp == &p->head ? NULL : p->head;
			p->st.queue_requests--;
			p->st.queue_bytes -= r->len;
			p->st.dropped_requests++;
			p->st.dropped_series += r->nseries;
			req_free(r);
		}
		if (!p->dropping) {
			pr_warn("push to %s: queue full (%zu requests, %zu bytes at most): "
				"dropping the oldest\n",
				p->shown_url, p->max_requests, p->max_bytes);
			p->dropping = true;
		}
	}
	pthread_cond_broadcast(&p->moved);
}

int pusher__submit(struct pusher *p, const struct push_series *s, size_t n)
{
	struct pb_buf b = { 0 };
	struct push_req *r;
	size_t i, j;
	int err;

	if (!n) {
		pr_warn("push: a request without series\n");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!s[i].profile || !s[i].len) {
			pr_warn("push: a series without a profile\n");
			return -EINVAL;
		}
		for (j = 0; j < s[i].nlabels; j++)
			if (!s[i].labels[j].name || !*s[i].labels[j].name) {
				pr_warn("push: a series label without a name\n");
				return -EINVAL;
			}
	}
	r = calloc(1, sizeof(*r));
	err = r ? push_encode(s, n, &b) : -ENOMEM;
	if (!err && b.len > p->max_bytes)
		err = -E2BIG;
	if (err) {
		if (err == -E2BIG)
			pr_warn("push to %s: a request of %zu bytes is over the queue's %zu: "
				"dropped\n",
				p->shown_url, b.len, p->max_bytes);
		else if (err == -ENOMEM)
			pr_warn("push: out of memory for a request: dropped\n");
		free(b.data);
		free(r);
		pthread_mutex_lock(&p->lock);
		p->st.dropped_requests++;
		p->st.dropped_series += n;
		pthread_mutex_unlock(&p->lock);
		return err;
	}
	r->body = b.data;
	r->len = b.len;
	r->nseries = n;

	pthread_mutex_lock(&p->lock);
	make_room(p, r->len);
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	p->st.queue_requests++;
	p->st.queue_bytes += r->len;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct pusher *p = arg;

	return atomic_load(&p->stop);
}

/* Keeps the start of the answer for an error line, drops the rest. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct pusher *p = arg;
	size_t n = size * nmemb, i;

	for (i = 0; i < n && p->resp_len < RESP_KEEP; i++)
		p->resp[p->resp_len++] = data[i] >= ' ' && data[i] < 127 ? data[i] : ' ';
	p->resp[p->resp_len] = '\0';
	return n;
}

/*
 * curl_easy_perform() on the multi interface, so that pusher__free() can
 * interrupt a wait for a silent server at once (curl_multi_wakeup()); the
 * progress callback alone is called only about once a second then.
 */
static CURLcode perform(struct pusher *p)
{
	CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
	CURLMcode mc;
	CURLMsg *msg;
	int running = 1, left;

	mc = curl_multi_add_handle(p->multi, p->curl);
	while (!mc && running && !atomic_load(&p->stop)) {
		mc = curl_multi_perform(p->multi, &running);
		if (!mc && running)
			mc = curl_multi_poll(p->multi, NULL, 0, 1000, NULL);
	}
	while ((msg = curl_multi_info_read(p->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	if (mc) {
		snprintf(p->errbuf, sizeof(p->errbuf), "%s", curl_multi_strerror(mc));
		rc = CURLE_FAILED_INIT;
	}
	curl_multi_remove_handle(p->multi, p->curl);
	return rc;
}

/* One attempt; p->why says what went wrong.  Without the lock. */
static enum send_result send_one(struct pusher *p, const struct push_req *r, double *latency)
{
	struct timespec t0 = now_mono();
	long code = 0;
	CURLcode rc;

	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
	p->errbuf[0] = '\0';
	p->resp_len = 0;
	p->resp[0] = '\0';
	rc = perform(p);
	*latency = ts_diff_s(now_mono(), t0);
	if (atomic_load(&p->stop))
		return ABORTED;
	if (rc != CURLE_OK) {
		snprintf(p->why, sizeof(p->why), "%s",
			 p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
		return TRANSIENT;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return SENT;
	snprintf(p->why, sizeof(p->why), "HTTP %ld%s%s", code, p->resp_len ? ": " : "", p->resp);
	return code == 429 || code >= 500 ? TRANSIENT : PERMANENT;
}

/* The next retry: the backoff doubled up to its cap, jittered to 50-100%. */
static void schedule_retry(struct pusher *p)
{
	uint32_t u = 0;
	long ms;

	p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : p->backoff_min_ms;
	if (p->backoff_ms > p->backoff_max_ms)
		p->backoff_ms = p->backoff_max_ms;
	random_bytes(&u, sizeof(u));
	/* Agents restarted together must not retry in step. */
	ms = p->backoff_ms / 2 + (long)((double)u / UINT32_MAX * (p->backoff_ms / 2));
	p->failed_at = now_mono();
	p->retry_at = ts_add_ms(p->failed_at, ms);
}

/* When the thread may try the head again; the lock is held. */
static struct timespec retry_time(struct pusher *p)
{
	struct timespec soon;

	if (!p->flushing)
		return p->retry_at;
	soon = ts_add_ms(p->failed_at, FLUSH_RETRY_MS);
	return ts_before(soon, p->retry_at) ? soon : p->retry_at;
}

static void finish(struct pusher *p, struct push_req *r, enum send_result res, double latency)
{
	struct timespec wall;

	if (res == SENT) {
		clock_gettime(CLOCK_REALTIME, &wall);
		p->st.requests_ok++;
		p->st.series_ok += r->nseries;
		p->st.bytes_ok += r->len;
		p->st.last_latency_s = latency;
		p->st.latency_sum_s += latency;
		p->st.latency_count++;
		p->st.last_success = wall.tv_sec + wall.tv_nsec / 1e9;
		if (p->down)
			pr_warn("push to %s: working again after %llu failed attempts\n",
				p->shown_url, (unsigned long long)p->failed_attempts);
		p->down = false;
		p->dropping = false;
		p->failed_attempts = 0;
		p->backoff_ms = 0;
	} else if (res == PERMANENT) {
		p->st.permanent_errors++;
		pr_warn("push to %s: request refused (%s): dropped\n", p->shown_url, p->why);
	} else if (res == TRANSIENT) {
		p->st.transient_errors++;
		p->failed_attempts++;
		if (!p->down)
			pr_warn("push to %s failing (%s): retrying with backoff\n", p->shown_url,
				p->why);
		p->down = true;
		schedule_retry(p);
	}
}

static void *push_thread(void *arg)
{
	struct pusher *p = arg;
	enum send_result res;
	struct push_req *r;
	struct timespec at;
	double latency;

	pthread_mutex_lock(&p->lock);
	while (!atomic_load(&p->stop)) {
		if (!p->head) {
			pthread_cond_wait(&p->wake, &p->lock);
			continue;
		}
		at = retry_time(p);
		if (ts_before(now_mono(), at)) {
			pthread_cond_timedwait(&p->wake, &p->lock, &at);
			continue;
		}
		r = p->inflight = p->head;
		pthread_mutex_unlock(&p->lock);
		res = send_one(p, r, &latency);
		pthread_mutex_lock(&p->lock);
		p->inflight = NULL;
		if (p->inflight_dropped) {
			p->inflight_dropped = false;
			if (res == SENT) {
				finish(p, r, res, latency);
			} else {
				p->st.dropped_requests++;
				p->st.dropped_series += r->nseries;
			}
			req_free(r);
		} else if (res == SENT || res == PERMANENT) {
			finish(p, r, res, latency);
			req_free(unlink_head(p));
		} else if (res == TRANSIENT) {
			finish(p, r, res, latency);
		}
		pthread_cond_broadcast(&p->moved);
		if (res == ABORTED)
			break;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

size_t pusher__flush(struct pusher *p, int timeout_ms)
{
	struct timespec end = ts_add_ms(now_mono(), timeout_ms > 0 ? timeout_ms : 0);
	size_t left;

	pthread_mutex_lock(&p->lock);
	p->flushing++;
	pthread_cond_broadcast(&p->wake);
	while (p->st.queue_requests && ts_before(now_mono(), end))
		pthread_cond_timedwait(&p->moved, &p->lock, &end);
	p->flushing--;
	left = p->st.queue_requests;
	pthread_mutex_unlock(&p->lock);
	return left;
}

void pusher__stats(struct pusher *p, struct push_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	pthread_mutex_unlock(&p->lock);
}

/* The URL without "user:password@", for log lines. */
static char *shown_url(const char *url)
{
	const char *host = strstr(url, "://"), *at, *slash;
	char *s;

	host = host ? host + 3 : url;
	slash = strchrnul(host, '/');
	at = memrchr(host, '@', slash - host);
	if (!at)
		return strdup(url);
	if (asprintf(&s, "%.*s%s", (int)(host - url), url, at + 1) < 0)
		return NULL;
	return s;
}

/* A header value must not end the header early. */
static bool header_safe(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < ' ' || *v == 127)
			return false;
	return true;
}

static int add_header(struct pusher *p, const char *fmt, const char *arg)
{
	struct curl_slist *l;
	char *h;

	if (asprintf(&h, fmt, arg) < 0)
		return -ENOMEM;
	l = curl_slist_append(p->headers, h);
	free(h);
	if (!l)
		return -ENOMEM;
	p->headers = l;
	return 0;
}

static int setup_curl(struct pusher *p, const struct push_opts *o)
{
	CURL *c = p->curl;
	int err = 0;

	err = err ?: add_header(p, "%s", "Content-Type: application/proto");
	err = err ?: add_header(p, "%s", "Connect-Protocol-Version: 1");
	/* No "Expect: 100-continue" round trip before large bodies. */
	err = err ?: add_header(p, "%s", "Expect:");
	if (o->tenant)
		err = err ?: add_header(p, "X-Scope-OrgID: %s", o->tenant);
	if (o->bearer)
		err = err ?: add_header(p, "Authorization: Bearer %s", o->bearer);
	if (err)
		return err;
	if (curl_easy_setopt(c, CURLOPT_URL, p->endpoint) ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers) ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "bpfprof") ||
	    /* Several threads: no SIGALRM for name resolution timeouts. */
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_ms ?: 5000)) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms ?: 30000)) ||
	    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p->errbuf) ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, p) ||
	    /* The stop flag also ends a transfer from inside curl's loop. */
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) ||
	    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) ||
	    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p))
		return -EINVAL;
	if (o->basic_auth && (curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) ||
			      curl_easy_setopt(c, CURLOPT_USERPWD, o->basic_auth)))
		return -EINVAL;
	return 0;
}

static void pusher_destroy(struct pusher *p)
{
	struct push_req *r;

	while ((r = p->head)) {
		p->head = r->next;
		req_free(r);
	}
	if (p->curl)
		curl_easy_cleanup(p->curl);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	curl_slist_free_all(p->headers);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->moved);
	pthread_mutex_destroy(&p->lock);
	free(p->endpoint);
	free(p->shown_url);
	free(p);
}

struct pusher *pusher__new(const struct push_opts *o)
{
	pthread_condattr_t ca;
	struct pusher *p;
	size_t n;
	int err;

	if (!o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))) {
		pr_warn("invalid push URL %s: it must start with http:// or https://\n",
			o->url ?: "(none)");
		return NULL;
	}
	if ((o->tenant && (!*o->tenant || !header_safe(o->tenant))) ||
	    (o->bearer && (!*o->bearer || !header_safe(o->bearer)))) {
		pr_warn("invalid push %s: empty or with control characters\n",
			o->bearer && !header_safe(o->bearer) ? "token" : "tenant");
		return NULL;
	}
	if (o->basic_auth && (!strchr(o->basic_auth, ':') || o->bearer)) {
		pr_warn("invalid push credentials: %s\n",
			o->bearer ? "basic auth and a bearer token both given"
				  : "basic auth must be user:password");
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc) {
		pr_warn("cannot initialise libcurl: %s\n", curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		pr_warn("push: out of memory\n");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_cond_init(&p->moved, &ca);
	pthread_condattr_destroy(&ca);
	p->max_requests = o->max_requests ?: PUSH_MAX_REQUESTS;
	p->max_bytes = o->max_bytes ?: PUSH_MAX_BYTES;
	p->backoff_min_ms = o->backoff_min_ms ?: 1000;
	p->backoff_max_ms = o->backoff_max_ms ?: 30000;
	if (p->backoff_max_ms < p->backoff_min_ms)
		p->backoff_max_ms = p->backoff_min_ms;

	n = strlen(o->url);
	while (n && o->url[n - 1] == '/')
		n--;
	err = asprintf(&p->endpoint, "%.*s%s", (int)n, o->url, PUSH_PATH) < 0 ? -ENOMEM : 0;
	if (err)
		p->endpoint = NULL;
	p->shown_url = err ? NULL : shown_url(o->url);
	p->curl = err ? NULL : curl_easy_init();
	p->multi = err ? NULL : curl_multi_init();
	if (!p->shown_url || !p->curl || !p->multi) {
		pr_warn("push: out of memory\n");
		pusher_destroy(p);
		return NULL;
	}
	err = setup_curl(p, o);
	if (err) {
		pr_warn("push to %s: cannot set up libcurl: %s\n", p->shown_url,
			err == -ENOMEM ? strerror(ENOMEM) : "an option was refused");
		pusher_destroy(p);
		return NULL;
	}
	err = pthread_create(&p->thread, NULL, push_thread, p);
	if (err) {
		pr_warn("push: cannot start its thread: %s\n", strerror(err));
		pusher_destroy(p);
		return NULL;
	}
	p->started = true;
	return p;
}

void pusher__free(struct pusher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	curl_multi_wakeup(p->multi);
	if (p->started)
		pthread_join(p->thread, NULL);
	pusher_destroy(p);
}
