/* SPDX-License-Identifier: (Apache-2.0 OR BSD-2-Clause OR GPL-2.0-only) */
/* Userspace view of the shared BPF definitions, with the kernel's __u32 types. */
#ifndef BPFPROF_TYPES_H
#define BPFPROF_TYPES_H

#include <linux/types.h>

#include "bpfprof/common.h"

#endif
