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
foreach(layer memtype vm)
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
