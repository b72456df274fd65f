// SPDX-License-Identifier: MIT
/*
 * fuzz_api.c - libFuzzer target: the public API of every layer called with garbage.
 *
 * The input drives, one choice at a time, calls into arch (syndromes, descriptors, VTCR,
 * configs from random requests), the engine (a page table of a random config), memtype, the VM
 * layer (a VM built from a random valid or invalid request over the hosted port: memslots,
 * random ESRs to s2_vm_handle_abort, dirty logging, host-range notifiers, locking) and the
 * ownership layer (transitions with random addresses and sizes), with NULL pointers,
 * unaligned, huge and wrapping addresses and sizes, and random flags. After every call:
 *
 *   - no crash or sanitizer report, and no S2_BUG_ON: the hosted panic hook aborts, which
 *     libFuzzer reports;
 *   - the return code is 0 or one of the S2_E* codes (or what the function documents);
 *   - every page table still passes s2_pgtable_check() after every refused call (and after
 *     the calls the input marks "deep", one in four, and at teardown);
 *   - around a "deep" call refused with a code that promises "nothing changed" (S2_EINVAL,
 *     S2_EALIGN, S2_ERANGE, S2_ENOENT, S2_EEXIST, S2_EMEMTYPE, S2_ENOTSUP, S2_ELIMIT, S2_EPERM,
 *     S2_EVMID), every entry of every table is as it was (a hash of a full s2_pgtable_walk()
 *     dump; hashing every call would make each run several times slower);
 *   - at the end, after teardown, the hosted port holds no page (no leak).
 * Violations print the step and call abort(). Seeds: fuzz/corpus/api/.
 */
#include "s2mmu/arch.h"
#include "s2mmu/memtype.h"
#include "s2mmu/owner.h"
#include "s2mmu/pgtable.h"
#include "s2mmu/vm.h"
#include "s2mmu/walk.h"

