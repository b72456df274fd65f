# package.install: `cmake --install` of the build tree into a fresh prefix, then check that
# everything docs/stability.md promises is there. Invoked with BUILD_DIR, PREFIX, READELF and
# LIBDIR (CMAKE_INSTALL_LIBDIR).
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
	RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "cmake --install failed")
endif()
set(missing)
foreach(f include/s2mmu/vm.h include/s2mmu/port.h include/s2mmu/version.h
		${LIBDIR}/libs2mmu.a ${LIBDIR}/libs2mmu.so ${LIBDIR}/libs2mmu.so.1
		${LIBDIR}/pkgconfig/s2mmu.pc ${LIBDIR}/cmake/s2mmu/s2mmuConfig.cmake
		${LIBDIR}/cmake/s2mmu/s2mmuConfigVersion.cmake
		${LIBDIR}/cmake/s2mmu/s2mmuTargets.cmake share/s2mmu/s2mmu.mk
		share/s2mmu/include/s2mmu/version.h share/s2mmu/src/pgtable.c)
	if(NOT EXISTS ${PREFIX}/${f})
		list(APPEND missing ${f})
	endif()
endforeach()
if(missing)
	message(FATAL_ERROR "not installed: ${missing}")
endif()
if(READELF)
	execute_process(COMMAND ${READELF} -d ${PREFIX}/${LIBDIR}/libs2mmu.so OUTPUT_VARIABLE dyn)
	if(NOT dyn MATCHES "SONAME\\)[^\n]*\\[libs2mmu\\.so\\.1\\]")
		message(FATAL_ERROR "libs2mmu.so has no SONAME libs2mmu.so.1:\n${dyn}")
	endif()
	execute_process(COMMAND ${READELF} --dyn-syms -W ${PREFIX}/${LIBDIR}/libs2mmu.so
		OUTPUT_VARIABLE syms)
	string(REGEX MATCHALL "GLOBAL +DEFAULT +[0-9]+ [^\n]*" exported "${syms}")
	foreach(e IN LISTS exported)
		if(NOT e MATCHES " s2_[a-z0-9_]+@@S2MMU_1$")
			message(FATAL_ERROR "libs2mmu.so exports a symbol outside s2_*@@S2MMU_1: ${e}")
		endif()
		# String parsers are the tool's (tools/s2mmu/names.h), not the library's.
		if(e MATCHES "_parse@@")
			message(FATAL_ERROR "libs2mmu.so exports a string parser: ${e}")
		endif()
	endforeach()
	list(LENGTH exported n)
	if(n LESS 50)
		message(FATAL_ERROR "libs2mmu.so exports only ${n} symbols")
	endif()
	message(STATUS "libs2mmu.so.1: ${n} symbols, all s2_*@@S2MMU_1")
endif()
message(STATUS "installed into ${PREFIX}")
