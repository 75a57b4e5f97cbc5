# moe-sweep: the two commands of the quick start, and their parts.
#   make demo   install what is missing, build, run the demo end to end
#   make test   install what is missing, build, run every test (CI runs this via .ci/run)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=

.PHONY: all deps deps-cluster configure build demo test test-main test-asan test-fuzz gpu-kit format clean

all: build

deps:
	tools/install-deps.sh

deps-cluster:
	tools/install-deps.sh --with-cluster

configure:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOE_WERROR=ON $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	tools/demo.sh $(BUILD)

# Every test: the release build's unit + integration tests (MPI, SLURM, CLI), then the unit tests
# under AddressSanitizer/UBSan, then each libFuzzer target for FUZZ_SECONDS. The sanitizer and
# fuzz builds use clang and lld: at -O0 with ASan/UBSan clang compiles this code in about 60% of
# GCC's time, and lld links the test binaries several times faster than ld.bfd.
SAN_TOOLCHAIN = -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
test: deps-cluster
	$(MAKE) build
	$(MAKE) test-main
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test-main:
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 1500

# A build folder configured with another compiler starts afresh: CMake would drop the cache,
# and with it every -D setting below, when the compiler changes.
test-asan:
	@if [ -f $(ASAN_BUILD)/CMakeCache.txt ] && \
	  ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++$$' $(ASAN_BUILD)/CMakeCache.txt; then \
	  echo "$(ASAN_BUILD) was configured with another compiler: removing it"; rm -rf $(ASAN_BUILD); fi
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMOE_WERROR=ON \
	  -DMOE_SANITIZE=ON -DMOE_BUILD_BENCH=OFF -DMOE_BUILD_INTEGRATION_TESTS=OFF \
	  -DMOE_ENABLE_CUDA=OFF $(SAN_TOOLCHAIN) $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit --timeout 1500

test-fuzz:
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOE_FUZZ=ON \
	  $(SAN_TOOLCHAIN) $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The GPU kit (tools/gpu_kit.sh): the CUDA checks and their libraries in one file to run on a GPU
# machine: tools/gpu_kit.sh run $(BUILD)/gpu-kit.tar.xz there.
gpu-kit: build
	tools/gpu_kit.sh pack $(BUILD)

format:
	git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