#include "host_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 48
#define NSLOTS 4

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned int bytes)
{
	uint64_t v = 0;

	while (bytes--) {
		v = (v << 8) | (in->n ? *in->p : 0);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

static const char *step_name = "setup";

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "fuzz_api: %s: check failed: %s (line %d)\n", step_name, \
				#cond, __LINE__);                                                \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static bool trace = false; /* FUZZ_API_TRACE=1: print each step (for reproducing) */

static void trace_step(const char *what, uint64_t a, uint64_t b, int ret)
{
	if (trace)
		fprintf(stderr, "fuzz_api: %s 0x%llx 0x%llx -> %d\n", what, (unsigned long long)a,
			(unsigned long long)b, ret);
}

static bool is_code(int ret)
{
	return ret == 0 || (ret >= S2_ERROR_MIN && ret < 0);
}

/* Codes after which the tables must be exactly as before. */
static bool unchanged_code(int ret)
{
	switch (ret) {
	case S2_EINVAL:
	case S2_EALIGN:
	case S2_ERANGE:
	case S2_ENOENT:
	case S2_EEXIST:
	case S2_EMEMTYPE:
	case S2_ENOTSUP:
	case S2_ELIMIT:
	case S2_EPERM:
	case S2_EVMID:
		return true;
	default:
		return false;
	}
}

/* ---- table hashing ----------------------------------------------------------------------- */

static int hash_visit(void *arg, const struct s2_walk_visit *v)
{
	uint64_t *h = arg;

	*h = (*h ^ s2_ipa_val(v->ipa)) * 0x100000001b3ull;
	*h = (*h ^ v->pte) * 0x100000001b3ull;
	*h = (*h ^ ((uint64_t)(v->level + 2) << 8 | v->flag)) * 0x100000001b3ull;
	return 0;
}

static uint64_t table_hash(const struct s2_pgtable *pgt)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (!pgt || !pgt->root)
		return 0;
	CHECK(s2_pgtable_walk(pgt, s2_ipa(0), pgt->geom.ipa_limit, S2_WALK_LEAF | S2_WALK_TABLE_PRE,
			      hash_visit, &h) == 0);
	return h;
}

static void table_ok(const struct s2_pgtable *pgt)
{
	struct s2_check_report rep;

	if (!pgt || !pgt->root)
		return;
	if (s2_pgtable_check(pgt, &rep)) {
		fprintf(stderr, "fuzz_api: %s: s2_pgtable_check: %s\n", step_name, rep.first_error);
		abort();
	}
}

/* ---- garbage ------------------------------------------------------------------------------- */

/* An address: 0, aligned inside @limit, unaligned, near the top of @limit, huge, or anything. */
static uint64_t garbage_addr(struct input *in, uint64_t limit, uint64_t g)
{
	uint64_t r = take(in, 4);

	switch (take(in, 1) % 8) {
	case 0:
		return 0;
	case 1:
	case 2:
		return limit > g ? (r * g) % limit : 0;
	case 3:
		return limit ? r % limit : r; /* unaligned */
	case 4:
		return limit - g * (1 + r % 4);
	case 5:
		return UINT64_MAX - (r % (4 * g)); /* wraps with almost any size */
	case 6:
		return limit + (r % 4) * g; /* just beyond */
	default:
		return take(in, 8);
	}
}

/* A permission set: mostly valid R/W/X combinations, sometimes empty or with unknown bits. */
static uint64_t garbage_prot(struct input *in)
{
	uint64_t r = take(in, 1);

	return r & 0x80 ? take(in, 8) : r & S2_PROT_RWX;
}

static uint64_t garbage_size(struct input *in, uint64_t limit, uint64_t g)
{
	uint64_t r = take(in, 2);

	switch (take(in, 1) % 8) {
	case 0:
		return 0;
	case 1:
	case 2:
		return g * (1 + r % 8);
	case 3:
		return g * 512 * (1 + r % 2); /* a block or two */
	case 4:
		return 1 + r; /* unaligned */
	case 5:
		return UINT64_MAX - (r % g); /* wraps */
	case 6:
		return limit;
	default:
		return take(in, 8);
	}
}

/* ---- arch -------------------------------------------------------------------------------- */

static void fuzz_arch(struct input *in)
{
	uint64_t esr = take(in, 8), v = take(in, 8);
	struct s2_pte_format fmt = { .granule = (enum s2_granule)(take(in, 1) % 4),
				     .ds = take(in, 1) & 1,
				     .lpa = take(in, 1) & 1 };
	int level = (int)(take(in, 1) % 8) - 3;
	struct s2_pte_fields f;
	struct s2_esr_info e;
	struct s2_abort a;
	struct s2_vtcr_fields vf;
	struct s2_caps caps;
	struct s2_config cfg;
	struct s2_config_req req = { .ipa_bits = (unsigned int)take(in, 1),
				     .granule = (enum s2_granule)(take(in, 1) % 5),
				     .vmid_bits = (unsigned int)take(in, 1) % 20,
				     .flags = take(in, 1) & 0x1f };
	s2_pte_t pte;
	int ret;

	step_name = "arch";
	CHECK(s2_esr_describe(esr, &e) == 0);
	CHECK(s2_esr_describe(esr, NULL) == S2_EINVAL);
	ret = s2_abort_decode(esr, v, take(in, 8), take(in, 1) & 1, &a);
	CHECK(ret == 0 || ret == S2_EINVAL);
	CHECK(s2_abort_decode(esr, 0, 0, false, NULL) == S2_EINVAL);
	ret = s2_vtcr_decode(v, &vf);
	CHECK((ret == 0) == (s2_vtcr_invalid_reason(v) == NULL));
	s2_pte_decode(&fmt, level, v, &f);
	s2_pte_decode(NULL, level, v, &f);
	s2_pte_decode(&fmt, level, v, NULL);
	(void)s2_pte_kind_of(take(in, 1) & 1 ? &fmt : NULL, level, v);
	(void)s2_pte_oa(take(in, 1) & 1 ? &fmt : NULL, level, v);
	(void)s2_pte_oa_bits(take(in, 1) & 1 ? &fmt : NULL, level, s2_pa(v));
	f.kind = (enum s2_pte_kind)(take(in, 1) % 6);
	ret = s2_pte_encode(take(in, 1) & 1 ? &fmt : NULL, level, &f, &pte);
	CHECK(is_code(ret));
	ret = s2_caps_max((unsigned int)take(in, 1), take(in, 1) & 1 ? &caps : NULL);
	CHECK(ret == 0 || ret == S2_EINVAL);
	if (ret)
		CHECK(s2_caps_max(48, &caps) == 0);
	if (take(in, 1) & 1) {
		struct s2_idregs r = { take(in, 8), take(in, 8), take(in, 8), take(in, 8),
				       take(in, 8) };

		ret = s2_caps_from_idregs(&r, &caps);
		CHECK(ret == 0 || ret == S2_EINVAL);
		if (ret)
			CHECK(s2_caps_max(48, &caps) == 0);
	}
	ret = s2_config_init(&cfg, take(in, 1) & 1 ? &caps : NULL, &req);
	CHECK(is_code(ret));
	if (!ret) {
		CHECK(s2_vtcr_decode(cfg.vtcr, &vf) == 0);
		uint64_t vttbr;

		CHECK(is_code(s2_vttbr(&cfg, s2_pa(take(in, 8)), (uint16_t)take(in, 2), &vttbr)));
	}
	CHECK(s2_vttbr(NULL, s2_pa(0), 0, NULL) == S2_EINVAL);
	(void)s2_config_pte_format(NULL);
}

/* ---- memtype ------------------------------------------------------------------------------ */

static void fuzz_memtype(struct input *in)
{
	struct s2_memtype_req req = {
		.backing = (enum s2_backing)(take(in, 1) % 3),
		.host_type = (enum s2_hostmem)(take(in, 1) % 6),
	};
	struct s2_memtype_attrs out;
	uint64_t b = take(in, 1);
	int ret;

	step_name = "memtype";
	req.allow_any_uncached = b & 1;
	req.exec = b & 2;
	req.fwb = b & 4;
	req.dic = b & 8;
	req.vm_mte = b & 16;
	req.backing_tags = b & 32;
	ret = s2_memtype_decide(b & 64 ? NULL : &req, b & 128 ? NULL : &out);
	CHECK(ret == 0 || ret == S2_EINVAL || ret == S2_EMEMTYPE);
	if (b & 192)
		CHECK(ret == S2_EINVAL);
}

/* ---- engine ------------------------------------------------------------------------------- */

static int nop_visit(void *arg, const struct s2_walk_visit *v)
{
	(void)v;
	return arg ? -1 : 0;
}

static void fuzz_engine_step(struct input *in, struct s2_pgtable *pgt, struct s2_port *port,
			     struct s2_page_cache *cache)
{
	uint64_t g = UINT64_C(1) << pgt->cfg.page_shift, lim = pgt->geom.ipa_limit;
	uint64_t ipa = garbage_addr(in, lim, g), size = garbage_size(in, lim, g);
	uint64_t pa = garbage_addr(in, UINT64_C(1) << pgt->cfg.pa_bits, g);
	uint64_t prot = take(in, 2) & 0x3fff, flags = take(in, 1) & 0xf, young = 0;
	/*
	 * The three flag sets (enum s2_prot, s2_map_flags, s2_walk_flags) have disjoint bits: the
	 * input's bits 6 and 13 (S2_PROT_NOCMO and S2_PROT_YOUNG_CLEAR before 1.0) become the
	 * map flags S2_MAP_NOCMO / S2_MAP_YOUNG_CLEAR, bit 7 stays an unknown prot bit; @flags
	 * bits 0-2 are FORCE_PAGES, NO_REPLACE, SHARED and bit 3 an unknown map flag, or the
	 * four walk flags.
	 */
	uint64_t map_flags = ((flags & 7) << 16) | (flags & 8 ? S2_BIT(23) : 0) |
			     (prot & S2_BIT(6) ? S2_MAP_NOCMO : 0) |
			     (prot & S2_BIT(13) ? S2_MAP_YOUNG_CLEAR : 0);
	uint64_t walk_flags = (flags & 0xf) << 24;
	struct s2_page_cache *c = take(in, 1) & 1 ? cache : NULL;
	bool deep = take(in, 1) % 4 == 0; /* hash the tables around this call */
	uint64_t before = deep ? table_hash(pgt) : 0;
	unsigned int op = (unsigned int)take(in, 1) % 16, n;
	struct s2_lookup l;
	bool may_change = true;
	int ret = 0;

	prot &= ~(S2_BIT(6) | S2_BIT(13));
	if (!(prot & S2_PROT_RWX) && (take(in, 1) & 1))
		prot |= S2_PROT_R;
	switch (op) {
	case 0:
	case 1:
		step_name = "pgtable_map";
		ret = s2_pgtable_map(pgt, s2_ipa(ipa), size, s2_pa(pa), prot, map_flags, c);
		break;
	case 2:
		step_name = "pgtable_unmap";
		ret = s2_pgtable_unmap(pgt, s2_ipa(ipa), size, c);
		break;
	case 3:
		step_name = "pgtable_wrprotect";
		ret = s2_pgtable_wrprotect(pgt, s2_ipa(ipa), size);
		break;
	case 4:
		step_name = "pgtable_set_prot";
		ret = s2_pgtable_set_prot(pgt, s2_ipa(ipa), size, prot & 0xf07,
					  take(in, 2) & 0xf07);
		break;
	case 5:
		step_name = "pgtable_relax_perms";
		ret = s2_pgtable_relax_perms(pgt, s2_ipa(ipa), prot & 0xf);
		break;
	case 6:
		step_name = "pgtable_mkyoung";
		ret = s2_pgtable_mkyoung(pgt, s2_ipa(ipa));
		break;
	case 7:
		step_name = "pgtable_test_clear_young";
		ret = s2_pgtable_test_clear_young(pgt, s2_ipa(ipa), size, flags & 1,
						  flags & 2 ? NULL : &young);
		if (!ret && !(flags & 1))
			may_change = false;
		break;
	case 8:
		step_name = "pgtable_flush_range";
		s2_pgtable_flush_range(pgt, s2_ipa(ipa), size);
		may_change = false;
		break;
	case 9:
		step_name = "pgtable_lookup";
		ret = s2_pgtable_lookup(pgt, s2_ipa(ipa), flags & 1 ? NULL : &l);
		may_change = false;
		break;
	case 10:
		step_name = "pgtable_split";
		ret = s2_pgtable_split(pgt, s2_ipa(ipa), size, c);
		if (ret == S2_ENOMEM)
			(void)s2_page_cache_topup(cache, port, g, S2_PAGE_CACHE_MAX);
		break;
	case 11:
		step_name = "pgtable_collapse";
		ret = s2_pgtable_collapse(pgt, s2_ipa(ipa), size, flags & 1 ? NULL : &n);
		break;
	case 12:
		step_name = "pgtable_annotate";
		ret = s2_pgtable_annotate(pgt, s2_ipa(ipa), size, (uint8_t)take(in, 1), c);
		break;
	case 13:
		step_name = "pgtable_walk";
		ret = s2_pgtable_walk(pgt, s2_ipa(ipa), size, walk_flags,
				      flags & 8 ? NULL : nop_visit, flags & 4 ? pgt : NULL);
		may_change = false;
		break;
	case 14: {
		/* A scratch cache: garbage page sizes must not reach the table's cache. */
		struct s2_page_cache scratch = { 0 };
		size_t bytes = flags & 4 ? (size_t)take(in, 3) : (size_t)g;

		step_name = "page_cache_topup";
		ret = s2_page_cache_topup(flags & 1 ? NULL : &scratch, flags & 2 ? NULL : port,
					  bytes,
					  (unsigned int)take(in, 1) % (S2_PAGE_CACHE_MAX + 4));
		s2_page_cache_drain(&scratch, port, bytes);
		CHECK(scratch.nr == 0);
		may_change = false;
		break;
	}
	default:
		step_name = "null engine calls";
		CHECK(s2_pgtable_map(NULL, s2_ipa(ipa), size, s2_pa(pa), prot, flags, c) ==
		      S2_EINVAL);
		CHECK(s2_pgtable_unmap(NULL, s2_ipa(ipa), size, c) == S2_EINVAL);
		CHECK(s2_pgtable_lookup(pgt, s2_ipa(ipa), NULL) == S2_EINVAL);
		CHECK(s2_pgtable_relax_perms(NULL, s2_ipa(ipa), prot) == S2_EINVAL);
		CHECK(s2_pgtable_mkyoung(NULL, s2_ipa(ipa)) == S2_EINVAL);
		CHECK(s2_pgtable_check(NULL, NULL) == S2_EINVAL);
		s2_pgtable_flush_range(NULL, s2_ipa(ipa), size);
		s2_pgtable_destroy(NULL);
		may_change = false;
		break;
	}
	trace_step(step_name, ipa, size, ret);
	CHECK(is_code(ret));
	if (deep || ret)
		table_ok(pgt);
	if (deep && (!may_change || unchanged_code(ret)))
		CHECK(table_hash(pgt) == before);
}

/* ---- VM ----------------------------------------------------------------------------------- */

#define RAM_PA UINT64_C(0x1000000000) /* backing PAs: not table memory */

static void nop_sanitise(void *ctx, s2_pa_t pa, uint64_t size)
{
	(void)ctx;
	(void)pa;
	(void)size;
}

/* A syndrome: mostly aborts from a lower EL with any ISS, sometimes anything. */
static uint64_t garbage_esr(struct input *in)
{
	static const uint32_t ecs[] = { 0x24, 0x20, 0x24, 0x20, 0x25, 0x21, 0x16, 0x18 };
	uint64_t iss = take(in, 4) & 0x1ffffff;

	if (take(in, 1) % 8 == 0)
		return take(in, 8);
	return ((uint64_t)ecs[take(in, 1) % 8] << 26) | S2_BIT(25) | iss |
	       ((take(in, 1) % 4 == 0) ? take(in, 3) << 32 : 0);
}

static void fuzz_vm_step(struct input *in, struct s2_vm *vm, struct s2_vcpu *vcpu)
{
	uint64_t g = UINT64_C(1) << vm->pgt.cfg.page_shift, lim = vm->pgt.geom.ipa_limit;
	bool deep = take(in, 1) % 4 == 0;
	uint64_t before = deep ? table_hash(&vm->pgt) : 0, u64 = 0, bitmap[8];
	unsigned int nr_slots = vm->nr_slots;
	uint32_t id = (uint32_t)take(in, 1) % 6;
	unsigned int op = (unsigned int)take(in, 1) % 14;
	bool may_change = true, slots_same = false;
	struct s2_abort_result res;
	struct s2_vcpu_entry entry;
	int ret = 0;

	switch (op) {
	case 0:
	case 1: {
		struct s2_memslot_desc d = {
			.id = id,
			.ipa = s2_ipa(garbage_addr(in, lim, g)),
			.size = garbage_size(in, lim, g),
			.backing = (enum s2_backing)(take(in, 1) % 3),
			.pa = s2_pa(RAM_PA + garbage_addr(in, UINT64_C(1) << 30, g)),
			.host_type = (enum s2_hostmem)(take(in, 1) % 6),
			.backing_page_size =
				take(in, 1) & 1 ? 0 : UINT64_C(1) << (take(in, 1) % 40),
			.backing_tags = take(in, 1) & 1,
			.flags = take(in, 1) & 0xf,
		};

		step_name = "vm_slot_add";
		ret = s2_vm_slot_add(vm, take(in, 1) % 16 ? &d : NULL);
		slots_same = ret != 0;
		may_change = false; /* adding a slot maps nothing */
		break;
	}
	case 2:
		step_name = "vm_slot_delete";
		ret = s2_vm_slot_delete(vm, id);
		slots_same = ret != 0;
		break;
	case 3:
		step_name = "vm_slot_move";
		ret = s2_vm_slot_move(vm, id, s2_ipa(garbage_addr(in, lim, g)));
		slots_same = true;
		break;
	case 4:
		step_name = "vm_slot_set_flags";
		ret = s2_vm_slot_set_flags(vm, id, take(in, 1) & 0xf);
		slots_same = true;
		break;
	case 5:
	case 6:
	case 7: {
		const struct s2_memslot *s =
			vm->nr_slots ? &vm->slots[take(in, 1) % vm->nr_slots] : NULL;
		uint64_t ipa =
			s && (take(in, 1) & 3) ?
				s2_ipa_val(s->d.ipa) + take(in, 4) % (s->d.size ? s->d.size : 1) :
				garbage_addr(in, lim, g);
		uint64_t hpfar = take(in, 1) % 8 ? (ipa >> 12) << 4 : take(in, 8);

		step_name = "vm_handle_abort";
		ret = s2_vm_handle_abort(vcpu, garbage_esr(in), take(in, 8), hpfar, &res);
		if (ret == 0)
			CHECK(strcmp(s2_abort_action_name(res.action), "?"));
		slots_same = true;
		break;
	}
	case 8:
		step_name = "vm_dirty_log";
		switch (take(in, 1) % 3) {
		case 0:
			ret = s2_vm_dirty_log_enable(vm, id, take(in, 1) & 1);
			if (ret == S2_ENOMEM)
				may_change = true;
			break;
		case 1:
			ret = s2_vm_dirty_log_get(vm, id, take(in, 1) & 1 ? NULL : bitmap,
						  (size_t)take(in, 1) % 10,
						  take(in, 1) & 1 ? NULL : &u64);
			break;
		default:
			ret = s2_vm_dirty_log_disable(vm, id);
			break;
		}
		slots_same = true;
		break;
	case 9:
		step_name = "vm_age_host_range";
		ret = s2_vm_age_host_range(vm, s2_pa(RAM_PA + garbage_addr(in, 1ull << 30, g)),
					   garbage_size(in, 1ull << 30, g), take(in, 1) & 1,
					   take(in, 1) % 8 ? &u64 : NULL);
		slots_same = true;
		break;
	case 10: {
		uint64_t pa = take(in, 1) & 1 ? RAM_PA + garbage_addr(in, 1ull << 30, g) :
						garbage_addr(in, 0, g);

		step_name = "vm_invalidate_host_range";
		ret = s2_vm_invalidate_host_range(vm, s2_pa(pa), garbage_size(in, 1ull << 30, g),
						  take(in, 1) & 1 ? &u64 : NULL);
		if (ret == S2_EBUSY)
			may_change = true; /* partial by contract */
		slots_same = true;
		break;
	}
	case 11:
		step_name = "vm_slot_lock";
		ret = take(in, 1) & 1 ? s2_vm_slot_lock(vm, id, take(in, 1) & 1) :
					s2_vm_slot_unlock(vm, id);
		slots_same = true;
		break;
	case 12:
		step_name = "vm_vcpu_enter";
		ret = s2_vm_vcpu_enter(vcpu, take(in, 1) & 1 ? NULL : &entry);
		CHECK(s2_vm_vttbr(vm, &u64) == 0 && u64 != 0);
		(void)s2_vm_slot_at(vm, s2_ipa(garbage_addr(in, lim, g)));
		(void)s2_vm_slot_find(vm, id);
		slots_same = true;
		break;
	default:
		step_name = "null vm calls";
		CHECK(s2_vm_handle_abort(NULL, garbage_esr(in), 0, 0, &res) == S2_EINVAL);
		CHECK(s2_vm_handle_abort(vcpu, garbage_esr(in), 0, 0, NULL) == S2_EINVAL);
		CHECK(s2_vm_slot_add(NULL, NULL) == S2_EINVAL);
		CHECK(s2_vm_vttbr(NULL, &u64) == S2_EINVAL);
		CHECK(s2_vm_vttbr(vm, NULL) == S2_EINVAL);
		CHECK(s2_vm_slot_find(NULL, id) == NULL);
		CHECK(s2_vm_age_host_range(NULL, s2_pa(0), g, false, &u64) == S2_EINVAL);
		CHECK(s2_vm_invalidate_host_range(NULL, s2_pa(0), g, NULL) == S2_EINVAL);
		may_change = false;
		slots_same = true;
		break;
	}
	trace_step(step_name, op, id, ret);
	CHECK(is_code(ret));
	if (deep || ret)
		table_ok(&vm->pgt);
	if (slots_same)
		CHECK(vm->nr_slots == nr_slots);
	if (deep && (!may_change || unchanged_code(ret)))
		CHECK(table_hash(&vm->pgt) == before);
}

static void fuzz_vm(struct input *in, const struct s2_port *port, struct s2_host_port *hp)
{
	static const unsigned int pas[] = { 32, 36, 40, 42, 44, 48, 52, 41 };
	struct s2_vmid_alloc vmids;
	struct s2_memslot slots[NSLOTS];
	struct s2_caps caps;
	struct s2_vm vm;
	struct s2_vcpu vcpu;
	uint64_t in_use = s2_host_port_stats(hp).pages_in_use;
	struct s2_vm_params p = {
		.caps = &caps,
		.req = { .ipa_bits = 32 + (unsigned int)take(in, 1) % 24,
			 .granule = (enum s2_granule)(take(in, 1) % 4),
			 .vmid_bits = (unsigned int)take(in, 1) % 3 * 8,
			 .flags = take(in, 1) & 0x1f },
		.port = *port,
		.hooks = { .sanitise_tags = nop_sanitise, .load_stage2 = s2_host_port_load_stage2 },
		.vmids = &vmids,
		.slots = slots,
		.max_slots = (unsigned int)take(in, 1) % (NSLOTS + 1),
		.locked_limit = take(in, 1) & 1 ? UINT64_MAX : take(in, 4) << 12,
	};
	int ret;

	step_name = "vm_create";
	if (s2_caps_max(pas[take(in, 1) % 8], &caps))
		CHECK(s2_caps_max(40, &caps) == 0);
	CHECK(s2_vmid_alloc_init(&vmids, take(in, 1) & 1 ? 8 : 16) == 0);
	ret = s2_vm_init(&vm, &p);
	CHECK(is_code(ret));
	if (ret) {
		CHECK(s2_host_port_stats(hp).pages_in_use == in_use);
		return;
	}
	CHECK(s2_vcpu_init(&vcpu, &vm, 0) == 0);
	for (unsigned int i = 0; i < MAX_STEPS && in->n; i++)
		fuzz_vm_step(in, &vm, &vcpu);
	step_name = "vm_destroy";
	table_ok(&vm.pgt);
	s2_vcpu_destroy(&vcpu);
	s2_vm_destroy(&vm);
	CHECK(s2_host_port_stats(hp).pages_in_use == in_use);
}

/* ---- ownership ------------------------------------------------------------------------------ */

#define OWN_RAM_PA UINT64_C(0x100000000)
#define OWN_PAGES 64

static int own_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state st, uint64_t flags)
{
	(void)pa;
	(void)size;
	(void)st;
	(void)flags;
	return ctx && (*(uint8_t *)ctx & 1) ? S2_ENOMEM : 0;
}

