// SPDX-License-Identifier: MIT
/*
 * sim_svg.c - the IPA maps of VMs as plain SVG text (no scripts, no external resources).
 *
 * For each VM: a title, then a map of its IPA space from 0 to 2^ipa_bits, piecewise to scale:
 * every run (sim_dump.c) is a bar (<rect class="run">) whose width is its size at one scale
 * shared by the whole map (at least MIN_RUN pixels, so that a 4K page next to a 1G block still
 * shows), and every unmapped stretch too large to draw at that scale is collapsed into a
 * hatched break of GAP_W pixels (<rect class="gap">) labelled with its size. Bars are coloured
 * by memory type; page ownership shows as the outline (shared-owned, shared-borrowed, reserved:
 * the page state in SW0|SW1) and invalid entries annotated with an owner id are hatched grey.
 * Below the map, one row per run: a swatch, the IPA range, its size, entries (block size x
 * count, level), permissions, type, output address and ownership. A legend at the bottom lists
 * only what is present. Runs and gaps carry data-ipa/data-end attributes (hex) and a <title>
 * with the full description, so tests and viewers can check positions against IPAs.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1000
#define MARGIN 10
#define MAP_W (WIDTH - 2 * MARGIN)
#define MAP_H 34
#define ROW_H 18
#define GAP_W 36 /* a collapsed gap */
#define MIN_RUN 3 /* the narrowest run */
#define SIM_SVG_CHAR_W 5.5 /* the width of a character of the 9-pixel labels */

struct sim_svg_color {
	const char *type;
	const char *fill;
	const char *what; /* legend text */
};

/* Fill per memory type (s2_memtype_name). */
static const struct sim_svg_color sim_svg_colors[] = {
	{ "normal-wb", "#4e9a06", "Normal write-back (RAM)" },
	{ "normal-nc", "#3465a4", "Normal non-cacheable" },
	{ "normal-wt", "#75507b", "Normal write-through" },
	{ "normal-s1", "#8ae234", "Normal, stage 1 decides (FWB)" },
	{ "mixed", "#729fcf", "Normal, mixed inner/outer cacheability" },
	{ "device-ngnre", "#f57900", "Device-nGnRE (MMIO)" },
	{ "device-ngnrne", "#cc0000", "Device-nGnRnE" },
	{ "device-ngre", "#c17d11", "Device-nGRE" },
	{ "device-gre", "#edd400", "Device-GRE" },
	{ "reserved", "#000000", "reserved MemAttr" },
};

#define SIM_SVG_NCOLORS (sizeof(sim_svg_colors) / sizeof(sim_svg_colors[0]))

/* Outline per page state (owner.h, SW0|SW1 of a valid entry); state 0 (owned) has none. */
static const struct {
	const char *name, *stroke, *dash, *what;
} sim_svg_states[4] = {
	{ "owned", NULL, NULL, NULL },
	{ "shared-owned", "#5c3566", "none", "page shared by its owner (outline)" },
	{ "shared-borrowed", "#204a87", "4,2", "page borrowed from its owner (dashed outline)" },
	{ "reserved", "#2e3436", "1,2", "reserved page state (dotted outline)" },
};

#define OWNER_FILL "url(#s2-owner)"
#define GAP_FILL "url(#s2-gap)"

static size_t sim_svg_color(const char *type)
{
	for (size_t i = 0; i < SIM_SVG_NCOLORS; i++)
		if (!strcmp(sim_svg_colors[i].type, type))
			return i;
	return SIM_SVG_NCOLORS - 1;
}

/* What a map holds, for the legend. */
struct sim_svg_present {
	bool type[SIM_SVG_NCOLORS];
	bool state[4];
	bool owner, gap;
};

/* One piece of a map: a run (@run) or a gap between runs (@run NULL). */
struct sim_svg_piece {
	uint64_t ipa, len;
	const struct sim_run *run;
	bool collapsed; /* a gap drawn GAP_W wide, not to scale */
};

