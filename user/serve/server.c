// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>

#include "util/log.h"
#include "serve/server.h"
#include "util/util.h"

extern char **environ;

/* What is read of a child's stdout (text views) or stderr (messages). */
#define MAX_TEXT (8 * 1024 * 1024)
#define MAX_CAPTURES 64

struct serve_server {
	struct serve_server_opts o;
	struct MHD_Daemon *mhd;
	char dir[PATH_MAX]; /* private: the captures' files */
	pthread_mutex_t lock;
	pid_t children[MAX_CAPTURES]; /* running captures, 0 for a free slot */
	int busy;		      /* requests being answered */
	unsigned long next_id;
	int stop_signals; /* SIGINTs sent to children so far by quiesce */
};

static const char *param_of(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_buffer(struct MHD_Connection *conn, int status, const char *type,
				   const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
	return serve_queue(conn, status, serve_response(status, type, data, len, mode));
}

/* Reads up to MAX_TEXT of path into a malloc'd string; NULL when unreadable. */
static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	struct stat st;
	size_t size;

	*len = 0;
	if (!f)
		return NULL;
	if (!fstat(fileno(f), &st)) {
		size = st.st_size < MAX_TEXT ? st.st_size : MAX_TEXT;
		buf = malloc(size + 1);
		if (buf) {
			*len = fread(buf, 1, size, f);
			buf[*len] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* Drops the "wrote FILE ..." lines of a capture's stdout: the file is ours, not the reader's. */
static size_t drop_wrote_lines(char *s, size_t len)
{
	char *in = s, *out = s, *end = s + len, *nl;

	while (in < end) {
		nl = memchr(in, '\n', end - in);
		nl = nl ? nl + 1 : end;
		if (strncmp(in, "wrote ", 6)) {
			memmove(out, in, nl - in);
			out += nl - in;
		}
		in = nl;
	}
	*out = '\0';
	return out - s;
}

/* A free capture slot, reserved; -1 when all are taken or the server is stopping. */
static int take_slot(struct serve_server *s)
{
	int i, n = s->o.max_captures < MAX_CAPTURES ? s->o.max_captures : MAX_CAPTURES;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < n && !s->stop_signals; i++)
		if (!s->children[i])
			break;
	if (i < n && !s->stop_signals)
		s->children[i] = -1;
	else
		i = -1;
	pthread_mutex_unlock(&s->lock);
	return i;
}

static bool stopping(struct serve_server *s)
{
	bool yes;

	pthread_mutex_lock(&s->lock);
	yes = s->stop_signals > 0;
	pthread_mutex_unlock(&s->lock);
	return yes;
}

static void set_slot(struct serve_server *s, int slot, pid_t pid)
{
	pthread_mutex_lock(&s->lock);
	s->children[slot] = pid;
	/* Stopping already: this capture stops at once, as the others did. */
	if (pid > 0 && s->stop_signals)
		kill(pid, SIGINT);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Waits until the capture pid has exited, leaving it to be reaped.  When the
 * client hangs up first, nobody will read the profile: as Go's handlers do
 * when their request is cancelled, the capture ends now (SIGINT, then
 * SIGTERM: a second signal aborts it without writing).
 */
static void wait_exit(pid_t pid, int conn_fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), n = conn_fd >= 0 ? 2 : 1;
	struct pollfd fds[2] = { { .fd = pidfd, .events = POLLIN },
				 { .fd = conn_fd, .events = POLLRDHUP } };
	siginfo_t info;

	while (pidfd >= 0 && !fds[0].revents) {
		if (poll(fds, n, -1) < 0 && errno != EINTR)
			break;
		if (n == 2 && fds[1].revents) {
			pr_info("the client went away: capture %d aborted\n", pid);
			kill(pid, SIGINT);
			kill(pid, SIGTERM);
			n = 1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
}

/*
 * Runs `bpfprof ARGS --output=FILE` with stdout and stderr to files of its
 * own, in its own process group (a Ctrl-C on the server's terminal reaches
 * the server only, which decides what the captures get).  Returns the wait
 * status, or -errno when it could not start.
 */
static int run_capture(struct serve_server *s, int slot, const struct serve_route *r,
		       const char *out, const char *html, const char *stdout_path,
		       const char *err_path, int conn_fd)
{
	char output[PATH_MAX + 48], page[PATH_MAX + 48], *argv[SERVE_MAX_ARGS + 4];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int i, err, status;
	pid_t pid;

	argv[0] = "bpfprof";
	for (i = 0; i < r->nargs; i++)
		argv[i + 1] = (char *)r->args[i];
	snprintf(output, sizeof(output), "--output=%s", out);
	argv[r->nargs + 1] = output;
	argv[r->nargs + 2] = NULL;
	if (html) {
		snprintf(page, sizeof(page), "--html=%s", html);
		argv[r->nargs + 2] = page;
		argv[r->nargs + 3] = NULL;
	}

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	err = posix_spawn(&pid, s->o.exe, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err) {
		set_slot(s, slot, 0);
		return -err;
	}
	set_slot(s, slot, pid);
	wait_exit(pid, conn_fd);
	/* Off the list before it is reaped: quiesce must not signal a reused pid. */
	set_slot(s, slot, 0);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -errno;
			break;
		}
	return status;
}

/* The message of a failed capture: what it printed on stderr, else how it ended. */
static enum MHD_Result send_failure(struct MHD_Connection *conn, int status, const char *err_path,
				    int wstatus)
{
	size_t len;
	char *text = read_text(err_path, &len), msg[128];

	while (text && len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (text && len) {
		enum MHD_Result ret = serve_send_error(conn, status, text);

		free(text);
		return ret;
	}
	free(text);
	if (WIFSIGNALED(wstatus))
		snprintf(msg, sizeof(msg), "bpfprof: the capture was killed by signal %d",
			 WTERMSIG(wstatus));
	else
		snprintf(msg, sizeof(msg), "bpfprof: the capture failed (exit %d)",
			 WEXITSTATUS(wstatus));
	return serve_send_error(conn, status, msg);
}

static enum MHD_Result send_profile(struct MHD_Connection *conn, const struct serve_route *r,
				    const char *path)
{
	struct MHD_Response *resp;
	char disposition[64];
	enum MHD_Result ret;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return serve_send_error(conn, 500, "bpfprof: the capture wrote no profile");
	}
	resp = MHD_create_response_from_fd(st.st_size, fd); /* closes fd when done */
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r->content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* A profile is a download; the flame graph page is shown. */
	if (r->action != SERVE_CAPTURE_HTML) {
		snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", r->name);
		MHD_add_response_header(resp, "Content-Disposition", disposition);
	}
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, const struct serve_route *r,
				 const char *stdout_path, const char *err_path)
{
	size_t len;
	char *text = read_text(stdout_path, &len);

	if (text)
		len = drop_wrote_lines(text, len);
	if (!text || !len) {
		/* Nothing recorded: say so, as the command line does on stderr. */
		free(text);
		text = read_text(err_path, &len);
		if (!text)
			return serve_send_error(conn, 500, "bpfprof: the capture printed nothing");
	}
	return send_buffer(conn, 200, r->content_type, text, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result answer_capture(struct serve_server *s, struct MHD_Connection *conn,
				      const struct serve_route *r, int *status)
{
	char out[PATH_MAX + 32], sout[PATH_MAX + 32], serr[PATH_MAX + 32], html[PATH_MAX + 32];
	char msg[96];
	bool page = r->action == SERVE_CAPTURE_HTML;
	const union MHD_ConnectionInfo *info;
	enum MHD_Result ret;
	unsigned long id;
	int slot, wstatus;

	slot = take_slot(s);
	if (slot < 0) {
		*status = 503;
		if (stopping(s))
			snprintf(msg, sizeof(msg), "bpfprof: the server is stopping");
		else
			snprintf(msg, sizeof(msg),
				 "bpfprof: busy: %d captures are running (--max-captures)",
				 s->o.max_captures);
		return serve_send_error(conn, 503, msg);
	}
	pthread_mutex_lock(&s->lock);
	id = ++s->next_id;
	pthread_mutex_unlock(&s->lock);
	snprintf(out, sizeof(out), "%s/%lu.pb.gz", s->dir, id);
	snprintf(sout, sizeof(sout), "%s/%lu.out", s->dir, id);
	snprintf(serr, sizeof(serr), "%s/%lu.err", s->dir, id);
	snprintf(html, sizeof(html), "%s/%lu.html", s->dir, id);

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	/* Frees the slot itself, once the capture has exited. */
	wstatus = run_capture(s, slot, r, out, page ? html : NULL, sout, serr,
			      info ? info->connect_fd : -1);
	if (wstatus < 0) {
		*status = 500;
		snprintf(msg, sizeof(msg), "bpfprof: cannot run a capture: %s", strerror(-wstatus));
		ret = serve_send_error(conn, 500, msg);
	} else if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus)) {
		*status = WIFEXITED(wstatus) ? serve_status_of_exit(WEXITSTATUS(wstatus)) : 500;
		ret = send_failure(conn, *status, serr, wstatus);
	} else {
		*status = 200;
		ret = r->action == SERVE_CAPTURE ? send_profile(conn, r, out)
		      : page			 ? send_profile(conn, r, html)
						 : send_text(conn, r, sout, serr);
	}
	/* The profile is open by now when it is being sent: its name can go. */
	unlink(out);
	unlink(html);
	unlink(sout);
	unlink(serr);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct serve_server *s = cls;
	struct serve_route r;
	enum MHD_Result ret;
	char query[256];
	int64_t t0;
	int status;

	if (!serve_request_ready(state, upload_size, &ret))
		return ret;
	pthread_mutex_lock(&s->lock);
	s->busy++;
	pthread_mutex_unlock(&s->lock);
	t0 = mono_ns();
	r.html = NULL;
	serve_query_string(conn, query, sizeof(query));
	if ((status = serve_check_request(conn, version, s->o.token, &ret))) {
		/* Answered. */
	} else if (serve_route(&s->o.config, method, url, param_of, conn, &r)) {
		status = 500;
		ret = serve_send_error(conn, 500, "bpfprof: out of memory");
	} else if (r.action == SERVE_ERROR) {
		status = r.status;
		ret = serve_send_error(conn, r.status, r.message);
	} else if (r.action == SERVE_BODY) {
		status = 200;
		ret = send_buffer(conn, 200, r.content_type, r.html ? (void *)r.html : r.body,
				  r.body_len,
				  r.html ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		r.html = NULL;
	} else {
		ret = answer_capture(s, conn, &r, &status);
	}
	free(r.html);
	pr_info("%s %s%s: %d (%.1f s)\n", method, url, query, status, (mono_ns() - t0) / 1e9);
	pthread_mutex_lock(&s->lock);
	s->busy--;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Files are unlinked as each request ends; those of a request cut short go here. */
static void remove_dir(const char *dir)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *d;

	if (!*dir)
		return;
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

bool serve_addr_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *b = a6->sin6_addr.s6_addr;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) && b[12] == 127;
}

struct serve_server *serve_server__start(const struct serve_server_opts *o)
{
	const char *tmp = getenv("TMPDIR");
	struct serve_server *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	s->o = *o;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->dir, sizeof(s->dir), "%s/bpfprof-serve.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir)) {
		err = errno;
		s->dir[0] = '\0';
		goto fail;
	}
	s->mhd = serve_start_daemon(o->listen_fd, on_request, s, NULL);
	if (!s->mhd) {
		err = EINVAL;
		goto fail;
	}
	serve_warn_exposed(o->listen_fd, o->token, "captures");
	return s;
fail:
	remove_dir(s->dir);
	pthread_mutex_destroy(&s->lock);
	free(s);
	errno = err;
	return NULL;
}

void serve_server__quiesce(struct serve_server *s, bool abort)
{
	int fd, i;

	if (!s->stop_signals) {
		fd = MHD_quiesce_daemon(s->mhd);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
	}
	pthread_mutex_lock(&s->lock);
	/* The first SIGINT ends a capture early with its profile; a second aborts it. */
	if (s->stop_signals < 2)
		s->stop_signals = abort ? 2 : s->stop_signals + 1;
	for (i = 0; i < MAX_CAPTURES; i++)
		if (s->children[i] > 0)
			kill(s->children[i], SIGINT);
	pthread_mutex_unlock(&s->lock);
}

int serve_server__busy(struct serve_server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->busy;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serve_server__free(struct serve_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->mhd);
	remove_dir(s->dir);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int serve_split_listen(const char *spec, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *p;
	size_t n;
	long v;

	if (spec[0] == '[') {
		colon = strstr(spec, "]:");
		if (!colon)
			return -EINVAL;
		n = colon - spec - 1;
		p = colon + 2;
		spec++;
	} else {
		colon = strrchr(spec, ':');
		if (colon && memchr(spec, ':', colon - spec))
			return -EINVAL; /* an IPv6 address wants brackets */
		n = colon ? (size_t)(colon - spec) : 0;
		p = colon ? colon + 1 : spec;
		if (!colon) {
			/* A port alone: this machine only, as the default. */
			spec = "localhost";
			n = strlen(spec);
		}
	}
	if (n >= hlen || strlen(p) >= plen || parse_long(p, 0, 65535, &v))
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	snprintf(port, plen, "%ld", v);
	return 0;
}

int serve_read_token(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = 0;
	int err = 0;

	if (!f) {
		err = -errno;
		pr_warn("cannot read --token-file %s: %s\n", path, strerror(-err));
		return err;
	}
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		pr_warn("invalid --token-file %s: longer than %zu bytes\n", path, len - 2);
		return -EINVAL;
	}
	buf[n] = '\0';
	/* RFC 6750's token68 and more: anything visible, since it is compared whole. */
	for (n = 0; buf[n]; n++)
		if (buf[n] <= ' ' || buf[n] > '~')
			err = -EINVAL;
	if (err || !n) {
		pr_warn("invalid --token-file %s: its first line must be the token, visible ASCII "
			"without spaces\n",
			path);
		return -EINVAL;
	}
	return 0;
}

bool serve_authorized(const char *header, const char *token)
{
	size_t want = strlen(token), got, i;
	unsigned char diff;

	if (!header || strncasecmp(header, "Bearer ", 7))
		return false;
	header += 7;
	while (*header == ' ')
		header++;
	got = strlen(header);
	while (got && header[got - 1] == ' ')
		got--;
	/* Every byte of the token is looked at, whatever the header holds. */
	diff = got != want;
	for (i = 0; i < want; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < got ? header[i] : 0);
	return !diff;
}

/*
 * The HTTP layer serve and the agent's --listen share: the socket, the
 * daemon, the checks every request passes and the shape of the responses.
 */

/* A request body is read and dropped (pprof posts addresses to symbol): at most this much. */
#define MAX_UPLOAD (64 * 1024)

bool serve_request_ready(void **state, size_t *upload_size, enum MHD_Result *ret)
{
	struct serve_request *req = *state;

	if (!req) {
		/* Headers are in; the body, if any, comes in the next calls. */
		req = calloc(1, sizeof(*req));
		*state = req;
		*ret = req ? MHD_YES : MHD_NO;
		return false;
	}
	if (*upload_size) {
		req->uploaded += *upload_size;
		*upload_size = 0;
		*ret = req->uploaded <= MAX_UPLOAD ? MHD_YES : MHD_NO;
		return false;
	}
	return true;
}

void serve_request_end(void **state)
{
	free(*state);
	*state = NULL;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode code)
{
	serve_request_end(state);
}

struct MHD_Daemon *serve_start_daemon(int fd, MHD_AccessHandlerCallback handler, void *cls,
				      MHD_RequestCompletedCallback completed)
{
	/*
	 * A thread per connection: a handler may wait for minutes (a capture,
	 * a profile of the next N seconds) without holding up the others.
	 */
	return MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0,
		NULL, NULL, handler, cls, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
		64u, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED,
		completed ? completed : on_completed, cls, MHD_OPTION_END);
}

/* "?a=1&b=2" of the request, for the log line. */
struct query_buf {
	char s[256];
	size_t n;
};

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_buf *q = cls;
	int n = snprintf(q->s + q->n, sizeof(q->s) - q->n, "%c%s%s%s", q->n ? '&' : '?', key,
			 value ? "=" : "", value ? value : "");

	if (n > 0)
		q->n = q->n + n < sizeof(q->s) ? q->n + n : sizeof(q->s) - 1;
	return MHD_YES;
}

