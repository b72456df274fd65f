// SPDX-License-Identifier: MIT
/*
 * sim_vm.c - the VM steps of a scenario: host, vm, memslots (slot, slot-delete, slot-move,
 * slot-flags, lock, unlock), vCPU entry, dirty logging, aging, invalidation and dump.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "names.h"

/* ---- host, VMs ---------------------------------------------------------------------------- */

static void sim_sanitise(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct sim *s = ctx;

	(void)pa;
	s->tags_bytes += size;
}

static uint16_t sim_vmid_of(const struct s2_pgtable *pgt)
{
	const struct s2_vm *vm = pgt->cookie;

	return vm ? vm->vmid : 0;
}

int sim_need_host(struct sim *s)
{
	struct s2_host_port_opts o = { .pa_base = SIM_ARENA_PA,
				       .arena_bytes = SIM_ARENA_BYTES,
				       .log_capacity = 0 };
	int ret;

	if (s->hp)
		return 0;
	if (!s->host_set && s2_caps_max(48, &s->caps))
		return sim_syntax(s, "no default host");
	s->host_set = true;
	ret = s2_host_port_create(&o, &s->hp);
	if (ret)
		return sim_syntax(s, "cannot create the host port: %s", s2_errname(ret));
	s2_tlb_init(&s->tlb, s->tlb_entries, SIM_TLB_ENTRIES);
	s2_host_port_attach_tlb(s->hp, &s->tlb, sim_vmid_of, 0);
	ret = s2_vmid_alloc_init(&s->vmids, s->caps.vmid_bits);
	if (ret)
		return sim_syntax(s, "VMID allocator: %s", s2_errname(ret));
	s->vmids_ready = true;
	return 0;
}

int sim_step_host(struct sim *s, struct sim_toks *t)
{
	static const char *const regs[] = { "mmfr0", "mmfr1", "mmfr2", "pfr1", "ctr" };
	uint64_t rv[5] = { 0 }, v;
	bool given, any_reg = false, b;
	int ret;

	if (s->host_set || s->nr_vms)
		return sim_syntax(s, s->hp && !s->nr_vms && s->own ?
					     "'host' must come before 'pkvm' (which starts the "
					     "default host)" :
					     "'host' must come once, before the first 'vm'");
	for (int i = 0; i < 5; i++) {
		ret = sim_opt_num(s, t, 1, regs[i], &rv[i], &given);
		if (ret)
			return ret;
		any_reg |= given;
	}
	if (any_reg) {
		struct s2_idregs r = { rv[0], rv[1], rv[2], rv[3], rv[4] };

		if (s2_caps_from_idregs(&r, &s->caps))
			return sim_syntax(s, "the ID registers hold a reserved PARange");
	} else if (s2_caps_max(48, &s->caps)) {
		return sim_syntax(s, "no default host");
	}
	if ((ret = sim_opt_num(s, t, 1, "pa-bits", &v, &given)))
		return ret;
	if (given) {
		if (v > 52 || s2_bits_to_parange((unsigned int)v) < 0)
			return sim_syntax(s, "pa-bits %" PRIu64 " is not a PARange size", v);
		if (!any_reg) {
			s2_caps_max((unsigned int)v, &s->caps);
		} else {
			s->caps.pa_bits = (unsigned int)v;
		}
	}
	if ((ret = sim_opt_num(s, t, 1, "hafdbs", &v, &given)))
		return ret;
	if (given) {
		if (v > 2)
			return sim_syntax(s, "hafdbs is 0, 1 or 2");
		s->caps.hafdbs = (unsigned int)v;
	}
	if ((ret = sim_opt_range(s, t, 1, "mte", 0, 3, &v, &given)))
		return ret;
	if (given)
		s->caps.mte = (unsigned int)v;
	if ((ret = sim_opt_num(s, t, 1, "vmid-bits", &v, &given)))
		return ret;
	if (given) {
		if (v != 8 && v != 16)
			return sim_syntax(s, "vmid-bits is 8 or 16");
		s->caps.vmid_bits = (unsigned int)v;
	}
	if ((ret = sim_opt_range(s, t, 1, "bbm", 0, 2, &v, &given)))
		return ret;
	if (given)
		s->caps.bbm = (unsigned int)v;
	b = s->caps.fwb;
	if ((ret = sim_opt_flag(s, t, 1, "fwb", &b)))
		return ret;
	s->caps.fwb = b;
	b = s->caps.xnx;
	if ((ret = sim_opt_flag(s, t, 1, "xnx", &b)))
		return ret;
	s->caps.xnx = b;
	b = s->caps.dic;
	if ((ret = sim_opt_flag(s, t, 1, "dic", &b)))
		return ret;
	s->caps.dic = b;
	b = s->caps.idc;
	if ((ret = sim_opt_flag(s, t, 1, "idc", &b)))
		return ret;
	s->caps.idc = b;
	if ((ret = sim_leftover(s, t, 1)))
		return ret;
	s->host_set = true;
	if ((ret = sim_need_host(s)))
		return ret;
	sim_text(s,
		 "host: %u-bit PA, granules 4k:%s 16k:%s 64k:%s, fwb %s, hafdbs %u, xnx %s, "
		 "mte %u, dic %s, idc %s, %u-bit VMIDs\n",
		 s->caps.pa_bits, s->caps.gran[0] ? "yes" : "no", s->caps.gran[1] ? "yes" : "no",
		 s->caps.gran[2] ? "yes" : "no", s->caps.fwb ? "yes" : "no", s->caps.hafdbs,
		 s->caps.xnx ? "yes" : "no", s->caps.mte, s->caps.dic ? "yes" : "no",
		 s->caps.idc ? "yes" : "no", s->caps.vmid_bits);
	sim_jstep(s, "host");
	if (sim_jsonp(s)) {
		s2_json_u64(&s->j, "pa_bits", s->caps.pa_bits);
		s2_json_bool(&s->j, "fwb", s->caps.fwb);
		s2_json_u64(&s->j, "hafdbs", s->caps.hafdbs);
		s2_json_bool(&s->j, "dic", s->caps.dic);
		s2_json_u64(&s->j, "mte", s->caps.mte);
	}
	sim_jend(s);
	return 0;
}

