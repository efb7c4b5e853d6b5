# Streamer: one Lambda bootstrap binary, its tests, and the local stack.
# Flags are assembled from named parts (redis-style); objects live out of
# tree in build/<variant>/ with -MMD -MP dependency files. Quiet unless V=1.

VARIANT ?= release
BUILD   := build/$(VARIANT)

STD   = -std=c11 -D_GNU_SOURCE
WARN  = -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wwrite-strings
OPT   = -O2
DEBUG = -g
SAN   =
ifeq ($(VARIANT),asan)
OPT   = -O1 -fno-omit-frame-pointer
SAN   = -fsanitize=address,undefined -fno-sanitize-recover=all
endif
# libFuzzer targets (tests/fuzz/): clang, the library instrumented for
# coverage (fuzzer-no-link), ASan and UBSan; `make fuzz` builds and runs.
ifeq ($(VARIANT),fuzz)
CC    = clang
OPT   = -O1 -fno-omit-frame-pointer
SAN   = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
endif
ifeq ($(VARIANT),coverage)
OPT   = -O0
SAN   = --coverage
endif

# The bootstrap links cJSON and OpenSSL only (BOOT_LIBS); libcurl is for
# the local gateway, the tests and the benchmarks, which link LIBS.
PKGS      = libcjson openssl
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcjson -lssl -lcrypto)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -pthread)

INCLUDES = -I. -Iruntime -Istore -Ihandlers
CFLAGS  += $(STD) $(WARN) $(OPT) $(DEBUG) $(SAN) $(INCLUDES) $(DEP_CFLAGS) -MMD -MP
LDFLAGS += $(SAN)
BOOT_LIBS = $(DEP_LIBS) -lm -pthread
LIBS     = $(CURL_LIBS) $(BOOT_LIBS)

ifeq ($(V),1)
Q =
else
Q = @
endif

# The library: everything but main().
LIB_SRC  := $(wildcard runtime/*.c store/*.c) \
            $(filter-out handlers/main.c,$(wildcard handlers/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/handlers/main.o

# Tests: every tests/unit/check_<m>.c and tests/integration/check_<m>.c
# exports <m>_suite(); the runner's list is generated from the file names.
UNIT_SRC    := $(wildcard tests/unit/check_*.c)
INTEG_SRC   := $(wildcard tests/integration/check_*.c)
SUPPORT_SRC := $(wildcard tests/support/*.c)
TEST_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC) $(INTEG_SRC) \
               $(SUPPORT_SRC) tests/run.c)
SUITES_H    := $(BUILD)/gen/suites.h

# Each area may add its own rules and targets: local/*.mk (the local
# gateway), deploy/*.mk (the packaged build), bench/*.mk (benchmarks).
# They may add to TEST_DEPS (built before the tests run) and TEST_LIBS
# (linked into run_tests).
.DEFAULT_GOAL := all
TEST_DEPS :=
TEST_LIBS :=
include $(wildcard local/*.mk deploy/*.mk bench/*.mk)

.PHONY: all deps test test-release test-asan asan run clean format bench \
        check-format fuzz fuzz-variant

all: build/bootstrap

build/bootstrap: $(BUILD)/bootstrap
	$(Q)cp $< $@

$(BUILD)/bootstrap: $(MAIN_OBJ) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BOOT_LIBS)

$(BUILD)/libstreamer.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# Every test file sees the prototypes of every suite (-Wmissing-prototypes).
$(BUILD)/tests/%.o: CFLAGS += $(CHECK_CFLAGS) -Itests/support -I$(BUILD)/gen \
                              -include $(SUITES_H:.h=_decl.h)
$(TEST_OBJ): $(SUITES_H)

$(SUITES_H): $(UNIT_SRC) $(INTEG_SRC) Makefile
	@mkdir -p $(dir $@)
	$(Q){ for f in $(UNIT_SRC); do n=$${f##*/check_}; echo "UNIT(suite_$${n%.c})"; done; \
	      for f in $(INTEG_SRC); do n=$${f##*/check_}; echo "INTEG(suite_$${n%.c})"; done; } > $@.tmp
	$(Q)sed -i 's/suite_\(.*\))/\1)/' $@.tmp
	$(Q){ echo '#include <check.h>'; \
	      sed 's/^[A-Z]*(\(.*\))$$/Suite *\1_suite(void);/' $@.tmp; } > $(@:.h=_decl.h)
	$(Q)mv $@.tmp $@

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS) $(CHECK_LIBS)

