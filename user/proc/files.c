// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc/files.h"
#include "util/hash.h"
#include "util/log.h"

/* What stat says of a file: one file may be reached under several (build ids). */
struct stat_key {
	uint64_t dev, ino;
	int64_t size, mtime_sec, mtime_nsec;
};

struct alias {
	struct stat_key key;
	struct pfile *f;
};

struct filetab {
	struct pfile **files;
	size_t n, cap;
	struct hashtab by_build_id; /* over files[], those with a build id */
	struct alias *aliases;
	size_t naliases, aliases_cap;
	struct hashtab by_stat;	 /* over aliases[] */
	struct hashtab by_inode; /* over files[]: their own device and inode */
	struct pfile *vdso;
	bool vdso_tried;
	unsigned vdso_copies;
	pfile_release_fn release[PFILE__USERS];
	void *release_ctx[PFILE__USERS];
};

struct filetab *filetab__new(void)
{
	elf_version(EV_CURRENT);
	return calloc(1, sizeof(struct filetab));
}

static void pfile_free(struct filetab *t, struct pfile *f)
{
	int u;

	for (u = 0; u < PFILE__USERS; u++)
		if (f->priv[u] && t->release[u])
			t->release[u](t->release_ctx[u], f);
	if (f->fd >= 0)
		close(f->fd);
	free(f->name);
	free(f);
}

void filetab__free(struct filetab *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		pfile_free(t, t->files[i]);
	if (t->vdso)
		pfile_free(t, t->vdso);
	hashtab__fini(&t->by_build_id);
	hashtab__fini(&t->by_stat);
	hashtab__fini(&t->by_inode);
	free(t->files);
	free(t->aliases);
	free(t);
}

void filetab__on_release(struct filetab *t, enum pfile_user user, pfile_release_fn fn, void *ctx)
{
	t->release[user] = fn;
	t->release_ctx[user] = ctx;
}

void filetab__clear_priv(struct filetab *t, enum pfile_user user)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		t->files[i]->priv[user] = NULL;
	if (t->vdso)
		t->vdso->priv[user] = NULL;
}

static uint64_t stat_hash(const struct stat_key *k)
{
	return hash_bytes(k, sizeof(*k), 0);
}

static bool stat_eq(const void *ctx, size_t idx, const void *key)
{
	const struct filetab *t = ctx;

	return !memcmp(&t->aliases[idx].key, key, sizeof(struct stat_key));
}

static uint64_t build_id_hash(const char *id)
{
	return hash_bytes(id, strlen(id), 1);
}

static bool build_id_eq(const void *ctx, size_t idx, const void *key)
{
	const struct filetab *t = ctx;

	return !strcmp(t->files[idx]->build_id, key);
}

static uint64_t inode_hash(uint64_t dev, uint64_t ino)
{
	return hash_u64(dev * 0x9e3779b97f4a7c15ULL ^ ino);
}

struct inode_key {
	uint64_t dev, ino;
};

static bool inode_eq(const void *ctx, size_t idx, const void *key)
{
	const struct filetab *t = ctx;
	const struct inode_key *k = key;

	return t->files[idx]->dev == k->dev && t->files[idx]->ino == k->ino;
}

static void key_of(const struct stat *st, struct stat_key *k)
{
	memset(k, 0, sizeof(*k)); /* hashed and compared as bytes */
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->size = st->st_size;
	k->mtime_sec = st->st_mtim.tv_sec;
	k->mtime_nsec = st->st_mtim.tv_nsec;
}

static int add_alias(struct filetab *t, const struct stat_key *k, struct pfile *f)
{
	int err;

	if (t->naliases == t->aliases_cap) {
		size_t cap = t->aliases_cap ? t->aliases_cap * 2 : 64;
		struct alias *a = realloc(t->aliases, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		t->aliases = a;
		t->aliases_cap = cap;
	}
	err = hashtab__insert(&t->by_stat, stat_hash(k), t->naliases);
	if (err)
		return err;
	t->aliases[t->naliases++] = (struct alias){ .key = *k, .f = f };
	return 0;
}

static void hex(const unsigned char *bits, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && i < 64; i++) {
		out[2 * i] = digits[bits[i] >> 4];
		out[2 * i + 1] = digits[bits[i] & 0xf];
	}
	out[2 * i] = '\0';
}

/* The NT_GNU_BUILD_ID note of a PT_NOTE segment, if it has one. */
static bool note_build_id(Elf *elf, const GElf_Phdr *ph, char *out)
{
	Elf_Type type = ph->p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
	Elf_Data *d = elf_getdata_rawchunk(elf, ph->p_offset, ph->p_filesz, type);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz > 0 &&
		    !memcmp((const char *)d->d_buf + name_off, "GNU", 4)) {
			hex((const unsigned char *)d->d_buf + desc_off, nh.n_descsz, out);
			return true;
		}
	}
	return false;
}

