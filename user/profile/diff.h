/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The difference of two profiles, as `go tool pprof -base` (and
 * `-diff_base`) means it: one profile holding the new profile's samples and
 * the base's with their values negated.  Every report of it (top table,
 * folded stacks, traces, flame graphs) shows new minus base.
 */
#ifndef BPFPROF_PROFILE_DIFF_H
#define BPFPROF_PROFILE_DIFF_H

#include <stdbool.h>
#include <stdint.h>

struct profile;
struct pf_sample;

/* pprof's label for the base's samples of a -diff_base profile. */
#define PROFILE_DIFF_BASE_LABEL "pprof::base"

/* 1 when a and b have the same sample types (names and units, in order), else 0. */
int profile__types_match(const struct profile *a, const struct profile *b);

/*
 * *out = new - base.  The header as pprof merges them: new's sample
 * types, the larger period, the earlier start and both durations, the
 * comments of both; new's mappings first (its first stays first).  Without mark_base, a base
 * sample with the stack and labels of a new one cancels it (-base); with
 * mark_base, base samples carry the label pprof::base=true and stay apart,
 * so a reader can tell base from new (-diff_base).  -EDOM when the sample
 * types differ, -EINVAL for a malformed input, else 0 or -ENOMEM.
 */
int profile__diff(const struct profile *base, const struct profile *new, bool mark_base,
		  struct profile **out);

/* Whether s is a base sample of a profile made with mark_base. */
bool profile__is_base_sample(const struct profile *p, const struct pf_sample *s);

/*
 * The total percentages of a difference are of, as pprof computes it: the
 * sum of the absolute values of the base's samples when they are marked,
 * else of every sample.
 */
int64_t profile__diff_total(const struct profile *p, int si);

#endif