/* The pieces of [0, @top) for @r: runs and the gaps around them. Return: the count. */
static size_t sim_svg_pieces(const struct sim_runs *r, uint64_t top, struct sim_svg_piece *p)
{
	uint64_t at = 0;
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].ipa > at)
			p[n++] = (struct sim_svg_piece){ .ipa = at, .len = r->v[i].ipa - at };
		p[n++] = (struct sim_svg_piece){ .ipa = r->v[i].ipa,
						 .len = r->v[i].len,
						 .run = &r->v[i] };
		at = r->v[i].ipa + r->v[i].len;
	}
	if (at < top || (!at && !n))
		p[n++] = (struct sim_svg_piece){ .ipa = at, .len = top - at };
	return n;
}

/*
 * The scale (pixels per byte) of a map: runs and the gaps drawn to scale share MAP_W minus the
 * collapsed gaps. A gap is collapsed when to scale it would be wider than GAP_W; collapsing
 * frees room, so repeat until nothing changes (at most once per gap).
 */
static double sim_svg_scale(struct sim_svg_piece *p, size_t n)
{
	double scale = 0;

	for (size_t i = 0; i < n; i++)
		p[i].collapsed = !p[i].run;
	for (size_t round = 0; round <= n; round++) {
		double bytes = 0, room = MAP_W;
		bool changed = false;

		for (size_t i = 0; i < n; i++) {
			if (p[i].collapsed)
				room -= GAP_W;
			else
				bytes += (double)p[i].len;
		}
		if (bytes <= 0)
			return 0;
		scale = (room > MAP_W / 4 ? room : MAP_W / 4) / bytes;
		for (size_t i = 0; i < n; i++)
			if (p[i].collapsed && (double)p[i].len * scale <= GAP_W) {
				p[i].collapsed = false;
				changed = true;
			}
		if (!changed)
			break;
	}
	return scale;
}

static double sim_svg_width(const struct sim_svg_piece *p, double scale)
{
	double w;

	if (p->collapsed)
		return GAP_W;
	w = (double)p->len * scale;
	if (p->run && w < MIN_RUN)
		w = MIN_RUN;
	return w;
}

/* The description of run @r (also its <title>). */
static void sim_svg_describe(const struct s2_config *cfg, const struct sim_run *r, char *buf,
			     size_t len)
{
	char sz[24], e[24], perm[4];

	sim_size_str(r->len, sz, sizeof(sz));
	sim_size_str(r->entry, e, sizeof(e));
	if (!r->valid) {
		snprintf(buf, len, "0x%" PRIx64 "-0x%" PRIx64 " %s: invalid, owner %u (%sx%u L%d)",
			 r->ipa, r->ipa + r->len - 1, sz, r->owner, e, r->count, r->level);
		return;
	}
	sim_run_perm(cfg, r, perm);
	snprintf(buf, len, "0x%" PRIx64 "-0x%" PRIx64 " %s: %sx%u L%d %s %s -> 0x%" PRIx64 "%s%s",
		 r->ipa, r->ipa + r->len - 1, sz, e, r->count, r->level, perm, sim_run_type(cfg, r),
		 r->pa, (r->sw & 3) ? " " : "", (r->sw & 3) ? sim_svg_states[r->sw & 3].name : "");
}

/* @size, rounded to three digits in the largest unit it reaches ("256M" for 262136K). */
static void sim_svg_approx(uint64_t size, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = (double)size;
	int u = -1;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, size);
	else
		snprintf(buf, len, "%.3g%c", v, units[u]);
}

static void sim_svg_run_attrs(FILE *f, const struct s2_config *cfg, const struct sim_run *r,
			      struct sim_svg_present *pr)
{
	if (!r->valid) {
		pr->owner = true;
		fprintf(f, "fill=\"%s\" stroke=\"#555753\"", OWNER_FILL);
		return;
	}
	size_t c = sim_svg_color(sim_run_type(cfg, r));

