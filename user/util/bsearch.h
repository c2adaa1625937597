/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Binary search of an array sorted by one field of its elements, written
 * once as macros so that each use compiles to a plain loop over the real
 * element type (no comparison callback: the symbolizer runs these for
 * every frame).
 */
#ifndef BPFPROF_UTIL_BSEARCH_H
#define BPFPROF_UTIL_BSEARCH_H

#include <stddef.h>

/*
 * How many of the n elements of base, sorted ascending by .field, have
 * .field <= key: the index of the first one above key (n if none is).
 * Equal keys are passed over, so the result is one past the last of them.
 */
#define bsearch_upper(base, n, key, field)                                                         \
	({                                                                                         \
		__typeof__(&(base)[0]) __bs_base = (base);                                         \
		__typeof__(key) __bs_key = (key);                                                  \
		size_t __bs_lo = 0, __bs_hi = (n);                                                 \
                                                                                                   \
		while (__bs_lo < __bs_hi) {                                                        \
			size_t __bs_mid = __bs_lo + (__bs_hi - __bs_lo) / 2;                       \
                                                                                                   \
			if (__bs_base[__bs_mid].field <= __bs_key)                                 \
				__bs_lo = __bs_mid + 1;                                            \
			else                                                                       \
				__bs_hi = __bs_mid;                                                \
		}                                                                                  \
		__bs_lo;                                                                           \
	})

/*
 * The last of the n elements of base, sorted ascending by .field, whose
 * .field is <= key (the last of equal ones); NULL when none is.
 */
#define bsearch_last_le(base, n, key, field)                                                       \
	({                                                                                         \
		__typeof__(&(base)[0]) __bs_arr = (base);                                          \
		size_t __bs_i = bsearch_upper(__bs_arr, n, key, field);                            \
                                                                                                   \
		__bs_i ? &__bs_arr[__bs_i - 1] : NULL;                                             \
	})

#endif
