// SPDX-License-Identifier: Apache-2.0
/*
 * bpfprof serve: Go's /debug/pprof/ endpoints for any process.  Each request
 * runs a capture of the server's target and answers with its profile, so
 * `go tool pprof http://host:6060/debug/pprof/profile?seconds=30` works as
 * it does against a Go program.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cmd/cmd.h"
#include "util/exitcode.h"
#include "util/log.h"
#include "capture/preflight.h"
#include "serve/server.h"
#include "capture/target.h"
#include "util/util.h"

enum {
	OPT_LISTEN = 0x300,
	OPT_MAX_SECONDS,
	OPT_MAX_CAPTURES,
	OPT_TOKEN_FILE,
};

/* The largest command line /debug/pprof/cmdline sends. */
#define CMDLINE_MAX (64 * 1024)
#define MAX_TARGET_ARGS 8

struct serve_env {
	struct common_opts common; /* the target; duration: how long to serve */
	struct stack_opts stack;   /* --unwind, --unwind-mem: handed to every capture */
	const char *listen;
	const char *token_file;
	int64_t max_ns;
	int max_captures;
};

static const struct argp_option serve_options[] = {
	{ NULL, 0, NULL, 0, "Serving:", 2 },
	{ "listen", OPT_LISTEN, "ADDR", 0,
	  "Address to serve on: HOST:PORT, :PORT (every address) or PORT (default "
	  "localhost:6060)",
	  2 },
	{ "max-seconds", OPT_MAX_SECONDS, "SECONDS", 0,
	  "The longest capture a request may ask for (default 600)", 2 },
	{ "max-captures", OPT_MAX_CAPTURES, "N", 0,
	  "Captures running at once, 1..64 (default 4); more requests get 503", 2 },
	{ "token-file", OPT_TOKEN_FILE, "FILE", 0,
	  "Answer only requests with \"Authorization: Bearer TOKEN\", TOKEN the first line of FILE",
	  2 },
	{ "duration", 'd', "SECONDS", 0, "Serve this long, then exit (default: until Ctrl-C)", 2 },
	{ "quiet", 'q', NULL, 0, "Print nothing but errors", 2 },
	{ "verbose", 'v', NULL, 0, "Log every request", 2 },
	{ 0 },
};

