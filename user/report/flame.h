/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The interactive flame graph page: one HTML file with its script, style
 * and the profile's data inside (web/ holds the page's code, embedded in
 * the binary at build time).  The page builds the tree itself, so sample
 * types and label filters work in the browser; this side only writes a
 * compact, escaped data block.
 */
#ifndef BPFPROF_FLAME_H
#define BPFPROF_FLAME_H

#include <stdio.h>

struct profile;

/* Where a frame's code lives, for the page's colours. */
enum flame_kind {
	FLAME_KERNEL,
	FLAME_PROGRAM,
	FLAME_LIBRARY,
	FLAME_RUNTIME, /* the C/C++ runtime's libraries, the loader, the vdso, Go's runtime.* */
	FLAME_OTHER,   /* no mapping: marker frames, unknown addresses */
};

/*
 * The data block: a JSON object with the string table, functions,
 * locations, labels and one entry per profile (p, then base when not NULL)
 * with its sample types and samples.  For a diff, base's values are put in
 * p's sample type order; -EINVAL (after one line) when base lacks one of
 * p's sample types.  Every '<', '>' and '&' is escaped, so the block can
 * sit inside a <script> element.
 */
int flame_write_data(FILE *out, const struct profile *p, const struct profile *base);

/* The whole page to out; title is plain text (escaped here). */
int flame_write_html(FILE *out, const struct profile *p, const struct profile *base,
		     const char *title);

/*
 * The page to path, through a temporary file in the same directory and
 * rename(), so a reader never sees half a page.  0 or -errno, after one
 * line saying why.
 */
int flame_write_file(const char *path, const struct profile *p, const struct profile *base,
		     const char *title);

#endif