static struct sim_vm *sim_find_vm(struct sim *s, unsigned int id)
{
	for (unsigned int i = 0; i < s->nr_vms; i++)
		if (s->vms[i]->id == id)
			return s->vms[i];
	return NULL;
}

int sim_step_vm(struct sim *s, struct sim_toks *t)
{
	struct s2_vm_params p = { 0 };
	struct sim_vm *sv;
	uint64_t id, v;
	bool given, b = false;
	const char *g;
	int ret;

	if (t->n < 2)
		return sim_syntax(s, "usage: vm ID [ipa-bits=N] [granule=4k|16k|64k] [fwb] [ha] "
				     "[hd] [mte] [protected] [owner-managed] [locked-limit=SIZE]");
	if ((ret = sim_num(s, "the VM id", t->v[1], &id)))
		return ret;
	if (id > UINT32_MAX)
		return sim_syntax(s, "VM id %" PRIu64 " is too large (0..%" PRIu32 ")", id,
				  UINT32_MAX);
	sv = sim_find_vm(s, (unsigned int)id);
	if (sv) {
		if (t->n > 2)
			return sim_syntax(
				s, "vm %" PRIu64 " exists (give only its id to select it)", id);
		s->cur = sv;
		return 0;
	}
	if (s->nr_vms == SIM_MAX_VMS)
		return sim_syntax(s, "at most %d VMs", SIM_MAX_VMS);
	if ((ret = sim_need_host(s)))
		return ret;
	p.caps = &s->caps;
	p.req.ipa_bits = 40;
	p.req.granule = S2_GRANULE_4K;
	if ((ret = sim_opt_range(s, t, 2, "ipa-bits", 1, 64, &v, &given)))
		return ret;
	if (given)
		p.req.ipa_bits = (unsigned int)v;
	if (sim_opt(t, 2, "granule", &g) && (!g || s2_cli_granule_parse(g, &p.req.granule)))
		return sim_syntax(s, "granule is 4k, 16k or 64k");
	if ((ret = sim_opt_num(s, t, 2, "vmid-bits", &v, &given)))
		return ret;
	if (given && v != 8 && v != 16)
		return sim_syntax(s, "vmid-bits is 8 or 16");
	if (given)
		p.req.vmid_bits = (unsigned int)v;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "fwb", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_FWB : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "ha", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_HA : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "hd", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_HD : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "mte", &b)))
		return ret;
	p.req.flags |= b ? S2_CFG_MTE : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, 2, "protected", &b)))
		return ret;
	{
		/* owner-managed: the VM layer's faults go through the owner (`pkvm` first) */
		bool om = false;

		if ((ret = sim_opt_flag(s, t, 2, "owner-managed", &om)))
			return ret;
		if (om && !s->own)
			return sim_syntax(s, "owner-managed needs 'pkvm' first");
		if (om && (id + 1 > S2_OWNER_GUEST_MAX || id + 1 < S2_OWNER_GUEST_MIN))
			return sim_syntax(s,
					  "owner-managed VMs have ids 1..%u (VM N is owner N + 1)",
					  S2_OWNER_GUEST_MAX - 1);
		if (om) {
			p.owner = s->own;
			p.owner_id = (uint8_t)(id + 1);
			p.flags |= b ? S2_VM_PROTECTED : 0;
			p.hooks.scrub = sim_scrub;
		}
	}
	p.locked_limit = UINT64_C(1) << 30;
	if ((ret = sim_opt_num(s, t, 2, "locked-limit", &v, &given)))
		return ret;
	if (given)
		p.locked_limit = v;
	if ((ret = sim_leftover(s, t, 2)))
		return ret;

	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return sim_syntax(s, "out of memory");
	sv->id = (unsigned int)id;
	sv->protected_vm = b;
	sv->owner_managed = p.owner != NULL;
	sv->og_ready = sv->owner_managed; /* its guest is the VM layer's vm.og */
	p.port = s2_host_port_port(s->hp);
	p.hooks.sanitise_tags = sim_sanitise;
	p.hooks.load_stage2 = s2_host_port_load_stage2;
	p.hooks.ctx = s;
	p.vmids = &s->vmids;
	p.slots = sv->slots;
	p.max_slots = SIM_MAX_SLOTS;
	ret = s2_vm_init(&sv->vm, &p);
	if (ret) {
		free(sv);
		return sim_syntax(s, "vm %" PRIu64 " refused: %s (%s)", id, s2_errname(ret),
				  s2_strerror(ret));
	}
	if (s2_vcpu_init(&sv->vcpu, &sv->vm, 0)) {
		s2_vm_destroy(&sv->vm);
		free(sv);
		return sim_syntax(s, "vcpu init failed");
	}
	s->vms[s->nr_vms++] = sv;
	s->cur = sv;
	{
		const struct s2_config *c = &sv->vm.pgt.cfg;

		sim_text(s,
			 "vm%u: %u-bit IPA, %s granule, start level %d (%u root tables), vtcr "
			 "0x%" PRIx64 ", fwb %s%s%s%s\n",
			 sv->id, c->ipa_bits, s2_granule_name(c->granule), c->start_level,
			 c->root_tables, c->vtcr, c->fwb ? "on" : "off", c->ha ? ", ha" : "",
			 c->hd ? ", hd" : "", c->mte ? ", mte" : "");
		sim_jstep(s, "vm");
		if (sim_jsonp(s)) {
			s2_json_u64(&s->j, "ipa_bits", c->ipa_bits);
			s2_json_str(&s->j, "granule", s2_granule_name(c->granule));
			s2_json_int(&s->j, "start_level", c->start_level);
			s2_json_hex(&s->j, "vtcr", c->vtcr);
			s2_json_bool(&s->j, "fwb", c->fwb);
		}
		sim_jend(s);
	}
	return 0;
}

