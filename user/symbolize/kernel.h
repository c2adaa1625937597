/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel symbols from /proc/kallsyms. */
#ifndef BPFPROF_KSYMS_H
#define BPFPROF_KSYMS_H

#include <stdint.h>

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module; /* NULL for the core kernel, else e.g. "ext4" */
};

struct ksyms;

/* Loads a kallsyms file (text symbols only).  NULL and errno on failure; -EPERM
 * style failure (all addresses zero, kptr_restrict) gives errno = EACCES. */
struct ksyms *ksyms__load(const char *path);
/* The symbol containing addr (the closest one at or below it), or NULL. */
const struct ksym *ksyms__find(const struct ksyms *ks, uint64_t addr);
/*
 * The address of the text symbol name (aliases sharing an address with a
 * preferred name included, e.g. __sched_text_start); -ENOENT when none.
 * The first call indexes the names.
 */
int ksyms__addr(struct ksyms *ks, const char *name, uint64_t *addr);
/* Lowest and highest symbol address, for the [kernel.kallsyms] mapping. */
void ksyms__range(const struct ksyms *ks, uint64_t *lo, uint64_t *hi);
void ksyms__free(struct ksyms *ks);

#endif
