#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh BUILD_DIR OUT_DIR - run the page-table benchmarks natively (median of several
# runs) and under callgrind (instructions per unit, one run: the count is deterministic), and
# write OUT_DIR/results.json: a JSON list of {"op", "unit", "ns_per_unit", "instr_per_unit", ...}.
#
# `make bench` calls it as `bash bench/run.sh build/bench-gcc build/bench`.
#
# Linux KVM's stage-2 engine (bench_kvm612, bench_kvm61: bench/bench_kvm.c) runs the same
# operations in the same rounds: every round runs bench_pgtable's engine operations and both
# KVM engines one after the other (the order alternating between rounds), so that both are
# timed in the same minutes; the median over all rounds is reported. A KVM engine that was not
# built is reported with the reason its status file gives (BUILD/bench/kvm/<version>/status,
# written by bench/kvm/extract.sh), and the run still passes.
#
# Environment:
#   S2_BENCH_ROUNDS    rounds of the engine operations, s2mmu and KVM alternating (default 3)
#   S2_BENCH_REPS      native runs per operation, per round (default 5; the median is reported)
#   S2_BENCH_SIZE_MIB  region of the engine operations in MiB, s2mmu and KVM (default 1024)
#   S2_BENCH_SCALE     native scaling sizes in MiB (default 1024,4096,16384,65536)
#   S2_BENCH_CG_SCALE  scaling sizes under callgrind in MiB (default 1024,4096,16384,65536;
#                      about 30 s on 2 cores)
#   S2_BENCH_NO_CG=1   skip callgrind
#   S2_BENCH_CONC      options of bench_vm_scale's vCPU threads on the fault path (default
#                      "--reps 5 --conc-mib 256"); "none" skips them
#   S2_BENCH_DIRTY     options of its dirty-logging rounds (default "--reps 1 --dirty-gib 64":
#                      about 30 s of CPU time); "none" skips them
#   S2_BENCH_LAYERS_MIB, S2_BENCH_LAYERS_CG_MIB
#                      region of bench_layers (VM abort path, owner transitions) natively and
#                      under callgrind, in MiB (default 1024 both)
#
# AArch64: when the EL2 benchmark image was built (BUILD_DIR/bench/el2/bench_el2.elf, needs
# aarch64-linux-gnu-gcc and qemu-system-aarch64: bench/el2/el2bench.cmake), it runs once under
# QEMU with -icount shift=0 and its exact instruction counts (the PMU's INST_RETIRED at EL2) go
# into results.json as aarch64_* fields of the same operations (bench/README.md "AArch64
# instruction counts at EL2"); S2_BENCH_NO_EL2=1 skips it.
#
# Files in OUT_DIR: el2.txt/.jsonl (the EL2 run), native.txt/.jsonl (the native run), callgrind.txt/.jsonl and
# callgrind/cg.out.N (one dump per measured operation, with --dump-instr=yes),
# annotate/<op>.txt (callgrind_annotate: inclusive cost per function, self cost per line),
# results.json, results.md (a table with KVM's figures beside ours), machine.txt (CPU, load,
# compiler, commit).
set -euo pipefail

build=${1:?usage: run.sh BUILD_DIR OUT_DIR}
out=${2:?usage: run.sh BUILD_DIR OUT_DIR}
bin=$build/bench/bench_pgtable
layers=$build/bench/bench_layers
vm_scale=$build/bench/bench_vm_scale
conc_opts=${S2_BENCH_CONC:---reps 5 --conc-mib 256}
dirty_opts=${S2_BENCH_DIRTY:---reps 1 --dirty-gib 64}
layers_mib=${S2_BENCH_LAYERS_MIB:-1024}
layers_cg_mib=${S2_BENCH_LAYERS_CG_MIB:-1024}
reps=${S2_BENCH_REPS:-5}
scale=${S2_BENCH_SCALE:-1024,4096,16384,65536}
cg_scale=${S2_BENCH_CG_SCALE:-1024,4096,16384,65536}
rounds=${S2_BENCH_ROUNDS:-3}
size_mib=${S2_BENCH_SIZE_MIB:-1024}
# The engine operations, measured in rounds beside KVM's (tables and scale once, after).
core_ops=map_fault_4k,map_range_4k,map_range_2m,wrprotect_4k,unmap_4k,unmap_scatter_4k
core_ops=$core_ops,unmap_partial_4k,lookup,relax_4k,mkyoung_4k,age_4k
kvm_versions="6.12 6.1"

