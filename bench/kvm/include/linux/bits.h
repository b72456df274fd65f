/* SPDX-License-Identifier: MIT */
/* Stand-in for the kernel's <linux/bits.h>: everything KVM's stage-2 engine needs is in
 * kvm_shim.h (bench/kvm/include). */
#include "../kvm_shim.h"