/* The hex GNU build id of the ELF file fd, or "" (not ELF, or none). */
static void read_build_id(int fd, char *out)
{
	GElf_Phdr ph;
	size_t n, i;
	Elf *elf;

	out[0] = '\0';
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return;
	if (elf_kind(elf) == ELF_K_ELF && !elf_getphdrnum(elf, &n)) {
		for (i = 0; i < n; i++)
			if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_NOTE &&
			    note_build_id(elf, &ph, out))
				break;
	}
	elf_end(elf);
}

static struct pfile *pfile_new(int fd, const struct stat *st, const char *name)
{
	struct pfile *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->name = strdup(name);
	if (!f->name) {
		free(f);
		return NULL;
	}
	read_build_id(fd, f->build_id);
	return f;
}

static int add_file(struct filetab *t, struct pfile *f)
{
	int err;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct pfile **files = realloc(t->files, cap * sizeof(*files));

		if (!files)
			return -ENOMEM;
		t->files = files;
		t->cap = cap;
	}
	if (f->build_id[0]) {
		err = hashtab__insert(&t->by_build_id, build_id_hash(f->build_id), t->n);
		if (err)
			return err;
	}
	/* Without this index the file is found the slow way: not wrong. */
	hashtab__insert(&t->by_inode, inode_hash(f->dev, f->ino), t->n);
	t->files[t->n++] = f;
	return 0;
}

/*
 * The path to open v at: map_files, else the process's root; st is what
 * stat says of it.  Only regular files: opening a device can do anything.
 */
static int locate(const char *procfs, int pid, const struct vma *v, char *path, size_t len,
		  struct stat *st)
{
	snprintf(path, len, "%s/%d/map_files/%" PRIx64 "-%" PRIx64, procfs, pid, v->start, v->end);
	if (stat(path, st)) {
		/* A deleted file's path now names another file, or none. */
		if (v->deleted)
			return -errno;
		if (snprintf(path, len, "%s/%d/root%s", procfs, pid, v->path) >= (int)len)
			return -ENAMETOOLONG;
		if (stat(path, st))
			return -errno;
	}
	return S_ISREG(st->st_mode) ? 0 : -EINVAL;
}

/* A file seen for the first time under key: the entry of its build id, or a new one. */
static struct pfile *open_new(struct filetab *t, const char *path, const char *name, int *err)
{
	struct stat_key k;
	struct pfile *f;
	struct stat st;
	long idx;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		*err = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	key_of(&st, &k);
	f = pfile_new(fd, &st, name);
	if (!f) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	idx = f->build_id[0] ? hashtab__find(&t->by_build_id, build_id_hash(f->build_id),
					     build_id_eq, t, f->build_id)
			     : -1;
	if (idx >= 0) {
		/* The same build under another device/inode (a copy, a container). */
		pfile_free(t, f);
		f = t->files[idx];
	} else {
		*err = add_file(t, f);
		if (*err) {
			pfile_free(t, f);
			return NULL;
		}
	}
	/* Best effort: without the alias the next lookup opens the file again. */
	add_alias(t, &k, f);
	return f;
}

/*
 * The open file whose own device and inode the maps line names, unchanged
 * since it was opened: no path walk through /proc (each costs a lookup
 * and a permission check, and every new process maps a dozen files).  The
 * table holds that inode open, so its number cannot be given to another
 * file meanwhile; size and modification time catch a rewrite in place.
 * Where the two disagree (overlayfs may show another device), the slow
 * way finds it.
 */
static struct pfile *by_maps_inode(struct filetab *t, const struct vma *v)
{
	struct inode_key k = { makedev(v->dev_major, v->dev_minor), v->inode };
	struct pfile *f;
	struct stat st;
	long idx;

	if (!v->inode || v->deleted)
		return NULL;
	idx = hashtab__find(&t->by_inode, inode_hash(k.dev, k.ino), inode_eq, t, &k);
	if (idx < 0)
		return NULL;
	f = t->files[idx];
	if (fstat(f->fd, &st) || st.st_size != f->size || st.st_mtim.tv_sec != f->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != f->mtime.tv_nsec)
		return NULL;
	return f;
}

struct pfile *filetab__get(struct filetab *t, const char *procfs, int pid, const struct vma *v)
{
	char path[PATH_MAX];
	struct stat_key k;
	struct pfile *f;
	struct stat st;
	long idx;
	int err;