	pr->type[c] = true;
	fprintf(f, "fill=\"%s\"", sim_svg_colors[c].fill);
	if (!(r->sw & 3))
		fprintf(f, " stroke=\"#ffffff\" stroke-width=\"0.5\"");
	else {
		pr->state[r->sw & 3] = true;
		fprintf(f, " stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\"",
			sim_svg_states[r->sw & 3].stroke, sim_svg_states[r->sw & 3].dash);
	}
}

/* One VM: title, map, rows. Return: the y below it. */
static int sim_svg_vm(FILE *f, const struct sim_vm *sv, const struct sim_runs *r, int y,
		      struct sim_svg_piece *pieces, struct sim_svg_present *pr)
{
	const struct s2_config *cfg = &sv->vm.pgt.cfg;
	uint64_t top = UINT64_C(1) << cfg->ipa_bits;
	size_t n = sim_svg_pieces(r, top, pieces);
	double scale = sim_svg_scale(pieces, n), x = MARGIN, total = MARGIN, label_end[2];
	char desc[192], sz[24], top_str[24];
	int map_y;

	for (size_t i = 0; i < n; i++)
		total += sim_svg_width(&pieces[i], scale);
	snprintf(top_str, sizeof(top_str), "0x%" PRIx64, top);
	label_end[0] = MARGIN + SIM_SVG_CHAR_W * 3; /* after "0x0" */
	label_end[1] = MARGIN;

