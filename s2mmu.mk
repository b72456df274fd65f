# s2mmu.mk - the freestanding core of s2mmu for hypervisors with their own build system, in
# the spirit of libfdt's Makefile.libfdt. Include it from your Makefile and compile
# $(S2MMU_SRCS) with $(S2MMU_CFLAGS) plus your own freestanding flags:
#
#     S2MMU_DIR := path/to/s2mmu          # optional: defaults to this file's directory
#     include $(S2MMU_DIR)/s2mmu.mk
#     OBJS += $(S2MMU_OBJS)
#     $(S2MMU_OBJ_DIR)/%.o: $(S2MMU_SRC_DIR)/%.c
#             $(CC) $(CFLAGS) $(S2MMU_CFLAGS) -c $< -o $@
#
# It works the same from the source tree and from an installed kit (cmake --install puts
# this file, src/ and include/ under <prefix>/share/s2mmu/); only the kit has the generated
# s2mmu/version.h (the core does not include it). The core needs nothing from its
# environment but one function, which the embedder provides (s2mmu/env.h):
#
#     _Noreturn void s2_env_panic(const char *msg, const char *file, int line);
#
# and a table of port callbacks at run time (s2mmu/port.h, docs/port.md). On AArch64 with
# GCC also pass -mno-outline-atomics (without libgcc's atomics helpers, which need the
# hwcaps of a Linux process) and, with the MMU off, -mstrict-align. docs/stability.md says
# which of these variables are stable.

S2MMU_DIR ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
S2MMU_INCLUDE_DIR := $(S2MMU_DIR)/include
S2MMU_SRC_DIR := $(S2MMU_DIR)/src
S2MMU_OBJ_DIR ?= $(S2MMU_SRC_DIR)

# One list per layer (docs/design.md gives the layers and which uses which): src/<layer>.c
# and src/<layer>_*.c. A hypervisor may leave out a layer that nothing it links uses; walk,
# the reference MMU, is needed only for checking (no other layer calls it).
s2mmu_layer = $(notdir $(wildcard $(S2MMU_SRC_DIR)/$(1).c $(S2MMU_SRC_DIR)/$(1)_*.c))
S2MMU_ERROR_SRCS := $(call s2mmu_layer,error)
S2MMU_ARCH_SRCS := $(call s2mmu_layer,arch)
S2MMU_WALK_SRCS := $(call s2mmu_layer,walk)
S2MMU_PGTABLE_SRCS := $(call s2mmu_layer,pgtable)
S2MMU_MEMTYPE_SRCS := $(call s2mmu_layer,memtype)
S2MMU_VM_SRCS := $(call s2mmu_layer,vm)
S2MMU_OWNER_SRCS := $(call s2mmu_layer,owner)

# Everything, as file names (relative to $(S2MMU_SRC_DIR)), paths and objects: the core is
# every src/*.c but env_hosted.c (the hosted panic hook), the same set CTest cross-builds
# freestanding; each belongs to one layer (CTest's build.layers checks that too).
S2MMU_SRC_NAMES := $(sort $(filter-out env_hosted.c,$(notdir $(wildcard $(S2MMU_SRC_DIR)/*.c))))
S2MMU_SRCS := $(addprefix $(S2MMU_SRC_DIR)/,$(S2MMU_SRC_NAMES))
S2MMU_OBJS := $(addprefix $(S2MMU_OBJ_DIR)/,$(S2MMU_SRC_NAMES:.c=.o))

# The flags the core needs (C11, freestanding, its headers; private headers sit beside the
# sources and are included by relative name).
S2MMU_INCLUDES := -I$(S2MMU_INCLUDE_DIR)
S2MMU_CFLAGS := -std=c11 -ffreestanding -fno-builtin $(S2MMU_INCLUDES)
