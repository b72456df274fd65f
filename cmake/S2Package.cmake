# The package (docs/stability.md): one library, libs2mmu.a and libs2mmu.so.MAJOR, built from
# the per-layer libraries' sources, and what `cmake --install` puts under the prefix:
#
#   include/s2mmu/*.h                     public headers, with the generated version.h
#   lib/libs2mmu.a, lib/libs2mmu.so*      the hosted library (s2_env_panic prints and aborts)
#   lib/pkgconfig/s2mmu.pc                pkg-config
#   lib/cmake/s2mmu/                      find_package(s2mmu): s2mmu::s2mmu (shared) and
#                                         s2mmu::s2mmu_static
#   share/s2mmu/{s2mmu.mk,src,include}    the freestanding kit for hypervisors' own builds
#
# The packaged library is the production build whatever the tree: no sanitizers and no test
# hooks (S2_TEST_HOOKS), with the project's warnings; only the per-layer libraries that tests
# link carry those.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(S2_GEN_INCLUDE ${PROJECT_BINARY_DIR}/include)
configure_file(${PROJECT_SOURCE_DIR}/include/s2mmu/version.h.in
	${S2_GEN_INCLUDE}/s2mmu/version.h @ONLY)
target_include_directories(s2_env PUBLIC ${S2_GEN_INCLUDE})

# The core: every src/*.c but env_hosted.c, as s2mmu.mk and build.freestanding_aarch64 define
# it (build.layers checks that each file belongs to a layer library).
file(GLOB S2_CORE_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/*.c)
list(FILTER S2_CORE_SOURCES EXCLUDE REGEX "/env_hosted\\.c$")

set(S2_PKG_WARNINGS -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
	-Wno-unused-parameter)
if(S2_WERROR)
	list(APPEND S2_PKG_WARNINGS -Werror)
endif()

# One set of position-independent objects for both libraries.
add_library(s2mmu_objects OBJECT ${S2_CORE_SOURCES} ${PROJECT_SOURCE_DIR}/src/env_hosted.c
	${PROJECT_SOURCE_DIR}/src/hosted/version.c)
set_target_properties(s2mmu_objects PROPERTIES POSITION_INDEPENDENT_CODE ON)
# Replace the directory's options (sanitizers) with the warnings alone; -U cancels the test
# hooks' -D, which CMake places before the options.
set_property(TARGET s2mmu_objects PROPERTY COMPILE_OPTIONS ${S2_PKG_WARNINGS}
	-US2_TEST_HOOKS)
target_include_directories(s2mmu_objects PRIVATE ${PROJECT_SOURCE_DIR}/include
	${PROJECT_SOURCE_DIR}/src ${S2_GEN_INCLUDE})

set(S2_PKG_INCLUDES $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
	$<BUILD_INTERFACE:${S2_GEN_INCLUDE}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

add_library(s2mmu_static STATIC $<TARGET_OBJECTS:s2mmu_objects>)
set_target_properties(s2mmu_static PROPERTIES OUTPUT_NAME s2mmu EXPORT_NAME s2mmu_static)
target_include_directories(s2mmu_static INTERFACE ${S2_PKG_INCLUDES})

# The shared library exports the s2_* symbols, versioned S2MMU_<MAJOR>, and nothing else.
set(S2_VERSION_SCRIPT ${PROJECT_BINARY_DIR}/s2mmu.map)
file(WRITE ${S2_VERSION_SCRIPT}
	"S2MMU_${PROJECT_VERSION_MAJOR} {\n\tglobal:\n\t\ts2_*;\n\tlocal:\n\t\t*;\n};\n")
add_library(s2mmu_shared SHARED $<TARGET_OBJECTS:s2mmu_objects>)
set_target_properties(s2mmu_shared PROPERTIES OUTPUT_NAME s2mmu EXPORT_NAME s2mmu
	VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
	LINK_DEPENDS ${S2_VERSION_SCRIPT})
set_property(TARGET s2mmu_shared PROPERTY LINK_OPTIONS
	-Wl,--version-script=${S2_VERSION_SCRIPT} -Wl,--no-undefined)
target_include_directories(s2mmu_shared INTERFACE ${S2_PKG_INCLUDES})

# The same names as find_package(s2mmu) gives, for projects that add this tree with
# add_subdirectory() or FetchContent.
add_library(s2mmu::s2mmu ALIAS s2mmu_shared)
add_library(s2mmu::s2mmu_static ALIAS s2mmu_static)

# ---- install -------------------------------------------------------------------------------
file(GLOB S2_PUBLIC_HEADERS ${PROJECT_SOURCE_DIR}/include/s2mmu/*.h)
install(FILES ${S2_PUBLIC_HEADERS} ${S2_GEN_INCLUDE}/s2mmu/version.h
	DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/s2mmu COMPONENT devel)
install(TARGETS s2mmu_static s2mmu_shared EXPORT s2mmuTargets
	ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
	LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
		NAMELINK_COMPONENT devel
	INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(S2_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/s2mmu)
install(EXPORT s2mmuTargets NAMESPACE s2mmu:: DESTINATION ${S2_CMAKE_DIR} COMPONENT devel)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/s2mmuConfig.cmake.in
	${PROJECT_BINARY_DIR}/s2mmuConfig.cmake INSTALL_DESTINATION ${S2_CMAKE_DIR}
	PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/s2mmuConfigVersion.cmake
	COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/s2mmuConfig.cmake
	${PROJECT_BINARY_DIR}/s2mmuConfigVersion.cmake
	DESTINATION ${S2_CMAKE_DIR} COMPONENT devel)

# pkg-config: relocatable (prefix found from the .pc file's own directory).
set(S2_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH S2_PC_TO_PREFIX /s2prefix/${S2_PC_DIR} /s2prefix)
string(REGEX REPLACE "/$" "" S2_PC_TO_PREFIX "${S2_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/s2mmu.pc.in ${PROJECT_BINARY_DIR}/s2mmu.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/s2mmu.pc DESTINATION ${S2_PC_DIR} COMPONENT devel)

# The freestanding kit: s2mmu.mk with the core's sources and the headers, in the layout the
# fragment expects (the same as the source tree's).
set(S2_KIT_DIR ${CMAKE_INSTALL_DATADIR}/s2mmu)
file(GLOB S2_PRIVATE_HEADERS ${PROJECT_SOURCE_DIR}/src/*.h)
install(FILES ${PROJECT_SOURCE_DIR}/s2mmu.mk DESTINATION ${S2_KIT_DIR} COMPONENT devel)
install(FILES ${S2_CORE_SOURCES} ${S2_PRIVATE_HEADERS} DESTINATION ${S2_KIT_DIR}/src
	COMPONENT devel)
install(FILES ${S2_PUBLIC_HEADERS} ${S2_GEN_INCLUDE}/s2mmu/version.h
	DESTINATION ${S2_KIT_DIR}/include/s2mmu COMPONENT devel)