	fprintf(f,
		"<text class=\"title\" x=\"%d\" y=\"%d\" font-weight=\"bold\">vm%u: %s granule, %u-bit "
		"IPA (0x0-0x%" PRIx64 "), FWB %s, %zu run%s</text>\n",
		MARGIN, y, sv->id, s2_granule_name(cfg->granule), cfg->ipa_bits, top - 1,
		cfg->fwb ? "on" : "off", r->n, r->n == 1 ? "" : "s");
	y += 8;
	map_y = y;
	fprintf(f, "<g class=\"map\" data-vm=\"%u\">\n", sv->id);
	for (size_t i = 0; i < n; i++) {
		const struct sim_svg_piece *p = &pieces[i];
		double w = sim_svg_width(p, scale);

		if (!p->run) {
			sim_svg_approx(p->len, sz, sizeof(sz));
			if (p->collapsed)
				pr->gap = true;
			fprintf(f,
				"<rect class=\"gap\" data-ipa=\"0x%" PRIx64
				"\" data-end=\"0x%" PRIx64
				"\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
				"stroke=\"#babdb6\"><title>0x%" PRIx64 "-0x%" PRIx64
				" (about %s) unmapped%s</title></rect>\n",
				p->ipa, p->ipa + p->len - 1, x, map_y, w, MAP_H,
				p->collapsed ? GAP_FILL : "#ffffff", p->ipa, p->ipa + p->len - 1,
				sz, p->collapsed ? " (not to scale)" : "");
			if (p->collapsed)
				fprintf(f,
					"<text x=\"%.2f\" y=\"%d\" font-size=\"9\" "
					"text-anchor=\"middle\">%s</text>\n",
					x + w / 2, map_y + MAP_H + 10, sz);
		} else {
			sim_svg_describe(cfg, p->run, desc, sizeof(desc));
			fprintf(f,
				"<rect class=\"run\" data-ipa=\"0x%" PRIx64
				"\" data-end=\"0x%" PRIx64
				"\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" ",
				p->ipa, p->ipa + p->len - 1, x, map_y, w, MAP_H);
			sim_svg_run_attrs(f, cfg, p->run, pr);
			fprintf(f, "><title>%s</title></rect>\n", desc);
			/* The size inside the bar when it fits (about 7 pixels a character). */
			sim_size_str(p->len, sz, sizeof(sz));
			if (w >= 7.0 * (double)strlen(sz) + 6)
				fprintf(f,
					"<text x=\"%.2f\" y=\"%d\" fill=\"#ffffff\" "
					"text-anchor=\"middle\">%s</text>\n",
					x + w / 2, map_y + MAP_H / 2 + 4, sz);
		}
		/* The first IPA of each cluster of runs (after a collapsed gap) under the bar, on
		 * the first of two lines where it fits between its neighbours' labels. */
		if (p->run && (!i || pieces[i - 1].collapsed)) {
			char at[24];
			double lw;

			snprintf(at, sizeof(at), "0x%" PRIx64, p->ipa);
			lw = SIM_SVG_CHAR_W * (double)strlen(at);
			for (int row = 0; row < 2; row++) {
				if (x < label_end[row] + 6 ||
				    (!row &&
				     x + lw > total - SIM_SVG_CHAR_W * (double)strlen(top_str) - 6))
					continue;
				fprintf(f,
					"<text class=\"tick\" x=\"%.2f\" y=\"%d\" "
					"font-size=\"9\">%s</text>\n",
					x, map_y + MAP_H + 20 + 10 * row, at);
				label_end[row] = x + lw;
				break;
			}
		}
		x += w;
	}
	fprintf(f, "</g>\n");
	/* The IPA of the map's two ends. */
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" font-size=\"9\">0x0</text>\n"
		"<text x=\"%.2f\" y=\"%d\" font-size=\"9\" text-anchor=\"end\">%s</text>\n",
		MARGIN, map_y + MAP_H + 20, x, map_y + MAP_H + 20, top_str);
	y = map_y + MAP_H + 34 + ROW_H;
	if (!r->n) {
		fprintf(f, "<text x=\"%d\" y=\"%d\">(nothing mapped)</text>\n", MARGIN, y);
		y += ROW_H;
	}
	for (size_t k = 0; k < r->n; k++) {
		const struct sim_run *run = &r->v[k];

		sim_svg_describe(cfg, run, desc, sizeof(desc));
		fprintf(f, "<rect class=\"swatch\" x=\"%d\" y=\"%d\" width=\"14\" height=\"%d\" ",
			MARGIN, y - ROW_H + 5, ROW_H - 6);
		sim_svg_run_attrs(f, cfg, run, pr);
		fprintf(f, "/>\n<text class=\"label\" x=\"%d\" y=\"%d\">%s</text>\n", MARGIN + 20,
			y, desc);
		y += ROW_H;
	}
	return y + ROW_H;
}

static int sim_svg_legend_item(FILE *f, int y, const char *attrs, const char *text)
{
	fprintf(f,
		"<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"14\" height=\"%d\" %s/>\n"
		"<text x=\"%d\" y=\"%d\">%s</text>\n",
		MARGIN, y - ROW_H + 5, ROW_H - 6, attrs, MARGIN + 20, y, text);
	return y + ROW_H;
}