void serve_query_string(struct MHD_Connection *conn, char *buf, size_t len)
{
	struct query_buf q = { .n = 0 };

	q.s[0] = '\0';
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, &q);
	snprintf(buf, len, "%s", q.s);
}

struct MHD_Response *serve_response(int status, const char *type, const void *data, size_t len,
				    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, mode);

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)data);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status != 200)
		/* Go's convention: pprof prints the body of such an error. */
		MHD_add_response_header(resp, "X-Go-Pprof", "1");
	if (status == 503)
		MHD_add_response_header(resp, "Retry-After", "5");
	return resp;
}

enum MHD_Result serve_queue(struct MHD_Connection *conn, int status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result serve_send_error(struct MHD_Connection *conn, int status, const char *msg)
{
	char *body;
	int n = asprintf(&body, "%s\n", msg);

	if (n < 0)
		return MHD_NO;
	return serve_queue(conn, status,
			   serve_response(status, "text/plain; charset=utf-8", body, n,
					  MHD_RESPMEM_MUST_FREE));
}

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	if (!strcasecmp(key, "Host"))
		(*(int *)cls)++;
	return MHD_YES;
}

static enum MHD_Result send_unauthorized(struct MHD_Connection *conn)
{
	static const char msg[] = "bpfprof: this server wants a bearer token (Authorization: "
				  "Bearer TOKEN, the token of its --token-file)\n";
	struct MHD_Response *resp = serve_response(401, "text/plain; charset=utf-8", msg,
						   sizeof(msg) - 1, MHD_RESPMEM_PERSISTENT);

