// SPDX-License-Identifier: Apache-2.0
/*
 * Finding and rewriting a process's allocator GOT slots: every JUMP_SLOT
 * and GLOB_DAT relocation of an allocation function, in every loaded
 * object, read from the object's file and written through /proc/PID/mem
 * (which writes read-only RELRO pages too, as a debugger's breakpoints
 * do).  What each slot held goes into the sampler's own table, so any
 * later bpfprof restores them, even after this one was killed.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap/alloc.h"
#include "heap/got.h"
#include "sampler_blob.h"

#define CODE_SIZE SAMPLER_CODE_END_OFF

static const char *const fn_names[SFN__MAX] = {
	[SFN_MALLOC] = "malloc",
	[SFN_CALLOC] = "calloc",
	[SFN_REALLOC] = "realloc",
	[SFN_REALLOCARRAY] = "reallocarray",
	[SFN_MEMALIGN] = "memalign",
	[SFN_ALIGNED_ALLOC] = "aligned_alloc",
	[SFN_POSIX_MEMALIGN] = "posix_memalign",
	[SFN_VALLOC] = "valloc",
	[SFN_PVALLOC] = "pvalloc",
	[SFN_FREE] = "free",
};

static const uint64_t wrapper_off[SFN__MAX] = {
	[SFN_MALLOC] = SAMPLER_MALLOC_OFF,
	[SFN_CALLOC] = SAMPLER_CALLOC_OFF,
	[SFN_REALLOC] = SAMPLER_REALLOC_OFF,
	[SFN_REALLOCARRAY] = SAMPLER_REALLOCARRAY_OFF,
	[SFN_MEMALIGN] = SAMPLER_MEMALIGN_OFF,
	[SFN_ALIGNED_ALLOC] = SAMPLER_ALIGNED_ALLOC_OFF,
	[SFN_POSIX_MEMALIGN] = SAMPLER_POSIX_MEMALIGN_OFF,
	[SFN_VALLOC] = SAMPLER_VALLOC_OFF,
	[SFN_PVALLOC] = SAMPLER_PVALLOC_OFF,
	[SFN_FREE] = SAMPLER_FREE_OFF,
};

int heap_open_map_file(int pid, uint64_t start, uint64_t end, int flags)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, start, end);
	return open(path, flags | O_CLOEXEC);
}

Elf *got_open_elf(int pid, const struct vma *v, int *fd, uint64_t *bias)
{
	Elf *elf;

	*fd = heap_open_map_file(pid, v->start, v->end, O_RDONLY);
	if (*fd < 0)
		return NULL;
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(*fd);
		*fd = -1;
		errno = ENOENT; /* not an ELF file */
		return NULL;
	}
	*bias = got_load_bias(elf, v);
	return elf;
}

void got_close_elf(Elf *elf, int fd)
{
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

Elf_Data *got_next_section(Elf *elf, Elf_Scn **scn, GElf_Word type, GElf_Shdr *sh, size_t *n)
{
	Elf_Data *data;

	while ((*scn = elf_nextscn(elf, *scn))) {
		if (!gelf_getshdr(*scn, sh) || sh->sh_type != type || !sh->sh_entsize)
			continue;
		data = elf_getdata(*scn, NULL);
		if (!data)
			continue;
		*n = sh->sh_size / sh->sh_entsize;
		return data;
	}
	return NULL;
}

static int fn_of(const char *name)
{
	int f;

	for (f = 0; f < SFN__MAX; f++)
		if (!strcmp(name, fn_names[f]))
			return f;
	return -1;
}

/* The load bias of the object whose first mapping (offset 0) is v. */
uint64_t got_load_bias(Elf *elf, const struct vma *v)
{
	uint64_t lowest = UINT64_MAX;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t i, np;

	if (!gelf_getehdr(elf, &eh) || eh.e_type != ET_DYN || elf_getphdrnum(elf, &np))
		return 0;
	for (i = 0; i < np; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lowest)
			lowest = ph.p_vaddr & ~4095ULL;
	return lowest == UINT64_MAX ? 0 : v->start - lowest;
}

/*
 * The allocator's functions, as addresses in the process (its dynamic
 * symbols by name, as the loader binds them): 0 where it has none.
 */
void got_real_functions(int pid, const struct heap_allocator *a, const struct vma_list *maps,
			uint64_t real[SFN__MAX])
{
	const struct vma *v = NULL;
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Sym sym;
	const char *name;
	uint64_t bias;
	size_t k, i, n;
	Elf *elf;
	int fd, f;

	memset(real, 0, sizeof(uint64_t) * SFN__MAX);
	for (k = 0; k < maps->n && !v; k++)
		if (maps->vmas[k].offset == 0 && !strcmp(maps->vmas[k].path, a->file))
			v = &maps->vmas[k];
	if (!v)
		return;
	elf = got_open_elf(pid, v, &fd, &bias);
	if (!elf)
		return;
	while ((data = got_next_section(elf, &scn, SHT_DYNSYM, &sh, &n))) {
		for (i = 0; i < n; i++) {
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && (f = fn_of(name)) >= 0)
				real[f] = bias + sym.st_value;
		}
	}
	got_close_elf(elf, fd);
}

