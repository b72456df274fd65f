# s2mmu - the two commands of the README, and a few more.
#
#   make run    build the tool and run the main example (installs what is missing first)
#   make test   build everything and run every test through CTest (installs what is missing)
#   make linux  build the Linux-guest hypervisor and boot Debian's arm64 kernel on it (console
#               visible; LINUX_ARGS="--smp 2 --migrate ..." adds tools/linux-guest/run.sh options)
#   make bench  run the benchmarks natively and under callgrind; writes build/bench/results.json
#   make mutate mutation testing: a seeded sample of faults in src/ against the fast suites
#               (MUTANTS=N SEED=S, default 40 and 1; resumable; report in build/mutate/report.md)
#
# Debian packages are installed with apt only when absent; as root on Debian 12 nothing else is
# needed. Set S2_NO_INSTALL=1 to skip the package check.

SHELL := /bin/bash
BUILD ?= build
BENCH_BUILD ?= build/bench-gcc
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Packages each goal needs (Debian 12 names).
PKGS_BUILD := cmake make clang gcc libc6-dev libcmocka-dev libclang-rt-14-dev
PKGS_TEST := $(PKGS_BUILD) gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
	qemu-system-arm python3 clang-format git doxygen pkgconf
PKGS_BENCH := $(PKGS_BUILD) valgrind python3
PKGS_MUTATE := $(PKGS_TEST) ninja-build
# Linux KVM's stage-2 engine is measured beside s2mmu's from these (bench/README.md); when they
# cannot be installed the benchmark still runs, and its KVM columns say why.
PKGS_BENCH_KVM := linux-source-6.12 linux-source-6.1

.PHONY: all run test linux bench mutate deps-build deps-test deps-bench deps-mutate configure build \
	format clean

all: build

define install_missing
	@if [ -z "$$S2_NO_INSTALL" ]; then \
		missing=""; \
		for p in $(1); do \
			dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
				|| missing="$$missing $$p"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "s2mmu: installing missing Debian packages:$$missing"; \
			if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
			export DEBIAN_FRONTEND=noninteractive; \
			$$SUDO apt-get update -qq && \
			$$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
				|| { echo "s2mmu: apt-get install failed"; exit 1; }; \
		fi; \
	fi
endef

deps-build:
	$(call install_missing,$(PKGS_BUILD))
deps-test:
	$(call install_missing,$(PKGS_TEST))
deps-bench:
	$(call install_missing,$(PKGS_BENCH))
	@if [ -z "$$S2_NO_INSTALL" ]; then \
		for p in $(PKGS_BENCH_KVM); do \
			dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
				&& continue; \
			echo "s2mmu: installing $$p (KVM's engine for the benchmarks)"; \
			if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
				--no-install-recommends $$p >/dev/null 2>&1 || \
			{ $$SUDO apt-get update -qq >/dev/null 2>&1 && \
			  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
				--no-install-recommends $$p >/dev/null 2>&1; } || \
			echo "s2mmu: $$p could not be installed: the benchmark runs without it"; \
		done; \
	fi
deps-mutate:
	$(call install_missing,$(PKGS_MUTATE))

# The test tree: clang, ASan + UBSan, libFuzzer targets, -Werror.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DS2_SANITIZE=ON -DS2_FUZZ=ON -DS2_WERROR=ON >/dev/null

configure: $(BUILD)/CMakeCache.txt

build: deps-build configure
	cmake --build $(BUILD) -j $(JOBS)

run: deps-build configure
	cmake --build $(BUILD) -j $(JOBS) --target s2mmu-tool
	@bash examples/run-main.sh $(BUILD)/tools/s2mmu/s2mmu

test: deps-test configure
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

linux: deps-test configure
	cmake --build $(BUILD) -j $(JOBS) --target s2_linux_guest
	sh tools/linux-guest/run.sh --hyp $(BUILD)/linux-guest/hyp.elf \
		--kernel $(BUILD)/linux-guest/Image --initrd $(BUILD)/linux-guest/initramfs.cpio \
		--require-report $(LINUX_ARGS)

bench: deps-bench
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_FLAGS_RELEASE="-O2 -g -DNDEBUG" -DS2_TESTS=OFF >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS)
	bash bench/run.sh $(BENCH_BUILD) build/bench

# Mutation testing (docs/testing.md): its own tree copy and build in $(BUILD)/mutate. Run again
# with the same MUTANTS/SEED to resume; MUTATE_ARGS passes more options (e.g. --fresh,
# --files src/vm.c, --retest survived; see tools/mutate/mutate.py run --help).
MUTANTS ?= 40
SEED ?= 1
MUTATE_NICE ?= 10
mutate: deps-mutate
	nice -n $(MUTATE_NICE) python3 tools/mutate/mutate.py run --out $(BUILD)/mutate \
		--mutants $(MUTANTS) --seed $(SEED) --jobs $(JOBS) $(MUTATE_ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