	if (resp)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"bpfprof\"");
	return serve_queue(conn, 401, resp);
}

/*
 * One Host header in HTTP/1.1 (RFC 9112 3.2, as Go's server: 400
 * otherwise), and the bearer token when there is one (401).
 */
int serve_check_request(struct MHD_Connection *conn, const char *version, const char *token,
			enum MHD_Result *ret)
{
	int hosts = 0;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_host, &hosts);
	if (hosts > 1 || (!hosts && !strcmp(version, MHD_HTTP_VERSION_1_1))) {
		*ret = serve_send_error(conn, 400,
					"bpfprof: an HTTP/1.1 request needs one Host header");
		return 400;
	}
	if (token &&
	    !serve_authorized(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
			      token)) {
		*ret = send_unauthorized(conn);
		return 401;
	}
	return 0;
}

/* One line when the profiles can be asked for from the network, and how to restrict it. */
void serve_warn_exposed(int fd, bool token, const char *what)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    serve_addr_is_loopback((struct sockaddr *)&ss))
		return;
	if (token)
		pr_warn("warning: not only this machine: %s are open to the network for any "
			"client with the token, in plain HTTP (restrict with --listen "
			"localhost:PORT or a firewall)\n",
			what);
	else
		pr_warn("warning: not only this machine: %s (function names, command lines) "
			"are open to the network with no access control; restrict with --listen "
			"localhost:PORT, --token-file FILE or a firewall\n",
			what);
}

int serve_listen(const char *spec, char *shown, size_t shown_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res, *ai;
	char host[256], port[16], addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, err = 0, one = 1;

	if (serve_split_listen(spec, host, sizeof(host), port, sizeof(port))) {
		pr_warn("invalid --listen '%s': expected HOST:PORT, :PORT or PORT\n", spec);
		return -EINVAL;
	}
	err = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (err) {
		pr_warn("cannot listen on %s: %s\n", spec, gai_strerror(err));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64))
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		pr_warn("cannot listen on %s: %s\n", spec, strerror(err));
		return -err;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		ss.ss_family = AF_UNSPEC;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
		snprintf(shown, shown_len, "[%s]:%d", addr, ntohs(a->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
		snprintf(shown, shown_len, "%s:%d", addr, ntohs(a->sin_port));
	} else {
		snprintf(shown, shown_len, "%s", spec);
	}
	return fd;
}

int serve_listen_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return -EAFNOSUPPORT;
}