# Installs what is missing (apt-get, npm ci); cheap when nothing is.
deps:
	$(Q)scripts/deps

# One variant's build and run. The tests find binaries and servers through
# these variables; CK_RUN_SUITE=<module> runs one suite.
test-variant: $(BUILD)/run_tests $(BUILD)/bootstrap $(TEST_DEPS)
	@echo "== tests ($(VARIANT)) =="
	$(Q)STREAMER_BOOTSTRAP=$(BUILD)/bootstrap STREAMER_BUILD=$(BUILD) \
	    STREAMER_ROOT=$(CURDIR) \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:$(ASAN_OPTIONS) \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(BUILD)/run_tests

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/lint-template
	$(Q)$(MAKE) --no-print-directory VARIANT=release test-variant
	$(Q)$(MAKE) --no-print-directory VARIANT=release test-js
	$(Q)$(MAKE) --no-print-directory VARIANT=asan test-variant
	$(Q)$(MAKE) --no-print-directory VARIANT=fuzz fuzz-variant FUZZ_SECONDS=10
	$(Q)$(MAKE) --no-print-directory VARIANT=asan test-js \
	    JS_TESTS="tests/js/sam_local.test.mjs tests/js/client.test.mjs"
	$(Q)$(MAKE) --no-print-directory bench BENCH_SMOKE=1

asan: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=asan test-variant

# Fuzzing: every tests/fuzz/fuzz_<name>.c is a libFuzzer target,
# build/fuzz/fuzz_<name>, linked with the support files beside it. Each
# runs FUZZ_SECONDS from its committed seeds (tests/fuzz/corpus/<name>);
# what it finds new goes to build/fuzz/corpus/<name>, a crash to
# build/fuzz/crash-<name>-*, and the run fails.
FUZZ_SECONDS ?= 60
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_SUPPORT := $(filter-out $(FUZZ_SRC),$(wildcard tests/fuzz/*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz_%)

$(BUILD)/tests/fuzz/%.o: CFLAGS += -Itests/fuzz
$(patsubst %.c,$(BUILD)/%.o,$(FUZZ_SRC) $(FUZZ_SUPPORT)): $(SUITES_H)

# fuzz_json_parse compares with cJSON through the tests' json_diff.c.
$(BUILD)/fuzz_json_parse: $(BUILD)/tests/support/json_diff.o

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o \
                 $(FUZZ_SUPPORT:%.c=$(BUILD)/%.o) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory VARIANT=fuzz fuzz-variant

fuzz-variant: $(FUZZ_BINS)
	@echo "== fuzz ($(FUZZ_SECONDS) s each) =="
	$(Q)set -e; for n in $(FUZZ_NAMES); do \
	    mkdir -p $(BUILD)/corpus/$$n; \
	    ASAN_OPTIONS=detect_leaks=1:$(ASAN_OPTIONS) \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/crash-$$n- \
	        $(BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
	        > $(BUILD)/fuzz_$$n.log 2>&1 || \
	        { tail -n 60 $(BUILD)/fuzz_$$n.log; \
	          echo "fuzz_$$n: FAILED (log: $(BUILD)/fuzz_$$n.log)"; exit 1; }; \
	    echo "  fuzz_$$n: $$(sed -n 's/^stat::number_of_executed_units: *//p' \
	        $(BUILD)/fuzz_$$n.log) runs, $$(sed -n \
	        's/^stat::new_units_added: *//p' $(BUILD)/fuzz_$$n.log) new inputs"; \
	done

run: deps all $(BUILD)/gateway
	$(Q)scripts/run

bench: deps all
	$(Q)scripts/bench

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	$(Q)clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name "*.d" 2>/dev/null)
