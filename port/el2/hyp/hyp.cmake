# port/el2/hyp/hyp.cmake - the Linux-guest hypervisor (included from tests/el2/CMakeLists.txt,
# whose el2_compile(), S2_EL2_CFLAGS and library objects it uses). See docs/linux-guest.md.
#
# Target s2_linux_guest (not part of ALL: it downloads Debian packages):
#   <build>/linux-guest/          fetch.sh's cache: Image, busybox, libfdt/ (libfdt-dev:arm64)
#   <build>/linux-guest/hyp.elf   the hypervisor
#   <build>/linux-guest/initramfs.cpio   busybox + tools/linux-guest/init.sh
# CTest: linux.prepare (fetch + build, fixture) and the linux.* boots (label linux); all skip
# (return code 77) when the Debian archive cannot be reached.

set(S2_LG_DIR ${CMAKE_BINARY_DIR}/linux-guest)
set(S2_LG_TOOLS ${S2_ROOT}/tools/linux-guest)
set(S2_HYP_SRC ${S2_ROOT}/port/el2/hyp)

add_custom_command(OUTPUT ${S2_LG_DIR}/Image ${S2_LG_DIR}/busybox ${S2_LG_DIR}/libfdt/libfdt.a
	COMMAND sh ${S2_LG_TOOLS}/fetch.sh ${S2_LG_DIR}
	DEPENDS ${S2_LG_TOOLS}/fetch.sh
	COMMENT "Debian arm64 kernel, busybox-static, libfdt (tools/linux-guest/fetch.sh)"
	VERBATIM)

set(S2_HYP_OBJS)
foreach(f boot.S port.c memops.c libc.c main.c)
	get_filename_component(n ${f} NAME_WE)
	set(obj ${S2_EL2_OBJ_DIR}/hyp_${n}.o)
	add_custom_command(OUTPUT ${obj}
		COMMAND ${S2_AARCH64_CC} ${S2_EL2_CFLAGS} -I${S2_HYP_SRC}
			-I${S2_LG_DIR}/libfdt/include -MD -MF ${obj}.d -c ${S2_HYP_SRC}/${f}
			-o ${obj}
		DEPENDS ${S2_HYP_SRC}/${f} ${S2_LG_DIR}/libfdt/libfdt.a
		DEPFILE ${obj}.d
		COMMENT "aarch64 hyp_${n}.o"
		VERBATIM)
	list(APPEND S2_HYP_OBJS ${obj})
endforeach()
el2_compile(S2_HYP_UART ${S2_ROOT}/port/el2/uart.c hyp_uart)
el2_compile(S2_HYP_LIBC ${S2_ROOT}/port/el2/libc_min.c hyp_libc_min)
list(APPEND S2_HYP_OBJS ${S2_HYP_UART} ${S2_HYP_LIBC})
set(S2_HYP_LIB ${S2_EL2_CORE_OBJS})
foreach(layer memtype owner vm)
	list(APPEND S2_HYP_LIB ${S2_EL2_EXTRA_${layer}})
endforeach()

add_custom_command(OUTPUT ${S2_LG_DIR}/hyp.elf
	COMMAND ${S2_AARCH64_CC} -nostdlib -static -no-pie -T ${S2_HYP_SRC}/link.ld
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -o ${S2_LG_DIR}/hyp.elf
		${S2_HYP_OBJS} ${S2_HYP_LIB} ${S2_LG_DIR}/libfdt/libfdt.a -lgcc
	DEPENDS ${S2_HYP_OBJS} ${S2_HYP_LIB} ${S2_LG_DIR}/libfdt/libfdt.a ${S2_HYP_SRC}/link.ld
	COMMENT "aarch64 link linux-guest/hyp.elf"
	VERBATIM)

