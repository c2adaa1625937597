// SPDX-License-Identifier: Apache-2.0
/*
 * dlopen after the injection.  glibc's loader calls r_brk
 * (_dl_debug_state, its address in _r_debug.r_brk) with r_state RT_ADD
 * before it maps new objects and RT_CONSISTENT once they are in its list:
 * before it relocates them (which writes their GOT slots, and under lazy
 * binding adds the load bias to each JUMP_SLOT: a slot redirected then
 * would be overwritten or corrupted) and before their constructors run.
 * BPF stops the process there (heap_dl_notify in bpf/heap.bpf.c).  Here
 * the notifying thread alone runs on, through the relocations, to a
 * breakpoint on the first constructor of a new object; the loader has
 * written their slots by then and none of their code has run.  The other
 * threads stay stopped the whole time: none can enter a new object before
 * its slots are redirected.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heap/dlopen.h"
#include "proc/stat.h"
#include "heap/got.h"
#include "util/util.h"

#define MAX_INITS 64

struct inits {
	uint64_t addr[MAX_INITS];
	unsigned char orig[MAX_INITS];
	int n;
};

/* A symbol's value in elf's dynamic symbol table, or 0. */
static uint64_t dynsym_value(Elf *elf, const char *want)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Sym sym;
	const char *name;
	size_t i, n;

	while ((data = got_next_section(elf, &scn, SHT_DYNSYM, &sh, &n))) {
		for (i = 0; i < n; i++) {
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, want))
				return sym.st_value;
		}
	}
	return 0;
}

/* The file offset of virtual address vaddr (a PT_LOAD's), or -1. */
static int64_t file_offset(Elf *elf, uint64_t vaddr)
{
	GElf_Phdr ph;
	size_t i, np;

	if (elf_getphdrnum(elf, &np))
		return -1;
	for (i = 0; i < np; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr < ph.p_vaddr + ph.p_filesz)
			return (int64_t)(ph.p_offset + vaddr - ph.p_vaddr);
	return -1;
}

static int read_mem(int pid, uint64_t addr, void *buf, size_t n)
{
	struct tracee s = { .pid = pid, .mem = -1 };
	int err = tracee_open_mem(&s);

	if (!err)
		err = tracee_read(&s, addr, buf, n);
	if (s.mem >= 0)
		close(s.mem);
	return err;
}

static int find_in(int pid, const struct vma *v, struct heap_dl *dl)
{
	uint64_t rdebug, bias;
	int64_t off;
	int fd, err = -ENOENT;
	Elf *elf;

	elf = got_open_elf(pid, v, &fd, &bias);
	if (!elf)
		return -errno;
	rdebug = dynsym_value(elf, "_r_debug");
	if (!rdebug)
		goto out;
	dl->r_debug = bias + rdebug;
	/* struct r_debug: r_version (int), r_map, then r_brk. */
	err = read_mem(pid, dl->r_debug + 16, &dl->r_brk, sizeof(dl->r_brk));
	if (err)
		goto out;
	off = dl->r_brk > bias ? file_offset(elf, dl->r_brk - bias) : -1;
	err = off < 0 ? -ENOENT : 0;
	dl->brk_off = (uint64_t)off;
	dl->start = v->start;
	dl->end = v->end;
out:
	got_close_elf(elf, fd);
	return err;
}

int heap_dl_find(int pid, struct heap_dl *dl, char *why, size_t whylen)
{
	struct vma_list maps = { 0 };
	size_t k;
	int err;

	memset(dl, 0, sizeof(*dl));
	err = procmaps__read("/proc", pid, &maps);
	if (err) {
		snprintf(why, whylen, "cannot read the maps of pid %d: %s", pid, strerror(-err));
		return err;
	}
	err = -ENOENT;
	for (k = 0; k < maps.n && err; k++)
		if (maps.vmas[k].offset == 0 && tracee_in_loader(&maps, maps.vmas[k].start))
			err = find_in(pid, &maps.vmas[k], dl);
	procmaps__free(&maps);
	if (err)
		snprintf(why, whylen, "no dynamic loader with an r_debug in pid %d: %s", pid,
			 strerror(-err));
	return err;
}

static bool known_object(const uint64_t *known, int nknown, uint64_t key)
{
	int i;

	for (i = 0; i < nknown; i++)
		if (known[i] == key)
			return true;
	return false;
}

static void add_init(struct inits *in, const struct vma_list *maps, uint64_t addr)
{
	const struct vma *v = procmaps__find(maps, addr);
	int i;

	if (!v || !v->exec || in->n >= MAX_INITS)
		return;
	for (i = 0; i < in->n; i++)
		if (in->addr[i] == addr)
			return;
	in->addr[in->n++] = addr;
}

/* The value of the R_X86_64_RELATIVE relocation at vaddr in elf, if any. */
static bool relative_at(Elf *elf, uint64_t vaddr, uint64_t *value)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Rela r;
	size_t i, n;

	while ((data = got_next_section(elf, &scn, SHT_RELA, &sh, &n))) {
		for (i = 0; i < n; i++)
			if (gelf_getrela(data, (int)i, &r) && r.r_offset == vaddr &&
			    GELF_R_TYPE(r.r_info) == R_X86_64_RELATIVE) {
				*value = (uint64_t)r.r_addend;
				return true;
			}
	}
	return false;
}

/*
 * The constructors of the object first mapped at v, as the loader will run
 * them: DT_INIT, then every DT_INIT_ARRAY entry (its value from its
 * RELATIVE relocation: not relocated yet in memory).  An object with text
 * relocations gets none (the loader writes its code).
 */