if [ ! -x "$bin" ]; then
	echo "run.sh: $bin not built (the engine, walker and host port must exist)" >&2
	exit 1
fi
mkdir -p "$out"
rm -rf "$out/callgrind" "$out/annotate"
rm -f "$out/native.jsonl" "$out/callgrind.jsonl" "$out/results.json" "$out/results.md"
rm -f "$out/native_layers.jsonl" "$out/callgrind_layers.jsonl" "$out"/native_round*.jsonl
rm -f "$out/kvm.json" "$out/native_vm_scale.jsonl" "$out/el2.txt" "$out/el2.jsonl"
status=0
el2_elf=$build/bench/el2/bench_el2.elf

# KVM engines: which were built, and why not for the others.
kvm_bins=()
for v in $kvm_versions; do
	name=kvm${v//./}
	st=$build/bench/kvm/$v/status
	if [ -x "$build/bench/bench_$name" ] && [ -f "$st" ] && grep -qx 'status: ok' "$st"; then
		kvm_bins+=("$name")
	fi
done

# What the figures were measured on (the machine is often shared: note its load).
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo 'unknown (not a git checkout)')$(
		git -C "$(dirname "$0")" status --porcelain -- :/src :/port 2>/dev/null | grep -q . &&
			echo ' (src/ or port/ modified)')"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1) x $(nproc)"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "compiler: $(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt") $(
		sed -n 's/^CMAKE_C_FLAGS_RELEASE:[A-Z]*=//p' "$build/CMakeCache.txt")"
	echo "valgrind: $(valgrind --version 2>/dev/null || echo none)"
	for v in $kvm_versions; do
		name=kvm${v//./}
		st=$build/bench/kvm/$v/status
		field() { sed -n "s/^$1: //p" "$st" 2>/dev/null | head -n1; }
		if [[ " ${kvm_bins[*]} " == *" $name "* ]]; then
			echo "kvm $v: package $(field package) $(field version), $(field tarball)" \
				"sha256 $(field sha256), pgtable.c sha256 $(field pgtable_c_sha256)"
		elif [ -f "$st" ] && grep -qx 'status: ok' "$st"; then
			echo "kvm $v: unavailable: bench_$name not built in $build"
		elif [ -f "$st" ]; then
			echo "kvm $v: unavailable: $(field reason)"
		else
			echo "kvm $v: unavailable: not configured (no $st; S2_BENCH_KVM off?)"
		fi
	done
} >"$out/machine.txt" || true
cat "$out/machine.txt"

echo "== native: $rounds rounds of s2mmu and KVM (${kvm_bins[*]:-none}), $reps runs per" \
	"operation each, median (thread CPU time; wall time beside) =="
