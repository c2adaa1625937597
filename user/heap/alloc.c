// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpfprof/types.h"
#include "elf/section.h"
#include "heap/alloc.h"
#include "heap/place.h"
#include "util/log.h"
#include "proc/procs.h"

/* The functions probed when the allocator's file defines them. */
static const struct alloc_name {
	const char *name;
	uint32_t fn;
	unsigned args; /* argument registers the probe reads */
} names[] = {
	{ "malloc", HEAP_FN_MALLOC, PLACE_RDI },
	{ "calloc", HEAP_FN_CALLOC, PLACE_RDI | PLACE_RSI },
	{ "realloc", HEAP_FN_REALLOC, PLACE_RDI | PLACE_RSI },
	{ "reallocarray", HEAP_FN_REALLOCARRAY, PLACE_RDI | PLACE_RSI | PLACE_RDX },
	{ "posix_memalign", HEAP_FN_POSIX_MEMALIGN, PLACE_RDI | PLACE_RSI | PLACE_RDX },
	{ "aligned_alloc", HEAP_FN_MEMALIGN, PLACE_RDI | PLACE_RSI },
	{ "memalign", HEAP_FN_MEMALIGN, PLACE_RDI | PLACE_RSI },
	{ "valloc", HEAP_FN_MALLOC, PLACE_RDI },
	{ "pvalloc", HEAP_FN_PVALLOC, PLACE_RDI },
	{ "free", HEAP_FN_FREE, PLACE_RDI },
	{ "cfree", HEAP_FN_FREE, PLACE_RDI },
	{ "free_sized", HEAP_FN_FREE, PLACE_RDI },
	{ "free_aligned_sized", HEAP_FN_FREE, PLACE_RDI },
	/* jemalloc's own API */
	{ "mallocx", HEAP_FN_MALLOC, PLACE_RDI },
	{ "rallocx", HEAP_FN_REALLOC, PLACE_RDI | PLACE_RSI },
	{ "dallocx", HEAP_FN_FREE, PLACE_RDI },
	{ "sdallocx", HEAP_FN_FREE, PLACE_RDI },
	/* mimalloc's (its malloc & co. are aliases of these, merged by address) */
	{ "mi_malloc", HEAP_FN_MALLOC, PLACE_RDI },
	{ "mi_zalloc", HEAP_FN_MALLOC, PLACE_RDI },
	{ "mi_calloc", HEAP_FN_CALLOC, PLACE_RDI | PLACE_RSI },
	{ "mi_realloc", HEAP_FN_REALLOC, PLACE_RDI | PLACE_RSI },
	{ "mi_malloc_aligned", HEAP_FN_MALLOC, PLACE_RDI },
	{ "mi_free", HEAP_FN_FREE, PLACE_RDI },
	/* tcmalloc's */
	{ "tc_malloc", HEAP_FN_MALLOC, PLACE_RDI },
	{ "tc_calloc", HEAP_FN_CALLOC, PLACE_RDI | PLACE_RSI },
	{ "tc_realloc", HEAP_FN_REALLOC, PLACE_RDI | PLACE_RSI },
	{ "tc_memalign", HEAP_FN_MEMALIGN, PLACE_RDI | PLACE_RSI },
	{ "tc_posix_memalign", HEAP_FN_POSIX_MEMALIGN, PLACE_RDI | PLACE_RSI | PLACE_RDX },
	{ "tc_free", HEAP_FN_FREE, PLACE_RDI },
	/*
	 * C++ operators, probed only in an allocator that defines them
	 * (tcmalloc, jemalloc): libstdc++'s call malloc and free, probed already.
	 */
	{ "_Znwm", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_Znam", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZnwmRKSt9nothrow_t", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZnamRKSt9nothrow_t", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZnwmSt11align_val_t", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZnamSt11align_val_t", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZnwmSt11align_val_tRKSt9nothrow_t", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZnamSt11align_val_tRKSt9nothrow_t", HEAP_FN_MALLOC, PLACE_RDI },
	{ "_ZdlPv", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdaPv", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdlPvm", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdaPvm", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdlPvSt11align_val_t", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdaPvSt11align_val_t", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdlPvmSt11align_val_t", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdaPvmSt11align_val_t", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdlPvRKSt9nothrow_t", HEAP_FN_FREE, PLACE_RDI },
	{ "_ZdaPvRKSt9nothrow_t", HEAP_FN_FREE, PLACE_RDI },
};

#define NNAMES (sizeof(names) / sizeof(names[0]))

/* A defined function symbol's address and what names[] says of it. */
struct found {
	int name; /* index in names[] */
	uint64_t vaddr;
};

struct elf_file {
	int fd;
	Elf *elf;
	struct found found[HEAP_MAX_PROBES];
	int nfound;
	bool has_malloc;
	bool is_go; /* a Go executable: its heap is the Go runtime's */
	char soname_kind[32];
};

static int name_index(const char *name)
{
	size_t i;

	for (i = 0; i < NNAMES; i++)
		if (!strcmp(names[i].name, name))
			return i;
	return -1;
}

static void note_symbol(struct elf_file *f, const char *name, const GElf_Sym *sym)
{
	int idx, i;

	if (!strcmp(name, "runtime.mallocgc"))
		f->is_go = true;
	if (!strcmp(name, "je_malloc") || !strcmp(name, "mallocx"))
		snprintf(f->soname_kind, sizeof(f->soname_kind), "jemalloc");
	else if (!strcmp(name, "tc_malloc"))
		snprintf(f->soname_kind, sizeof(f->soname_kind), "tcmalloc");
	else if (!strcmp(name, "mi_malloc"))
		snprintf(f->soname_kind, sizeof(f->soname_kind), "mimalloc");
	else if (!strcmp(name, "__libc_malloc") && !f->soname_kind[0])
		snprintf(f->soname_kind, sizeof(f->soname_kind), "glibc");
	/* An IFUNC's address is its resolver's: never probe it. */
	if (GELF_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF || !sym->st_value)
		return;
	idx = name_index(name);
	if (idx < 0)
		return;
	if (idx == 0)
		f->has_malloc = true;
	for (i = 0; i < f->nfound; i++)
		if (f->found[i].vaddr == sym->st_value)
			return; /* an alias (.dynsym and .symtab, tc_malloc = malloc, ...) */
	if (f->nfound == HEAP_MAX_PROBES)
		return;
	f->found[f->nfound].name = idx;
	f->found[f->nfound].vaddr = sym->st_value;
	f->nfound++;
}

static void scan_symbols(struct elf_file *f)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	Elf_Data *data;
	GElf_Sym sym;
	size_t i, n;
	const char *name;

	while ((scn = elf_nextscn(f->elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type != SHT_DYNSYM && shdr.sh_type != SHT_SYMTAB)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !shdr.sh_entsize)
			continue;
		n = shdr.sh_size / shdr.sh_entsize;
		for (i = 0; i < n; i++) {
			if (!gelf_getsym(data, i, &sym))
				continue;
			name = elf_strptr(f->elf, shdr.sh_link, sym.st_name);
			if (name && *name)
				note_symbol(f, name, &sym);
		}
	}
	if (elf_section_by_name(f->elf, ".go.buildinfo", &shdr))
		f->is_go = true;
}