static void own_unmap(void *ctx, s2_pa_t pa, uint64_t size)
{
	(void)ctx;
	(void)pa;
	(void)size;
}

static void own_scrub(void *ctx, s2_pa_t pa, uint64_t size)
{
	(void)ctx;
	(void)pa;
	(void)size;
}

static void fuzz_owner(struct input *in, const struct s2_port *port, struct s2_host_port *hp)
{
	static struct s2_page_meta meta[OWN_PAGES];
	struct s2_owner_ram ram[1] = { { .base = s2_pa(OWN_RAM_PA), .size = OWN_PAGES * 4096 } };
	struct s2_caps caps;
	struct s2_config hcfg, gcfg;
	struct s2_config_req hreq = { .ipa_bits = 40, .granule = S2_GRANULE_4K };
	struct s2_config_req greq = { .ipa_bits = 36, .granule = S2_GRANULE_4K };
	uint8_t fail_map = 0;
	struct s2_owner_params p = { .host_cfg = &hcfg,
				     .port = *port,
				     .ram = ram,
				     .nr_ram = 1,
				     .meta = meta,
				     .nr_meta = OWN_PAGES,
				     .hyp = { own_map, own_unmap, &fail_map },
				     .host_stage2 = { .load = s2_host_port_load_stage2,
						      .put = s2_host_port_put_stage2 } };
	uint64_t in_use = s2_host_port_stats(hp).pages_in_use;
	struct s2_owner o;
	struct s2_owner_guest g;
	struct s2_pgtable gpt;
	uint8_t gid = (uint8_t)take(in, 1);
	int ret;

	step_name = "owner_init";
	memset(meta, 0, sizeof(meta));
	CHECK(s2_caps_max(48, &caps) == 0);
	CHECK(s2_config_init(&hcfg, &caps, &hreq) == 0);
	CHECK(s2_config_init(&gcfg, &caps, &greq) == 0);
	CHECK(s2_owner_init(&o, &p) == 0);
	CHECK(s2_pgtable_init(&gpt, &gcfg, port, NULL) == 0);
	ret = s2_owner_guest_init(&g, &gpt, gid, take(in, 1) & 1);
	CHECK(ret == 0 || ret == S2_EINVAL);
	if (ret)
		CHECK(s2_owner_guest_init(&g, &gpt, 9, take(in, 1) & 1) == 0);

	for (unsigned int i = 0; i < MAX_STEPS && in->n; i++) {
		uint64_t pa = take(in, 1) & 3 ?
				      OWN_RAM_PA + garbage_addr(in, OWN_PAGES * 4096, 4096) :
				      garbage_addr(in, 1ull << 40, 4096);
		uint64_t ipa = garbage_addr(in, 1ull << 36, 4096);
		uint64_t size = take(in, 1) & 3 ? 4096 * (1 + take(in, 1) % 4) :
						  garbage_size(in, 1ull << 36, 4096);
		bool deep = take(in, 1) % 4 == 0;
		uint64_t hb = deep ? table_hash(&o.host) : 0, gb = deep ? table_hash(&gpt) : 0;

		enum s2_host_abort_action act;
		struct s2_page_info info;
		enum s2_page_state st;
		bool may_change = true;
		s2_pa_t out;

		fail_map = (uint8_t)(take(in, 1) % 16 == 0);
		switch (take(in, 1) % 17) {
		case 0:
			step_name = "host_handle_fault";
			ret = s2_owner_host_handle_fault(&o, s2_pa(pa), &act);
			break;
		case 1:
			step_name = "host_handle_abort";
			ret = s2_owner_host_handle_abort(&o, garbage_esr(in), take(in, 8),
							 (pa >> 12) << 4, &act);
			break;
		case 2:
			step_name = "share_hyp";
			ret = s2_owner_host_share_hyp(&o, s2_pa(pa), size);
			break;
		case 3:
			step_name = "unshare_hyp";
			ret = s2_owner_host_unshare_hyp(&o, s2_pa(pa), size);
			break;
		case 4:
			step_name = "donate_hyp";
			ret = s2_owner_host_donate_hyp(&o, s2_pa(pa), size);
			break;
		case 5:
			step_name = "donate_hyp_host";
			ret = s2_owner_hyp_donate_host(&o, s2_pa(pa), size);
			break;
		case 6:
			step_name = "share_guest";
			ret = s2_owner_host_share_guest(&o, &g, s2_ipa(ipa), size, s2_pa(pa),
							garbage_prot(in));
			break;
		case 7:
			step_name = "unshare_guest";
			ret = s2_owner_host_unshare_guest(&o, &g, s2_ipa(ipa), size);
			break;
		case 8:
			step_name = "donate_guest";
			ret = s2_owner_host_donate_guest(&o, &g, s2_ipa(ipa), size, s2_pa(pa));
			break;
		case 9:
			step_name = "guest_share_host";
			ret = s2_owner_guest_share_host(&o, &g, s2_ipa(ipa), size);
			break;
		case 10:
			step_name = "guest_unshare_host";
			ret = s2_owner_guest_unshare_host(&o, &g, s2_ipa(ipa), size);
			break;
		case 11:
			step_name = "owner queries";
			ret = s2_owner_page_info(&o, s2_pa(pa), &info);
			CHECK(is_code(ret));
			ret = s2_owner_guest_page(&g, s2_ipa(ipa), &st,
						  take(in, 1) & 1 ? NULL : &out);
			may_change = false;
			break;
		case 12:
			step_name = "null owner calls";
			CHECK(s2_owner_host_share_guest(NULL, &g, s2_ipa(ipa), size, s2_pa(pa),
							S2_PROT_RWX) == S2_EINVAL);
			CHECK(s2_owner_host_share_guest(&o, NULL, s2_ipa(ipa), size, s2_pa(pa),
							S2_PROT_RWX) == S2_EINVAL);
			CHECK(s2_owner_hyp_pin_shared(NULL, s2_pa(pa), size) == S2_EINVAL);
			CHECK(s2_owner_hyp_unpin_shared(NULL, s2_pa(pa), size) == S2_EINVAL);
			CHECK(s2_owner_host_set_prot_guest(NULL, &g, s2_ipa(ipa), size,
							   S2_PROT_R) == S2_EINVAL);
			CHECK(s2_owner_host_set_prot_guest(&o, NULL, s2_ipa(ipa), size,
							   S2_PROT_R) == S2_EINVAL);
			CHECK(s2_owner_host_handle_fault(&o, s2_pa(pa), NULL) == S2_EINVAL);
			CHECK(s2_owner_page_info(&o, s2_pa(pa), NULL) == S2_EINVAL);
			CHECK(s2_owner_guest_destroy(NULL, &g, own_scrub, NULL) == S2_EINVAL);
			may_change = false;
			break;
		case 13:
			step_name = "pin_hyp";
			ret = s2_owner_hyp_pin_shared(&o, s2_pa(pa), size);
			break;
		case 14:
			step_name = "unpin_hyp";
			ret = s2_owner_hyp_unpin_shared(&o, s2_pa(pa), size);
			break;
		case 15:
			step_name = "set_prot_guest";
			ret = s2_owner_host_set_prot_guest(&o, &g, s2_ipa(ipa), size,
							   garbage_prot(in));
			break;
		default:
			step_name = "engine on the guest stage-2";
			ret = s2_pgtable_lookup(&gpt, s2_ipa(ipa), NULL);
			CHECK(ret == S2_EINVAL);
			may_change = false;
			break;
		}
		trace_step(step_name, pa, size, ret);
		CHECK(is_code(ret));
		if (deep || ret) {
			table_ok(&o.host);
			table_ok(&gpt);
		}
		if (deep && (!may_change || unchanged_code(ret))) {
			CHECK(table_hash(&o.host) == hb);
			CHECK(table_hash(&gpt) == gb);
		}
	}
	step_name = "owner_guest_teardown";
	fail_map = 0;
	for (unsigned int tries = 0; tries < 100; tries++) {
		ret = s2_owner_guest_destroy(&o, &g, own_scrub, NULL);
		if (ret != S2_ENOMEM)
			break;
	}
	CHECK(ret == 0);
	table_ok(&o.host);
	s2_pgtable_destroy(&gpt);
	s2_owner_destroy(&o);
	CHECK(s2_host_port_stats(hp).pages_in_use == in_use);
}

