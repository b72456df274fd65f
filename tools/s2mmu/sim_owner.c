// SPDX-License-Identifier: MIT
/*
 * sim_owner.c - the ownership steps of a scenario (pKVM): the owner layer over a host
 * stage-2 (pkvm), its transitions, host accesses, and `expect page` / `expect guest-page`.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "names.h"

/* ---- page ownership (pKVM): the owner layer over a host stage-2 ------------------------- */

static int sim_hyp_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state state,
		       uint64_t flags)
{
	struct sim *s = ctx;

	(void)pa;
	(void)state;
	(void)flags;
	s->hyp_mapped += size;
	return 0;
}

static void sim_hyp_unmap(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct sim *s = ctx;

	(void)pa;
	s->hyp_mapped -= size;
}

void sim_scrub(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct sim *s = ctx;

	(void)pa;
	s->scrubbed += size;
}

/* pkvm ram=BASE size=SIZE [granule=G]: page ownership over one RAM range of the host. */
int sim_step_pkvm(struct sim *s, struct sim_toks *t)
{
	struct s2_config_req req = { .granule = S2_GRANULE_4K };
	struct s2_owner_params p = { 0 };
	uint64_t base, size, pages;
	bool given;
	const char *g;
	int ret;

	if (s->own)
		return sim_syntax(s, "'pkvm' comes once");
	if ((ret = sim_need_host(s)))
		return ret;
	if ((ret = sim_opt_num(s, t, 1, "ram", &base, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "usage: pkvm ram=BASE size=SIZE [granule=G]");
	if ((ret = sim_opt_num(s, t, 1, "size", &size, &given)))
		return ret;
	if (!given)
		return sim_syntax(s, "usage: pkvm ram=BASE size=SIZE [granule=G]");
	if (sim_opt(t, 1, "granule", &g) && (!g || s2_cli_granule_parse(g, &req.granule)))
		return sim_syntax(s, "granule is 4k, 16k or 64k");
	if ((ret = sim_leftover(s, t, 1)) || (ret = sim_range(s, "ram", base, size)))
		return ret;
	req.ipa_bits = s->caps.pa_bits;
	ret = s2_config_init(&s->own_cfg, &s->caps, &req);
	if (ret)
		return sim_syntax(s, "host stage-2 config: %s", s2_errname(ret));
	pages = size >> s->own_cfg.page_shift;
	if (!pages || pages > (UINT64_C(1) << 24))
		return sim_syntax(s,
				  "pkvm RAM size 0x%" PRIx64 " is %s (one %s page to 2^24 pages)",
				  size, pages ? "too large" : "less than a page",
				  s2_granule_name(s->own_cfg.granule));
	s->own = calloc(1, sizeof(*s->own));
	s->own_meta = calloc(pages, sizeof(*s->own_meta));
	if (!s->own || !s->own_meta) {
		free(s->own);
		s->own = NULL;
		return sim_syntax(s, "out of memory");
	}
	s->own_ram.base = s2_pa(base);
	s->own_ram.size = size;
	p.host_cfg = &s->own_cfg;
	p.port = s2_host_port_port(s->hp);
	p.cookie = NULL; /* TLBIs of the host stage-2: VMID 0 in the TLB model */
	p.ram = &s->own_ram;
	p.nr_ram = 1;
	p.meta = s->own_meta;
	p.nr_meta = pages;
	p.hyp.map = sim_hyp_map;
	p.hyp.unmap = sim_hyp_unmap;
	p.hyp.ctx = s;
	/* The hosted port's TLBIs name their table: no context to load. */
	p.host_stage2.load = s2_host_port_load_stage2;
	p.host_stage2.put = s2_host_port_put_stage2;
	ret = s2_owner_init(s->own, &p);
	if (ret) {
		free(s->own);
		s->own = NULL;
		return sim_syntax(s, "pkvm refused: %s (%s)", s2_errname(ret), s2_strerror(ret));
	}
	sim_text(s,
		 "pkvm: host stage-2 %u-bit identity map, %s granule; RAM 0x%" PRIx64 "+0x%" PRIx64
		 " host-owned\n",
		 s->own_cfg.ipa_bits, s2_granule_name(s->own_cfg.granule), base, size);
	return 0;
}

static int sim_need_own(struct sim *s)
{
	if (!s->own)
		return sim_syntax(s, "page ownership steps need 'pkvm' first");
	return 0;
}

/* The owner's view of VM @sv: the VM layer's own for an owner-managed VM, else the sim's. */
#define SIM_OG(sv) ((sv)->owner_managed ? &(sv)->vm.og : &(sv)->og)

static int sim_owner_guest(struct sim *s, struct sim_vm **out)
{
	struct sim_vm *sv;
	int ret;

	if ((ret = sim_need_vm(s)))
		return ret;
	sv = s->cur;
	if (!sv->og_ready) {
		/* Owner ids 2..255 are guests: VM N is owner N + 1. 0 is the host's, 1 the
		 * hypervisor's (owner.h). */
		if (sv->id + (uint64_t)1 == S2_OWNER_HYP)
			return sim_syntax(
				s,
				"vm%u cannot take part in page ownership: VM N is owner "
				"N + 1, and owner %u is the hypervisor's (use VM ids 1..%u)",
				sv->id, S2_OWNER_HYP, S2_OWNER_GUEST_MAX - 1);
		if (sv->id + (uint64_t)1 > S2_OWNER_GUEST_MAX)
			return sim_syntax(s,
					  "vm%u cannot take part in page ownership: VM N is owner "
					  "N + 1, and owner ids are 8-bit (0 is the host's, 1 the "
					  "hypervisor's; use VM ids 1..%u)",
					  sv->id, S2_OWNER_GUEST_MAX - 1);
		if (sv->vm.pgt.cfg.granule != s->own_cfg.granule)
			return sim_syntax(s,
					  "vm%u cannot take part in page ownership: its %s granule "
					  "is not the host stage-2's %s",
					  sv->id, s2_granule_name(sv->vm.pgt.cfg.granule),
					  s2_granule_name(s->own_cfg.granule));
		ret = s2_owner_guest_init(&sv->og, &sv->vm.pgt, (uint8_t)(sv->id + 1),
					  sv->protected_vm);
		if (ret)
			return sim_syntax(s, "vm%u cannot take part in page ownership: %s", sv->id,
					  s2_errname(ret));
		sv->og_ready = true;
	}
	*out = sv;
	return 0;
}

/* Transitions: share-hyp|unshare-hyp|donate-hyp|donate-hyp-host|pin-hyp|unpin-hyp PA SIZE;
 * set-prot-guest IPA SIZE PERM;
 * share-guest PA IPA SIZE [PERM] (PERM: letters of "rwx", default rwx);
 * donate-guest PA IPA SIZE; unshare-guest|guest-share-host|guest-unshare-host
 * IPA SIZE; teardown. */
int sim_step_owner(struct sim *s, struct sim_toks *t)
{
	const char *op = t->v[0];
	uint64_t a[3] = { 0 }, prot = S2_PROT_RWX;
	int need, ret;
	struct sim_vm *sv = NULL;
	char what[96];
	bool perm;

	if ((ret = sim_need_own(s)))
		return ret;
	need = (!strcmp(op, "share-guest") || !strcmp(op, "donate-guest")) ? 3 :
	       !strcmp(op, "teardown")					   ? 0 :
									     2;
	perm = (!strcmp(op, "share-guest") && t->n == need + 2) || !strcmp(op, "set-prot-guest");
	if (t->n != need + 1 + perm)
		return sim_syntax(s,
				  !strcmp(op, "set-prot-guest") ?
					  "'%s' takes %d numbers and the permissions" :
					  "'%s' takes %d numbers",
				  op, need);
	for (int i = 0; i < need; i++)
		if ((ret = sim_num(s, op, t->v[i + 1], &a[i])))
			return ret;
	/* The last number is the size; every address before it starts a range of that size. */
	for (int i = 0; i + 1 < need; i++)
		if ((ret = sim_range(s, i ? "IPA" : (need == 3 ? "PA" : "address"), a[i],
				     a[need - 1])))
			return ret;
	if (perm) {
		const char *p = t->v[need + 1];
		prot = 0;
		for (; *p; p++) {
			uint64_t bit = *p == 'r' ? S2_PROT_R :
				       *p == 'w' ? S2_PROT_W :
				       *p == 'x' ? S2_PROT_X :
						   0;
			if (!bit || (prot & bit))
				return sim_syntax(
					s, "'%s': permissions are letters of \"rwx\", not '%s'", op,
					t->v[need + 1]);
			prot |= bit;
		}
	}
	if (strstr(op, "guest") || !strcmp(op, "teardown"))
		if ((ret = sim_owner_guest(s, &sv)))
			return ret;
	snprintf(what, sizeof(what), "%s", op);
	for (int i = 0; i < need; i++)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " 0x%" PRIx64, a[i]);
	if (perm)
		snprintf(what + strlen(what), sizeof(what) - strlen(what), " %.8s", t->v[need + 1]);
	sim_jstep(s, op);
	if (!strcmp(op, "share-hyp"))
		ret = s2_owner_host_share_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "unshare-hyp"))
		ret = s2_owner_host_unshare_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "donate-hyp"))
		ret = s2_owner_host_donate_hyp(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "donate-hyp-host"))
		ret = s2_owner_hyp_donate_host(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "pin-hyp"))
		ret = s2_owner_hyp_pin_shared(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "unpin-hyp"))
		ret = s2_owner_hyp_unpin_shared(s->own, s2_pa(a[0]), a[1]);
	else if (!strcmp(op, "set-prot-guest"))
		ret = s2_owner_host_set_prot_guest(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1], prot);
	else if (!strcmp(op, "share-guest"))
		ret = s2_owner_host_share_guest(s->own, SIM_OG(sv), s2_ipa(a[1]), a[2], s2_pa(a[0]),
						prot);
	else if (!strcmp(op, "donate-guest"))
		ret = s2_owner_host_donate_guest(s->own, SIM_OG(sv), s2_ipa(a[1]), a[2],
						 s2_pa(a[0]));
	else if (!strcmp(op, "unshare-guest"))
		ret = s2_owner_host_unshare_guest(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1]);
	else if (!strcmp(op, "guest-share-host"))
		ret = s2_owner_guest_share_host(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1]);
	else if (!strcmp(op, "guest-unshare-host"))
		ret = s2_owner_guest_unshare_host(s->own, SIM_OG(sv), s2_ipa(a[0]), a[1]);
	else
		ret = s2_owner_guest_destroy(s->own, SIM_OG(sv), sim_scrub, s);
	if (ret)
		sim_lib_error(s, what, ret);
	else if (sv)
		sim_text(s, "vm%u %s: done\n", sv->id, what);
	else
		sim_text(s, "%s: done\n", what);
	sim_jend(s);
	return 0;
}