add_custom_command(OUTPUT ${S2_LG_DIR}/initramfs.cpio
	COMMAND sh ${S2_LG_TOOLS}/mkinitramfs.sh ${S2_LG_DIR}/initramfs.cpio ${S2_LG_DIR}/busybox
		${S2_LG_TOOLS}/init.sh
	DEPENDS ${S2_LG_TOOLS}/mkinitramfs.sh ${S2_LG_TOOLS}/init.sh ${S2_LG_DIR}/busybox
	COMMENT "linux-guest/initramfs.cpio"
	VERBATIM)

add_custom_target(s2_linux_guest DEPENDS ${S2_LG_DIR}/hyp.elf ${S2_LG_DIR}/initramfs.cpio)

# ---- CTest: label linux ---------------------------------------------------------------------
# linux.prepare fetches and builds (a fixture every boot requires); each boot passes only when
# the guest reported success to the control device, powered off, and every hypervisor check
# held (tools/linux-guest/run.sh --require-report). Return code 77: the Debian archive is
# unreachable (SKIP).
set(S2_LG_CTEST ${S2_LG_TOOLS}/ctest.sh)
add_test(NAME linux.prepare COMMAND sh ${S2_LG_CTEST} prepare ${CMAKE_BINARY_DIR})
set_tests_properties(linux.prepare PROPERTIES LABELS linux TIMEOUT 600 SKIP_RETURN_CODE 77
	FIXTURES_SETUP s2_linux)

# name | run.sh options | the guest's workload (s2g.mb MiB x s2g.rounds per CPU, s2g.ops asked
# through the control device between rounds, s2g.idle seconds idle first, s2g.hotplug: CPU 1
# offline and online again). --stall 60: a guest that prints nothing for 60 s (it died) fails
# then, not at the timeout.
set(S2_LINUX_TESTS
	"4k_2m|--granule 4k --backing-page 2m --fwb off --reclaim --every 200|s2g.ops=2"
	"16k|--granule 16k --migrate --every 500|s2g.ops=1"
	"64k|--granule 64k --backing-page 2m --migrate --every 500|s2g.ops=1"
	"fwb|--fwb on --backing-page 2m"
	"smp2|--smp 2 --expect 'psci: CPU_ON 2, CPU_OFF 1'|s2g.hotplug=1"
	"migrate|--migrate --every 500 --smp 2|s2g.ops=1"
	"dbm|--dirty dbm --migrate --every 500 --backing-page 2m|s2g.ops=1"
	"reclaim|--reclaim --every 200 --smp 2|s2g.ops=2"
	"age|--age --every 500 --period 250 --backing-page 2m --expect 'timed rounds while idle: [1-9]'|s2g.ops=3,4 s2g.idle=3")
# run.sh's stall watchdog (a guest that dies silently fails in seconds, not at the timeout):
# a spinning 4 KiB "kernel", no Linux boot.
add_test(NAME linux.stall COMMAND sh ${S2_LG_CTEST} stall ${CMAKE_BINARY_DIR})
set_tests_properties(linux.stall PROPERTIES LABELS linux TIMEOUT 150 SKIP_RETURN_CODE 77
	FIXTURES_REQUIRED s2_linux)

foreach(t IN LISTS S2_LINUX_TESTS)
	string(REPLACE "|" ";" parts "${t}")
	list(GET parts 0 name)
	list(GET parts 1 opts)
	separate_arguments(opts UNIX_COMMAND "${opts}")
	set(gargs "s2g.mb=8 s2g.rounds=2")
	list(LENGTH parts np)
	if(np GREATER 2)
		list(GET parts 2 g)
		string(APPEND gargs " ${g}")
	endif()
	add_test(NAME linux.${name}
		COMMAND sh ${S2_LG_CTEST} run ${CMAKE_BINARY_DIR} ${opts} --timeout 300 --stall 60
			--append "${gargs}")
	set_tests_properties(linux.${name} PROPERTIES LABELS linux TIMEOUT 330
		SKIP_RETURN_CODE 77 FIXTURES_REQUIRED s2_linux)
endforeach()
