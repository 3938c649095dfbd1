# spin-operator: a Kubernetes operator for SpinKube's Spin apps, in C11.
#
#   make            build bin/spin-operator
#   make test       everything: deps, build, test toolchain, unit + fuzz-smoke + integration + faults + e2e suites
#   make demo       local control plane + CRDs + the daemon + a sample SpinApp + signed/unsigned images
#   make image      the container image (OCI layout + tar, umoci, no Docker) in build/image: docs/image.md
#   make set-version V=x.y.z   stamp a new version into VERSION, config/manager, the chart, the Dockerfile
#   make SANITIZE=address,undefined test    the same suites under ASan + UBSan
#
# Conventions (no edits here needed when adding files):
#   operator/**/*.c, webhook/**/*.c   the daemon; every file but operator/cmd/main.c also goes into the test library
#   tests/unit/test_*.c                one cmocka binary each
#   tests/unit/*.sh                    shell suites that need no cluster (the image, the version stamps)
#   tests/integration/test_*.c         one cmocka binary each, run against the local control plane
#   tests/integration/*.sh             shell suites, run against the local control plane
#   tests/faults/*.sh                  fault suites (own control plane, report table)
#   tests/support/cmd/*.c              helper programs the shell suites run (a proxy, a bad TLS peer), one main each
#   tests/fuzz/fuzz_*.c                one libFuzzer target each (clang), corpus in tests/fuzz/corpus/<name>/
#   tests/bench/bench_*.c, *.sh         benchmark programs and scripts, run by `make bench` (never by make test)

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libcurl jansson yaml-0.1 openssl zlib libmicrohttpd gnutls
SANITIZE ?=
comma := ,
# V=1 shows full commands.
ifeq ($(V),1)
Q :=
say := @true
else
Q := @
say := @echo
endif

# Variant build folders keep sanitized and plain objects apart.
ifeq ($(SANITIZE),)
VARIANT := release
else
VARIANT := san-$(subst $(comma),-,$(SANITIZE))
endif
BUILD := build/$(VARIANT)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS ?= -O2 -g -fno-omit-frame-pointer
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) -I.
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(SAN_FLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)

# One version source: VERSION. It stamps --version (with the git revision), the image tag, config/manager and
# the chart (scripts/set-version.sh writes them, scripts/version-check.sh checks them).
VERSION := $(shell tr -d ' \n' < VERSION 2>/dev/null)
GIT_REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
VERSION_STAMP := $(BUILD)/gen/version.stamp