static int open_elf(const char *path, struct elf_file *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		if (f->elf)
			elf_end(f->elf);
		close(f->fd);
		return -ENOEXEC;
	}
	scan_symbols(f);
	return 0;
}

static void close_elf(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->fd = -1;
}

/* The file offset of virtual address vaddr, from the loadable segments. */
static int vaddr_to_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* Fills out's functions from f: their offsets and where to probe each. */
static int place_functions(struct elf_file *f, bool at_entry, struct heap_allocator *out)
{
	uint8_t code[64];
	struct heap_func *h;
	struct probe_place pl;
	ssize_t got;
	int i;

	for (i = 0; i < f->nfound; i++) {
		const struct alloc_name *a = &names[f->found[i].name];

		/* C++ operators of libstdc++ call malloc: only an allocator's own count. */
		if (a->name[0] == '_' && !strcmp(out->kind, "glibc"))
			continue;
		h = &out->funcs[out->nfuncs];
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "%s", a->name);
		h->fn = a->fn;
		if (vaddr_to_offset(f->elf, f->found[i].vaddr, &h->entry))
			continue;
		h->offset = h->entry;
		got = pread(f->fd, code, sizeof(code), h->entry);
		if (got > 0 && !probe_place(code, got, a->args, a->fn != HEAP_FN_FREE, &pl)) {
			if (!at_entry)
				h->offset = h->entry + pl.offset;
			h->emulated = at_entry ? false : pl.emulated;
			snprintf(h->insn, sizeof(h->insn), "%s", pl.insn);
			if (at_entry && pl.offset == 0)
				h->emulated = pl.emulated;
		}
		out->nfuncs++;
	}
	return 0;
}

