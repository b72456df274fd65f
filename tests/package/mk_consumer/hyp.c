// SPDX-License-Identifier: MIT
/*
 * The bare-metal side of the s2mmu.mk consumer (tests/package/mk_consumer/Makefile): what a
 * hypervisor provides to the freestanding core (s2_env_panic, a port) and a use of each layer
 * it links, so the link pulls them in. Linked, never run (the EL2 tests run the core).
 */
#include "s2mmu/vm.h"
#include "s2mmu/version.h"

#if S2MMU_VERSION_MAJOR < 1
#error "the kit's version.h is missing or wrong"
#endif

void hyp_entry(void);

_Noreturn void s2_env_panic(const char *msg, const char *file, int line)
{
	for (;;)
		__asm__ volatile("wfi");
}

/* A compiler may emit calls to these even in freestanding code; a hypervisor has them. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *a = d;
	const unsigned char *b = s;

	while (n--)
		*a++ = *b++;
	return d;
}

static struct s2_vmid_alloc vmids;
static struct s2_memslot slots[4];
static struct s2_vm vm;
static const struct s2_port_ops ops; /* a real hypervisor fills these in (docs/port.md) */

void hyp_entry(void)
{
	struct s2_caps caps;
	struct s2_abort ab;
	struct s2_vm_params p = { .caps = &caps,
				  .req = { .ipa_bits = 40, .granule = S2_GRANULE_4K },
				  .port = { .ops = &ops },
				  .vmids = &vmids,
				  .slots = slots,
				  .max_slots = 4 };

	if (s2_caps_max(48, &caps) || s2_vmid_alloc_init(&vmids, caps.vmid_bits))
		s2_env_panic("caps", __FILE__, __LINE__);
	if (s2_vm_init(&vm, &p) == 0) /* refused: the ops are empty */
		s2_env_panic("create", __FILE__, __LINE__);
	if (s2_abort_decode(0x93c28046, 0, 0x630000, true, &ab))
		s2_env_panic("decode", __FILE__, __LINE__);
	for (;;)
		__asm__ volatile("wfi");
}