SRC := $(shell find operator webhook -name '*.c' 2>/dev/null | sort)
LIB_SRC := $(filter-out operator/cmd/main.c,$(SRC))
# The default CA bundle for installDefaultCACerts: Mozilla's roots as Debian's ca-certificates ships them.
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
GEN_CA := $(BUILD)/gen/cacerts_bundle.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/cacerts_bundle.o
MAIN_OBJ := $(BUILD)/obj/operator/cmd/main.o
LIB := $(BUILD)/libspinop.a
OPERATOR := $(BUILD)/bin/spin-operator

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRC := $(sort $(wildcard tests/integration/test_*.c))
TEST_BINS := $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%) $(INTEG_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BINS := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(wildcard tests/support/*.c)

FUZZ_CC ?= clang
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BUILD := build/fuzz
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: all build image set-version version-check FORCE deps tools test test-unit test-integration test-faults test-e2e test-fuzz fuzz-bins test-bins demo demo-down \
	cluster-up cluster-down bench bench-webhook clean help
.DEFAULT_GOAL := build

all build: bin/spin-operator

help:
	@sed -n '2,18p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/deps.sh

tools: deps
	@tests/tools/build.sh

bin/spin-operator: $(OPERATOR)
	@mkdir -p bin
	$(Q)cp $(OPERATOR) $@.tmp && mv -f $@.tmp $@

$(OPERATOR): $(MAIN_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(say) "  LINK  $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@
	$(say) "  AR    $@"
	$(Q)ar rcs $@ $^

# main.o carries the version and revision; the stamp changes (and main.o is rebuilt) only when they do.
$(VERSION_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(VERSION) $(GIT_REVISION)' | cmp -s - $@ || echo '$(VERSION) $(GIT_REVISION)' >$@

$(MAIN_OBJ): $(VERSION_STAMP)
$(MAIN_OBJ): ALL_CFLAGS += -DSPIN_OPERATOR_VERSION='"$(VERSION)"' -DSPIN_OPERATOR_REVISION='"$(GIT_REVISION)"'

# The container image (docs/image.md): always from the release build, whatever SANITIZE says.
image: deps
	@$(MAKE) --no-print-directory SANITIZE= build
	@scripts/image.sh

set-version:
	@scripts/set-version.sh $(V)

version-check:
	@scripts/version-check.sh

$(GEN_CA): $(CA_BUNDLE) scripts/embed.sh
	@mkdir -p $(dir $@)
	$(say) "  GEN   $@"
	$(Q)scripts/embed.sh spin_ca_bundle $(CA_BUNDLE) $@

$(BUILD)/obj/gen/cacerts_bundle.o: $(GEN_CA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(TEST_HELPERS) $(LIB)
	@mkdir -p $(dir $@)
	$(say) "  TEST  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPERS) $(LIB) -lcmocka $(LIBS)

# Test programs run by the shell suites (tests/support/cmd/*.c, one main each).
TEST_CMDS := $(patsubst tests/support/cmd/%.c,$(BUILD)/tests/%,$(wildcard tests/support/cmd/*.c))
$(BUILD)/tests/%: tests/support/cmd/%.c
	@mkdir -p $(dir $@)
	$(say) "  CMD   $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBS)

test-bins: $(OPERATOR) $(TEST_BINS) $(TEST_CMDS)

# Fuzz targets are built by clang with their own copy of the library objects.
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) "  FUZZCC $<"
	$(Q)$(FUZZ_CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(FUZZ_FLAGS) -Wno-unused-command-line-argument -c -o $@ $<

$(FUZZ_BUILD)/obj/gen/cacerts_bundle.o: $(GEN_CA)
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/cacerts_bundle.o
	@mkdir -p $(dir $@)
	$(say) "  FUZZ  $@"
	$(Q)$(FUZZ_CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LIBS)

fuzz-bins: $(FUZZ_BINS)

# Keep the fuzz objects: make would otherwise delete them as intermediates and rebuild them every run.
.SECONDARY: $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

# The test suites. tests/run.sh prints "N passed, N failed" as its last line.
test: deps tools
	@$(MAKE) --no-print-directory test-bins fuzz-bins
	@BUILD=$(BUILD) tests/run.sh all

test-unit: test-bins
	@BUILD=$(BUILD) tests/run.sh unit

test-integration: tools test-bins
	@BUILD=$(BUILD) tests/run.sh integration

# The fault suite (tests/faults/*.sh) against a private control plane of its own; prints the fault report table.
test-faults: tools test-bins
	@BUILD=$(BUILD) tests/run.sh faults

# The real-node suites (tests/e2e/*.sh) against a cluster with a real kubelet + containerd (needs root).
test-e2e: tools test-bins
	@BUILD=$(BUILD) tests/run.sh e2e

test-fuzz: fuzz-bins
	@BUILD=$(BUILD) tests/run.sh fuzz

# Benchmarks: figures go to docs/performance.md with the command that produced them. Not part of make test.
bench: deps tools build $(BENCH_BINS)
	@scripts/deps.sh bench
	@BUILD=$(BUILD) tests/bench/run.sh
	@BUILD=$(BUILD) tests/bench/webhook.sh
	@BUILD=$(BUILD) tests/bench/verify.sh
	@BUILD=$(BUILD) tests/bench/scale.sh
	@$(BUILD)/tests/bench/bench_build

# The admission webhook benchmark alone (tests/bench/webhook.sh).
bench-webhook: deps tools build
	@scripts/deps.sh bench
	@BUILD=$(BUILD) tests/bench/webhook.sh

cluster-up: deps tools
	@tests/cluster/up.sh

cluster-down:
	@tests/cluster/down.sh

demo: deps tools build
	@scripts/demo.sh

demo-down:
	@scripts/demo.sh down

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