static int patch_slot(struct got_patch *c, uint64_t addr, int f)
{
	uint64_t cur, want = c->base + wrapper_off[f];
	uint64_t i;
	int err;

	if ((err = tracee_read(c->s, addr, &cur, sizeof(cur))))
		return err;
	if (cur == want)
		return 0; /* an earlier bpfprof's redirection, kept (its original is in slots[]) */
	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].addr == addr)
			break;
	if (i == c->nslots) {
		if (c->nslots >= SAMPLER_MAX_SLOTS)
			return -E2BIG;
		c->nslots++;
		c->slots[i].addr = addr;
	}
	c->slots[i].orig = cur;
	if ((err = tracee_write64(c->s, addr, want)))
		return err;
	c->patched++;
	return 0;
}

/* Every allocation function's JUMP_SLOT and GLOB_DAT relocation in one mapped object. */
static int patch_object(struct got_patch *c, const struct vma *v, const struct vma_list *maps)
{
	uint64_t bias;
	int fd, err = 0, f, before = c->patched;
	Elf_Scn *scn = NULL, *syms;
	GElf_Shdr sh, ssh;
	GElf_Ehdr eh;
	GElf_Rela rela;
	GElf_Sym sym;
	Elf_Data *data, *sdata;
	size_t i, n;
	const char *name;
	Elf *elf;

	elf = got_open_elf(c->s->pid, v, &fd, &bias);
	if (!elf)
		return 0; /* not readable: nothing of it patched */
	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64)
		goto out;
	while ((data = got_next_section(elf, &scn, SHT_RELA, &sh, &n))) {
		syms = elf_getscn(elf, sh.sh_link);
		if (!syms || !gelf_getshdr(syms, &ssh) || ssh.sh_type != SHT_DYNSYM)
			continue;
		sdata = elf_getdata(syms, NULL);
		if (!sdata)
			continue;
		for (i = 0; i < n; i++) {
			if (!gelf_getrela(data, (int)i, &rela))
				break;
			if (GELF_R_TYPE(rela.r_info) != R_X86_64_JUMP_SLOT &&
			    GELF_R_TYPE(rela.r_info) != R_X86_64_GLOB_DAT)
				continue;
			if (!gelf_getsym(sdata, (int)GELF_R_SYM(rela.r_info), &sym))
				continue;
			name = elf_strptr(elf, ssh.sh_link, sym.st_name);
			if (!name || (f = fn_of(name)) < 0 || !c->real[f])
				continue;
			if ((rela.r_offset + bias) & 7)
				continue; /* not an aligned slot: leave it */
			if (!procmaps__find(maps, rela.r_offset + bias))
				continue;
			err = patch_slot(c, rela.r_offset + bias, f);
			if (err)
				goto out;
		}
	}
	c->objects += c->patched > before;
out:
	got_close_elf(elf, fd);
	return err;
}

bool got_is_object(const struct vma_list *maps, size_t k)
{
	const struct vma *v = &maps->vmas[k];

	if (v->offset != 0 || v->path[0] != '/' || strstr(v->path, "/memfd:") ||
	    tracee_in_loader(maps, v->start))
		return false;
	return !(k > 0 && maps->vmas[k - 1].offset == 0 &&
		 !strcmp(maps->vmas[k - 1].path, v->path));
}

uint64_t got_object_key(const struct vma *v)
{
	return v->start ^ (v->inode * 0x9e3779b97f4a7c15ULL);
}

int got_objects(const struct vma_list *maps, uint64_t **starts)
{
	size_t k;
	int n = 0;

	*starts = calloc(maps->n + 1, sizeof(**starts));
	if (!*starts)
		return -ENOMEM;
	for (k = 0; k < maps->n; k++)
		if (got_is_object(maps, k))
			(*starts)[n++] = got_object_key(&maps->vmas[k]);
	return n;
}

static bool skipped(const struct got_patch *c, uint64_t key)
{
	int i;

	for (i = 0; i < c->nskip; i++)
		if (c->skip[i] == key)
			return true;
	return false;
}

int got_patch_all(struct got_patch *c, const struct vma_list *maps)
{
	size_t k;
	int err;

	for (k = 0; k < maps->n; k++) {
		if (!got_is_object(maps, k) || skipped(c, got_object_key(&maps->vmas[k])))
			continue;
		err = patch_object(c, &maps->vmas[k], maps);
		if (err)
			return err;
	}
	return 0;
}

/* Writes back every slot still pointing into the sampler at base; how many. */
int got_undo(struct tracee *s, uint64_t base, const struct sampler_slot *slots, uint64_t n)
{
	uint64_t i, cur;
	int restored = 0;

	for (i = 0; i < n; i++) {
		if (tracee_read(s, slots[i].addr, &cur, sizeof(cur)))
			continue; /* unmapped (dlclose): nothing to restore */
		if (cur < base || cur >= base + CODE_SIZE)
			continue; /* rewritten since: not ours any more */
		if (tracee_write64(s, slots[i].addr, slots[i].orig))
			return -EIO;
		restored++;
	}
	return restored;
}

/* A hash of the objects mapped (each file's first mapping): it changes with dlopen and dlclose. */
uint64_t got_objects_hash(const struct vma_list *maps)
{
	uint64_t h = 1469598103934665603ULL;
	size_t k;

	for (k = 0; k < maps->n; k++)
		if (maps->vmas[k].offset == 0 && maps->vmas[k].path[0] == '/')
			h = (h ^ got_object_key(&maps->vmas[k])) * 1099511628211ULL;
	return h;
}