start=$(date +%s)
: >"$out/native.txt"
for r in $(seq 1 "$rounds"); do
	engines=(s2mmu "${kvm_bins[@]}")
	if [ $((r % 2)) -eq 0 ]; then # alternate who goes first
		rev=()
		for ((i = ${#engines[@]} - 1; i >= 0; i--)); do rev+=("${engines[i]}"); done
		engines=("${rev[@]}")
	fi
	echo "-- round $r: ${engines[*]}" | tee -a "$out/native.txt"
	for e in "${engines[@]}"; do
		if [ "$e" = s2mmu ]; then
			"$bin" --reps "$reps" --size-mib "$size_mib" --ops "$core_ops" \
				--scale-mib none --no-matrix \
				--out "$out/native_round$r.s2mmu.jsonl" | tee -a "$out/native.txt" ||
				status=$?
		else
			"$build/bench/bench_$e" --reps "$reps" --size-mib "$size_mib" \
				--out "$out/native_round$r.$e.jsonl" |
				tee -a "$out/native.txt" || status=$?
		fi
	done
done
"$bin" --reps "$reps" --size-mib "$size_mib" --ops tables,scale --scale-mib "$scale" \
	--out "$out/native.jsonl" |
	tee -a "$out/native.txt" || status=$?
if [ -x "$layers" ]; then
	"$layers" --reps "$reps" --size-mib "$layers_mib" --out "$out/native_layers.jsonl" |
		tee -a "$out/native.txt" || status=$?
	cat "$out/native_layers.jsonl" >>"$out/native.jsonl" 2>/dev/null || true
else
	echo "run.sh: $layers not built: VM and owner benchmarks skipped" >&2
fi
for part in conc dirty; do
	opts=$conc_opts
	[ $part = conc ] || opts=$dirty_opts
	[ "$opts" != none ] || continue
	if [ ! -x "$vm_scale" ]; then
		echo "run.sh: $vm_scale not built: VM scale benchmarks skipped" >&2
		break
	fi
	# shellcheck disable=SC2086 # the options are words on purpose
	"$vm_scale" --ops $part $opts --out "$out/native_vm_scale.jsonl" |
		tee -a "$out/native.txt" || status=$?
	cat "$out/native_vm_scale.jsonl" >>"$out/native.jsonl" 2>/dev/null || true
done
echo "(native: $(($(date +%s) - start)) s)"

if [ -z "${S2_BENCH_NO_CG:-}" ]; then
	if ! command -v valgrind >/dev/null; then
		echo "run.sh: valgrind not installed (make bench installs it)" >&2
		exit 1
	fi
	echo "== callgrind: instructions per unit (scaling at $cg_scale MiB) =="
	mkdir -p "$out/callgrind" "$out/annotate"
	start=$(date +%s)
	# Instrumentation is off outside the measured calls (the program switches it on around
	# each), and collection counts only inside bench_op_* (the measured loops).
	valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
		--toggle-collect='bench_op_*' --dump-instr=yes \
		--callgrind-out-file="$out/callgrind/cg.out" \
		"$bin" --callgrind --reps 1 --size-mib "$size_mib" --scale-mib "$cg_scale" --no-matrix \
		--out "$out/callgrind.jsonl" >"$out/callgrind.txt" 2>"$out/callgrind.log" ||
		status=$?
	for e in "${kvm_bins[@]}"; do
		valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
			--toggle-collect='bench_op_*' --dump-instr=yes \
			--callgrind-out-file="$out/callgrind/cg.out.$e" \
			"$build/bench/bench_$e" --callgrind --reps 1 --size-mib "$size_mib" \
			--out "$out/callgrind_$e.jsonl" >>"$out/callgrind.txt" \
			2>>"$out/callgrind.log" || status=$?
		cat "$out/callgrind_$e.jsonl" >>"$out/callgrind.jsonl" 2>/dev/null || true
	done
	if [ -x "$layers" ]; then
		valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
			--toggle-collect='bench_op_*' --dump-instr=yes \
			--callgrind-out-file="$out/callgrind/cg.out.layers" \
			"$layers" --callgrind --reps 1 --size-mib "$layers_cg_mib" \
			--out "$out/callgrind_layers.jsonl" >>"$out/callgrind.txt" \
			2>>"$out/callgrind.log" || status=$?
		cat "$out/callgrind_layers.jsonl" >>"$out/callgrind.jsonl" 2>/dev/null || true
	fi
	cat "$out/callgrind.txt"
	echo "(callgrind: $(($(date +%s) - start)) s)"
	if [ $status -ne 0 ]; then
		tail -n 20 "$out/callgrind.log" >&2
	fi
fi

# AArch64 instruction counts at EL2 (exact: QEMU's icount drives the PMU's INST_RETIRED).
# The QEMU options are bench/el2/el2bench.cmake's (S2_EL2B_QEMU_ARGS).
el2_status="ok"
if [ -n "${S2_BENCH_NO_EL2:-}" ]; then
	el2_status="unavailable: skipped (S2_BENCH_NO_EL2)"
elif [ ! -f "$el2_elf" ]; then
	el2_status="unavailable: $el2_elf not built (needs aarch64-linux-gnu-gcc and qemu-system-aarch64)"
elif ! command -v qemu-system-aarch64 >/dev/null; then
	el2_status="unavailable: qemu-system-aarch64 not installed"
else
	echo "== AArch64 at EL2 under QEMU (-icount shift=0, PMU INST_RETIRED) =="
	if timeout 300 qemu-system-aarch64 -M virt,virtualization=on -cpu max,pauth-impdef=on \
		-nographic -nic none -semihosting-config enable=on,target=native -icount shift=0 \
		-kernel "$el2_elf" >"$out/el2.txt" 2>&1; then
		tr -d '\r' <"$out/el2.txt" | sed -n 's/^bench-el2: \({.*}\)$/\1/p' >"$out/el2.jsonl"
	else
		rc=$?
		el2_status="failed: bench_el2.elf exit $rc (see el2.txt)"
		status=$rc
	fi
	cat "$out/el2.txt"
	echo "el2: $(qemu-system-aarch64 --version | head -n1)" >>"$out/machine.txt"
fi
echo "el2: $el2_status" >>"$out/machine.txt"

python3 - "$out" "$(dirname "$0")" "$build" "$kvm_versions" "$el2_status" <<'EOF'
import glob, json, os, re, sys

out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
try:
    import cg_breakdown
except ImportError:
    cg_breakdown = None

build = sys.argv[3]
kvm_versions = sys.argv[4].split()
el2_status = sys.argv[5]

# Targets of the engine's operations (instructions per unit).
TARGET = {
    "map_fault_4k": 150, "map_range_4k": 30, "map_range_2m": 100, "wrprotect_4k": 15,
    "unmap_4k": 20, "lookup": 60, "relax_4k": 80, "mkyoung_4k": 80, "age_4k": 12,
}


def kvm_status(ver):
    """{"status": "ok"|"unavailable", "reason", "package", "version", "sha256", ...}"""
    path = os.path.join(build, "bench", "kvm", ver, "status")
    st = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition(": ")
                st[k] = v
    except OSError:
        st = {"status": "unavailable",
              "reason": f"not configured (no {path}; S2_BENCH_KVM off?)"}
    name = "kvm" + ver.replace(".", "")
    if st.get("status") == "ok" and not os.access(
            os.path.join(build, "bench", "bench_" + name), os.X_OK):
        st = dict(st, status="unavailable", reason=f"bench_{name} not built in {build}")
    return name, st


KVM = dict(kvm_status(v) for v in kvm_versions)

def load(path):
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    recs.append(json.loads(line))
    return recs

def median(v):
    v = sorted(v)
    n = len(v)
    return None if not n else (v[n // 2] if n & 1 else (v[n // 2 - 1] + v[n // 2]) / 2)


# The rounds: one record per operation and engine, every round's runs together.
rounds = {}
for path in sorted(glob.glob(os.path.join(out, "native_round*.jsonl"))):
    for r in load(path):
        rounds.setdefault(r["op"], []).append(r)
native = []
for op, recs in rounds.items():
    rec = dict(recs[0])
    runs = [x for r in recs for x in r.get("ns_runs", [])]
    rec["ns_runs"] = runs
    rec["rounds"] = len(recs)
    rec["ns_per_unit"] = round(median(runs), 3)
    rec["ns_min_per_unit"] = min(runs)
    rec["round_ns_per_unit"] = [r["ns_per_unit"] for r in recs]
    rec["wall_ns_per_unit"] = round(median([r["wall_ns_per_unit"] for r in recs]), 3)
    rec["wall_ns_min_per_unit"] = min(r["wall_ns_min_per_unit"] for r in recs)
    rec["verified"] = all(r.get("verified") for r in recs)
    native.append(rec)
native += load(os.path.join(out, "native.jsonl"))
cg = {r["op"]: r for r in load(os.path.join(out, "callgrind.jsonl"))}

# One callgrind dump per measured operation: "desc: Trigger: Client Request: <op>".
ir = {}
for path in glob.glob(os.path.join(out, "callgrind", "cg.out*")):
    label, total = None, None
    with open(path) as f:
        for line in f:
            m = re.match(r"desc: Trigger: Client Request: (\S+)", line)
            if m:
                label = m.group(1)
            m = re.match(r"(?:summary|totals): (\d+)", line)
            if m:
                total = int(m.group(1))
    if label and total is not None:
        ir[label] = (total, path)

def attribute(rec, dump, units):
    """Per-function split of one dump (bench/cg_breakdown.py), into the record and a file."""
    if cg_breakdown is None or not os.path.isdir(os.path.join(out, "annotate")):
        return
    path = os.path.join(out, "annotate", rec["op"] + ".breakdown.txt")
    with open(path, "w") as f:
        _, per_func = cg_breakdown.report(dump, units, file=f)
    # The measured loop itself (bench_op_*: argument set-up, loop control) is the harness.
    rec["harness_instr_per_unit"] = round(
        sum(v for k, v in per_func.items()
            if k.startswith(("bench_pgtable.c:", "bench_layers.c:",
                             "kvm_glue.c:bench_op_"))) / units, 2)
    rec["top_functions"] = [[k, round(v / units, 2)] for k, v in
                            sorted(per_func.items(), key=lambda kv: -kv[1])[:8]]

results = []
for r in native:
    rec = dict(r)
    rec.setdefault("instr_per_unit", None)
    op = r["op"]
    if op in ir and op in cg and "units" in cg[op]:
        rec["instr_per_unit"] = round(ir[op][0] / cg[op]["units"], 2)
        rec["instr_total"] = ir[op][0]
        rec["callgrind_dump"] = os.path.relpath(ir[op][1], out)
        rec["verified_callgrind"] = cg[op].get("verified", False)
        attribute(rec, ir[op][1], cg[op]["units"])
    for name in KVM:
        if op.startswith(name + "_"):
            rec["engine"] = name
    rec.setdefault("engine", "s2mmu")
    if op in TARGET:
        rec["target_instr_per_unit"] = TARGET[op]
    results.append(rec)
# Operations measured only under callgrind (e.g. scaling sizes too big to run natively).
seen = {r["op"] for r in results}
for op, r in cg.items():
    if op in seen or op not in ir or "units" not in r:
        continue
    rec = dict(r)
    rec["ns_per_unit"] = None
    rec.pop("ns_runs", None)
    rec["instr_per_unit"] = round(ir[op][0] / r["units"], 2)
    rec["instr_total"] = ir[op][0]
    rec["callgrind_dump"] = os.path.relpath(ir[op][1], out)
    attribute(rec, ir[op][1], r["units"])
    results.append(rec)

# KVM's figures beside each s2mmu operation it also ran, and the ratios (KVM / s2mmu).
byop = {r["op"]: r for r in results}
for r in results:
    if r.get("engine") != "s2mmu" or r.get("unit") in ("pages", "byte"):
        continue
    for name, st in KVM.items():
        k = byop.get(name + "_" + r["op"])
        if st.get("status") != "ok":
            if r["op"] in ("map_fault_4k", "map_range_4k", "map_range_2m", "wrprotect_4k",
                           "unmap_4k", "unmap_scatter_4k", "unmap_partial_4k", "lookup",
                           "relax_4k", "mkyoung_4k", "age_4k"):
                r[name + "_status"] = "unavailable: " + st.get("reason", "unknown")
            continue
        if k is None:
            continue
        ki, kn = k.get("instr_per_unit"), k.get("ns_per_unit")
        r[name + "_instr_per_unit"] = ki
        r[name + "_ns_per_unit"] = kn
        r[name + "_instr_ratio"] = round(ki / r["instr_per_unit"], 2) \
            if ki and r.get("instr_per_unit") else None
        r[name + "_ns_ratio"] = round(kn / r["ns_per_unit"], 2) \
            if kn and r.get("ns_per_unit") else None
        r[name + "_status"] = "ok"
# AArch64 at EL2: exact instruction counts of the same operations beside the x86-64 figures.
# aarch64_instr_per_unit counts everything between the two counter reads (the loop included,
# as instr_per_unit does under callgrind); aarch64_harness_instr_per_unit is the same loop
# calling an empty function of the operation's type; aarch64_net_instr_per_unit the difference.
# Config "pa48" (a 48-bit PA, as on x86) gives aarch64_*; "pa52" (QEMU -cpu max's own 52-bit
# PA: LPA2 descriptors, no 4K fast path) aarch64_pa52_*.
el2 = load(os.path.join(out, "el2.jsonl"))
for e in el2:
    units = e["units"]
    pre = "aarch64_" if e.get("config") == "pa48" else f"aarch64_{e.get('config')}_"
    fields = {
        pre + "instr_per_unit": round(e["count"] / units, 2),
        pre + "harness_instr_per_unit": round(e["harness_count"] / units, 2),
        pre + "net_instr_per_unit": round((e["count"] - e["harness_count"]) / units, 2),
        pre + "units": units,
        pre + "fast4k": e.get("fast4k"),
    }
    rec = byop.get(e["op"])
    if rec is None:
        rec = {"op": e["op"], "unit": "op", "engine": "s2mmu", "ns_per_unit": None,
               "instr_per_unit": None}
        results.append(rec)
        byop[e["op"]] = rec
    rec.update(fields)
results.append({"op": "aarch64_el2", "unit": "info", "engine": "s2mmu", "ns_per_unit": None,
                "instr_per_unit": None, "status": el2_status,
                "method": "bench/el2/bench_el2.elf at EL2 under qemu-system-aarch64 -cpu max "
                          "-icount shift=0: PMEVCNTR0_EL0 counting INST_RETIRED (0x08) with "
                          "PMEVTYPER0_EL0.NSH=1, P=1, U=1; net = count - count of the same loop "
                          "calling an empty function; aarch64_* with a 48-bit PA (as x86), "
                          "aarch64_pa52_* with the CPU's 52-bit PA (LPA2 layout)"})

# Which KVM sources were measured (or why not): one record per version.
for name, st in KVM.items():
    info = {"op": name + "_engine", "unit": "info", "engine": name,
            "ns_per_unit": None, "instr_per_unit": None, "status": st.get("status")}
    for key in ("reason", "package", "version", "tarball", "sha256", "pgtable_c_sha256"):
        if key in st:
            info[key] = st[key]
    results.append(info)

with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(results, f, indent=1)
    f.write("\n")

def fmt(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"

def kvm_cells(r, name):
    if r.get(name + "_status", "ok") != "ok":
        return "n/a | n/a"
    ki, kn = r.get(name + "_instr_per_unit"), r.get(name + "_ns_per_unit")
    if ki is None and kn is None:
        return " | "
    ri, rn = r.get(name + "_instr_ratio"), r.get(name + "_ns_ratio")
    return (f"{fmt(ki)}{f' ({ri:.1f}x)' if ri else ''} | "
            f"{fmt(kn, 2)}{f' ({rn:.1f}x)' if rn else ''}")


head = ("| op | unit | ns/unit (CPU time) | instr/unit | target | aarch64 instr (net) | "
        "aarch64 52-bit PA (net) |")
rule = "|---|---|---:|---:|---:|---:|---:|"
for name in KVM:
    head += f" {name} instr | {name} ns |"
    rule += "---:|---:|"
lines = [head, rule]
for r in results:
    if r.get("engine", "s2mmu") != "s2mmu" or r.get("unit") == "info":
        continue
    if r["op"].startswith("tables_") and r["unit"] != "pages":
        continue
    if r["unit"] == "pages":
        lines.append(f"| {r['op']} | pages (4K) | {r['pages']} (min {r['min_pages']}, "
                     f"root {r['root_pages']}) | | min | | |" + " | |" * len(KVM))
        continue
    lines.append(f"| {r['op']} | {r['unit']} | {fmt(r.get('ns_per_unit'), 2)} | "
                 f"{fmt(r.get('instr_per_unit'))} | {r.get('target_instr_per_unit', '')} | "
                 + "".join((f"{fmt(r[p + 'instr_per_unit'])} ({fmt(r[p + 'net_instr_per_unit'])})"
                            if p + "instr_per_unit" in r else "") + " | "
                           for p in ("aarch64_", "aarch64_pa52_")).rstrip()
                 + "".join(f" {kvm_cells(r, n)} |" for n in KVM))
lines.append("")
lines.append("aarch64: instructions per unit at EL2 under QEMU (exact, PMU INST_RETIRED with "
             "-icount), the loop included as in instr/unit; in brackets net of the loop and an "
             "empty call; with a 48-bit PA as on x86, and with QEMU -cpu max's 52-bit PA (LPA2 "
             f"descriptors, no 4K fast path). EL2 run: {el2_status}.")
lines.append("KVM columns: instructions and ns per unit of Linux KVM's engine in the same run, "
             "(KVM / s2mmu) in brackets.")
for name, st in KVM.items():
    if st.get("status") == "ok":
        lines.append(f"- {name}: {st.get('package')} {st.get('version')}, "
                     f"tarball sha256 {st.get('sha256')}")
    else:
        lines.append(f"- {name}: unavailable: {st.get('reason')}")
mem = [r for r in results if r["op"].startswith("tables_") and r["unit"] == "byte"]
if mem:
    lines += ["", "| config | levels | root bytes | 1 GiB pages: table bytes (min) | "
              "1 GiB blocks: table bytes (min) |", "|---|---:|---:|---:|---:|"]
    for r in mem:
        lines.append(f"| {r['op'][7:]} | {r['levels']} | {r['root_bytes']} | "
                     f"{r['pages_bytes']} ({r['pages_min_bytes']}) | "
                     f"{r['blocks_bytes']} ({r['blocks_min_bytes']}) |")
with open(os.path.join(out, "results.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"\nwrote {os.path.join(out, 'results.json')} ({len(results)} records)")
EOF

# Per-function breakdown of every dump (inclusive and self cost).
if [ -d "$out/callgrind" ] && command -v callgrind_annotate >/dev/null; then
	set +o pipefail # `| head` cuts callgrind_annotate short on purpose
	for f in "$out"/callgrind/cg.out.*; do
		[ -e "$f" ] || continue
		op=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f" | head -n1)
		[ -n "$op" ] || continue
		{
			echo "### inclusive cost per function"
			callgrind_annotate --inclusive=yes "$f" 2>/dev/null | sed -n '/file:function/,/^---/p' || true
			echo "### self cost per source line (lines with no cost left out)"
			callgrind_annotate --auto=yes "$f" 2>/dev/null | grep -v '^ *\. ' || true
		} >"$out/annotate/$op.txt"
	done
	echo "per-function breakdowns in $out/annotate/"
fi

if [ $status -ne 0 ]; then
	echo "run.sh: a benchmark run failed (exit $status): see the FAIL lines above" >&2
fi
exit $status
