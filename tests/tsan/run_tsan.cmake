# Configure, build and run the TSan stress program (called by CTest with cmake -P).
#   S2_ROOT        the s2mmu source tree
#   S2_TSAN_BUILD  build directory for the TSan project
#   S2_TSAN_CC     the C compiler (clang or gcc, with ThreadSanitizer support)
execute_process(
	COMMAND ${CMAKE_COMMAND} -S ${S2_ROOT}/tests/tsan/standalone -B ${S2_TSAN_BUILD}
		-DCMAKE_C_COMPILER=${S2_TSAN_CC} -DS2_ROOT=${S2_ROOT}
	RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "configuring the TSan build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${S2_TSAN_BUILD} -j2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "building the TSan stress program failed")
endif()
set(ENV{TSAN_OPTIONS} "halt_on_error=1 second_deadlock_stack=1 $ENV{TSAN_OPTIONS}")
execute_process(COMMAND ${S2_TSAN_BUILD}/pgtable_stress RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "pgtable_stress failed (exit ${rc})")
endif()