int sim_need_vm(struct sim *s)
{
	if (!s->cur)
		return sim_syntax(s, "no VM yet (add a 'vm' line first)");
	return 0;
}

/* ---- memslots ----------------------------------------------------------------------------- */

static int sim_slot_flags(struct sim *s, struct sim_toks *t, int from, uint64_t *flags)
{
	bool b;
	int ret;

	*flags = 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, from, "read-only", &b)))
		return ret;
	*flags |= b ? S2_SLOT_READONLY : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, from, "dirty-log", &b)))
		return ret;
	*flags |= b ? S2_SLOT_DIRTY_LOG : 0;
	b = false;
	if ((ret = sim_opt_flag(s, t, from, "allow-any-uncached", &b)))
		return ret;
	*flags |= b ? S2_SLOT_ALLOW_ANY_UNCACHED : 0;
	return 0;
}

static int sim_slot_id(struct sim *s, struct sim_toks *t, uint32_t *id)
{
	uint64_t v;
	int ret;

	if (t->n < 2)
		return sim_syntax(s, "'%s' needs a slot id", t->v[0]);
	if ((ret = sim_num(s, "the slot id", t->v[1], &v)))
		return ret;
	if (v > UINT32_MAX)
		return sim_syntax(s, "slot id too large");
	*id = (uint32_t)v;
	return 0;
}