/* host-access PA [write]: the host touches a physical page through its stage-2 (identity). */
int sim_step_host_access(struct sim *s, struct sim_toks *t)
{
	struct s2_walk_mem mem;
	struct s2_walk_result w;
	struct s2_access acc = { .type = S2_ACCESS_READ };
	enum s2_host_abort_action act = S2_HOST_ABORT_MAPPED;
	uint64_t pa;
	unsigned int faults = 0;
	bool wr = false;
	int ret;

	if ((ret = sim_need_own(s)))
		return ret;
	if (t->n < 2 || (ret = sim_num(s, "the PA", t->v[1], &pa)))
		return ret ? ret : sim_syntax(s, "usage: host-access PA [write]");
	if ((ret = sim_opt_flag(s, t, 2, "write", &wr)) || (ret = sim_leftover(s, t, 2)))
		return ret;
	if (wr)
		acc.type = S2_ACCESS_WRITE;
	mem = s2_host_port_walk_mem(s->hp);
	sim_jstep(s, "host-access");
	for (;;) {
		const struct s2_tlb_entry *e = s2_tlb_lookup(&s->tlb, 0, s2_ipa(pa));

		if (e && (e->s2ap & (wr ? S2_S2AP_WO : S2_S2AP_RO))) {
			w.fault = S2_FAULT_NONE;
			break;
		}
		ret = s2_walk(&s->own->host.cfg, s->own->host.root_pa, &mem, s2_ipa(pa), acc, &w);
		if (ret || w.fault == S2_FAULT_NONE) {
			if (!ret)
				s2_tlb_fill(&s->tlb, 0, s2_ipa(pa), &w);
			break;
		}
		if (++faults > SIM_MAX_RETRIES) {
			ret = S2_EAGAIN;
			break;
		}
		s->faults[w.fault <= S2_FAULT_OTHER ? w.fault : S2_FAULT_OTHER]++;
		ret = s2_owner_host_handle_fault(s->own, s2_pa(pa), &act);
		if (ret || act == S2_HOST_ABORT_INJECT)
			break;
	}
	s->host_result = ret ? -1 : (w.fault == S2_FAULT_NONE ? 0 : 1);
	s->have_host_result = true;
	if (ret) {
		sim_jend(s);
		return sim_expect_fail(s, "host access to 0x%" PRIx64 " failed: %s", pa,
				       s2_errname(ret));
	}
	sim_text(s, "host %s 0x%" PRIx64 ": %s (%u fault%s)\n", wr ? "write" : "read", pa,
		 s->host_result ? "inject" : "ok", faults, faults == 1 ? "" : "s");
	if (sim_jsonp(s)) {
		s2_json_hex(&s->j, "pa", pa);
		s2_json_str(&s->j, "result", s->host_result ? "inject" : "ok");
		s2_json_u64(&s->j, "faults", faults);
	}
	sim_jend(s);
	return 0;
}