static bool is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5);
}

int heap_allocator_choose(char *const *open_paths, char *const *proc_paths, int n, bool at_entry,
			  struct heap_allocator *out, char *why, size_t whylen)
{
	struct elf_file f;
	int i, pick = -1, libc = -1, err;
	bool go = false;

	elf_version(EV_CURRENT);
	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (open_elf(open_paths[i], &f))
			continue;
		if (i == 0 && f.is_go)
			go = true;
		if (f.has_malloc) {
			if (i == 0 || !is_libc(proc_paths[i])) {
				/* The executable's own malloc, or one preloaded/linked in: it interposes. */
				if (pick < 0 || i == 0)
					pick = i;
			} else if (libc < 0) {
				libc = i;
			}
		}
		close_elf(&f);
		if (pick == 0)
			break;
	}
	if (pick < 0)
		pick = libc;
	if (pick < 0) {
		if (go)
			snprintf(why, whylen,
				 "no C allocator found: %s is a Go program without cgo; its heap "
				 "is the Go runtime's (use Go's own heap profile, net/http/pprof)",
				 proc_paths[0]);
		else
			snprintf(why, whylen,
				 "no allocator found: %s maps no glibc, jemalloc, tcmalloc or "
				 "mimalloc and defines no malloc",
				 proc_paths[0]);
		return -ENOENT;
	}
	err = open_elf(open_paths[pick], &f);
	if (err) {
		snprintf(why, whylen, "cannot read %s: %s", proc_paths[pick], strerror(-err));
		return err;
	}
	snprintf(out->path, sizeof(out->path), "%s", open_paths[pick]);
	snprintf(out->file, sizeof(out->file), "%s", proc_paths[pick]);
	if (f.soname_kind[0])
		snprintf(out->kind, sizeof(out->kind), "%s", f.soname_kind);
	else
		snprintf(out->kind, sizeof(out->kind), "malloc in %s",
			 strrchr(proc_paths[pick], '/') ? strrchr(proc_paths[pick], '/') + 1
							: proc_paths[pick]);
	place_functions(&f, at_entry, out);
	close_elf(&f);
	return 0;
}

