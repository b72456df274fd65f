# The EL2 benchmark image (bench/el2/bench_el2.c, bench/README.md "AArch64 at EL2"): s2mmu
# cross-compiled with the EL2 tests' flags (-O2, tests/el2/CMakeLists.txt), linked with the real
# EL2 port into bench_el2.elf, run by bench/run.sh under
#   qemu-system-aarch64 -M virt,virtualization=on -cpu max -icount shift=0 ...
# which makes the PMU's INST_RETIRED event exact. Built whenever aarch64-linux-gnu-gcc and
# qemu-system-aarch64 are found; in the test tree the smoke test bench.el2_smoke (label bench)
# runs it once: it passes when the image measured every operation, checked the results and found
# the counts plausible (it exits 0 only then; no timing is asserted).
find_program(S2_AARCH64_CC aarch64-linux-gnu-gcc)
find_program(S2_QEMU_AARCH64 qemu-system-aarch64)
find_program(S2_TIMEOUT timeout)
if(NOT S2_AARCH64_CC OR NOT S2_QEMU_AARCH64 OR NOT S2_TIMEOUT)
	message(STATUS "bench: aarch64-linux-gnu-gcc or qemu-system-aarch64 not found: EL2 "
		"instruction counts skipped")
	return()
endif()

set(S2_ROOT ${PROJECT_SOURCE_DIR})
# The EL2 tests' flags (tests/el2/CMakeLists.txt: the core's freestanding flags, -O2, plus
# what EL2 with the MMU off needs).
set(S2_EL2B_CFLAGS -std=c11 -ffreestanding -nostdlib -fno-builtin -O2 -Wall -Wextra -Werror
	-Wno-unused-parameter -mno-outline-atomics -g -mstrict-align -mgeneral-regs-only -fno-pic
	-fno-pie -fno-stack-protector -fno-jump-tables -fno-tree-loop-distribute-patterns
	-fno-asynchronous-unwind-tables -I${S2_ROOT}/include -I${S2_ROOT}/src
	-I${S2_ROOT}/port/el2)
set(S2_EL2B_OBJ_DIR ${CMAKE_CURRENT_BINARY_DIR}/el2/obj)
file(MAKE_DIRECTORY ${S2_EL2B_OBJ_DIR})

function(el2b_compile out src objname)
	set(obj ${S2_EL2B_OBJ_DIR}/${objname}.o)
	add_custom_command(OUTPUT ${obj}
		COMMAND ${S2_AARCH64_CC} ${S2_EL2B_CFLAGS} -MD -MF ${obj}.d -c ${src} -o ${obj}
		DEPENDS ${src}
		DEPFILE ${obj}.d
		COMMENT "aarch64 bench ${objname}.o"
		VERBATIM)
	set(${out} ${obj} PARENT_SCOPE)
endfunction()

# The port (guest payload objects keep their guest_*.o names: port/el2/link.ld gathers them),
# the VM-layer run loop (its load_stage2 hook), every layer of the library but the hosted env.
set(S2_EL2B_OBJS)
foreach(f boot.S uart.c el2_port.c libc_min.c guest_payloads.c guest_vm.c el2_vmrun.c)
	get_filename_component(n ${f} NAME_WE)
	el2b_compile(o ${S2_ROOT}/port/el2/${f} ${n})
	list(APPEND S2_EL2B_OBJS ${o})
endforeach()
file(GLOB S2_EL2B_CORE_SRCS CONFIGURE_DEPENDS ${S2_ROOT}/src/*.c)
foreach(src IN LISTS S2_EL2B_CORE_SRCS)
	get_filename_component(n ${src} NAME_WE)
	if(NOT n STREQUAL "env_hosted")
		el2b_compile(o ${src} core_${n})
		list(APPEND S2_EL2B_OBJS ${o})
	endif()
endforeach()
el2b_compile(o ${CMAKE_CURRENT_SOURCE_DIR}/el2/bench_el2.c bench_el2)
list(APPEND S2_EL2B_OBJS ${o})

set(S2_EL2B_ELF ${CMAKE_CURRENT_BINARY_DIR}/el2/bench_el2.elf)
add_custom_command(OUTPUT ${S2_EL2B_ELF}
	COMMAND ${S2_AARCH64_CC} -nostdlib -static -no-pie -T ${S2_ROOT}/port/el2/link.ld
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -o ${S2_EL2B_ELF} ${S2_EL2B_OBJS} -lgcc
	DEPENDS ${S2_EL2B_OBJS} ${S2_ROOT}/port/el2/link.ld
	COMMENT "aarch64 link bench_el2.elf"
	VERBATIM)
add_custom_target(bench_el2 ALL DEPENDS ${S2_EL2B_ELF})

# What bench/run.sh runs (-icount shift=0: one instruction per virtual ns, INST_RETIRED exact).
set(S2_EL2B_QEMU_ARGS -M virt,virtualization=on -cpu max,pauth-impdef=on -nographic -nic none
	-semihosting-config enable=on,target=native -icount shift=0)
if(S2_TESTS)
	add_test(NAME bench.el2_smoke
		COMMAND ${S2_TIMEOUT} 120 ${S2_QEMU_AARCH64} ${S2_EL2B_QEMU_ARGS}
			-kernel ${S2_EL2B_ELF})
	set_tests_properties(bench.el2_smoke PROPERTIES LABELS bench TIMEOUT 150)
endif()
