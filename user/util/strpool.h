/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interned strings: each distinct string is stored once and stays at the
 * same address until the pool is freed, so symbolization results can hand
 * out plain const char pointers.
 */
#ifndef BPFPROF_STRPOOL_H
#define BPFPROF_STRPOOL_H

#include <stddef.h>

struct strpool;

/* NULL and errno on failure. */
struct strpool *strpool__new(void);
void strpool__free(struct strpool *p);

/* The pooled copy of s (of len bytes, no NUL needed); NULL and errno = ENOMEM. */
const char *strpool__addn(struct strpool *p, const char *s, size_t len);
/* The pooled copy of the NUL-terminated s; NULL and errno = ENOMEM. */
const char *strpool__add(struct strpool *p, const char *s);
/* Bytes the pool holds: its chunks and its index. */
size_t strpool__bytes(const struct strpool *p);

#endif