static void object_inits(int pid, const struct vma *v, const struct vma_list *maps,
			 struct inits *in)
{
	uint64_t bias, arr = 0, arrsz = 0, val, k;
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Dyn dyn;
	size_t i, n;
	int64_t off;
	int fd;
	Elf *elf;

	elf = got_open_elf(pid, v, &fd, &bias);
	if (!elf)
		return;
	while ((data = got_next_section(elf, &scn, SHT_DYNAMIC, &sh, &n))) {
		for (i = 0; i < n; i++) {
			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag == DT_TEXTREL ||
			    (dyn.d_tag == DT_FLAGS && (dyn.d_un.d_val & DF_TEXTREL)))
				goto out;
			if (dyn.d_tag == DT_INIT)
				add_init(in, maps, bias + dyn.d_un.d_ptr);
			else if (dyn.d_tag == DT_INIT_ARRAY)
				arr = dyn.d_un.d_ptr;
			else if (dyn.d_tag == DT_INIT_ARRAYSZ)
				arrsz = dyn.d_un.d_val;
		}
	}
	for (k = 0; arr && k + 8 <= arrsz && k < 8 * MAX_INITS; k += 8) {
		val = 0;
		off = file_offset(elf, arr + k);
		if (!relative_at(elf, arr + k, &val) &&
		    (off < 0 || pread(fd, &val, sizeof(val), off) != (ssize_t)sizeof(val)))
			continue;
		if (val && val != (uint64_t)-1)
			add_init(in, maps, bias + val);
	}
out:
	got_close_elf(elf, fd);
}

/* Writes an int3 at each constructor, keeping the byte it replaced; 0 or -errno (none left). */
static int set_breakpoints(struct tracee *s, struct inits *in)
{
	static const unsigned char int3 = 0xcc;
	int i, err = 0;

	for (i = 0; i < in->n && !err; i++) {
		err = tracee_read(s, in->addr[i], &in->orig[i], 1);
		if (!err)
			err = tracee_write(s, in->addr[i], &int3, 1);
	}
	if (err)
		in->n = i - 1; /* those written are taken out again */
	return err;
}

static void clear_breakpoints(struct tracee *s, const struct inits *in)
{
	int i;

	for (i = 0; i < in->n; i++)
		tracee_write(s, in->addr[i], &in->orig[i], 1);
}

/* At one of the breakpoints (rip just past it): rip set back onto it. */
static bool at_breakpoint(int tid, const struct inits *in)
{
	struct user_regs_struct r;
	int i;

	if (ptrace(PTRACE_GETREGS, tid, 0, &r))
		return false;
	for (i = 0; i < in->n; i++)
		if (r.rip == in->addr[i] + 1) {
			r.rip--;
			return ptrace(PTRACE_SETREGS, tid, 0, &r) == 0;
		}
	return false;
}

/*
 * Runs thread i of s until it stops at a breakpoint (0), or until
 * timeout_ns, then interrupts it (-EAGAIN).  Stops on the way (the group
 * stop, an interrupt) are passed; a signal is kept for the resume, but the
 * SIGSTOP that held the process is BPF's and dropped.
 */
static int run_alone(struct tracee *s, int i, const struct inits *in, int64_t timeout_ns)
{
	int64_t deadline = mono_ns() + timeout_ns;
	int tid = s->tids[i], st, sig, flags = WNOHANG;
	pid_t r;

	if (ptrace(PTRACE_CONT, tid, 0, 0))
		return -errno;
	for (;;) {
		r = waitpid(tid, &st, __WALL | flags);
		if (r == 0) {
			if (mono_ns() < deadline) {
				usleep(50);
				continue;
			}
			/* Too long: stopped again, and waited for (an interrupt lands soon). */
			ptrace(PTRACE_INTERRUPT, tid, 0, 0);
			flags = 0;
			continue;
		}
		if (r < 0)
			return -errno;
		if (!WIFSTOPPED(st))
			return -ESRCH;
		sig = WSTOPSIG(st);
		if (sig == SIGTRAP && (st >> 16) == 0 && at_breakpoint(tid, in))
			return 0;
		if ((st >> 16) == PTRACE_EVENT_STOP) {
			if (!flags)
				return -EAGAIN; /* the interrupt's stop */
		} else if (sig != SIGSTOP && !s->sigs[i]) {
			s->sigs[i] = sig;
		}
		if (ptrace(PTRACE_CONT, tid, 0, 0))
			return -errno;
	}
}

int heap_dl_run_to_init(struct tracee *s, int i, const struct vma_list *maps, const uint64_t *known,
			int nknown, int64_t timeout_ns)
{
	struct inits in = { .n = 0 };
	size_t k;
	int err;

	for (k = 0; k < maps->n; k++)
		if (got_is_object(maps, k) &&
		    !known_object(known, nknown, got_object_key(&maps->vmas[k])))
			object_inits(s->pid, &maps->vmas[k], maps, &in);
	if (!in.n)
		return -EAGAIN;
	err = set_breakpoints(s, &in);
	if (!err)
		err = run_alone(s, i, &in, timeout_ns);
	/* The thread is stopped (or gone): no one runs while they go. */
	clear_breakpoints(s, &in);
	return err;
}

bool heap_dl_foreground(int pid)
{
	struct proc_stat st;

	return proc_stat_read(pid, &st) && st.tpgid > 0 && st.tpgid == st.pgrp;
}

int heap_dl_open(int pid, const struct heap_dl *dl)
{
	int fd = heap_open_map_file(pid, dl->start, dl->end, O_RDONLY);

	return fd < 0 ? -errno : fd;
}