int heap_allocator_of_pid(struct proctab *procs, int pid, bool at_entry, struct heap_allocator *out,
			  char *why, size_t whylen)
{
	char exe[PATH_MAX], link[64], **open_paths = NULL, **proc_paths = NULL;
	const struct pproc *p;
	int n = 0, err, i;
	ssize_t len;
	size_t k;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	if (len <= 0) {
		snprintf(why, whylen, "cannot read the executable of pid %d: %s", pid,
			 strerror(errno));
		return -errno;
	}
	exe[len] = '\0';
	if (len > 10 && !strcmp(exe + len - 10, " (deleted)"))
		exe[len - 10] = '\0';
	/* Read into the capture's table, which keeps them for symbols and unwinding. */
	err = proctab__refresh(procs, pid);
	p = proctab__find(procs, pid);
	if (!err && !p)
		err = -ENOMEM;
	if (err) {
		snprintf(why, whylen, "cannot read the mappings of pid %d: %s", pid,
			 strerror(-err));
		return err;
	}
	open_paths = calloc(p->n + 1, sizeof(char *));
	proc_paths = calloc(p->n + 1, sizeof(char *));
	if (!open_paths || !proc_paths) {
		err = -ENOMEM;
		goto out;
	}
	/* The executable first: it wins when it defines malloc itself. */
	proc_paths[n] = strdup(exe);
	if (asprintf(&open_paths[n], "/proc/%d/root%s", pid, exe) < 0)
		open_paths[n] = NULL;
	n++;
	for (k = 0; k < p->n; k++) {
		const struct pmap *v = &p->maps[k];

		if (!v->live || v->path[0] != '/' || !strcmp(v->path, exe))
			continue;
		for (i = 0; i < n; i++)
			if (proc_paths[i] && !strcmp(proc_paths[i], v->path))
				break;
		if (i < n)
			continue;
		proc_paths[n] = strdup(v->path);
		if (asprintf(&open_paths[n], "/proc/%d/root%s", pid, v->path) < 0)
			open_paths[n] = NULL;
		n++;
	}
	for (i = 0; i < n; i++)
		if (!proc_paths[i] || !open_paths[i]) {
			err = -ENOMEM;
			goto out;
		}
	err = heap_allocator_choose(open_paths, proc_paths, n, at_entry, out, why, whylen);
out:
	if (err == -ENOMEM)
		snprintf(why, whylen, "out of memory");
	for (i = 0; i < n; i++) {
		free(open_paths[i]);
		free(proc_paths[i]);
	}
	free(open_paths);
	free(proc_paths);
	return err;
}

/* The program interpreter of an executable, or "" for a static one. */
static int interpreter(const char *exe, char *buf, size_t len)
{
	int fd = open(exe, O_RDONLY | O_CLOEXEC), err = 0;
	size_t i, n;
	GElf_Phdr ph;
	Elf *elf;

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &n)) {
		err = -ENOEXEC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_INTERP && ph.p_filesz < len) {
			if (pread(fd, buf, ph.p_filesz, ph.p_offset) != (ssize_t)ph.p_filesz)
				err = -EIO;
			else
				buf[ph.p_filesz] = '\0';
			break;
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/*
 * Lines of `ld.so --list exe`: "\tname => /path (0x...)" or "\t/path (0x...)".
 * The loader resolves (and LD_PRELOADs) without running the program.
 */
static int list_libraries(const char *interp, const char *exe, char ***out, int *n)
{
	char line[PATH_MAX + 64], *p, *end;
	int pipefd[2], status;
	pid_t child;
	FILE *f;

	if (pipe(pipefd))
		return -errno;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(interp, interp, "--list", exe, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	if (!f) {
		close(pipefd[0]);
		waitpid(child, &status, 0);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "=> ");
		p = p ? p + 3 : line + strspn(line, " \t");
		if (*p != '/')
			continue;
		end = strstr(p, " (0x");
		if (end)
			*end = '\0';
		p[strcspn(p, "\n")] = '\0';
		(*out)[(*n)++] = strdup(p);
		if (*n >= 255)
			break;
	}
	fclose(f);
	waitpid(child, &status, 0);
	return 0;
}

int heap_allocator_of_command(const char *exe, bool at_entry, struct heap_allocator *out, char *why,
			      size_t whylen)
{
	char interp[PATH_MAX], **paths;
	int n = 0, err, i;

	paths = calloc(256, sizeof(char *));
	if (!paths)
		return -ENOMEM;
	paths[n++] = strdup(exe);
	err = interpreter(exe, interp, sizeof(interp));
	if (err) {
		snprintf(why, whylen, "cannot read %s: %s", exe, strerror(-err));
		goto out;
	}
	if (interp[0])
		list_libraries(interp, exe, &paths, &n);
	for (i = 0; i < n; i++)
		if (!paths[i]) {
			err = -ENOMEM;
			snprintf(why, whylen, "out of memory");
			goto out;
		}
	err = heap_allocator_choose(paths, paths, n, at_entry, out, why, whylen);
out:
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return err;
}
