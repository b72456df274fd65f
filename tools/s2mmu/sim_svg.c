// SPDX-License-Identifier: MIT
/*
 * sim_svg.c - a VM's IPA map as plain SVG text: for each VM a title, then one horizontal bar
 * per run (class "run"), its width growing with log2 of the run's size so that 4K pages and
 * 1G blocks both stay visible, coloured by the stage-2 memory type, labelled with the IPA
 * range, output address, level and permissions; a legend of the colours at the bottom
 * (class "legend"). No dependencies.
 */
#include "sim.h"

#include <inttypes.h>
#include <string.h>

struct sim_svg_color {
	const char *type;
	const char *fill;
};

/* Colours per memory type (s2_memtype_name); the last entry is for invalid annotated runs. */
static const struct sim_svg_color sim_svg_colors[] = {
	{ "normal-wb", "#4e9a06" },   { "normal-nc", "#3465a4" },    { "normal-wt", "#75507b" },
	{ "normal-s1", "#8ae234" },   { "device-ngnre", "#f57900" }, { "device-ngnrne", "#cc0000" },
	{ "device-ngre", "#c17d11" }, { "device-gre", "#edd400" },   { "owner", "#888a85" },
};

#define SIM_SVG_NCOLORS (sizeof(sim_svg_colors) / sizeof(sim_svg_colors[0]))

static const char *sim_svg_fill(const char *type)
{
	for (size_t i = 0; i < SIM_SVG_NCOLORS; i++)
		if (!strcmp(sim_svg_colors[i].type, type))
			return sim_svg_colors[i].fill;
	return "#babdb6";
}

#define ROW_H 18
#define BAR_X 10
#define BAR_MAX 300
#define TEXT_X (BAR_X + BAR_MAX + 10)
#define WIDTH 1000

static unsigned int sim_log2(uint64_t v)
{
	unsigned int l = 0;

	while (v >>= 1)
		l++;
	return l;
}

int sim_svg_write(const char *path, struct sim_vm *const *vms, unsigned int n)
{
	struct sim_runs runs[SIM_MAX_VMS];
	unsigned int rows = 0;
	FILE *f;
	int y;

	for (unsigned int i = 0; i < n; i++) {
		if (sim_collect_runs(&vms[i]->vm.pgt, &runs[i])) {
			for (unsigned int k = 0; k <= i; k++)
				sim_runs_free(&runs[k]);
			return -1;
		}
		rows += 2 + (unsigned int)(runs[i].n ? runs[i].n : 1);
	}
	f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f) {
		for (unsigned int i = 0; i < n; i++)
			sim_runs_free(&runs[i]);
		return -1;
	}
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%u\" "
		"font-family=\"monospace\" font-size=\"12\">\n",
		WIDTH, (rows + 3) * ROW_H + (unsigned int)(SIM_SVG_NCOLORS * ROW_H));
	y = ROW_H;
	for (unsigned int i = 0; i < n; i++) {
		const struct s2_vm *vm = &vms[i]->vm;
		const struct s2_config *cfg = &vm->pgt.cfg;

		fprintf(f,
			"<text x=\"%d\" y=\"%d\" font-weight=\"bold\">vm%u: %s granule, %u-bit IPA, "
			"FWB %s</text>\n",
			BAR_X, y, vms[i]->id, s2_granule_name(cfg->granule), cfg->ipa_bits,
			cfg->fwb ? "on" : "off");
		y += ROW_H;
		if (!runs[i].n) {
			fprintf(f, "<text x=\"%d\" y=\"%d\">(nothing mapped)</text>\n", BAR_X, y);
			y += ROW_H;
		}
		for (size_t k = 0; k < runs[i].n; k++) {
			const struct sim_run *r = &runs[i].v[k];
			const char *type = r->valid ? sim_run_type(cfg, r) : "owner";
			/* 4K -> 1/4 of the bar ... 2^52 -> the whole bar */
			unsigned int lg = sim_log2(r->len);
			int w = (int)(BAR_MAX * (lg > 52 ? 52 : lg) / 52);
			char sz[24], perm[4] = "---";

			if (w < 4)
				w = 4;
			if (r->valid)
				sim_run_perm(cfg, r, perm);
			fprintf(f,
				"<rect class=\"run\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				"fill=\"%s\"><title>%s</title></rect>\n",
				BAR_X, y - ROW_H + 4, w, ROW_H - 4, sim_svg_fill(type), type);
			fprintf(f, "<text x=\"%d\" y=\"%d\">0x%" PRIx64 "-0x%" PRIx64 " (%s) ",
				TEXT_X, y, r->ipa, r->ipa + r->len - 1,
				sim_size_str(r->len, sz, sizeof(sz)));
			if (r->valid)
				fprintf(f, "-&gt; 0x%" PRIx64 " L%d %s %s", r->pa, r->level, perm,
					type);
			else
				fprintf(f, "invalid L%d owner %u", r->level, r->owner);
			fprintf(f, "</text>\n");
			y += ROW_H;
		}
		y += ROW_H;
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">legend</text>\n", BAR_X, y);
	y += ROW_H;
	for (size_t c = 0; c < SIM_SVG_NCOLORS; c++) {
		fprintf(f,
			"<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"14\" height=\"%d\" "
			"fill=\"%s\"/>\n<text x=\"%d\" y=\"%d\">%s</text>\n",
			BAR_X, y - ROW_H + 4, ROW_H - 4, sim_svg_colors[c].fill, BAR_X + 20, y,
			strcmp(sim_svg_colors[c].type, "owner") ? sim_svg_colors[c].type :
								  "invalid, owner annotation");
		y += ROW_H;
	}
	fprintf(f, "</svg>\n");
	for (unsigned int i = 0; i < n; i++)
		sim_runs_free(&runs[i]);
	if (f == stdout)
		return fflush(f) || ferror(f) ? -1 : 0;
	if (fclose(f))
		return -1;
	return 0;
}
