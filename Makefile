# SPDX-License-Identifier: Apache-2.0
#
# make            build build/bpfprof
# make install    install it in $(DESTDIR)$(PREFIX)/bin (default /usr/local/bin)
# make deps       install the Debian packages the build and the tests need
# make run        profile the bundled demo workload and print the top table
# make test       unit tests (cmocka) and end-to-end tests (as root)
# make bench      overhead benchmarks, printed as a table
# make fuzz       fuzz the profile decoder and Go's table reader, FUZZ_SECONDS each
# make fmt        clang-format every C file
# make image      the bpfprof image FROM scratch (deploy/Containerfile), IMAGE=bpfprof

ARCH      := x86
OUT       := build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
CFLAGS    ?= -O2 -g
WARN      := -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
DEPFLAGS   = -MMD -MP
INCLUDES  := -Iuser -Iuser/include -I$(OUT)/skel
LDLIBS    := -lbpf -lelf -ldw -lz -lmicrohttpd -lcurl -ljson-c -lpthread -lstdc++ -lm

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUT)/skel/%.skel.h,$(BPF_SRCS)) $(OUT)/skel/sampler_blob.h

USER_SRCS := $(wildcard user/*.c user/*/*.c)
# The flame graph page's code (web/), embedded as C arrays (xxd -i).
WEB_SRCS  := web/flame.html web/flame.css web/flame.js
USER_OBJS := $(patsubst %.c,$(OUT)/obj/%.o,$(USER_SRCS)) $(OUT)/obj/web/assets.o
LIB_OBJS  := $(filter-out $(OUT)/obj/user/main.o,$(USER_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOADS := $(patsubst tests/workloads/%.c,$(OUT)/workloads/%,$(filter-out tests/workloads/lib%,$(WORKLOAD_SRCS))) \
	     $(patsubst tests/workloads/%.c,$(OUT)/workloads/%.so,$(filter tests/workloads/lib%,$(WORKLOAD_SRCS))) \
	     $(patsubst tests/workloads/%.cc,$(OUT)/workloads/%,$(wildcard tests/workloads/*.cc))

# The Go workload (tests/workloads/go), when a Go toolchain is installed.
GO        ?= go
GO_SRCS   := $(wildcard tests/workloads/go/*.go) tests/workloads/go/go.mod
ifneq ($(shell command -v $(GO) 2>/dev/null),)
WORKLOADS += $(OUT)/workloads/goburn
endif

FIXTURE_SRCS := $(wildcard tests/fixtures/*.c)
FIXTURES  := $(patsubst tests/fixtures/%.c,$(OUT)/fixtures/%,$(FIXTURE_SRCS))

.PHONY: all deps run test unit e2e bench fuzz install fmt fmt-check clean vmlinux image
.DELETE_ON_ERROR:
# Keep the BPF objects and skeletons (intermediates of the chain): no rebuild, no "rm" chatter.
.SECONDARY:

all: $(OUT)/bpfprof $(WORKLOADS)

deps:
	@bash tools/install-deps.sh

# The binary and the libraries it links, no base image: builds offline.
IMAGE ?= bpfprof
image: $(OUT)/bpfprof
	deploy/build-image.sh $(IMAGE) $(OUT)/bpfprof

vmlinux:
	tools/gen-vmlinux.sh vmlinux/$(ARCH)/vmlinux.h

# BPF: CO-RE objects compiled against the committed vmlinux.h.
$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) $(wildcard user/include/bpfprof/*.h) vmlinux/$(ARCH)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Iuser/include -Ibpf \
		-Wall -Wno-unused-function -c $< -o $@

$(OUT)/skel/%.skel.h: $(OUT)/bpf/%.bpf.o
	@mkdir -p $(@D)
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# The in-process heap sampler (user/heap/sampler/): freestanding position-
# independent code, linked at 0 with no relocations left, embedded in
# bpfprof as bytes plus its symbols' offsets.
SAMPLER_CFLAGS := -O2 -fPIC -ffreestanding -nostdlib -fno-stack-protector -fno-plt \
	-fno-asynchronous-unwind-tables -fcf-protection=none -fvisibility=hidden \
	-mgeneral-regs-only -Wall -Wextra
$(OUT)/skel/sampler_blob.h: user/heap/sampler/sampler.c user/heap/sampler/layout.h user/heap/sampler/sampler.ld
	@mkdir -p $(OUT)/sampler $(@D)
	$(CC) $(SAMPLER_CFLAGS) -c $< -o $(OUT)/sampler/sampler.o
	ld -T user/heap/sampler/sampler.ld -o $(OUT)/sampler/sampler.elf $(OUT)/sampler/sampler.o
	@if readelf -r $(OUT)/sampler/sampler.elf | grep -q 'R_X86'; then echo "sampler: relocations left" >&2; exit 1; fi
	objcopy -O binary -j .text $(OUT)/sampler/sampler.elf $(OUT)/sampler/sampler.bin
	{ echo '/* Generated from user/heap/sampler/sampler.c: do not edit. */'; \
	  nm $(OUT)/sampler/sampler.elf | awk '$$3 ~ /^sampler_/ { printf "#define %s_OFF 0x%sULL\n", toupper($$3), $$1 }'; \
	  echo 'static const unsigned char sampler_blob[] = {'; \
	  od -An -v -tx1 $(OUT)/sampler/sampler.bin | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } > $@.tmp && mv $@.tmp $@

# Userspace: every object may include any skeleton.
$(OUT)/obj/%.o: %.c $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(DEPFLAGS) $(INCLUDES) -c $< -o $@

$(OUT)/gen/web/assets.c: $(WEB_SRCS)
	@mkdir -p $(@D)
	cd web && for f in $(notdir $(WEB_SRCS)); do xxd -i $$f || exit 1; done > $(abspath $@).tmp
	mv $@.tmp $@

$(OUT)/obj/web/assets.o: $(OUT)/gen/web/assets.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/bpfprof: $(USER_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Workloads keep frame pointers and avoid tail calls so stacks are exact
# (see tests/workloads/README.md); fixtures are built as each one asks.
$(OUT)/workloads/%: tests/workloads/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-inline \
		-o $@ $< -lpthread -lm

$(OUT)/workloads/%: tests/workloads/%.cc
	@mkdir -p $(@D)
	$(CXX) -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-inline -o $@ $<

# nofp_*: release-style code without frame pointers, for the unwinding tests.
$(OUT)/workloads/nofp_%: tests/workloads/nofp_%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -fno-optimize-sibling-calls -o $@ $< -ldl

$(OUT)/workloads/lib%.so: tests/workloads/lib%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fno-omit-frame-pointer -shared -fPIC -o $@ $<

$(OUT)/workloads/libnofp_%.so: tests/workloads/libnofp_%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fomit-frame-pointer -fno-optimize-sibling-calls -shared -fPIC -o $@ $<

# goburn: Go's own build, offline (no module to download), its caches
# under build/, not stripped.  CGO_ENABLED=0: cgo is not needed, and its
# probe `cc -Wl,... -o /dev/null` deletes /dev/null when run as root and the
# link fails (as happens here).
$(OUT)/workloads/goburn: $(GO_SRCS)
	@mkdir -p $(@D) $(OUT)/go
	cd tests/workloads/go && GOCACHE=$(abspath $(OUT))/go/cache GOPATH=$(abspath $(OUT))/go/path \
		GOPROXY=off GOFLAGS= GOTOOLCHAIN=local GOWORK=off GO111MODULE=on CGO_ENABLED=0 \
		$(GO) build -o $(abspath $@) .

$(OUT)/fixtures/%: tests/fixtures/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -o $@ $<

# cfimixed: half its code with .eh_frame, half with only .debug_frame.
$(OUT)/fixtures/cfimixed: tests/fixtures/cfimixed.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -DCFI_PART=1 -c -o $@-1.o $<
	$(CC) -O2 -g -DCFI_PART=2 -fno-asynchronous-unwind-tables -c -o $@-2.o $<
	$(CC) -o $@ $@-1.o $@-2.o
	rm -f $@-1.o $@-2.o

$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_OBJS) $(FIXTURES)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -o $@ $< $(LIB_OBJS) $(LDLIBS) -lcmocka

# One self-contained binary: the BPF objects are inside it (skeletons).
PREFIX    ?= /usr/local
install: $(OUT)/bpfprof
	install -D -m 0755 $(OUT)/bpfprof $(DESTDIR)$(PREFIX)/bin/bpfprof

run: deps all
	@bash tools/run-demo.sh

unit: $(UNIT_BINS)
test: deps all $(UNIT_BINS) $(FIXTURES)
	@bash tests/run.sh

bench: deps all $(OUT)/bench/floor $(OUT)/bench/flamegen
	@bash tools/bench.sh

# The bare hooks under bpfprof (an empty program on each), for tools/bench/.
$(OUT)/bench/%: tools/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -o $@ $<

# Synthetic profiles for the flame graph page's benchmark, on the profile model.
$(OUT)/bench/flamegen: tools/bench/flamegen.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(INCLUDES) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# libFuzzer with ASan and UBSan over the decoder and the reports, from the
# profiles in build/ as a corpus.  Not a test: it runs for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SRCS := user/profile/pprof.c user/profile/pprof_decode.c user/profile/pb.c \
	     user/profile/profile.c user/profile/index.c user/report/report.c user/util/log.c \
	     user/util/hash.c user/util/util.c
$(OUT)/fuzz/fuzz_pprof: tests/fuzz/fuzz_pprof.c $(FUZZ_SRCS)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$(WARN) -Iuser -Iuser/include -o $@ $^ -lz

$(OUT)/fuzz/fuzz_gopclntab: tests/fuzz/fuzz_gopclntab.c user/elf/gopclntab.c user/elf/section.c
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$(WARN) -Iuser -Iuser/include -o $@ $^ -lelf

# Decompression bombs for the corpus, made at fuzz time (4 MiB inflated, 4 KB each: fast runs).
$(OUT)/fuzz/mkbombs: tests/fuzz/mkbombs.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< -lz

# -rss_limit_mb: a peak of memory is a bug too (the decoder reads in 32 MiB; ASan's
# quarantine of freed memory, 256 MiB by default, is kept small not to count).
fuzz: deps all $(OUT)/fuzz/fuzz_pprof $(OUT)/fuzz/fuzz_gopclntab $(OUT)/fuzz/mkbombs
	@mkdir -p $(OUT)/fuzz/corpus $(OUT)/fuzz/gocorpus
	@cp -n $(OUT)/*.pb.gz $(OUT)/fuzz/corpus/ 2>/dev/null || true
	@printf 'x' >$(OUT)/fuzz/corpus/empty
	$(OUT)/fuzz/mkbombs $(OUT)/fuzz/corpus 4
	ASAN_OPTIONS=quarantine_size_mb=16 $(OUT)/fuzz/fuzz_pprof -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=512 \
		-artifact_prefix=$(OUT)/fuzz/ \
		$(OUT)/fuzz/corpus
	@[ ! -x $(OUT)/workloads/goburn ] || objcopy -O binary --only-section=.gopclntab \
		$(OUT)/workloads/goburn $(OUT)/fuzz/gocorpus/goburn
	$(OUT)/fuzz/fuzz_gopclntab -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 \
		-rss_limit_mb=4096 -artifact_prefix=$(OUT)/fuzz/ $(OUT)/fuzz/gocorpus

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^vmlinux/')

fmt-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' | grep -v '^vmlinux/')

clean:
	rm -rf $(OUT)

-include $(USER_OBJS:.o=.d)
