// SPDX-License-Identifier: Apache-2.0
/*
 * Loads a fresh copy of a library again and again and allocates from its
 * code: every copy is a new mapping, so a profiler that unwinds the
 * allocating stack meets code it has not read the maps of (bpfprof stops
 * the process until it has).
 *
 * usage: dlopen_alloc LIB [SECONDS]
 *   Prints "ready" on stdout, then every 20 ms copies LIB to a new file in
 *   $TMPDIR (default /tmp), dlopens it, calls its lib_alloc() and removes
 *   the file (the mapping stays); ends after SECONDS (default 30).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out, err = 0;

	in = open(from, O_RDONLY);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			err = -1;
			break;
		}
	if (n < 0)
		err = -1;
	close(in);
	close(out);
	return err;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	double seconds = argc > 2 ? atof(argv[2]) : 30;
	struct timespec start, now, pause = { 0, 20 * 1000 * 1000 };
	char path[4096];
	void *(*lib_alloc)(size_t);
	void *h;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: dlopen_alloc LIB [SECONDS]\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0;; i++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
			break;
		snprintf(path, sizeof(path), "%s/dlopen_alloc.%d.%d.so", dir, (int)getpid(), i);
		if (copy_file(argv[1], path)) {
			perror(path);
			return 1;
		}
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		unlink(path);
		if (!h) {
			fprintf(stderr, "%s\n", dlerror());
			return 1;
		}
		lib_alloc = (void *(*)(size_t))dlsym(h, "lib_alloc");
		if (!lib_alloc)
			return 1;
		free(lib_alloc(4096));
		nanosleep(&pause, NULL);
	}
	return 0;
}
