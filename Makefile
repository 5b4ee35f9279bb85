# SPDX-License-Identifier: Apache-2.0
# The two commands of the README: `make demo` and `make test`. Both install the Debian
# packages they need first (when missing), then build with CMake.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= 2
CTEST_ARGS ?= --output-on-failure -j$(JOBS)
FUZZ_SECONDS ?= 60

# msgpack-c is libmsgpack-dev on Debian 12 and libmsgpack-c-dev on newer releases.
DEPS := build-essential cmake pkg-config libsodium-dev libuv1-dev liblmdb-dev libcmocka-dev \
        libjansson-dev lmdb-utils jq cppcheck
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build demo test test-asan lint fuzz clean

all: build

deps:
	@missing=""; \
	for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if ! dpkg -s libmsgpack-dev >/dev/null 2>&1 && ! dpkg -s libmsgpack-c-dev >/dev/null 2>&1; then \
	    missing="$$missing msgpack"; fi; \
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    $(SUDO) apt-get update -qq || exit 1; \
	    pkgs=$$(echo "$$missing" | sed 's/ msgpack/ '"$$(apt-cache show libmsgpack-c-dev >/dev/null 2>&1 && echo libmsgpack-c-dev || echo libmsgpack-dev)"'/'); \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$pkgs || exit 1; \
	fi

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKW_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@bash cli/demo.sh $(BUILD)/cli/kawan

# Static analysis of the sources (warnings are errors).
lint: deps
	@echo "== cppcheck =="
	@cppcheck --quiet --enable=warning,portability,performance --std=c11 --inline-suppr \
	    --error-exitcode=1 -I. -D__GNUC__ --suppress=missingIncludeSystem \
	    crypto bundle store node cli

test: build lint
	@echo "== tests (RelWithDebInfo) =="
	@cd $(BUILD) && ctest $(CTEST_ARGS)
	@$(MAKE) --no-print-directory test-asan

test-asan: deps
	@echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKW_SANITIZE=ON -DKW_WERROR=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS)

# libFuzzer: every harness in tests/fuzz/ for FUZZ_SECONDS each, from the committed seeds
# (new inputs go to $(FUZZ_BUILD)/corpus/, crashes to $(FUZZ_BUILD)/crashes/). Fails on any
# crash, leak or sanitizer report.
fuzz: deps
	@command -v clang >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq clang libclang-rt-dev; }
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKW_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target $$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$$//')
	@mkdir -p $(FUZZ_BUILD)/crashes; status=0; \
	for src in tests/fuzz/fuzz_*.c; do \
	    t=$$(basename $$src .c); name=$${t#fuzz_}; \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	    echo "== $$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/crashes/$$name- \
	        $(FUZZ_BUILD)/corpus/$$name tests/fuzz/corpus/$$name 2>$(FUZZ_BUILD)/$$name.log \
	        || { echo "CRASH in $$t: see $(FUZZ_BUILD)/$$name.log"; status=1; }; \
	    grep -E 'stat::number_of_executed_units|cov:' $(FUZZ_BUILD)/$$name.log | tail -n 2; \
	done; exit $$status

# Benchmarks (tests/bench/bench_all.sh): one table of kawan's figures beside the limits and
# the peer system measured in the same run; docs/performance.md explains it. QUICK=1 uses
# smaller sizes (under 3 minutes; the full run is under 15). Never fails on speed.
BENCH_BUILD ?= build-bench
.PHONY: bench
bench: deps
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BENCH_BUILD) -j$(JOBS)
	@bash tests/bench/bench_all.sh $(BENCH_BUILD) $(if $(QUICK),--quick)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
