// SPDX-License-Identifier: Apache-2.0
/*
 * DWARF unwinding for every collector: sizes the BPF unwinder's maps before
 * load, and afterwards keeps the tables of target processes current from
 * the session's process tracking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "bpfprof/types.h"
#include "capture/capture.h"
#include "util/log.h"
#include "profile/profile.h"
#include "capture/session.h"
#include "unwind/jitcode.h"
#include "unwind/unwinder.h"

int capture_unwind_size(struct bpf_object *obj, const struct stack_opts *st, bool tables)
{
	struct bpf_map *rows = bpf_object__find_map_by_name(obj, "unwind_rows");
	struct bpf_map *procs = bpf_object__find_map_by_name(obj, "unwind_procs");
	uint64_t n = (uint64_t)st->unwind_mib * 1048576 / sizeof(struct unwind_row);
	const char *max_procs = getenv("BPFPROF_UNWIND_PROCS");
	int err;

	if (!rows)
		return -ENOENT;
	/* Tests make the processes map small to fill it (unwinder.c sweeps it). */
	if (procs && max_procs && atoi(max_procs) > 0) {
		err = bpf_map__set_max_entries(procs, atoi(max_procs));
		if (err)
			return err;
	}
	return bpf_map__set_max_entries(rows, tables && n > 1 ? n : 1);
}

int capture_unwind_configure(struct bpf_object *obj, const struct stack_opts *st)
{
	return capture_unwind_size(obj, st, st->dwarf);
}

static void on_maps(void *ctx, int pid)
{
	int err = unwinder__track_pid(ctx, pid);

	if (err && err != -ESRCH)
		pr_debug("pid %d: cannot update unwind tables: %s\n", pid, strerror(-err));
}

int capture_unwind_start(struct session *s, struct bpf_object *obj)
{
	struct bpf_map *rows = bpf_object__find_map_by_name(obj, "unwind_rows");
	struct bpf_map *pages = bpf_object__find_map_by_name(obj, "unwind_pages");
	struct bpf_map *procs = bpf_object__find_map_by_name(obj, "unwind_procs");
	struct unwinder *u;

	/* Not configured for DWARF unwinding: the kernel's frame-pointer walk. */
	if (!rows || !pages || !procs || bpf_map__max_entries(rows) <= 1)
		return 0;
	u = unwinder__new(s->procs_tab, bpf_map__fd(rows), bpf_map__max_entries(rows),
			  bpf_map__fd(pages), bpf_map__fd(procs));
	if (!u)
		return -errno;
	s->unwinder = u;
	s->on_maps = on_maps;
	s->on_maps_ctx = u;
	return 0;
}

void capture_unwind_report(struct session *s, struct profile *p, bool final)
{
	struct unwinder *u = s->unwinder;
	struct unwinder_stats st;
	uint64_t c[CNT__MAX];
	char line[256];

	if (!u)
		return;
	unwinder__stats(u, &st);
	snprintf(line, sizeof(line),
		 "unwind tables: %zu files, %zu rows (%.1f MiB of %.1f), built in %.0f ms; "
		 "%zu executable files without CFI",
		 st.files, st.rows, st.rows * 8 / 1048576.0, st.max_rows * 8 / 1048576.0,
		 st.build_ms, st.files_no_cfi);
	if (final)
		pr_info("%s\n", line);
	profile__add_comment(p, line);
	if (st.jit_procs) {
		snprintf(line, sizeof(line),
			 "generated code: %zu functions with unwind tables from jitdump in %zu "
			 "processes; %" PRIu64 " tables unusable, %" PRIu64 " functions past the "
			 "bound of %u rows a process, %zu tables without room",
			 st.jit_funcs, st.jit_procs, st.jit_bad, st.jit_dropped, JITCODE_MAX_ROWS,
			 st.jit_full);
		if (final)
			pr_info("%s\n", line);
		profile__add_comment(p, line);
	}
	if (st.files_full) {
		snprintf(line, sizeof(line),
			 "%zu files got no unwind table: the rows map was full (their frames "
			 "fall back to frame pointers)",
			 st.files_full);
		if (final)
			pr_warn("%s\n", line);
		profile__add_comment(p, line);
	}
	if (st.evictions) {
		snprintf(line, sizeof(line),
			 "%" PRIu64
			 " unwind tables evicted to make room (least recently used), %zu "
			 "built again; --unwind-mem raises the limit",
			 st.evictions, st.rebuilds);
		if (final)
			pr_warn("%s\n", line);
		profile__add_comment(p, line);
	}
	if (st.procs_full) {
		snprintf(line, sizeof(line),
			 "the unwind processes map was full of live processes (it holds %u): %zu "
			 "updates of a process's tables dropped, its frames fall back to frame "
			 "pointers",
			 (unsigned)st.max_procs, st.procs_full);
		if (final)
			pr_warn("%s\n", line);
		profile__add_comment(p, line);
	}
	if (st.maps_dropped) {
		snprintf(line, sizeof(line),
			 "%zu executable mappings beyond %d per process got no unwind table",
			 st.maps_dropped, 64);
		if (final)
			pr_warn("%s\n", line);
		profile__add_comment(p, line);
	}
	session__counters(s, c);
	if (c[CNT_UNWIND_FP_FALLBACK]) {
		snprintf(line, sizeof(line),
			 "%" PRIu64 " frames had no CFI and were unwound by frame pointer",
			 c[CNT_UNWIND_FP_FALLBACK]);
		if (final)
			pr_info("%s\n", line);
		profile__add_comment(p, line);
	}
	if (!final)
		return;
	s->on_maps = NULL;
	s->unwinder = NULL;
	unwinder__free(u);
}
