# Thin driver around CMake. Every target installs what is missing first.
JOBS  ?= $(shell nproc)
GEN   := $(shell command -v ninja >/dev/null 2>&1 && echo -G Ninja)
CTEST_ARGS ?=
# Let ccache hit across clones of the repository (CI clones afresh).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := true

.PHONY: all deps build demo test test-asan test-tsan bench format clean

all: build

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B build $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

demo: build
	@build/apps/chat/fenix_chat

test:
	@scripts/install-deps.sh test
	@cmake -S . -B build $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)
	@cd build && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-asan:
	@scripts/install-deps.sh test
	@cmake -S . -B build-asan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DFENIX_SANITIZE=address >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-tsan:
	@scripts/install-deps.sh test
	@cmake -S . -B build-tsan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DFENIX_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -L tsan $(CTEST_ARGS)

bench:
	@scripts/install-deps.sh bench
	@cmake -S . -B build-bench $(GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build-bench -j $(JOBS)
	@bench/run.sh build-bench

format:
	@git ls-files '*.hpp' '*.cpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-bench