static int sim_parse_state(const char *n, enum s2_page_state *out)
{
	static const enum s2_page_state all[] = { S2_PAGE_OWNED, S2_PAGE_SHARED_OWNED,
						  S2_PAGE_SHARED_BORROWED, S2_PAGE_RESERVED,
						  S2_PAGE_NOPAGE };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(n, s2_page_state_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return -1;
}

/* page PA: print the host's and hypervisor's view of a physical page. */
int sim_step_page(struct sim *s, struct sim_toks *t)
{
	struct s2_page_info info;
	uint64_t pa;
	int ret;

	if ((ret = sim_need_own(s)))
		return ret;
	if (t->n != 2 || (ret = sim_num(s, "the PA", t->v[1], &pa)))
		return ret ? ret : sim_syntax(s, "usage: page PA");
	ret = s2_owner_page_info(s->own, s2_pa(pa), &info);
	sim_jstep(s, "page");
	if (ret) {
		sim_lib_error(s, "page", ret);
	} else {
		sim_text(s, "page 0x%" PRIx64 ": %s, host %s, hyp %s, owner %u, shares %u\n", pa,
			 info.ram ? "ram" : "mmio", s2_page_state_name(info.host),
			 s2_page_state_name(info.hyp), info.owner, info.share_count);
		if (sim_jsonp(s)) {
			s2_json_str(&s->j, "host", s2_page_state_name(info.host));
			s2_json_str(&s->j, "hyp", s2_page_state_name(info.hyp));
			s2_json_u64(&s->j, "owner", info.owner);
			s2_json_u64(&s->j, "shares", info.share_count);
		}
	}
	sim_jend(s);
	return 0;
}

/* expect page PA [host=STATE] [hyp=STATE] [owner=N] [shares=N] [guest=STATE@IPA] */
int sim_expect_page(struct sim *s, struct sim_toks *t)
{
	struct s2_page_info info;
	enum s2_page_state st;
	uint64_t pa, v;
	const char *str;
	bool given;
	int ret;

	if ((ret = sim_need_own(s)))
		return ret;
	if (t->n < 3 || (ret = sim_num(s, "the PA", t->v[2], &pa)))
		return ret ? ret : sim_syntax(s, "usage: expect page PA [host=S] [hyp=S] ...");
	t->used[2] = true;
	ret = s2_owner_page_info(s->own, s2_pa(pa), &info);
	if (ret)
		return sim_expect_fail(s, "page 0x%" PRIx64 ": %s", pa, s2_errname(ret));
	if (sim_opt(t, 3, "host", &str)) {
		if (!str || sim_parse_state(str, &st))
			return sim_syntax(s, "bad page state '%s'", str ? str : "");
		if (st != info.host)
			return sim_expect_fail(s, "page 0x%" PRIx64 ": expected host %s, got %s",
					       pa, str, s2_page_state_name(info.host));
	}
	if (sim_opt(t, 3, "hyp", &str)) {
		if (!str || sim_parse_state(str, &st))
			return sim_syntax(s, "bad page state '%s'", str ? str : "");
		if (st != info.hyp)
			return sim_expect_fail(s, "page 0x%" PRIx64 ": expected hyp %s, got %s", pa,
					       str, s2_page_state_name(info.hyp));
	}
	if ((ret = sim_opt_num(s, t, 3, "owner", &v, &given)))
		return ret;
	if (given && v != info.owner)
		return sim_expect_fail(s, "page 0x%" PRIx64 ": expected owner %" PRIu64 ", got %u",
				       pa, v, info.owner);
	if ((ret = sim_opt_num(s, t, 3, "shares", &v, &given)))
		return ret;
	if (given && v != info.share_count)
		return sim_expect_fail(s, "page 0x%" PRIx64 ": expected %" PRIu64 " shares, got %u",
				       pa, v, info.share_count);
	return sim_leftover(s, t, 3);
}

/* expect guest-page IPA STATE: the current VM's owner-layer state at IPA. */
int sim_expect_guest_page(struct sim *s, struct sim_toks *t)
{
	struct sim_vm *sv;
	enum s2_page_state want, got;
	s2_pa_t pa;
	uint64_t ipa;
	int ret;

	if ((ret = sim_need_own(s)) || (ret = sim_owner_guest(s, &sv)))
		return ret;
	if (t->n != 4 || (ret = sim_num(s, "the IPA", t->v[2], &ipa)) ||
	    sim_parse_state(t->v[3], &want))
		return ret ? ret : sim_syntax(s, "usage: expect guest-page IPA STATE");
	ret = s2_owner_guest_page(SIM_OG(sv), s2_ipa(ipa), &got, &pa);
	if (ret)
		return sim_expect_fail(s, "guest page 0x%" PRIx64 ": %s", ipa, s2_errname(ret));
	if (got != want)
		return sim_expect_fail(s, "vm%u 0x%" PRIx64 ": expected %s, got %s", sv->id, ipa,
				       t->v[3], s2_page_state_name(got));
	return 0;
}
