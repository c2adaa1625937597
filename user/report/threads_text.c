// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "report/threads_text.h"

/* The labels of one thread's sample. */
struct thread_view {
	const struct pf_sample *s;
	int64_t pid, tid;
	const char *comm, *process, *state;
	int64_t in_state; /* -1: unknown */
};

void threads_text_duration(char *buf, size_t len, int64_t ns)
{
	int64_t min = ns / 60000000000LL;

	if (ns < 1000000000LL)
		snprintf(buf, len, "%" PRId64 " ms", ns / 1000000);
	else if (min == 0)
		snprintf(buf, len, "%.1f seconds", ns / 1e9);
	else
		snprintf(buf, len, "%" PRId64 " minute%s", min, min == 1 ? "" : "s");
}

static void view_of(const struct profile *p, const struct pf_sample *s, struct thread_view *v)
{
	const char *key;
	size_t i;

	*v = (struct thread_view){ .s = s, .comm = "", .process = "", .state = "", .in_state = -1 };
	for (i = 0; i < s->nlabels; i++) {
		key = profile__str(p, s->labels[i].key);
		if (!strcmp(key, "pid"))
			v->pid = s->labels[i].num;
		else if (!strcmp(key, "tid"))
			v->tid = s->labels[i].num;
		else if (!strcmp(key, "comm"))
			v->comm = profile__str(p, s->labels[i].str);
		else if (!strcmp(key, "process"))
			v->process = profile__str(p, s->labels[i].str);
		else if (!strcmp(key, "state"))
			v->state = profile__str(p, s->labels[i].str);
		else if (!strcmp(key, "in_state"))
			v->in_state = s->labels[i].num;
	}
}

static int cmp_views(const void *a, const void *b)
{
	const struct thread_view *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return 0;
}

/* Where a frame is: file:line, else the binary and offset, else what is known. */
static void write_where(FILE *out, const struct profile *p, const struct pf_location *loc,
			const struct pf_function *f, int64_t line)
{
	const struct pf_mapping *m = profile__mapping(p, loc->mapping_id);
	const char *file = f ? profile__str(p, f->filename) : "";
	const char *path = m ? profile__str(p, m->filename) : "";

	if (*file)
		fprintf(out, "\t%s:%" PRId64 "\n", file, line);
	else if (*path == '/')
		fprintf(out, "\t%s+0x%" PRIx64 "\n", path,
			loc->address - m->memory_start + m->file_offset);
	else if (*path)
		fprintf(out, "\t%s\n", path);
	else
		fprintf(out, "\t?\n");
}

static void write_frames(FILE *out, const struct profile *p, const struct pf_sample *s)
{
	const struct pf_location *loc;
	const struct pf_function *f;
	size_t i, l;

	for (i = 0; i < s->nlocations; i++) {
		loc = profile__location(p, s->location_ids[i]);
		if (!loc)
			continue;
		if (!loc->nlines) {
			fprintf(out, "0x%" PRIx64 "\n", loc->address);
			write_where(out, p, loc, NULL, 0);
		}
		/* Inlined functions first, as the location lists them. */
		for (l = 0; l < loc->nlines; l++) {
			f = profile__function(p, loc->lines[l].function_id);
			fprintf(out, "%s\n", f ? profile__str(p, f->name) : "?");
			write_where(out, p, loc, f, loc->lines[l].line);
		}
	}
}

static void write_thread(FILE *out, const struct profile *p, const struct thread_view *v)
{
	char dur[32];

	fprintf(out, "thread %" PRId64 " \"%s\" [%s", v->tid, v->comm, v->state);
	if (v->in_state >= 0) {
		threads_text_duration(dur, sizeof(dur), v->in_state);
		fprintf(out, ", %s", dur);
	}
	fprintf(out, "]:\n");
	write_frames(out, p, v->s);
	fputc('\n', out);
}

int threads_text_write(FILE *out, const struct profile *p)
{
	struct thread_view *v;
	size_t i, j, n;

	if (!p->nsamples)
		return 0;
	v = calloc(p->nsamples, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < p->nsamples; i++)
		view_of(p, &p->samples[i], &v[i]);
	qsort(v, p->nsamples, sizeof(*v), cmp_views);
	for (i = 0; i < p->nsamples; i = j) {
		for (j = i; j < p->nsamples && v[j].pid == v[i].pid; j++)
			;
		n = j - i;
		fprintf(out, "process %" PRId64 " (%s): %zu thread%s\n\n", v[i].pid, v[i].process,
			n, n == 1 ? "" : "s");
		for (j = i; j < i + n; j++)
			write_thread(out, p, &v[j]);
	}
	free(v);
	return ferror(out) ? -EIO : 0;
}