int sim_svg_write_file(FILE *f, struct sim_vm *const *vms, unsigned int n)
{
	struct sim_runs runs[SIM_MAX_VMS];
	struct sim_svg_present pr;
	struct sim_svg_piece *pieces = NULL;
	size_t max_runs = 0;
	double width = WIDTH;
	int y, rows = 0, ret = 0;
	char attrs[160];

	memset(&pr, 0, sizeof(pr));
	memset(runs, 0, sizeof(runs));
	if (n > SIM_MAX_VMS)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		if (sim_collect_runs(&vms[i]->vm.pgt, &runs[i])) {
			ret = -1;
			goto out;
		}
		if (runs[i].n > max_runs)
			max_runs = runs[i].n;
		rows += 6 + (int)(runs[i].n ? runs[i].n : 1);
	}
	pieces = calloc(2 * max_runs + 1, sizeof(*pieces));
	if (!pieces) {
		ret = -1;
		goto out;
	}
	/* Many collapsed gaps may need more than MAP_W: the picture grows to fit. */
	for (unsigned int i = 0; i < n; i++) {
		size_t np = sim_svg_pieces(&runs[i], UINT64_C(1) << vms[i]->vm.pgt.cfg.ipa_bits,
					   pieces);
		double scale = sim_svg_scale(pieces, np), x = 2 * MARGIN;

		for (size_t k = 0; k < np; k++)
			x += sim_svg_width(&pieces[k], scale);
		if (x > width)
			width = x;
	}
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%d\" "
		"font-family=\"monospace\" font-size=\"12\">\n"
		"<defs>\n"
		"<pattern id=\"s2-gap\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
		"patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/>"
		"<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d3d7cf\" stroke-width=\"3\"/>"
		"</pattern>\n"
		"<pattern id=\"s2-owner\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
		"patternTransform=\"rotate(-45)\"><rect width=\"6\" height=\"6\" fill=\"#d3d7cf\"/>"
		"<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#555753\" stroke-width=\"2\"/>"
		"</pattern>\n"
		"</defs>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
		width + 1, (rows + 20) * ROW_H + 40 * (int)n);
	y = ROW_H;
	for (unsigned int i = 0; i < n; i++)
		y = sim_svg_vm(f, vms[i], &runs[i], y, pieces, &pr);
	fprintf(f,
		"<g class=\"legend\">\n<text x=\"%d\" y=\"%d\" font-weight=\"bold\">legend</text>\n",
		MARGIN, y);
	y += ROW_H;
	for (size_t c = 0; c < SIM_SVG_NCOLORS; c++) {
		if (!pr.type[c])
			continue;
		snprintf(attrs, sizeof(attrs), "fill=\"%s\" data-type=\"%s\"",
			 sim_svg_colors[c].fill, sim_svg_colors[c].type);
		y = sim_svg_legend_item(f, y, attrs, sim_svg_colors[c].what);
	}
	for (int st = 1; st < 4; st++) {
		if (!pr.state[st])
			continue;
		snprintf(
			attrs, sizeof(attrs),
			"fill=\"#ffffff\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\" "
			"data-state=\"%s\"",
			sim_svg_states[st].stroke, sim_svg_states[st].dash,
			sim_svg_states[st].name);
		y = sim_svg_legend_item(f, y, attrs, sim_svg_states[st].what);
	}
	if (pr.owner)
		y = sim_svg_legend_item(
			f, y, "fill=\"" OWNER_FILL "\" stroke=\"#555753\" data-type=\"owner\"",
			"invalid entry annotated with its owner (page ownership)");
	if (pr.gap)
		y = sim_svg_legend_item(
			f, y, "fill=\"" GAP_FILL "\" stroke=\"#babdb6\" data-type=\"gap\"",
			"unmapped, collapsed (not to scale; size below it)");
	y = sim_svg_legend_item(f, y, "fill=\"#ffffff\" stroke=\"#babdb6\" data-type=\"unmapped\"",
				"unmapped, to scale");
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" font-size=\"10\">Runs are drawn to one scale per map (at "
		"least %d pixels wide); labels: IPA range, size, entry size x count, level, "
		"permissions (r w x; u/p: EL0/EL1 only), memory type, output address.</text>\n",
		MARGIN, y, MIN_RUN);
	fprintf(f, "</g>\n</svg>\n");
out:
	free(pieces);
	for (unsigned int i = 0; i < n; i++)
		sim_runs_free(&runs[i]);
	return ret;
}

int sim_svg_write(const char *path, struct sim_vm *const *vms, unsigned int n)
{
	FILE *f;
	int ret;

	if (!strcmp(path, "-")) {
		ret = sim_svg_write_file(stdout, vms, n);
		return ret || fflush(stdout) || ferror(stdout) ? -1 : 0;
	}
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = sim_svg_write_file(f, vms, n);
	if (ferror(f))
		ret = -1;
	if (fclose(f))
		ret = -1;
	return ret;
}
