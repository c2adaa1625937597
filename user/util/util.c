// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_duration_ns(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		double ns;
	} units[] = {
		{ "", 1e9 }, { "s", 1e9 },  { "ms", 1e6 },   { "us", 1e3 },
		{ "ns", 1 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	char *end;
	double v;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v * units[i].ns > 9.2e18)
				return -ERANGE;
			*out = (int64_t)(v * units[i].ns + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int online_cpus(bool **mask, int *ncpus)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	int lo, hi, n = 0, max = 0, c, i;
	bool *m = NULL, *grown;
	int err = 0;

	if (!f)
		return -errno;
	/* Format: "0-3,5,7-8" */
	while ((c = fscanf(f, "%d", &lo)) == 1) {
		hi = lo;
		c = fgetc(f);
		if (c == '-') {
			if (fscanf(f, "%d", &hi) != 1) {
				err = -EINVAL;
				break;
			}
			c = fgetc(f);
		}
		if (hi + 1 > max) {
			grown = realloc(m, hi + 1);
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			memset(grown + max, 0, hi + 1 - max);
			m = grown;
			max = hi + 1;
		}
		for (i = lo; i <= hi; i++)
			m[i] = true;
		n++;
		if (c != ',')
			break;
	}
	fclose(f);
	if (!err && !n)
		err = -EINVAL;
	if (err) {
		free(m);
		return err;
	}
	*mask = m;
	*ncpus = max;
	return 0;
}

void *array_grow(void *arr, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : first;
	if (ncap <= *cap || ncap > SIZE_MAX / size) /* the doubling wrapped, or the bytes would */
		return NULL;
	arr = realloc(arr, ncap * size);
	if (arr)
		*cap = ncap;
	return arr;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

const char *path_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

bool path_next_component(const char **p, char *out, size_t size)
{
	const char *s = *p, *e;
	size_t len;

	while (*s == '/')
		s++;
	if (!*s)
		return false;
	e = strchrnul(s, '/');
	len = (size_t)(e - s) < size - 1 ? (size_t)(e - s) : size - 1;
	memcpy(out, s, len);
	out[len] = '\0';
	*p = e;
	return true;
}

int parse_bytes(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	}
	if (shift && *end == 'i')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v == 0 || v > (max >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}