static error_t parse_serve(int key, char *arg, struct argp_state *state)
{
	struct serve_env *env = state->input;
	int64_t ns;
	long v;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &env->common;
		state->child_inputs[1] = &env->stack;
		break;
	case OPT_LISTEN:
		env->listen = arg;
		break;
	case OPT_TOKEN_FILE:
		env->token_file = arg;
		break;
	case OPT_MAX_SECONDS:
		if (parse_duration_ns(arg, &ns) || ns < 1000000000LL || ns > 86400000000000LL)
			return opt_error("invalid --max-seconds '%s': expected 1..86400 seconds",
					 arg);
		env->max_ns = ns;
		break;
	case OPT_MAX_CAPTURES:
		if (parse_long(arg, 1, 64, &v))
			return opt_error("invalid --max-captures '%s': expected 1..64", arg);
		env->max_captures = v;
		break;
	case 'd':
		return opt_duration(arg, &env->common.duration_ns);
	case 'q':
		env->common.quiet = true;
		break;
	case ARGP_KEY_ARG:
		return opt_error(
			"serve launches nothing: it profiles running processes (-p PID, -a or "
			"--cgroup PATH)");
	case 'v':
		env->common.verbose++;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child serve_children[] = {
	{ &target_argp, 0, NULL, 0 },
	{ &unwind_argp, 0, NULL, 0 },
	{ 0 },
};

static const struct argp serve_argp = {
	.options = serve_options,
	.parser = parse_serve,
	.doc = "Go's /debug/pprof/ endpoints for any process: every request captures the\n"
	       "target and answers with the profile (profile, heap, allocs, block, mutex,\n"
	       "threadcreate for ?seconds=N, default 30; goroutine now), so go tool pprof\n"
	       "and anything that scrapes Go's endpoints work unchanged.  Serves only this\n"
	       "machine unless --listen says otherwise: profiles show function and thread\n"
	       "names and command lines.\n"
	       "\v"
	       "Examples:\n"
	       "  bpfprof serve -p 1234                      on localhost:6060\n"
	       "  bpfprof serve -a --listen :6060            the whole host, every address\n"
	       "  go tool pprof http://localhost:6060/debug/pprof/profile?seconds=30\n"
	       "  go tool pprof -http=:8080 http://localhost:6060/debug/pprof/heap?seconds=60\n"
	       "  curl 'http://localhost:6060/debug/pprof/goroutine?debug=2'\n"
	       "  curl 'http://localhost:6060/debug/pprof/profile?seconds=10&debug=1'   top table\n"
	       "  bpfprof serve -p 1234 --listen :6060 --token-file /etc/bpfprof.token\n"
	       "  curl -H \"Authorization: Bearer $(cat /etc/bpfprof.token)\" -o cpu.pb.gz \\\n"
	       "       'http://HOST:6060/debug/pprof/profile?seconds=30'\n"
	       "\n" EXIT_CODES_HELP,
	.children = serve_children,
};

/* Words of the target's options for every capture, whatever their length. */
struct target_words {
	char pids[TARGET_MAX_PIDS * 12];
	char cgroup[PATH_MAX + 16];
	char unwind_mem[32];
	const char *args[MAX_TARGET_ARGS];
};

/* The target as options for each capture, and the stack options given; returns how many. */
static int target_args(const struct serve_env *env, struct target_words *w)
{
	const struct target *t = &env->common.target;
	int n = 0, i, len = 0;

	switch (t->mode) {
	case TARGET_PIDS:
		w->args[n++] = "-p";
		for (i = 0; i < t->npids; i++)
			len += snprintf(w->pids + len, sizeof(w->pids) - len, "%s%d", i ? "," : "",
					t->pids[i]);
		w->args[n++] = w->pids;
		break;
	case TARGET_ALL:
		w->args[n++] = "-a";
		break;
	case TARGET_CGROUP:
		snprintf(w->cgroup, sizeof(w->cgroup), "--cgroup=%s", t->cgroup_path);
		w->args[n++] = w->cgroup;
		break;
	}
	if (!env->stack.dwarf)
		w->args[n++] = "--unwind=fp";
	snprintf(w->unwind_mem, sizeof(w->unwind_mem), "--unwind-mem=%d", env->stack.unwind_mib);
	w->args[n++] = w->unwind_mem;
	return n;
}

/* /proc/PID/cmdline of a single-process target: what /debug/pprof/cmdline sends. */
static char *read_cmdline(const struct target *t, size_t *len)
{
	char path[64], *buf;
	ssize_t n;
	int fd;

	*len = 0;
	if (t->mode != TARGET_PIDS || t->npids != 1)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", t->pids[0]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(CMDLINE_MAX);
	n = buf ? read(fd, buf, CMDLINE_MAX) : -1;
	close(fd);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/*
 * Process descriptors of a -p target's processes: readable once the process
 * has exited (pid reuse cannot fool it).  Returns how many were opened.
 */
static int open_pidfds(const struct target *t, struct pollfd *fds)
{
	int i, n = 0, fd;

	if (t->mode != TARGET_PIDS)
		return 0;
	for (i = 0; i < t->npids; i++) {
		fd = syscall(SYS_pidfd_open, t->pids[i], 0);
		if (fd >= 0)
			fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	return n;
}

/* The pid of a target process that has exited, or 0. */
static int exited_target(struct pollfd *fds, int n, const struct target *t)
{
	int i;

	if (n <= 0 || poll(fds, n, 0) <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (fds[i].revents)
			return t->pids[i];
	return 0;
}

/*
 * Waits for the end: the duration, a target process exiting, or
 * SIGINT/SIGTERM, which lets the captures running end early and answer; a
 * second signal aborts them.  Returns the exit code.
 */
static int wait_until_stopped(struct serve_server *srv, const sigset_t *sigs, int64_t duration_ns,
			      struct pollfd *pidfds, int npidfds, const struct target *t)
{
	int64_t end = duration_ns ? mono_ns() + duration_ns : 0, left;
	int signals = 0, sig, gone = 0;
	struct timespec ts;

	for (;;) {
		/* Short slices: the targets are looked at every second. */
		left = signals ? 100000000 : end ? end - mono_ns() : 1000000000;
		if (left > 1000000000)
			left = 1000000000;
		if (left <= 0 && !signals)
			break;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		sig = sigtimedwait(sigs, NULL, &ts);
		if (sig > 0) {
			signals++;
			if (signals == 1 && serve_server__busy(srv))
				pr_warn("stopping: %d requests still being answered; Ctrl-C again "
					"aborts them\n",
					serve_server__busy(srv));
			serve_server__quiesce(srv, signals > 1);
		}
		if (signals && !serve_server__busy(srv))
			break;
		if (!signals && (gone = exited_target(pidfds, npidfds, t))) {
			pr_warn("pid %d has exited: nothing left to serve\n", gone);
			break;
		}
	}
	if (!signals) {
		serve_server__quiesce(srv, false);
		while (serve_server__busy(srv))
			usleep(50000);
	}
	return signals > 1 ? EXIT_ABORTED : EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
	static struct serve_env env;
	static struct target_words words;
	static char token[SERVE_MAX_TOKEN + 2];
	char desc[PATH_MAX + 64], shown[INET6_ADDRSTRLEN + 16];
	struct serve_server_opts so = { 0 };
	struct serve_server *srv;
	size_t cmdline_len;
	char *cmdline;
	struct pollfd pidfds[TARGET_MAX_PIDS];
	int ret, fd, npidfds;
	sigset_t sigs;

	common_opts__init(&env.common, NULL);
	env.listen = "localhost:6060";
	env.max_ns = 600 * 1000000000LL;
	env.max_captures = 4;
	if (argp_parse(&serve_argp, argc, argv, 0, NULL, &env))
		return EXIT_USAGE;
	if (env.common.quiet)
		log_level = LOG_QUIET;
	else if (env.common.verbose)
		log_level = LOG_DEBUG;
	if (!env.common.ntarget_kinds) {
		pr_warn("serve: no target: give -p PID, -a or --cgroup PATH (see 'bpfprof serve "
			"--help')\n");
		return EXIT_USAGE;
	}
	if (env.token_file && serve_read_token(env.token_file, token, sizeof(token)))
		return EXIT_USAGE;
	ret = preflight_check();
	if (ret)
		return cmd_exit_code(ret);
	/* The same checks as a capture's, now rather than at the first request. */
	ret = target__prepare(&env.common.target);
	if (ret)
		return cmd_exit_code(ret);
	target__describe(&env.common.target, desc, sizeof(desc));
	npidfds = open_pidfds(&env.common.target, pidfds);
	cmdline = read_cmdline(&env.common.target, &cmdline_len);
	target__cleanup(&env.common.target);

	fd = serve_listen(env.listen, shown, sizeof(shown));
	if (fd < 0) {
		ret = fd == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
		goto cleanup;
	}
	so.config.ntarget_args = target_args(&env, &words);
	so.config.target_args = words.args;
	so.config.max_ns = env.max_ns;
	so.config.cmdline = cmdline;
	so.config.cmdline_len = cmdline_len;
	so.config.target_desc = desc;
	so.listen_fd = fd;
	so.max_captures = env.max_captures;
	so.exe = "/proc/self/exe";
	so.token = env.token_file ? token : NULL;

	/* Signals go to this thread's sigtimedwait: the server's threads inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv = serve_server__start(&so);
	if (!srv) {
		pr_warn("cannot start serving: %s\n", strerror(errno));
		close(fd);
		ret = EXIT_FAIL;
		goto cleanup;
	}
	pr_warn("serving profiles of %s on http://%s/debug/pprof/\n", desc, shown);
	ret = wait_until_stopped(srv, &sigs, env.common.duration_ns, pidfds, npidfds,
				 &env.common.target);
	serve_server__free(srv);
cleanup:
	while (npidfds > 0)
		close(pidfds[--npidfds].fd);
	free(cmdline);
	return ret;
}
