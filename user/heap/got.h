/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The allocator's GOT slots in every object of a stopped process,
 * redirected to the sampler and restored (heap/got.c).
 */
#ifndef BPFPROF_HEAP_GOT_H
#define BPFPROF_HEAP_GOT_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap/sampler/layout.h"
#include "heap/tracee.h"
#include "proc/maps.h"

struct heap_allocator;

struct got_patch {
	struct tracee *s;
	uint64_t base;
	const uint64_t *real;
	struct sampler_slot *slots; /* the sampler's table, read and written back */
	uint64_t nslots;
	int patched;
	int objects;
	const uint64_t *skip; /* objects (got_object_key) left alone: patched already */
	int nskip;
};

/* /proc/PID/map_files/START-END opened with flags: a descriptor or -1. */
int heap_open_map_file(int pid, uint64_t start, uint64_t end, int flags);

/*
 * The allocator's functions, as addresses in the process (its dynamic
 * symbols by name, as the loader binds them): 0 where it has none.
 */
void got_real_functions(int pid, const struct heap_allocator *a, const struct vma_list *maps,
			uint64_t real[SFN__MAX]);

/* Whether maps->vmas[k] is the first mapping of an object whose slots are patched. */
bool got_is_object(const struct vma_list *maps, size_t k);

/*
 * An object's key, from its first mapping: its address and its file, so
 * that another library loaded where a closed one was is a new object.
 */
uint64_t got_object_key(const struct vma *v);

/* The key of every such object, in *keys (malloc'ed): how many, or -ENOMEM. */
int got_objects(const struct vma_list *maps, uint64_t **keys);

/* Every loaded object's allocation slots pointed at the sampler: 0 or -errno. */
int got_patch_all(struct got_patch *c, const struct vma_list *maps);

/* Writes back every slot still pointing into the sampler at base; how many, or -EIO. */
int got_undo(struct tracee *s, uint64_t base, const struct sampler_slot *slots, uint64_t n);

/* A hash of the objects mapped (each file's first mapping): it changes with dlopen and dlclose. */
uint64_t got_objects_hash(const struct vma_list *maps);

/* The load bias of the object whose first mapping (offset 0) is v. */
uint64_t got_load_bias(Elf *elf, const struct vma *v);

/*
 * The object whose first mapping (offset 0) is v, read through pid's
 * map_files entry, with its load bias; NULL and errno when it cannot be
 * read.  *fd stays open until got_close_elf().
 */
Elf *got_open_elf(int pid, const struct vma *v, int *fd, uint64_t *bias);
void got_close_elf(Elf *elf, int fd);

/*
 * The next section of type after *scn (NULL: the first) that has entries:
 * its data, header and number of entries; NULL after the last.
 */
Elf_Data *got_next_section(Elf *elf, Elf_Scn **scn, GElf_Word type, GElf_Shdr *sh, size_t *n);

#endif
