// SPDX-License-Identifier: MIT
/*
 * owner_model.c - the owner layer's test fixture, invariant checker and hostile-host step
 * (owner_model.h tells what each part does).
 */
#include "owner_model.h"

#include <stdarg.h>
#include <stddef.h>

#include "s2mmu/vm.h"

static void (*om_fail_handler)(const char *msg);

void om_set_fail_handler(void (*fn)(const char *msg))
{
	om_fail_handler = fn;
}

void om_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (om_fail_handler)
		om_fail_handler(msg);
	fprintf(stderr, "%s\n", msg);
	abort();
}

#define OM_CHECK(c)                                                                  \
	do {                                                                         \
		if (!(c))                                                            \
			om_fail("owner_model.c:%d: check failed: %s", __LINE__, #c); \
	} while (0)

/* ---- fixture ------------------------------------------------------------------------------- */

#define OM_TLB_ENTRIES 512

/* The host stage-2's cookie (TLBIs for it go to VMID 0). */
static const void *om_host_cookie;

/* The VMID a VM without one yet is filed under: no entry is ever cached for it. */
#define OM_VMID_NONE UINT16_C(0xffff)

/*
 * The VMID of a TLBI's table, by its cookie: the host's 0; a VM-layer table's (its cookie is
 * the struct s2_vm, whose member pgt is the table; s2_vm_init()) the VM's VMID, or
 * OM_VMID_NONE while it has none, never the host's; an owner guest's table (its cookie is the
 * struct s2_owner_guest of that table, as the fixture's) the guest's owner id. Any other cookie
 * is a fixture misuse: it fails loudly rather than guess.
 */
static uint16_t om_vmid_of(const struct s2_pgtable *pgt)
{
	const void *ck = pgt->cookie;

	if (ck == om_host_cookie)
		return 0;
	if (ck == (const void *)((const char *)pgt - offsetof(struct s2_vm, pgt))) {
		const struct s2_vm *vm = ck;

		return vm->vmid ? vm->vmid : OM_VMID_NONE;
	}
	if (ck && ((const struct s2_owner_guest *)ck)->pgt == pgt)
		return ((const struct s2_owner_guest *)ck)->id;
	om_fail("owner_model: TLBI for a table whose cookie is neither the host, a VM nor an "
		"owner guest");
	return OM_VMID_NONE;
}

/* ---- the host stage-2's context around its TLBIs ------------------------------------------------ */

/* The fixture in use (the host port's only user) and the host port's own ops. */
static struct fx *om_fx;
static const struct s2_port_ops *om_hp_ops;

static void om_host_load(void *ctx, uint64_t vtcr, uint64_t vttbr)
{
	struct fx *f = ctx;
	uint64_t want = 0;

	if (s2_vttbr(&f->o.host.cfg, f->o.host.root_pa, 0, &want) || f->host_ctx_depth ||
	    vtcr != f->o.host.cfg.vtcr || vttbr != want)
		f->host_ctx_errors++;
	f->host_ctx_depth++;
	f->host_ctx_loads++;
}

static void om_host_put(void *ctx)
{
	struct fx *f = ctx;

	if (!f->host_ctx_depth)
		f->host_ctx_errors++;
	else
		f->host_ctx_depth--;
	f->host_ctx_puts++;
}

static void om_tlbi_seen(const struct s2_pgtable *pgt)
{
	if (om_fx && pgt == &om_fx->o.host) {
		om_fx->host_tlbis++;
		if (!om_fx->host_ctx_depth)
			om_fx->host_tlbis_outside++;
	}
}

static void om_tlbi_ipa(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	om_tlbi_seen(pgt);
	om_hp_ops->tlbi_ipa(ctx, pgt, ipa, level);
}

static void om_tlbi_range(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, uint64_t size)
{
	om_tlbi_seen(pgt);
	om_hp_ops->tlbi_range(ctx, pgt, ipa, size);
}

static void om_tlbi_vmid(void *ctx, const struct s2_pgtable *pgt)
{
	om_tlbi_seen(pgt);
	om_hp_ops->tlbi_vmid(ctx, pgt);
}

static void om_tlbi_ipa_local(void *ctx, const struct s2_pgtable *pgt, s2_ipa_t ipa, int level)
{
	om_tlbi_seen(pgt);
	om_hp_ops->tlbi_ipa_local(ctx, pgt, ipa, level);
}

static void om_stale(void *arg, const struct s2_tlb_stale *st)
{
	(void)arg;
	fprintf(stderr, "stale host TLB entry: ipa %#llx -> pa %#llx (%s)\n",
		(unsigned long long)s2_ipa_val(st->entry.ipa),
		(unsigned long long)s2_pa_val(st->entry.pa), st->why);
}

/* Descriptor decoding for the checks, from the architecture (Arm ARM D8.3.2): MemAttr [5:2]
 * below 0b0100 is Device (FWB on or off); S2AP [7:6] read/write; XN [54:53] 0b00 executable;
 * an invalid entry's owner annotation in bits [9:2]. */
bool om_pte_device(s2_pte_t pte)
{
	return S2_FIELD_GET(S2_PTE_MEMATTR, pte) < 4;
}

uint64_t om_pte_rwx(s2_pte_t pte)
{
	return ((pte & S2_PTE_S2AP_R) ? S2_PROT_R : 0) | ((pte & S2_PTE_S2AP_W) ? S2_PROT_W : 0) |
	       ((pte & S2_PTE_XN) ? 0 : S2_PROT_X);
}

uint8_t om_pte_owner(s2_pte_t pte)
{
	return (pte & S2_PTE_VALID) ? 0 : (uint8_t)S2_FIELD_GET(S2_PTE_INVALID_OWNER, pte);
}

/* The pages the tests touch (by window index): the invariants look at these; a hypervisor or
 * guest mapping anywhere else in the window is a failure of its own. */
struct span {
	uint64_t first, n;
};

static unsigned int watched(const struct fx *f, struct span out[4])
{
	uint64_t p = f->psize, b = f->win_base;

	out[0] = (struct span){ (f->mmio - b) / p, 32 };
	out[1] = (struct span){ (f->ram0 - b) / p, 80 };
	out[2] = (struct span){ (f->ram0 + f->blk - 16 * p - b) / p, 48 };
	out[3] = (struct span){ (f->ram1 - 16 * p - b) / p, RAM1_PAGES + 16 + 64 };
	return 4;
}

static bool is_watched(const struct fx *f, uint64_t i)
{
	struct span w[4];
	unsigned int n = watched(f, w);

	for (unsigned int k = 0; k < n; k++)
		if (i >= w[k].first && i - w[k].first < w[k].n)
			return true;
	return false;
}

int hyp_map(void *ctx, s2_pa_t pa, uint64_t size, enum s2_page_state state, uint64_t flags)
{
	struct fx *f = ctx;

	f->hyp_calls++;
	if (f->hyp_fail) {
		int r = f->hyp_fail;
		f->hyp_fail = 0;
		return r;
	}
	for (uint64_t a = s2_pa_val(pa); a < s2_pa_val(pa) + size; a += f->psize) {
		uint64_t i = (a - f->win_base) / f->psize;
		if (a < f->win_base || i >= f->win_pages)
			continue; /* far away: outside what the invariants look at */
		OM_CHECK(is_watched(f, i));
		OM_CHECK((f->hyp[i]) == (0)); /* never mapped twice */
		f->hyp[i] = (uint8_t)(1 + state) | ((flags & S2_HYP_MAP_DEVICE) ? 0x80 : 0);
	}
	return 0;
}

void hyp_unmap(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct fx *f = ctx;

	for (uint64_t a = s2_pa_val(pa); a < s2_pa_val(pa) + size; a += f->psize) {
		uint64_t i = (a - f->win_base) / f->psize;
		if (a < f->win_base || i >= f->win_pages)
			continue;
		OM_CHECK((f->hyp[i]) != (0));
		f->hyp[i] = 0;
	}
}

/* Record in the shadow that [pa, pa + size) was pinned (@delta 1) or unpinned (-1). */
void om_pins_add(struct fx *f, uint64_t pa, uint64_t size, int delta)
{
	for (uint64_t a = pa; a < pa + size; a += f->psize)
		f->pins[(a - f->win_base) / f->psize] += (uint32_t)delta;
}

void scrub(void *ctx, s2_pa_t pa, uint64_t size)
{
	struct fx *f = ctx;

	(void)pa;
	f->scrubbed += size;
}

void fx_init(struct fx *f, const struct s2_config *cfg)
{
	struct s2_host_port_opts ho = { .pa_base = S2_TEST_PA_BASE,
					.arena_bytes = UINT64_C(4) << 20,
					.log_capacity = 0 };

	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	OM_CHECK((s2_host_port_create(&ho, &f->hp)) == (0));
	f->port = s2_host_port_port(f->hp);
	/* The TLBI ops wrapped, to see which run with the host stage-2's context loaded. */
	om_fx = f;
	om_hp_ops = f->port.ops;
	f->port_ops = *f->port.ops;
	f->port_ops.tlbi_ipa = om_tlbi_ipa;
	f->port_ops.tlbi_range = om_tlbi_range;
	f->port_ops.tlbi_vmid = om_tlbi_vmid;
	if (f->port_ops.tlbi_ipa_local)
		f->port_ops.tlbi_ipa_local = om_tlbi_ipa_local;
	f->port.ops = &f->port_ops;
	f->psize = UINT64_C(1) << cfg->page_shift;
	f->blk = s2_level_size(cfg->granule, 2);
	f->mmio = 6 * f->blk;
	f->ram0 = 8 * f->blk;
	f->ram1 = f->ram0 + 3 * f->blk;
	f->win_base = f->mmio;
	f->win_pages = (f->ram1 + (RAM1_PAGES + 64) * f->psize - f->win_base) / f->psize;
	f->hyp = calloc(f->win_pages, 1);
	f->pins = calloc(f->win_pages, sizeof(*f->pins));
	OM_CHECK((f->pins) != NULL);
	f->ram[0] = (struct s2_owner_ram){ .base = s2_pa(f->ram0), .size = 2 * f->blk };
	f->ram[1] = (struct s2_owner_ram){ .base = s2_pa(f->ram1), .size = RAM1_PAGES * f->psize };
	f->nmeta = 2 * f->blk / f->psize + RAM1_PAGES;
	f->meta = calloc(f->nmeta, sizeof(*f->meta));
	OM_CHECK((f->hyp) != NULL);
	OM_CHECK((f->meta) != NULL);

	struct s2_owner_params p = {
		.host_cfg = cfg,
		.port = f->port,
		.cookie = f,
		.ram = f->ram,
		.nr_ram = 2,
		.meta = f->meta,
		.nr_meta = f->nmeta,
		.hyp = { .map = hyp_map, .unmap = hyp_unmap, .ctx = f },
		.host_stage2 = { .load = om_host_load, .put = om_host_put, .ctx = f },
	};
	OM_CHECK((s2_owner_init(&f->o, &p)) == (0));
	om_host_cookie = f;
	f->mem = s2_host_port_walk_mem(f->hp);
	f->tlb = calloc(1, sizeof(*f->tlb));
	f->tlb_store = calloc(OM_TLB_ENTRIES, sizeof(*f->tlb_store));
	OM_CHECK(f->tlb && f->tlb_store);
	s2_tlb_init(f->tlb, f->tlb_store, OM_TLB_ENTRIES);
	s2_host_port_attach_tlb(f->hp, f->tlb, om_vmid_of, 0);
	for (int i = 0; i < NGUESTS; i++) {
		struct s2_config gc =
			s2_test_config(48, cfg->granule, 36, cfg->fwb ? S2_CFG_FWB : 0);
		OM_CHECK((s2_pgtable_init(&f->gpgt[i], &gc, &f->port, &f->g[i])) == (0));
		OM_CHECK((s2_owner_guest_init(&f->g[i], &f->gpgt[i], (uint8_t)(2 + i), i == G2)) ==
			 (0));
	}
}

void fx_fini(struct fx *f)
{
	for (int i = 0; i < NGUESTS; i++) {
		s2_page_cache_drain(&f->g[i].cache, &f->port, f->psize);
		s2_pgtable_destroy(&f->gpgt[i]);
	}
	s2_owner_destroy(&f->o);
	s2_host_port_destroy(f->hp);
	free(f->hyp);
	free(f->pins);
	free(f->meta);
	free(f->tlb);
	free(f->tlb_store);
	om_fx = NULL;
}

/* ---- dumps (for "a refusal changes nothing") -------------------------------------------------- */

static int visit_dump(void *arg, const struct s2_walk_visit *v)
{
	struct dump *d = arg;

	if (d->n + 3 > d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		d->v = realloc(d->v, d->cap * sizeof(uint64_t));
		OM_CHECK((d->v) != NULL);
	}
	d->v[d->n++] = s2_ipa_val(v->ipa);
	d->v[d->n++] = (uint64_t)v->level;
	d->v[d->n++] = v->pte;
	return 0;
}

static void dump_table(const struct s2_pgtable *pgt, struct dump *d)
{
	OM_CHECK((s2_pgtable_walk(pgt, s2_ipa(0), UINT64_C(1) << pgt->cfg.ipa_bits,
				  S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, visit_dump, d)) == (0));
	visit_dump(d, &(struct s2_walk_visit){ .ipa = s2_ipa(~0ull) }); /* separator */
}

void snap(const struct fx *f, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	dump_table(&f->o.host, &s->tables);
	for (int i = 0; i < NGUESTS; i++)
		dump_table(&f->gpgt[i], &s->tables);
	s->meta = malloc(f->nmeta * sizeof(*f->meta));
	memcpy(s->meta, f->meta, f->nmeta * sizeof(*f->meta));
	s->hyp = malloc(f->win_pages);
	memcpy(s->hyp, f->hyp, f->win_pages);
}

void snap_free(struct snapshot *s)
{
	free(s->tables.v);
	free(s->meta);
	free(s->hyp);
}

void assert_unchanged(const struct fx *f, const struct snapshot *before)
{
	struct snapshot now;

	snap(f, &now);
	OM_CHECK((now.tables.n) == (before->tables.n));
	OM_CHECK(memcmp(now.tables.v, before->tables.v, now.tables.n * sizeof(uint64_t)) == 0);
	OM_CHECK(memcmp(now.meta, before->meta, f->nmeta * sizeof(*f->meta)) == 0);
	OM_CHECK(memcmp(now.hyp, before->hyp, f->win_pages) == 0);
	snap_free(&now);
}

/* ---- invariants -------------------------------------------------------------------------------- */

struct gmap_acc {
	const struct fx *f;
	int guest;
	uint16_t *sb; /* per window page: guests' SHARED_BORROWED mappings */
	uint8_t *own; /* per window page: 1 + guest index with an OWNED/SHARED_OWNED mapping */
	uint8_t *own_st; /* that mapping's state */
	uint16_t *nown; /* number of OWNED/SHARED_OWNED mappings */
};

static void check_pte_state(s2_pte_t pte)
{
	/* Only the concrete two bits are ever stored: SW2 (where NOPAGE's bit 2 would land if
	 * encoded) stays clear, and RESERVED is never used by a transition. */
	OM_CHECK(!(pte & S2_PTE_SW2));
	OM_CHECK((s2_page_state_of_pte(pte)) != (S2_PAGE_RESERVED));
}

static int visit_guest(void *arg, const struct s2_walk_visit *v)
{
	struct gmap_acc *a = arg;
	const struct fx *f = a->f;
	struct s2_lookup l;

	if (!(v->pte & S2_PTE_VALID))
		return 0;
	check_pte_state(v->pte);
	OM_CHECK((s2_pgtable_lookup(&f->gpgt[a->guest], v->ipa, &l)) == (0));
	for (uint64_t off = 0; off < v->size; off += f->psize) {
		uint64_t pa = s2_pa_val(l.pa) + off, i = (pa - f->win_base) / f->psize;
		enum s2_page_state st = s2_page_state_of_pte(v->pte);
		OM_CHECK(pa >= f->win_base && i < f->win_pages && is_watched(f, i));
		if (st == S2_PAGE_SHARED_BORROWED) {
			/* Shared RAM: Normal, with the permissions it was given (never none). */
			OM_CHECK(!om_pte_device(v->pte));
			OM_CHECK(om_pte_rwx(v->pte) != 0);
			a->sb[i]++;
		} else {
			a->own[i] = (uint8_t)(1 + a->guest);
			a->own_st[i] = (uint8_t)st;
			a->nown[i]++;
		}
	}
	return 0;
}

static int visit_host(void *arg, const struct s2_walk_visit *v)
{
	const struct fx *f = arg;
	struct s2_page_info info;
	struct s2_lookup l;

	if (v->pte & S2_PTE_VALID) {
		/* Identity, Device exactly for MMIO, and only what the host owns or borrows. */
		check_pte_state(v->pte);
		OM_CHECK((s2_pgtable_lookup(&f->o.host, v->ipa, &l)) == (0));
		OM_CHECK((s2_pa_val(l.pa)) == (s2_ipa_val(v->ipa)));
		OM_CHECK((s2_owner_page_info(&f->o, s2_pa(s2_ipa_val(v->ipa)), &info)) == (0));
		OM_CHECK(om_pte_device(l.pte) == !info.ram);
		if (!info.ram) /* MMIO: the state is the descriptor's own */
			return 0;
		/* RAM state is not kept in host PTEs. */
		OM_CHECK((s2_page_state_of_pte(v->pte)) == (S2_PAGE_OWNED));
	}
	for (uint64_t off = 0; off < v->size; off += f->psize) {
		uint64_t pa = s2_ipa_val(v->ipa) + off;
		OM_CHECK((s2_owner_page_info(&f->o, s2_pa(pa), &info)) == (0));
		if (v->pte & S2_PTE_VALID) {
			OM_CHECK(info.ram);
			OM_CHECK(info.host == S2_PAGE_OWNED || info.host == S2_PAGE_SHARED_OWNED ||
				 info.host == S2_PAGE_SHARED_BORROWED);
		} else {
			uint8_t owner = (uint8_t)S2_FIELD_GET(S2_PTE_INVALID_OWNER, v->pte);
			OM_CHECK((info.host) == (S2_PAGE_NOPAGE));
			OM_CHECK((info.owner) == (owner));
		}
	}
	return 0;
}

void check_invariants(const struct fx *f)
{
	uint64_t n = f->win_pages;
	struct gmap_acc a = {
		.f = f,
		.sb = calloc(n, sizeof(uint16_t)),
		.own = calloc(n, 1),
		.own_st = calloc(n, 1),
		.nown = calloc(n, sizeof(uint16_t)),
	};
	struct s2_check_report rep;

	/* Every host TLBI so far ran with the host's context loaded; none is loaded now. */
	OM_CHECK(f->host_tlbis_outside == 0);
	OM_CHECK(f->host_ctx_errors == 0);
	OM_CHECK(f->host_ctx_depth == 0);
	OM_CHECK(f->host_ctx_loads == f->host_ctx_puts);
	for (int g = 0; g < NGUESTS; g++) {
		a.guest = g;
		OM_CHECK((s2_pgtable_walk(
				 &f->gpgt[g], s2_ipa(0), UINT64_C(1) << f->gpgt[g].cfg.ipa_bits,
				 S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, visit_guest, &a)) == (0));
		if (s2_pgtable_check(&f->gpgt[g], &rep))
			om_fail("guest %d table: %s", g, rep.first_error);
	}
	if (s2_pgtable_check(&f->o.host, &rep))
		om_fail("host table: %s", rep.first_error);
	OM_CHECK((s2_pgtable_walk(&f->o.host, s2_ipa(0), UINT64_C(1) << f->cfg.ipa_bits,
				  S2_WALK_LEAF | S2_WALK_SKIP_EMPTY, visit_host, (void *)f)) ==
		 (0));
	struct span w[4];
	unsigned int nw = watched(f, w);

	for (uint64_t k = 0, i = w[0].first; k < nw; i = ++k < nw ? w[k].first : 0) {
		for (; i < w[k].first + w[k].n; i++) {
			uint64_t pa = f->win_base + i * f->psize;
			struct s2_page_info info;
			struct s2_lookup l;
			uint8_t hyp = f->hyp[i];

			OM_CHECK((s2_owner_page_info(&f->o, s2_pa(pa), &info)) == (0));
			OM_CHECK((s2_pgtable_lookup(&f->o.host, s2_ipa(pa), &l)) == (0));
			OM_CHECK(a.nown[i] <= 1);
			/* As the hardware walks it: a host access translates (identity) only to a
			 * page the host owns or borrows; otherwise a translation fault. */
			struct s2_walk_result wr;
			OM_CHECK(s2_walk(&f->cfg, f->o.host.root_pa, &f->mem, s2_ipa(pa),
					 (struct s2_access){ .type = S2_ACCESS_READ }, &wr) == 0);
			if (wr.fault == S2_FAULT_NONE) {
				OM_CHECK(s2_pa_val(wr.pa) == pa);
				OM_CHECK(info.host == S2_PAGE_OWNED ||
					 info.host == S2_PAGE_SHARED_OWNED ||
					 info.host == S2_PAGE_SHARED_BORROWED);
				s2_tlb_fill(f->tlb, 0, s2_ipa(pa), &wr);
			} else {
				OM_CHECK(wr.fault == S2_FAULT_TRANSLATION);
			}
			/* Pins only on RAM the hypervisor borrows, as many as the shadow says. */
			OM_CHECK((info.pin_count) == (f->pins[i]));
			if (info.pin_count)
				OM_CHECK(info.ram && info.hyp == S2_PAGE_SHARED_BORROWED);
			/* The hypervisor's address space matches its state. */
			if (info.hyp == S2_PAGE_NOPAGE)
				OM_CHECK((hyp) == (0));
			else
				OM_CHECK((hyp & 0x7f) == (1 + info.hyp));
			switch (info.host) {
			case S2_PAGE_OWNED:
				/* Exactly one owner: the host, nobody else maps it. */
				OM_CHECK((info.owner) == (S2_OWNER_HOST));
				OM_CHECK((info.hyp) == (S2_PAGE_NOPAGE));
				OM_CHECK((info.share_count) == (0));
				OM_CHECK((a.sb[i]) == (0));
				OM_CHECK((a.nown[i]) == (0));
				break;
			case S2_PAGE_SHARED_OWNED:
				/* SHARED_OWNED here iff SHARED_BORROWED on the other side(s). */
				OM_CHECK((info.owner) == (S2_OWNER_HOST));
				OM_CHECK((a.nown[i]) == (0));
				if (info.hyp == S2_PAGE_SHARED_BORROWED) {
					OM_CHECK((info.share_count) == (0));
					OM_CHECK((a.sb[i]) == (0));
				} else {
					OM_CHECK((info.hyp) == (S2_PAGE_NOPAGE));
					OM_CHECK(info.share_count > 0);
					OM_CHECK((info.share_count) == (a.sb[i]));
				}
				break;
			case S2_PAGE_SHARED_BORROWED:
				OM_CHECK(info.ram);
				OM_CHECK((info.hyp) == (S2_PAGE_NOPAGE));
				OM_CHECK((a.nown[i]) == (1));
				OM_CHECK((a.own[i] + 1) == (info.owner)); /* guest index + 2 = id */
				OM_CHECK((a.own_st[i]) == (S2_PAGE_SHARED_OWNED));
				OM_CHECK((a.sb[i]) == (0));
				OM_CHECK((info.share_count) == (0));
				break;
			case S2_PAGE_NOPAGE:
				/* Given away: recorded in the host's invalid PTE as the new owner's id. */
				OM_CHECK(!(l.valid));
				OM_CHECK(om_pte_owner(l.pte) == info.owner);
				OM_CHECK((a.sb[i]) == (0));
				OM_CHECK((info.share_count) == (0));
				if (info.owner == S2_OWNER_HYP) {
					OM_CHECK((info.hyp) == (S2_PAGE_OWNED));
					OM_CHECK((a.nown[i]) == (0));
				} else {
					OM_CHECK(info.owner >= S2_OWNER_GUEST_MIN);
					OM_CHECK((info.hyp) == (S2_PAGE_NOPAGE));
					OM_CHECK((a.nown[i]) == (1));
					OM_CHECK((a.own[i] + 1) == (info.owner));
					OM_CHECK((a.own_st[i]) == (S2_PAGE_OWNED));
				}
				break;
			default:
				om_fail("page %#llx: host state %d", (unsigned long long)pa,
					info.host);
			}
			if (!info.ram &&
			    info.host != S2_PAGE_NOPAGE) /* MMIO: never guest-borrowed */
				OM_CHECK((a.sb[i]) == (0));
		}
	}
	/* No translation the TLB may still hold outlived its descriptor (a page given away
	 * while the host had it mapped was invalidated). */
	OM_CHECK(s2_tlb_check(f->tlb, 0, &f->cfg, f->o.host.root_pa, &f->mem, om_stale, NULL) == 0);
	free(a.sb);
	free(a.own);
	free(a.own_st);
	free(a.nown);
}

/* ---- a hostile host's random transitions ---------------------------------------------- */

/*
 * Randomness: a seeded xorshift64* for the unit test, or the fuzzer's input bytes (each draw
 * takes the next byte; an exhausted input draws zeros and sets @exhausted).
 */

static uint64_t rnd(struct om_rng *r)
{
	if (r->data) {
		if (r->pos < r->len)
			return r->data[r->pos++];
		r->exhausted = true;
		return 0;
	}
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(struct om_rng *r, uint64_t n)
{
	return rnd(r) % n;
}

/* A physical address a hostile host might pick: mostly near interesting places, sometimes
 * misaligned or far away. */
static uint64_t rnd_pa(struct om_rng *r, const struct fx *f)
{
	switch (rnd_below(r, 8)) {
	case 0:
		return f->mmio + rnd_below(r, 12) * f->psize;
	case 1:
		return f->ram1 + rnd_below(r, RAM1_PAGES + 2) * f->psize - f->psize;
	case 2:
		/* Hostile: misaligned, at or beyond the IPA size, or wrapping around. Never a
		 * valid page outside the pages the invariants watch. */
		switch (rnd_below(r, 4)) {
		case 0:
			return (rnd(r) << 20) | 8;
		case 1:
			return (UINT64_C(1) << f->cfg.ipa_bits) + rnd_below(r, 4) * f->psize;
		case 2:
			return -(1 + rnd_below(r, 4)) * f->psize;
		default:
			return f->ram0 + rnd_below(r, 64) * f->psize + 8;
		}
	case 3:
		return f->ram0 + f->blk - 8 * f->psize + rnd_below(r, 16) * f->psize;
	default:
		return f->ram0 + rnd_below(r, 24) * f->psize;
	}
}

static uint64_t rnd_size(struct om_rng *r, const struct fx *f)
{
	switch (rnd_below(r, 10)) {
	case 0:
		return 0;
	case 1:
		return f->psize + 8;
	default:
		return (1 + rnd_below(r, rnd_below(r, 4) ? 3 : 12)) * f->psize;
	}
}

static uint64_t rnd_ipa(struct om_rng *r, const struct fx *f)
{
	return rnd_below(r, 48) * f->psize;
}

/* A guest mapping's permissions as a hostile host asks for them: mostly a valid R/W/X
 * combination, sometimes none or with stray flags. */
static uint64_t rnd_prot(struct om_rng *r)
{
	switch (rnd_below(r, 12)) {
	case 0:
		return 0;
	case 1:
		return S2_PROT_R | S2_PROT_DEVICE;
	case 2:
		return S2_PROT_RWX | S2_PROT_SW(2);
	default:
		return 1 + rnd_below(r, 7);
	}
}

/*
 * What the VM layer's fault path does to a guest in a protected setup if nobody stops it:
 * map host memory into guest @g's stage-2 through the engine (any SW state, page or block),
 * behind this layer's back. The guest is then torn down: the foreign leaf must be dropped,
 * the page's ownership left exactly as it was, nothing scrubbed that the guest did not own.
 * Only pages whose state the teardown of @g may not change are picked (not @g's, not shared
 * with guests). Return: 0, or 1 when no such mapping could be set up this time.
 */
static int om_foreign_then_teardown(struct fx *f, struct om_rng *r, struct s2_owner_guest *g)
{
	uint64_t ps = f->psize, ipa = (64 + rnd_below(r, 16)) * ps, pa, size = ps;
	unsigned int st = (unsigned int)rnd_below(r, 4);
	struct s2_page_info before, after;
	uint64_t dropped = f->o.stats.foreign_dropped, scrubbed;
	struct s2_lookup l;
	bool block = rnd_below(r, 4) == 0;
	int ret;

	switch (rnd_below(r, 3)) {
	case 0:
		pa = f->mmio + rnd_below(r, 12) * ps;
		break;
	default:
		pa = f->ram0 + rnd_below(r, 24) * ps;
		break;
	}
	if (block) {
		/* A level-2 block, as the fault path maps for huge-page backed slots. */
		size = f->blk;
		pa = S2_ALIGN_DOWN(pa, f->blk);
		ipa = 32 * f->blk;
	}
	OM_CHECK(s2_owner_page_info(&f->o, s2_pa(pa), &before) == 0);
	if (before.owner == g->id || before.share_count || before.pin_count)
		return 1;
	OM_CHECK(s2_pgtable_lookup(g->pgt, s2_ipa(ipa), &l) == 0);
	if (l.valid)
		return 1;
	ret = s2_pgtable_map(g->pgt, s2_ipa(ipa), size, s2_pa(pa),
			     S2_PROT_R | S2_PROT_W | (before.ram ? 0 : S2_PROT_DEVICE) |
				     S2_PROT_SW(st),
			     0, NULL);
	if (ret)
		return 1; /* e.g. a block the config cannot hold */
	scrubbed = f->scrubbed;
	/* The guest's own pages (if any) go back and are scrubbed; the foreign one is not. */
	uint64_t own = 0;
	for (uint64_t i = 0; i < f->nmeta; i++)
		if (f->meta[i].owner == g->id)
			own += ps;
	OM_CHECK(s2_owner_guest_destroy(&f->o, g, scrub, f) == 0);
	OM_CHECK(f->o.stats.foreign_dropped > dropped);
	OM_CHECK(f->scrubbed - scrubbed == own);
	OM_CHECK(s2_pgtable_lookup(g->pgt, s2_ipa(ipa), &l) == 0);
	OM_CHECK(!l.valid);
	OM_CHECK(s2_owner_page_info(&f->o, s2_pa(pa), &after) == 0);
	OM_CHECK(before.ram == after.ram && before.host == after.host && before.hyp == after.hyp &&
		 before.owner == after.owner && before.share_count == after.share_count &&
		 before.pin_count == after.pin_count);
	return 0;
}

#define OM_NR_OPS 17

/*
 * One step of a hostile host: a random transition (random, often invalid ranges, guests and
 * IPAs; sometimes a failing hypervisor map or table allocation) or a host fault. Checks that a
 * refusal changed nothing and that a fault maps exactly what the host may access, then every
 * invariant. Return: the transition's result.
 */
int om_step(struct fx *f, struct om_rng *r)
{
	struct snapshot before;
	struct s2_owner_guest *g = &f->g[rnd_below(r, NGUESTS)];
	uint64_t pa = rnd_pa(r, f), size = rnd_size(r, f), ipa = rnd_ipa(r, f);
	unsigned int op = (unsigned int)rnd_below(r, OM_NR_OPS);
	bool fail_alloc = rnd_below(r, 16) == 0;
	bool fail_hyp = rnd_below(r, 20) == 0;
	bool teardown = rnd_below(r, 4) == 0;
	int ret;

	if (fail_hyp)
		f->hyp_fail = S2_ENOMEM;
	if (fail_alloc) {
		s2_page_cache_drain(&f->o.cache, &f->port, f->psize);
		s2_page_cache_drain(&g->cache, &f->port, f->psize);
		s2_host_port_fail_alloc_after(f->hp, (long)rnd_below(r, 3));
	}
	snap(f, &before);
	switch (op) {
	case 0:
		ret = s2_owner_host_share_hyp(&f->o, s2_pa(pa), size);
		break;
	case 1:
		ret = s2_owner_host_unshare_hyp(&f->o, s2_pa(pa), size);
		break;
	case 2:
		ret = s2_owner_host_donate_hyp(&f->o, s2_pa(pa), size);
		break;
	case 3:
		ret = s2_owner_hyp_donate_host(&f->o, s2_pa(pa), size);
		break;
	case 4:
		ret = s2_owner_host_share_guest(&f->o, g, s2_ipa(ipa), size, s2_pa(pa),
						rnd_prot(r));
		break;
	case 5:
		ret = s2_owner_host_unshare_guest(&f->o, g, s2_ipa(ipa), size);
		break;
	case 6:
		ret = s2_owner_host_donate_guest(&f->o, g, s2_ipa(ipa), size, s2_pa(pa));
		break;
	case 7:
		ret = s2_owner_guest_share_host(&f->o, g, s2_ipa(ipa), size);
		break;
	case 8:
		ret = s2_owner_guest_unshare_host(&f->o, g, s2_ipa(ipa), size);
		break;
	case 9:
		ret = teardown ? s2_owner_guest_destroy(&f->o, g, scrub, f) : 0;
		break;
	case 10:
	case 11:
		ret = (op == 10 ? s2_owner_hyp_pin_shared :
				  s2_owner_hyp_unpin_shared)(&f->o, s2_pa(pa), size);
		if (!ret)
			om_pins_add(f, pa, size, op == 10 ? 1 : -1);
		break;
	case 12:
		ret = s2_owner_host_set_prot_guest(&f->o, g, s2_ipa(ipa), size, rnd_prot(r));
		break;
	case 13:
		/* (Not with failing allocations: the teardown of @g's own pages must finish.) */
		ret = teardown || fail_alloc ? 0 : om_foreign_then_teardown(f, r, g);
		break;
	default: {
		enum s2_host_abort_action act;
		struct s2_page_info info;
		struct s2_lookup l;
		uint64_t a = S2_ALIGN_DOWN(pa, f->psize);
		bool may;

		ret = s2_owner_host_handle_fault(&f->o, s2_pa(pa), &act);
		if (ret || a >= (UINT64_C(1) << f->cfg.ipa_bits))
			break;
		OM_CHECK(s2_owner_page_info(&f->o, s2_pa(a), &info) == 0);
		OM_CHECK(s2_pgtable_lookup(&f->o.host, s2_ipa(a), &l) == 0);
		may = info.host != S2_PAGE_NOPAGE;
		OM_CHECK(act == (may ? S2_HOST_ABORT_MAPPED : S2_HOST_ABORT_INJECT));
		OM_CHECK(l.valid == may);
		break;
	}
	}
	s2_host_port_fail_alloc_after(f->hp, -1);
	f->hyp_fail = 0;
	if (ret && op != 9) /* teardown is resumable: partial progress is allowed */
		assert_unchanged(f, &before);
	check_invariants(f);
	snap_free(&before);
	return ret;
}

/* Tear every guest down and check that every page not the hypervisor's is the host's again. */
void om_teardown_all(struct fx *f)
{
	for (int i = 0; i < NGUESTS; i++)
		OM_CHECK(s2_owner_guest_destroy(&f->o, &f->g[i], scrub, f) == 0);
	check_invariants(f);
	for (uint64_t i = 0; i < f->nmeta; i++)
		if (f->meta[i].owner != S2_OWNER_HYP)
			OM_CHECK(f->meta[i].host_state == S2_PAGE_OWNED ||
				 f->meta[i].host_state == S2_PAGE_SHARED_OWNED);
}
