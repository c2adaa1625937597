// SPDX-License-Identifier: Apache-2.0
/*
 * A tiny JIT without frame pointers: generates one function, jit_hot, into
 * anonymous executable memory and calls it in a loop; jit_hot calls back
 * into burn(), which spins.  jit_hot keeps no frame pointer (it zeroes rbp
 * around the call) and its return path is not an epilogue the unwinder can
 * emulate, so only its unwind table can carry a walk from burn to main.
 * The table is a hand-written .eh_frame, written to a jitdump (jit-PID.dump
 * in DIR, mmapped as perf's jitdump specification asks) in an
 * UNWINDING_INFO record before the CODE_LOAD; with "nounwind" the record
 * is left out.
 *
 *   nofp_jit SECONDS unwind|nounwind DIR
 *
 * Prints "ready PID" once the code and the dump are written.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define JITDUMP_MAGIC 0x4A695444u
#define JIT_CODE_LOAD 0
#define JIT_CODE_UNWINDING_INFO 4

static volatile uint64_t sink;

/* The work, called from generated code. */
__attribute__((noinline)) void burn(uint64_t n)
{
	uint64_t i, x = sink;

	for (i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	sink = x;
}

/*
 * jit_hot(n): push %rbp; sub $16,%rsp; xor %ebp,%ebp; movabs $burn,%rax;
 * call *%rax; nop; add $16,%rsp; pop %rbp; ret.  The nop after the call
 * keeps the return address off "add; ret", which the unwinder would
 * emulate without a table.
 */
static size_t gen_code(uint8_t *p)
{
	uint64_t target = (uint64_t)(uintptr_t)burn;
	size_t n = 0;

	p[n++] = 0x55;				      /* 0: push %rbp */
	memcpy(p + n, "\x48\x83\xec\x10", 4), n += 4; /* 1: sub $16,%rsp */
	memcpy(p + n, "\x31\xed", 2), n += 2;	      /* 5: xor %ebp,%ebp */
	memcpy(p + n, "\x48\xb8", 2), n += 2;	      /* 7: movabs $burn,%rax */
	memcpy(p + n, &target, 8), n += 8;
	memcpy(p + n, "\xff\xd0", 2), n += 2;	      /* 17: call *%rax */
	p[n++] = 0x90;				      /* 19: nop */
	memcpy(p + n, "\x48\x83\xc4\x10", 4), n += 4; /* 20: add $16,%rsp */
	p[n++] = 0x5d;				      /* 24: pop %rbp */
	p[n++] = 0xc3;				      /* 25: ret */
	return n;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/*
 * The .eh_frame (a CIE and the FDE of jit_hot, then a zero terminator) and
 * its .eh_frame_hdr, as they lie in memory at eh_addr for code at
 * code_addr of size code_size.  Returns the bytes written; *hdr_size the
 * header's share (at the end).
 */
static size_t gen_eh_frame(uint8_t *p, uint64_t eh_addr, uint64_t code_addr, uint32_t code_size,
			   size_t *hdr_size)
{
	static const uint8_t cie[] = {
		0x14, 0,    0,	 0, /* length */
		0,    0,    0,	 0, /* CIE id */
		1,    'z',  'R', 0, /* version, augmentation */
		1,    0x78, 16,	    /* code align 1, data align -8, return address r16 */
		1,    0x1b,	    /* augmentation data: FDE pointers pcrel sdata4 */
		0x0c, 7,    8,	    /* def_cfa rsp+8 */
		0x90, 1,	    /* r16 at cfa-8 */
		0,    0,	    /* nops */
	};
	static const uint8_t insns[] = {
		0x41, 0x0e, 16, 0x86, 2,	  /* after push: cfa rsp+16, rbp at cfa-16 */
		0x44, 0x0e, 32,			  /* after sub: cfa rsp+32 */
		0x53, 0x0e, 16,			  /* at pop (24): cfa rsp+16 */
		0x41, 0x0e, 8,	0xc6,		  /* at ret (25): cfa rsp+8, rbp restored */
		0,    0,    0,	0,    0, 0, 0, 0, /* nops: the FDE to 40 bytes */
	};
	size_t fde = sizeof(cie), n, hdr;
	uint64_t fde_addr = eh_addr + fde, hdr_addr;

	memcpy(p, cie, sizeof(cie));
	n = fde;
	put32(p + n, 4 + 4 + 4 + 1 + sizeof(insns)); /* length */
	put32(p + n + 4, (uint32_t)(n + 4));	     /* back to the CIE */
	put32(p + n + 8, (uint32_t)(code_addr - (fde_addr + 8)));
	put32(p + n + 12, code_size);
	p[n + 16] = 0; /* augmentation data length */
	memcpy(p + n + 17, insns, sizeof(insns));
	n += 17 + sizeof(insns);
	put32(p + n, 0); /* terminator */
	n += 4;
	/* .eh_frame_hdr: version, eh_frame_ptr pcrel sdata4, count udata4, table datarel sdata4 */
	hdr = n;
	hdr_addr = eh_addr + hdr;
	p[n] = 1, p[n + 1] = 0x1b, p[n + 2] = 0x03, p[n + 3] = 0x3b;
	put32(p + n + 4, (uint32_t)(eh_addr - (hdr_addr + 4)));
	put32(p + n + 8, 1);
	put32(p + n + 12, (uint32_t)(code_addr - hdr_addr));
	put32(p + n + 16, (uint32_t)(fde_addr - hdr_addr));
	n += 20;
	*hdr_size = n - hdr;
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void write_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len) {
		perror("write jitdump");
		exit(1);
	}
}

/* A record header: id, total size, timestamp. */
static void record_header(int fd, uint32_t id, uint32_t size)
{
	uint8_t h[16];
	uint64_t ts = now_ns();

	put32(h, id);
	put32(h + 4, size);
	memcpy(h + 8, &ts, 8);
	write_all(fd, h, sizeof(h));
}

static void write_dump(int fd, uint8_t *code, size_t code_size, const uint8_t *eh, size_t eh_len,
		       size_t hdr_size, int unwind)
{
	static const char name[] = "jit_hot";
	uint8_t h[40] = { 0 };
	uint64_t v[6];
	uint32_t pid = getpid(), tid = syscall(SYS_gettid);

	put32(h, JITDUMP_MAGIC);
	put32(h + 4, 1);  /* version */
	put32(h + 8, 40); /* header size */
	put32(h + 12, EM_X86_64);
	put32(h + 20, pid);
	v[0] = now_ns();
	memcpy(h + 24, v, 8);
	write_all(fd, h, sizeof(h));
	/* The file mapped executable: that is how a profiler finds it. */
	if (mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
		perror("mmap jitdump");
		exit(1);
	}
	if (unwind) {
		size_t pad = (8 - (24 + eh_len) % 8) % 8;
		uint8_t zero[8] = { 0 };

		record_header(fd, JIT_CODE_UNWINDING_INFO, 16 + 24 + eh_len + pad);
		v[0] = eh_len;	 /* unwinding_size: .eh_frame and .eh_frame_hdr */
		v[1] = hdr_size; /* eh_frame_hdr_size */
		v[2] = eh_len;	 /* mapped_size: they lie after the code, too */
		write_all(fd, v, 24);
		write_all(fd, eh, eh_len);
		write_all(fd, zero, pad);
	}
	record_header(fd, JIT_CODE_LOAD, 16 + 40 + sizeof(name) + code_size);
	put32((uint8_t *)&v[0], pid);
	put32((uint8_t *)&v[0] + 4, tid);
	v[1] = (uint64_t)(uintptr_t)code; /* vma */
	v[2] = (uint64_t)(uintptr_t)code; /* code_addr */
	v[3] = code_size;
	v[4] = 0; /* code_index */
	write_all(fd, v, 40);
	write_all(fd, name, sizeof(name));
	write_all(fd, code, code_size);
}

/* Calls the generated code: a frame of main's own under it. */
__attribute__((noinline)) void run_jit(void (*fn)(uint64_t), double seconds)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);

	while (now_ns() < end)
		fn(200000);
	sink++;
}

int main(int argc, char **argv)
{
	uint8_t *mem, eh[256];
	size_t code_size, eh_len, hdr_size;
	char path[4096];
	int fd, unwind;

	if (argc != 4) {
		fprintf(stderr, "usage: %s SECONDS unwind|nounwind DIR\n", argv[0]);
		return 2;
	}
	unwind = !strcmp(argv[2], "unwind");
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	code_size = gen_code(mem);
	/* As V8 lays it out: the unwind tables after the code, 8-byte aligned. */
	eh_len = gen_eh_frame(mem + ((code_size + 7) & ~7UL),
			      (uint64_t)(uintptr_t)mem + ((code_size + 7) & ~7UL),
			      (uint64_t)(uintptr_t)mem, code_size, &hdr_size);
	memcpy(eh, mem + ((code_size + 7) & ~7UL), eh_len);
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC)) {
		perror("mprotect");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/jit-%d.dump", argv[3], getpid());
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	write_dump(fd, mem, code_size, eh, eh_len, hdr_size, unwind);
	printf("ready %d\n", getpid());
	fflush(stdout);
	run_jit((void (*)(uint64_t))(uintptr_t)mem, atof(argv[1]));
	return 0;
}
