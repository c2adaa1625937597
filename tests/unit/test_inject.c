// SPDX-License-Identifier: Apache-2.0
/*
 * The in-process heap sampler's injection (heap/inject.c) without BPF: a
 * multi-threaded workload that checks its own blocks (heap_stress) has the
 * sampler injected and taken out 200 times.  After each, every GOT slot
 * the sampler redirected is read back and must hold its value from before
 * the first injection; while injected, each must point into the sampler.
 * The workload must neither crash nor see a block change.  And the
 * loader's r_brk (heap/dlopen.c) is found where glibc's _dl_debug_state
 * is: in the loader's code, a function that only returns.  Needs root
 * (ptrace of another process); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "heap/alloc.h"
#include "heap/dlopen.h"
#include "heap/inject.h"
#include "proc/maps.h"
#include "proc/procs.h"

#define STRESS "build/workloads/heap_stress"
#define CYCLES 200
#define MAX_SLOTS 256

static pid_t start_stress(int *out_fd)
{
	int errp[2], outp[2];
	char line[64] = "";
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(errp), 0);
	assert_int_equal(pipe(outp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(errp[1], 2);
		dup2(outp[1], 1);
		execl(STRESS, STRESS, "4", "0", (char *)NULL);
		_exit(127);
	}
	close(errp[1]);
	close(outp[1]);
	/* "ready PID" once its threads start. */
	while (got < (ssize_t)sizeof(line) - 1 && !strchr(line, '\n')) {
		n = read(errp[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(errp[0]);
	assert_non_null(strstr(line, "ready"));
	*out_fd = outp[0];
	usleep(50000);
	return pid;
}

static void inject_200_times(void **state)
{
	static uint64_t addrs[MAX_SLOTS], origs[MAX_SLOTS], cur;
	struct heap_injection in;
	struct heap_allocator a;
	struct proctab *procs;
	char why[512], path[64], out[256] = "";
	int nslots, i, k, err, mem, fd, st;
	int64_t max_stop = 0, sum_stop = 0;
	pid_t pid;
	ssize_t n;

	if (geteuid() != 0 || access(STRESS, X_OK)) {
		skip();
		return;
	}
	pid = start_stress(&fd);
	procs = proctab__new("/proc");
	assert_non_null(procs);
	err = heap_allocator_of_pid(procs, pid, false, &a, why, sizeof(why));
	assert_int_equal(err, 0);
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY);
	assert_true(mem >= 0);
	for (i = 0; i < CYCLES; i++) {
		err = heap_inject(pid, &a, 4096, NULL, NULL, &in, why, sizeof(why));
		if (err)
			fail_msg("injection %d: %s", i, why);
		if (getenv("INJECT_VERBOSE") && in.stopped_ns > 50000000)
			print_message("cycle %d: %d tries, %.1f ms: %.1f %.1f %.1f %.1f\n", i,
				      in.tries, in.stopped_ns / 1e6, in.phase_ns[0] / 1e6,
				      in.phase_ns[1] / 1e6, in.phase_ns[2] / 1e6,
				      in.phase_ns[3] / 1e6);
		if (in.stopped_ns > max_stop)
			max_stop = in.stopped_ns;
		sum_stop += in.stopped_ns;
		assert_true(i == 0 || in.reused);
		nslots = heap_inject_slots(&in, i == 0 ? addrs : addrs, i == 0 ? origs : origs,
					   MAX_SLOTS);
		assert_true(nslots >= 4); /* malloc, free, ... in the executable and libc */
		for (k = 0; k < nslots; k++) {
			assert_int_equal(pread(mem, &cur, 8, (off_t)addrs[k]), 8);
			assert_true(cur >= in.base && cur < in.base + heap_inject_code_size());
		}
		usleep(i % 10 == 0 ? 100000 : 5000); /* sampled blocks allocated and freed */
		err = heap_uninject(&in, why, sizeof(why));
		if (err < 0)
			fail_msg("uninjection %d: %s", i, why);
		assert_int_equal(err, nslots);
		for (k = 0; k < nslots; k++) {
			assert_int_equal(pread(mem, &cur, 8, (off_t)addrs[k]), 8);
			if (cur != origs[k])
				fail_msg("cycle %d: slot %#lx holds %#lx, not %#lx", i,
					 (unsigned long)addrs[k], (unsigned long)cur,
					 (unsigned long)origs[k]);
		}
		assert_int_equal(kill(pid, 0), 0);
	}
	print_message("%d injections: stopped %.2f ms on average, %.2f ms at most\n", CYCLES,
		      sum_stop / 1e6 / CYCLES, max_stop / 1e6);
	close(mem);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	n = read(fd, out, sizeof(out) - 1);
	close(fd);
	if (n > 0)
		out[n] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strncmp(out, "ok ", 3))
		fail_msg("the workload failed (status %#x): %s", st, out);
	proctab__free(procs);
}

static void finds_r_brk(void **state)
{
	struct vma_list maps = { 0 };
	const struct vma *v;
	unsigned char code[8], in_file[8];
	struct heap_dl dl;
	char why[512], path[64];
	int fd, mem, st, file;
	pid_t pid;

	if (geteuid() != 0 || access(STRESS, X_OK)) {
		skip();
		return;
	}
	pid = start_stress(&fd);
	if (heap_dl_find(pid, &dl, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(procmaps__read("/proc", pid, &maps), 0);
	v = procmaps__find(&maps, dl.r_brk);
	assert_non_null(v);
	assert_true(v->exec);
	assert_non_null(strstr(v->path, "ld-linux"));
	v = procmaps__find(&maps, dl.r_debug);
	assert_non_null(v);
	assert_non_null(strstr(v->path, "ld-linux"));
	/* _dl_debug_state: `ret`, after an endbr64 where the loader has CET notes. */
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY);
	assert_true(mem >= 0);
	assert_int_equal(pread(mem, code, sizeof(code), (off_t)dl.r_brk), sizeof(code));
	if (code[0] != 0xc3 && !(memcmp(code, "\xf3\x0f\x1e\xfa", 4) == 0 && code[4] == 0xc3))
		fail_msg("r_brk %#lx starts %02x %02x %02x %02x %02x, not a bare return",
			 (unsigned long)dl.r_brk, code[0], code[1], code[2], code[3], code[4]);
	/* The uprobe's offset: r_brk's place in the loader's file, the same bytes there. */
	v = procmaps__find(&maps, dl.r_brk);
	file = open(v->path, O_RDONLY);
	assert_true(file >= 0);
	assert_int_equal(pread(file, in_file, sizeof(in_file), (off_t)dl.brk_off), sizeof(in_file));
	assert_memory_equal(in_file, code, sizeof(code));
	close(file);
	close(mem);
	procmaps__free(&maps);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inject_200_times),
		cmocka_unit_test(finds_r_brk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