/* ---- entry ------------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct s2_host_port_opts ho = { .pa_base = UINT64_C(0x40000000),
					.arena_bytes = 16 << 20,
					.log_capacity = 0 };
	struct s2_host_port *hp;
	struct s2_port port;
	unsigned int what = (unsigned int)take(&in, 1);

	trace = getenv("FUZZ_API_TRACE") != NULL;
	if (s2_host_port_create(&ho, &hp))
		abort();
	port = s2_host_port_port(hp);
	fuzz_arch(&in);
	fuzz_memtype(&in);
	switch (what % 3) {
	case 0: {
		static const unsigned int pas[] = { 32, 36, 40, 42, 44, 48, 52 };
		struct s2_config_req req = { .ipa_bits = 32 + (unsigned int)take(&in, 1) % 21,
					     .granule = (enum s2_granule)(take(&in, 1) % 3),
					     .flags = take(&in, 1) & 0xf };
		struct s2_page_cache cache = { 0 };
		struct s2_pgtable pgt;
		struct s2_config cfg;
		struct s2_caps caps;

		step_name = "pgtable_init";
		CHECK(s2_caps_max(pas[take(&in, 1) % 7], &caps) == 0);
		if (s2_config_init(&cfg, &caps, &req)) {
			req = (struct s2_config_req){ .ipa_bits = 40, .granule = S2_GRANULE_4K };
			CHECK(s2_caps_max(48, &caps) == 0);
			CHECK(s2_config_init(&cfg, &caps, &req) == 0);
		}
		CHECK(s2_pgtable_init(&pgt, &cfg, &port, NULL) == 0);
		for (unsigned int i = 0; i < MAX_STEPS && in.n; i++)
			fuzz_engine_step(&in, &pgt, &port, &cache);
		step_name = "pgtable_destroy";
		table_ok(&pgt);
		s2_page_cache_drain(&cache, &port, UINT64_C(1) << cfg.page_shift);
		s2_pgtable_destroy(&pgt);
		CHECK(s2_host_port_stats(hp).pages_in_use == 0);
		break;
	}
	case 1:
		fuzz_vm(&in, &port, hp);
		break;
	default:
		fuzz_owner(&in, &port, hp);
		break;
	}
	s2_host_port_destroy(hp);
	return 0;
}
