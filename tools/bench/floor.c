// SPDX-License-Identifier: Apache-2.0
/*
 * The floor under a profiler's hook, for the benchmarks: the hook bpfprof
 * uses with a BPF program that returns at once.  What a workload loses to
 * this is the price of the hook itself, which no program can save; bpfprof's
 * cost above it is its own.
 *
 *   floor clock HZ   software cpu-clock perf events on every online CPU at
 *                    HZ samples a second, as bpfprof cpu opens them (on a
 *                    virtual machine, mostly the exits to arm and take the
 *                    timer interrupts)
 *   floor switch     the sched_switch tracepoint, as bpfprof offcpu uses it
 *
 * Runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int load_empty_program(enum bpf_prog_type type)
{
	/* r0 = 0; exit */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.license = (unsigned long)"GPL";
	return bpf(BPF_PROG_LOAD, &attr);
}

static int attach_clock(int prog, long hz)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int fd, cpu;

	/* Online CPUs are numbered from 0 on the machines this runs on. */
	for (cpu = 0; cpu < ncpus; cpu++) {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(attr),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			.freq = 1,
			.sample_freq = hz,
		};

		fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0 || ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) ||
		    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)) {
			fprintf(stderr, "floor: cpu-clock on cpu %d: %s\n", cpu, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int attach_switch(int prog)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (unsigned long)"sched_switch";
	attr.raw_tracepoint.prog_fd = prog;
	if (bpf(BPF_RAW_TRACEPOINT_OPEN, &attr) < 0) {
		fprintf(stderr, "floor: sched_switch: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	bool clock = argc == 3 && !strcmp(argv[1], "clock");
	bool sw = argc == 2 && !strcmp(argv[1], "switch");
	long hz = clock ? atol(argv[2]) : 0;
	int prog;

	if ((!clock && !sw) || (clock && (hz < 1 || hz > 100000))) {
		fprintf(stderr, "usage: floor clock HZ | floor switch\n");
		return 2;
	}
	prog = load_empty_program(clock ? BPF_PROG_TYPE_PERF_EVENT : BPF_PROG_TYPE_RAW_TRACEPOINT);
	if (prog < 0) {
		fprintf(stderr, "floor: cannot load a BPF program: %s\n", strerror(errno));
		return 1;
	}
	if (clock ? attach_clock(prog, hz) : attach_switch(prog))
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pause();
	return 0;
}