int sim_step_slot(struct sim *s, struct sim_toks *t)
{
	struct s2_memslot_desc d = { 0 };
	uint64_t v;
	bool given, ram = false, mmio = false, untagged = false;
	const char *str;
	int ret;
	char sz[24], pg[24];

	if ((ret = sim_need_vm(s)) || (ret = sim_slot_id(s, t, &d.id)))
		return ret;
	if ((ret = sim_opt_num(s, t, 2, "ipa", &v, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "slot needs ipa=ADDR");
	d.ipa = s2_ipa(v);
	if ((ret = sim_opt_num(s, t, 2, "size", &d.size, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "slot needs size=SIZE");
	if ((ret = sim_opt_num(s, t, 2, "pa", &v, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "slot needs pa=ADDR (the host physical base of the backing)");
	d.pa = s2_pa(v);
	if ((ret = sim_range(s, "ipa", s2_ipa_val(d.ipa), d.size)) ||
	    (ret = sim_range(s, "pa", v, d.size)))
		return ret;
	if (v < SIM_ARENA_PA + SIM_ARENA_BYTES && v + d.size > SIM_ARENA_PA)
		return sim_syntax(s,
				  "the backing overlaps the simulator's table arena "
				  "[0x%" PRIx64 ", 0x%" PRIx64 ")",
				  SIM_ARENA_PA, SIM_ARENA_PA + SIM_ARENA_BYTES);
	ram = sim_opt(t, 2, "ram", NULL);
	mmio = sim_opt(t, 2, "mmio", NULL);
	if (ram == mmio)
		return sim_syntax(s, "slot needs exactly one of 'ram' and 'mmio'");
	d.backing = ram ? S2_BACKING_RAM : S2_BACKING_MMIO;
	d.host_type = ram ? S2_HOSTMEM_NORMAL : S2_HOSTMEM_DEVICE_nGnRE;
	if (sim_opt(t, 2, "host", &str) && (!str || s2_cli_hostmem_parse(str, &d.host_type)))
		return sim_syntax(s, "host is normal, tagged, nc, device-ngnre or device-ngnrne");
	if ((ret = sim_opt_num(s, t, 2, "page", &d.backing_page_size, &given)))
		return ret;
	if ((ret = sim_opt_flag(s, t, 2, "untagged", &untagged)))
		return ret;
	d.backing_tags = !untagged;
	if ((ret = sim_slot_flags(s, t, 2, &d.flags)) || (ret = sim_leftover(s, t, 2)))
		return ret;
	sim_jstep(s, "slot");
	ret = s2_vm_slot_add(&s->cur->vm, &d);
	if (ret) {
		char what[48];

		snprintf(what, sizeof(what), "vm%u slot %u", s->cur->id, d.id);
		sim_lib_error(s, what, ret);
	} else {
		sim_text(s,
			 "vm%u slot %u: ipa 0x%" PRIx64 " size %s %s pa 0x%" PRIx64
			 " host %s page %s%s%s%s\n",
			 s->cur->id, d.id, s2_ipa_val(d.ipa), sim_size_str(d.size, sz, sizeof(sz)),
			 s2_backing_name(d.backing), s2_pa_val(d.pa), s2_hostmem_name(d.host_type),
			 d.backing_page_size ? sim_size_str(d.backing_page_size, pg, sizeof(pg)) :
					       "granule",
			 (d.flags & S2_SLOT_READONLY) ? " read-only" : "",
			 (d.flags & S2_SLOT_DIRTY_LOG) ? " dirty-log" : "",
			 (d.flags & S2_SLOT_ALLOW_ANY_UNCACHED) ? " allow-any-uncached" : "");
	}
	sim_jend(s);
	return 0;
}

int sim_step_slot_op(struct sim *s, struct sim_toks *t)
{
	const char *op = t->v[0];
	uint32_t id = 0;
	uint64_t v;
	bool given;
	int ret;

	if ((ret = sim_need_vm(s)) || (ret = sim_slot_id(s, t, &id)))
		return ret;
	sim_jstep(s, op);
	if (!strcmp(op, "slot-delete")) {
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_delete(&s->cur->vm, id);
	} else if (!strcmp(op, "slot-move")) {
		if ((ret = sim_opt_num(s, t, 2, "ipa", &v, &given)))
			return ret;
		if (!given)
			return sim_syntax(s, "slot-move needs ipa=ADDR");
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_move(&s->cur->vm, id, s2_ipa(v));
	} else if (!strcmp(op, "slot-flags")) {
		if ((ret = sim_slot_flags(s, t, 2, &v)) || (ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_set_flags(&s->cur->vm, id, v);
	} else if (!strcmp(op, "lock")) {
		bool ro = t->n > 2 && !strcmp(t->v[2], "ro");
		bool rw = t->n > 2 && !strcmp(t->v[2], "rw");

		if (t->n != 3 || (!ro && !rw))
			return sim_syntax(s, "usage: lock ID ro|rw");
		ret = s2_vm_slot_lock(&s->cur->vm, id, rw);
	} else { /* unlock */
		if ((ret = sim_leftover(s, t, 2)))
			return ret;
		ret = s2_vm_slot_unlock(&s->cur->vm, id);
	}
	if (ret) {
		char what[48];

		snprintf(what, sizeof(what), "vm%u %s %u", s->cur->id, op, id);
		sim_lib_error(s, what, ret);
	} else {
		sim_text(s, "vm%u %s %u%s%s: done\n", s->cur->id, op, id, t->n > 2 ? " " : "",
			 t->n > 2 ? t->v[2] : "");
	}
	sim_jend(s);
	return 0;
}

/* ---- vCPU entry --------------------------------------------------------------------------- */

void sim_enter(struct sim *s, struct sim_vm *sv, bool implicit)
{
	struct s2_vcpu_entry e;
	int ret = s2_vm_vcpu_enter(&sv->vcpu, &e);

	sim_jstep(s, "enter");
	if (ret) {
		sim_lib_error(s, "enter", ret);
		sim_jend(s);
		return;
	}
	sv->entered = true;
	s->cmo = e.cmo_bytes;
	s->have_cmo = true;
	sim_text(s,
		 "vm%u enter%s: vtcr 0x%" PRIx64 " vttbr 0x%" PRIx64 " hcr +0x%" PRIx64
		 " -0x%" PRIx64 ", deferred cmo %" PRIu64 " bytes%s%s\n",
		 sv->id, implicit ? " (implicit, first access)" : "", e.vtcr, e.vttbr, e.hcr_set,
		 e.hcr_clear, e.cmo_bytes, e.vmid_changed ? ", new vmid" : "",
		 e.rollover ? ", vmid rollover" : "");
	if (sim_jsonp(s)) {
		s2_json_bool(&s->j, "implicit", implicit);
		s2_json_hex(&s->j, "vtcr", e.vtcr);
		s2_json_hex(&s->j, "vttbr", e.vttbr);
		s2_json_hex(&s->j, "hcr_set", e.hcr_set);
		s2_json_hex(&s->j, "hcr_clear", e.hcr_clear);
		s2_json_u64(&s->j, "cmo_bytes", e.cmo_bytes);
		s2_json_bool(&s->j, "vmid_changed", e.vmid_changed);
	}
	sim_jend(s);
}

/* ---- dirty logging, aging, invalidation --------------------------------------------------- */

int sim_step_dirty(struct sim *s, struct sim_toks *t)
{
	const struct s2_memslot *slot;
	uint32_t id = 0;
	int ret;
	char what[48];

	if ((ret = sim_need_vm(s)) || (ret = sim_slot_id(s, t, &id)))
		return ret;
	if (t->n < 3)
		return sim_syntax(s, "usage: dirty ID on [dbm] | off | harvest");
	snprintf(what, sizeof(what), "vm%u dirty %u %s", s->cur->id, id, t->v[2]);
	sim_jstep(s, "dirty");
	if (sim_jsonp(s))
		s2_json_str(&s->j, "op", t->v[2]);
	if (!strcmp(t->v[2], "on")) {
		bool dbm = false;

		if ((ret = sim_opt_flag(s, t, 3, "dbm", &dbm)) || (ret = sim_leftover(s, t, 3)))
			return ret;
		ret = s2_vm_dirty_log_enable(&s->cur->vm, id, dbm);
		if (!ret)
			sim_text(s, "%s%s: logging\n", what, dbm ? " dbm" : "");
	} else if (!strcmp(t->v[2], "off")) {
		if ((ret = sim_leftover(s, t, 3)))
			return ret;
		ret = s2_vm_dirty_log_disable(&s->cur->vm, id);
		if (!ret)
			sim_text(s, "%s: logging stopped\n", what);
	} else if (!strcmp(t->v[2], "harvest")) {
		uint64_t *bm = NULL, nr = 0, g = s2_granule_size(s->cur->vm.pgt.cfg.granule);
		size_t words = 1;

		if ((ret = sim_leftover(s, t, 3)))
			return ret;
		slot = s2_vm_slot_find(&s->cur->vm, id);
		if (slot)
			words = (size_t)((slot->d.size / g + 63) / 64);
		bm = calloc(words ? words : 1, sizeof(*bm));
		if (!bm)
			return sim_syntax(s, "out of memory");
		ret = s2_vm_dirty_log_get(&s->cur->vm, id, bm, words, &nr);
		if (!ret) {
			uint64_t base = s2_ipa_val(slot->d.ipa);

			free(s->dirty);
			s->dirty = calloc(nr ? nr : 1, sizeof(*s->dirty));
			s->nr_dirty = 0;
			s->have_dirty = s->dirty != NULL;
			if (!s->dirty) {
				free(bm);
				return sim_syntax(s, "out of memory");
			}
			/* Word by word (a big slot is mostly clean), never more than the @nr pages
			 * the library reported. */
			for (size_t w = 0; w < words; w++)
				for (unsigned int b = 0; bm[w] && b < 64 && s->nr_dirty < nr; b++)
					if (bm[w] >> b & 1)
						s->dirty[s->nr_dirty++] = base + (w * 64 + b) * g;
			if (s->nr_dirty != nr) {
				free(bm);
				return sim_expect_fail(s,
						       "the harvest reported %" PRIu64
						       " dirty pages, its bitmap has %zu",
						       nr, s->nr_dirty);
			}
			sim_text(s, "%s: %" PRIu64 " dirty page%s", what, nr, nr == 1 ? "" : "s");
			if (sim_jsonp(s))
				s2_json_array_begin(&s->j, "pages");
			/* Print runs of consecutive pages as FIRST..LAST. */
			for (size_t i = 0; i < s->nr_dirty;) {
				size_t k = i;

				while (k + 1 < s->nr_dirty && s->dirty[k + 1] == s->dirty[k] + g)
					k++;
				if (k == i)
					sim_text(s, " 0x%" PRIx64, s->dirty[i]);
				else
					sim_text(s, " 0x%" PRIx64 "..0x%" PRIx64, s->dirty[i],
						 s->dirty[k]);
				for (size_t m = i; m <= k && sim_jsonp(s); m++)
					s2_json_hex(&s->j, NULL, s->dirty[m]);
				i = k + 1;
			}
			if (sim_jsonp(s))
				s2_json_array_end(&s->j);
			sim_text(s, "\n");
		}
		free(bm);
	} else {
		return sim_syntax(s, "usage: dirty ID on [dbm] | off | harvest");
	}
	if (ret)
		sim_lib_error(s, what, ret);
	sim_jend(s);
	return 0;
}

static int sim_pa_size(struct sim *s, struct sim_toks *t, uint64_t *pa, uint64_t *size)
{
	int ret;

	if (t->n < 3)
		return sim_syntax(s, "usage: %s PA SIZE", t->v[0]);
	if ((ret = sim_num(s, "the host PA", t->v[1], pa)) ||
	    (ret = sim_num(s, "the size", t->v[2], size)) ||
	    (ret = sim_range(s, "host PA", *pa, *size)))
		return ret;
	t->used[1] = t->used[2] = true;
	return 0;
}

int sim_step_age(struct sim *s, struct sim_toks *t)
{
	uint64_t pa, size, young = 0;
	bool keep = false;
	int ret;
	char what[64];

	if ((ret = sim_need_vm(s)) || (ret = sim_pa_size(s, t, &pa, &size)) ||
	    (ret = sim_opt_flag(s, t, 3, "keep", &keep)) || (ret = sim_leftover(s, t, 3)))
		return ret;
	snprintf(what, sizeof(what), "vm%u age 0x%" PRIx64 " 0x%" PRIx64, s->cur->id, pa, size);
	sim_jstep(s, "age");
	ret = s2_vm_age_host_range(&s->cur->vm, s2_pa(pa), size, !keep, &young);
	if (ret) {
		sim_lib_error(s, what, ret);
	} else {
		s->young = young;
		s->have_young = true;
		sim_text(s, "%s%s: %" PRIu64 " young page%s\n", what, keep ? " keep" : "", young,
			 young == 1 ? "" : "s");
		if (sim_jsonp(s))
			s2_json_u64(&s->j, "young", young);
	}
	sim_jend(s);
	return 0;
}

int sim_step_invalidate(struct sim *s, struct sim_toks *t)
{
	uint64_t pa, size, unmapped = 0;
	int ret;
	char what[64];

	if ((ret = sim_need_vm(s)) || (ret = sim_pa_size(s, t, &pa, &size)) ||
	    (ret = sim_leftover(s, t, 3)))
		return ret;
	snprintf(what, sizeof(what), "vm%u invalidate 0x%" PRIx64 " 0x%" PRIx64, s->cur->id, pa,
		 size);
	sim_jstep(s, "invalidate");
	ret = s2_vm_invalidate_host_range(&s->cur->vm, s2_pa(pa), size, &unmapped);
	s->unmapped = unmapped;
	s->have_unmapped = true;
	sim_text(s, "%s: unmapped %" PRIu64 " bytes\n", what, unmapped);
	if (sim_jsonp(s))
		s2_json_u64(&s->j, "unmapped", unmapped);
	if (ret)
		sim_lib_error(s, what, ret);
	sim_jend(s);
	return 0;
}

/* ---- dump --------------------------------------------------------------------------------- */

static int sim_dump_pgt(struct sim *s, const char *name, unsigned int id,
			const struct s2_pgtable *pgt)
{
	struct sim_runs r;
	int ret = sim_collect_runs(pgt, &r);

	if (ret) {
		sim_runs_free(&r);
		return sim_expect_fail(s, "cannot walk %s's tables: %s", name, s2_errname(ret));
	}
	if (sim_jsonp(s)) {
		s2_json_object_begin(&s->j, NULL);
		s2_json_u64(&s->j, "line", s->line);
		s2_json_str(&s->j, "step", "dump");
		s2_json_str(&s->j, "tables", name);
		sim_dump_json(&s->j, id, pgt, &r);
		s2_json_object_end(&s->j);
	} else if (!s->o.quiet) {
		sim_dump_text(s->out, name, pgt, &r);
	}
	sim_runs_free(&r);
	return 0;
}

static int sim_dump_vm(struct sim *s, struct sim_vm *sv)
{
	char name[24];

	snprintf(name, sizeof(name), "vm%u", sv->id);
	return sim_dump_pgt(s, name, sv->id, &sv->vm.pgt);
}

int sim_step_dump(struct sim *s, struct sim_toks *t)
{
	uint64_t v;
	bool given;
	int ret;

	if (t->n == 2 && !strcmp(t->v[1], "host")) {
		if (!s->own)
			return sim_syntax(s, "'dump host' needs 'pkvm' first");
		return sim_dump_pgt(s, "host", 0, &s->own->host);
	}
	if ((ret = sim_need_vm(s)) ||
	    (ret = sim_opt_range(s, t, 1, "vm", 0, UINT32_MAX, &v, &given)) ||
	    (ret = sim_leftover(s, t, 1)))
		return ret;
	if (given) {
		struct sim_vm *sv = sim_find_vm(s, (unsigned int)v);

		if (!sv)
			return sim_syntax(s, "no vm %" PRIu64, v);
		return sim_dump_vm(s, sv);
	}
	return sim_dump_vm(s, s->cur);
}