	if (!strcmp(v->path, "[vdso]"))
		return filetab__vdso(t);
	if (v->path[0] != '/') {
		errno = EINVAL;
		return NULL;
	}
	f = by_maps_inode(t, v);
	if (f)
		return f;
	err = locate(procfs, pid, v, path, sizeof(path), &st);
	if (err) {
		errno = -err;
		return NULL;
	}
	key_of(&st, &k);
	idx = hashtab__find(&t->by_stat, stat_hash(&k), stat_eq, t, &k);
	if (idx >= 0)
		return t->aliases[idx].f;
	f = open_new(t, path, v->path, &err);
	if (!f) {
		pr_debug("cannot open %s: %s\n", path, strerror(-err));
		errno = -err;
	}
	return f;
}

/*
 * The vdso is the same image in every process of one kernel and ABI, so
 * this process's own copy stands in for all; users want a file, so the
 * image goes into a memfd.
 */
static int copy_vdso(void)
{
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	struct vma_list self = {};
	const struct vma *v;
	ssize_t len;
	int fd = -1, err;

	if (!base)
		return -ENOENT;
	err = procmaps__read("/proc", getpid(), &self);
	if (err)
		return err;
	v = procmaps__find(&self, base);
	if (!v) {
		err = -ENOENT;
		goto out;
	}
	len = v->end - base;
	fd = memfd_create("vdso", MFD_CLOEXEC);
	if (fd < 0 || write(fd, (const void *)(uintptr_t)base, len) != len) {
		err = fd < 0 ? -errno : -EIO;
		goto out;
	}
out:
	procmaps__free(&self);
	if (err && fd >= 0)
		close(fd);
	return err ? err : fd;
}

struct pfile *filetab__vdso(struct filetab *t)
{
	struct stat st;
	int fd;

	if (t->vdso_tried) {
		if (!t->vdso)
			errno = ENOENT;
		return t->vdso;
	}
	t->vdso_tried = true;
	fd = copy_vdso();
	if (fd >= 0)
		t->vdso_copies++;
	if (fd < 0 || fstat(fd, &st) || !(t->vdso = pfile_new(fd, &st, "[vdso]"))) {
		pr_debug("cannot copy the vdso image; [vdso] frames stay unsymbolized\n");
		if (fd >= 0)
			close(fd);
		errno = ENOENT;
		return NULL;
	}
	t->vdso->vdso = true;
	return t->vdso;
}

int pfile__open(const struct pfile *f)
{
	char path[64];
	int fd;

	pfile__path(f, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void pfile__path(const struct pfile *f, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", f->fd);
}

/* The indexes again, after files went: util/hash does not delete. */
static int reindex(struct filetab *t)
{
	size_t i, n = 0;
	int err = 0;

	hashtab__fini(&t->by_build_id);
	hashtab__fini(&t->by_stat);
	hashtab__fini(&t->by_inode);
	for (i = 0; i < t->n && !err; i++) {
		if (t->files[i]->build_id[0])
			err = hashtab__insert(&t->by_build_id, build_id_hash(t->files[i]->build_id),
					      i);
		if (!err)
			err = hashtab__insert(&t->by_inode,
					      inode_hash(t->files[i]->dev, t->files[i]->ino), i);
	}
	for (i = 0; i < t->naliases && !err; i++) {
		if (!t->aliases[i].f)
			continue;
		t->aliases[n++] = t->aliases[i];
		err = hashtab__insert(&t->by_stat, stat_hash(&t->aliases[i].key), n - 1);
	}
	t->naliases = n;
	return err;
}

size_t filetab__evict_unused(struct filetab *t)
{
	size_t i, j, n = 0;

	for (i = 0; i < t->n; i++) {
		struct pfile *f = t->files[i];

		if (f->refs) {
			t->files[n++] = f;
			continue;
		}
		for (j = 0; j < t->naliases; j++)
			if (t->aliases[j].f == f)
				t->aliases[j].f = NULL;
		pfile_free(t, f);
	}
	i = t->n - n;
	t->n = n;
	if (i && reindex(t))
		/* Without indexes, files already open are opened again: not wrong, slower. */
		pr_debug("cannot index mapped files again: out of memory\n");
	return i;
}

size_t filetab__count(const struct filetab *t)
{
	return t->n + (t->vdso != NULL);
}

size_t filetab__bytes(const struct filetab *t)
{
	size_t bytes = sizeof(*t), i;

	for (i = 0; i < t->n; i++)
		bytes += sizeof(*t->files[i]) + strlen(t->files[i]->name) + 1;
	bytes += t->cap * sizeof(*t->files) + t->aliases_cap * sizeof(*t->aliases);
	if (t->by_build_id.slots)
		bytes += (t->by_build_id.mask + 1) * sizeof(struct hashtab_slot);
	if (t->by_stat.slots)
		bytes += (t->by_stat.mask + 1) * sizeof(struct hashtab_slot);
	return bytes;
}

unsigned filetab__vdso_copies(const struct filetab *t)
{
	return t->vdso_copies;
}
