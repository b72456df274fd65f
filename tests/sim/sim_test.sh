#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Tests of `s2mmu sim` and `s2mmu dump`: sim_test.sh TOOL GROUP EXAMPLES_DIR
#   golden  the main example's dump equals tests/sim/expected/main.dump, and with --format kvm
#           tests/sim/expected/main.kvm (both checked by hand)
#   errors  malformed files exit 2 naming FILE:LINE; failed expectations exit 1 naming the line
#   json    --json is one JSON document with the summary keys and the per-access details
#   svg     --svg writes well-formed SVG with one rect.run per dumped run
#   dump    `s2mmu dump` options (--vm, --json) and the `dump` step print the same runs
#   nisv    accesses without a valid syndrome (pair, pre/post-index, atomic, DC ZVA): ESR ISV=0
#   help    `sim --help` describes the scenario language, and its example runs
#   input   hostile input: NUL bytes, overflowing numbers, overlong lines, directories,
#           unreadable files, empty paths, bytes that are not UTF-8 in --json
set -u

TOOL=${1:?usage: sim_test.sh TOOL GROUP EXAMPLES_DIR}
GROUP=${2:?usage: sim_test.sh TOOL GROUP EXAMPLES_DIR}
EX=${3:?usage: sim_test.sh TOOL GROUP EXAMPLES_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out
ERR=$TMP/err
FAILS=0

bad() {
	echo "FAIL: $*" >&2
	echo "  stdout: $(head -c 1500 "$OUT")" >&2
	echo "  stderr: $(head -c 1500 "$ERR")" >&2
	FAILS=$((FAILS + 1))
}

# run EXPECTED_STATUS ARGS...: run the tool, check its exit status.
run() {
	local want=$1 rc
	shift
	"$TOOL" "$@" >"$OUT" 2>"$ERR"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "s2mmu $* exited $rc, expected $want"
		return 1
	fi
	return 0
}

# scenario NAME <<EOF ... : write a scenario file, print its path.
scenario() {
	cat >"$TMP/$1.s2sim"
	echo "$TMP/$1.s2sim"
}

# err_case STATUS LINE PATTERN FILE: the run fails with STATUS, stderr is one line naming
# FILE:LINE and matching PATTERN.
err_case() {
	local status=$1 line=$2 pat=$3 file=$4 cmd=${5:-sim}
	run "$status" "$cmd" "$file" || return
	if ! grep -q "^s2mmu: $cmd: $file:$line: .*$pat" "$ERR"; then
		bad "$file: expected 's2mmu: $cmd: $file:$line: ...$pat' on stderr"
	fi
}

case $GROUP in
golden)
	run 0 dump "$EX/main.s2sim" &&
		if ! diff -u <(grep -v '^#' "$HERE/expected/main.dump") "$OUT"; then
			bad "the dump of examples/main.s2sim differs from tests/sim/expected/main.dump"
		fi
	# The `dump` step inside `sim` prints the same lines.
	run 0 sim "$EX/main.s2sim" &&
		if ! grep -Fxf <(grep -v '^#' "$HERE/expected/main.dump") "$OUT" |
			cmp -s - <(grep -v '^#' "$HERE/expected/main.dump"); then
			bad "the dump step of sim does not print the golden dump"
		fi
	# Linux's ptdump format (--format kvm).
	run 0 dump --format kvm "$EX/main.s2sim" &&
		if ! diff -u <(grep -v '^#' "$HERE/expected/main.kvm") "$OUT"; then
			bad "the kvm-format dump of examples/main.s2sim differs from expected/main.kvm"
		fi
	# A 2M block (vm 4 of per-vm-configs: 52-bit IPA, start level 0) is BLK; sizes in P.
	run 0 dump --format kvm "$EX/per-vm-configs.s2sim" --vm 4 &&
		{ grep -qx '0x0008000000000000-0x0008000000200000           2M 2   R W X AF BLK' \
			"$OUT" && grep -qx '0x0000000000000000-0x0008000000000000           2P 0' "$OUT" ||
			bad "--format kvm: vm 4's block"; }
	run 0 dump --format s2mmu "$EX/main.s2sim" &&
		{ diff -q <(grep -v '^#' "$HERE/expected/main.dump") "$OUT" >/dev/null ||
			bad "--format s2mmu is not the default format"; }
	run 2 dump --format ptdump "$EX/main.s2sim"
	run 2 dump --format kvm --json "$EX/main.s2sim"
	;;
errors)
	f=$(scenario syntax <<'S'
vm 1
frobnicate 3
S
)
	err_case 2 2 "unknown step 'frobnicate'" "$f"
	grep -q '^summary:' "$OUT" && bad "a malformed file printed a summary on stdout"
	f=$(scenario badnum <<'S'
# comment line
vm 1 ipa-bits=40
read 0xZZ
S
)
	err_case 2 3 "bad number '0xZZ'" "$f"
	f=$(scenario unaligned <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000004 size=8
S
)
	err_case 2 3 "not aligned" "$f"
	f=$(scenario badopt <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000 colour=blue
S
)
	err_case 2 2 "unexpected 'colour=blue'" "$f"
	f=$(scenario novm <<'S'
read 0x1000
S
)
	err_case 2 1 "no VM yet" "$f"
	f=$(scenario refusedvm <<'S'
host pa-bits=40
vm 1 ipa-bits=44
S
)
	err_case 2 2 "S2_EIPA_TOO_BIG" "$f"
	f=$(scenario expectfail <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
expect mmio-exit
S
)
	err_case 1 4 "expected an MMIO exit from line 3, got ok" "$f"
	f=$(scenario dirtyfail <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
dirty 1 on
write 0x40001000
dirty 1 harvest
expect dirty 0x40002000
S
)
	err_case 1 6 "expected dirty page 0x40002000, harvest has 0x40001000" "$f"
	# A library error not followed by `expect error` fails at its own line.
	f=$(scenario liberr <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
slot 2 ipa=0x40100000 size=2M ram pa=0x200000000
read 0x40000000
S
)
	err_case 1 3 "S2_EEXIST" "$f"
	f=$(scenario experr <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
slot 2 ipa=0x40100000 size=2M ram pa=0x200000000
expect error S2_EEXIST
read 0x40000000
expect ok pa=0x100000000
S
)
	run 0 sim "$f"
	f=$(scenario experr2 <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
expect error S2_EEXIST
S
)
	err_case 1 3 "the previous step succeeded" "$f"
	err_case 1 4 "expected an MMIO exit" "$TMP/expectfail.s2sim" dump
	# A failing scenario's dump prints the tables as they were at the failure, then the error.
	f=$(scenario dumpfail <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
expect mmio-exit
read 0x40001000
S
)
	err_case 1 4 "expected an MMIO exit" "$f" dump
	grep -q '^vm1 tables' "$OUT" &&
		grep -q '^  0x000040000000-0x000040000fff 0x000100000000 L3   4Kx1    rw- normal-wb' "$OUT" ||
		bad "dump of a failing scenario: no tables, or not as at the failure"
	{ "$TOOL" dump "$f" 2>&1 | tail -1 | grep -q '^s2mmu: dump: .*expected an MMIO exit'; } ||
		bad "dump of a failing scenario: the error does not come after the tables"
	f=$(scenario dumpsyntax <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
frobnicate
S
)
	err_case 2 4 "unknown step 'frobnicate'" "$f" dump
	grep -q '^vm1 tables' "$OUT" || bad "dump of a malformed scenario: no tables"
	run 2 sim "$TMP/does-not-exist.s2sim" &&
		grep -q "^s2mmu: sim: $TMP/does-not-exist.s2sim: cannot open" "$ERR" ||
		bad "a missing file is not reported"
	run 2 sim && grep -q "no scenario file" "$ERR" || bad "no file: no message"
	run 2 sim a b || true
	;;
json)
	run 0 sim "$EX/main.s2sim" --json &&
		python3 - "$OUT" <<'PY' || bad "JSON output"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
for k in ("accesses", "faults", "vms", "tlbi", "cmo_bytes", "table_pages_in_use",
          "mmio_exits", "injects", "stale_tlb_entries"):
    assert k in s, k
assert d["status"] == 0
assert s["accesses"] == 12 and s["mmio_exits"] == 2 and s["injects"] == 1, s
assert s["faults"]["translation"] == 6 and s["faults"]["permission"] == 4, s["faults"]
v = s["vms"][0]
assert v["mappings_by_level"]["3"] == 1026 and v["mappings_by_level"]["2"] == 0, v
acc = [x for x in d["steps"] if x["step"] == "access"]
first = acc[0]
# read 0x40000000, 8 bytes, into an empty table: translation fault at level 1;
# ESR = EC 0x24 << 26 | IL | ISV | SAS 3 | SF | DFSC 0b000101 = 0x93c08005;
# HPFAR = IPA[51:12] << 4 = 0x400000; FAR = the IPA.
f = first["faults"][0]
assert f["kind"] == "translation" and f["level"] == 1, f
assert f["esr"] == "0x93c08005" and f["hpfar"] == "0x400000" and f["far"] == "0x40000000", f
assert f["action"] == "resume" and f["resume"] == "mapped" and f["map_size"] == 2 << 20, f
mm = [x for x in acc if x["result"] == "mmio-exit"][0]
# write of 1 byte from w5 to the UART: ESR ISV, SAS 0, SRT 5, WnR, translation L1.
assert mm["mmio"]["write"] and mm["mmio"]["size"] == 1 and mm["mmio"]["reg"] == 5, mm
assert mm["faults"][0]["esr"] == "0x93050045", mm["faults"][0]
inj = [x for x in acc if x["result"] == "inject"][0]
assert inj["inject"] == "exec-refused", inj
# instruction abort, permission fault at level 3: EC 0x20 << 26 | IL | IFSC 0b001111.
assert inj["faults"][0]["esr"] == "0x8200000f", inj
dirty = [x for x in d["steps"] if x["step"] == "dirty" and x.get("op") == "harvest"][0]
assert dirty["pages"] == ["0x40001000", "0x40003000"], dirty
PY
	# A step that fails half-way keeps the document's shape: steps, then the status.
	f=$(scenario jsonfail <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
slot-move 1
S
)
	run 2 sim "$f" --json &&
		python3 - "$OUT" <<'PY' || bad "JSON of a step that failed half-way"
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["scenario", "steps", "summary", "status"], list(d)
assert d["status"] == 2 and d["steps"][-1]["step"] == "slot-move", d
PY
	run 0 dump "$EX/memtypes.s2sim" --json &&
		python3 - "$OUT" <<'PY' || bad "dump --json"
import json, sys
d = json.load(open(sys.argv[1]))
vms = {v["vm"]: v for v in d["vms"]}
assert set(vms) == {1, 2, 3}, vms.keys()
# FWB off: Normal WB is MemAttr 0b1111; FWB on: forced WB 0b0110 (Arm ARM D8.6.5).
w1 = [r for r in vms[1]["runs"] if r["ipa"] == "0x40000000"][0]
w2 = [r for r in vms[2]["runs"] if r["ipa"] == "0x40000000"][0]
assert w1["memattr"] == "0b1111" and w1["type"] == "normal-wb", w1
assert w2["memattr"] == "0b0110" and w2["type"] == "normal-wb", w2
nc = [r for r in vms[1]["runs"] if r["ipa"] == "0x10000000"][0]
assert nc["type"] == "normal-nc" and nc["memattr"] == "0b0101" and nc["perm"] == "rw-", nc
PY
	;;
svg)
	# The map: well-formed SVG; one rect.run per dumped run, in IPA order, at x positions that
	# grow with the IPA; widths to one scale (gaps too big for it collapsed and marked); a
	# legend of exactly the memory types present.
	run 0 dump "$EX/main.s2sim" --svg "$TMP/main.svg" &&
		python3 - "$TMP/main.svg" "$OUT" <<'PY' || bad "SVG output"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
rects = [r for r in root.iter(ns + "rect") if r.get("class") in ("run", "gap")]
runs = [r for r in rects if r.get("class") == "run"]
lines = [l.split() for l in open(sys.argv[2]) if l.startswith("  0x")]
assert len(runs) == len(lines) == 4, (len(runs), len(lines))
# the runs are the dump's, in order: IPA ranges from the dump lines
for r, l in zip(runs, lines):
    first, last = l[0].split("-")
    assert int(r.get("data-ipa"), 16) == int(first, 16), (r.attrib, l)
    assert int(r.get("data-end"), 16) == int(last, 16), (r.attrib, l)
# pieces tile the IPA space from 0 to 2^40 and x grows with the IPA, without overlap
at, x = 0, None
for r in rects:
    assert int(r.get("data-ipa"), 16) == at, (hex(at), r.attrib)
    at = int(r.get("data-end"), 16) + 1
    rx, rw = float(r.get("x")), float(r.get("width"))
    if x is not None:
        assert abs(rx - x) < 0.02, (rx, x, r.attrib)
    x = rx + rw
assert at == 1 << 40, hex(at)
# to scale: the two 2M runs are equally wide and far wider than a 4K page
w = [float(r.get("width")) for r in runs]
assert w[2] == w[3] and w[2] > 50 * 3, w
# gaps larger than the scale allows are collapsed, and say so
gaps = [r for r in rects if r.get("class") == "gap"]
assert any("not to scale" in g.find(ns + "title").text for g in gaps)
# colours by memory type; the title of each run has its range, size, entries, perms, type
fill = {l[5]: r.get("fill") for r, l in zip(runs, lines)}
assert fill["device-ngnre"] != fill["normal-wb"], fill
t = runs[2].find(ns + "title").text
assert t.startswith("0x40000000-0x401fffff 2M: 4Kx512 L3 r-x normal-wb -> 0x880000000"), t
labels = [e.text for e in root.iter(ns + "text") if e.get("class") == "label"]
assert labels[1].startswith("0x10000000-0x10000fff 4K: 4Kx1 L3 rw- device-ngnre"), labels
# addresses under the bar: each at the x of the run it names
ticks = [e for e in root.iter(ns + "text") if e.get("class") == "tick"]
assert [t.text for t in ticks] == ["0x10000000", "0x40000000"], [t.text for t in ticks]
for t in ticks:
    r = [r for r in runs if int(r.get("data-ipa"), 16) == int(t.text, 16)][0]
    assert t.get("x") == r.get("x"), (t.attrib, r.attrib)
# the legend lists what is present, and only that
legend = {r.get("data-type") or r.get("data-state") for r in root.iter(ns + "rect")
          if r.get("class") == "legend"}
assert legend == {"normal-wb", "device-ngnre", "gap", "unmapped"}, legend
PY
	# Page ownership: pages shared with the guest (borrowed) are outlined.
	f=$(scenario svgown <<'S'
pkvm ram=0x80000000 size=16M
vm 1
share-guest 0x80000000 0x1000 0x2000
S
)
	run 0 dump "$f" --svg "$TMP/own.svg" &&
		python3 - "$TMP/own.svg" <<'PY' || bad "SVG of page ownership"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
legend = {r.get("data-type") or r.get("data-state") for r in root.iter(ns + "rect")
          if r.get("class") == "legend"}
assert "shared-borrowed" in legend and "normal-wb" in legend, legend
runs = [r for r in root.iter(ns + "rect") if r.get("class") == "run"]
sb = [r for r in runs if "shared-borrowed" in r.find(ns + "title").text]
assert sb and sb[0].get("stroke-dasharray"), [r.attrib for r in runs]
PY
	run 0 dump "$EX/per-vm-configs.s2sim" --svg "$TMP/vms.svg" &&
		python3 - "$TMP/vms.svg" <<'PY' || bad "SVG of four VMs"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
maps = [g for g in root.iter(ns + "g") if g.get("class") == "map"]
assert [g.get("data-vm") for g in maps] == ["1", "2", "3", "4"], maps
assert len([r for r in root.iter(ns + "rect") if r.get("class") == "run"]) == 4
PY
	# --svg - writes the SVG, and only it, to standard output.
	run 0 dump "$EX/main.s2sim" --svg - &&
		{ cmp -s "$OUT" "$TMP/main.svg" || bad "--svg - differs from --svg FILE"; }
	run 2 dump "$EX/main.s2sim" --svg - --json
	run 1 dump "$EX/main.s2sim" --svg "$TMP/no/such/dir.svg" &&
		{ grep -q "cannot write $TMP/no/such/dir.svg: No such file or directory" "$ERR" ||
			bad "--svg into a missing directory: no reason given"; }
	;;
dump)
	run 0 dump "$EX/per-vm-configs.s2sim" --vm 4 &&
		{ [ "$(grep -c '^vm4 tables' "$OUT")" = 1 ] && [ "$(grep -c tables "$OUT")" = 1 ] ||
			bad "--vm 4 prints only vm 4"; }
	# vm 4: 52-bit IPA with 4K pages (LPA2): 16 concatenated tables at level 0; the 2M block.
	grep -q 'start level 0 x16' "$OUT" || bad "vm 4's geometry"
	grep -q '^  0x8000000000000-0x80000001fffff 0xa000000000000 L2   2Mx1    rw- normal-wb' \
		"$OUT" || bad "vm 4's 2M block"
	run 2 dump "$EX/per-vm-configs.s2sim" --vm 9
	run 2 dump "$EX/main.s2sim" --frob
	run 0 dump --help
	;;
nisv)
	# ESR_EL2 of accesses without an instruction syndrome (Arm ARM D19.2.48): EC 0x24, IL,
	# ISV=0 and SAS/SSE/SRT/SF/AR zero, WnR for writes (an atomic: 0 when its read faults).
	# A fresh 40-bit 4K VM: an empty table faults at level 1 (DFSC 0b000101).
	f=$(scenario nisv <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
slot 3 ipa=0x50000000 size=2M ram pa=0x200000000 read-only
write 0x9000000 form=pair
expect esr 0x92000045
read 0x9000010 form=pair size=4
expect esr 0x92000005
write 0x9000008 form=pre-index size=2
expect esr 0x92000045
read 0x9000008 form=post-index size=1
expect esr 0x92000005
atomic 0x9000000 size=4
expect esr 0x92000005
dc-zva 0x9000070
expect esr 0x92000045
read 0x9000000 reg=3 size=4
expect esr 0x93830005
atomic 0x50000000
expect faults 2
expect fault translation level=1
expect esr 0x9200004f
write 0x50000000 form=post-index
expect esr 0x9200004f
S
)
	run 0 sim "$f" --json &&
		python3 - "$OUT" <<'PY' || bad "nisv: JSON of accesses without syndrome"
import json, sys
d = json.load(open(sys.argv[1]))
acc = [x for x in d["steps"] if x["step"] == "access"]
forms = [x["form"] for x in acc]
assert forms == ["pair", "pair", "pre-index", "post-index", "atomic", "dc-zva", "plain",
                 "atomic", "post-index"], forms
for x in acc:
    for f in x["faults"]:
        assert f["isv"] == (x["form"] == "plain"), x
# dc-zva reports the 64-byte block it zeroes
z = acc[5]
assert z["ipa"] == "0x9000040" and z["size"] == 64, z
# the atomic on the read-only slot: its read faults first (WnR 0), then its write (WnR 1)
a = acc[7]
assert [f["wnr"] for f in a["faults"]] == [False, True], a["faults"]
assert a["faults"][0]["esr"] == "0x92000005", a["faults"][0]
# end to end with the VM layer: every access without syndrome in no memslot or writing the
# read-only slot is an exit without syndrome (S2_ABORT_NISV), never an MMIO exit
res = [x["result"] for x in acc]
assert res == ["nisv-exit"] * 6 + ["mmio-exit", "nisv-exit", "nisv-exit"], res
for x in acc:
    if x["result"] == "nisv-exit":
        assert x["nisv"]["write"] == x["faults"][-1]["wnr"], x
        assert x["faults"][-1]["action"] == "nisv", x
        assert int(x["nisv"]["ipa"], 16) == int(x["ipa"], 16), x
assert d["summary"]["nisv_exits"] == 8 and d["summary"]["mmio_exits"] == 1, d["summary"]
PY
	# Syntax: what has no syndrome cannot name a register; s1ptw is no load/store form.
	f=$(scenario nisvreg <<'S'
vm 1
write 0x9000000 form=pair reg=3
S
)
	err_case 2 2 "reg is part of the syndrome" "$f"
	f=$(scenario nisvform <<'S'
vm 1
read 0x9000000 form=triple
S
)
	err_case 2 2 "form is plain, pair, pre-index or post-index" "$f"
	f=$(scenario nisvs1 <<'S'
vm 1
read 0x9000000 form=pair s1ptw
S
)
	err_case 2 2 "s1ptw is a stage-1 table walk" "$f"
	f=$(scenario nisvsize <<'S'
vm 1
read 0x9000000 form=pair size=2
S
)
	err_case 2 2 "a pair moves two" "$f"
	;;
help)
	run 0 sim --help &&
		for w in host vm slot read write form=pair atomic dc-zva exec enter dirty age \
			invalidate tlb-flush dump echo pkvm share-guest teardown "expect ok" \
			nisv-exit mmio-exit "expect esr" Example "Exit status"; do
			grep -q -- "$w" "$OUT" || bad "sim --help does not mention '$w'"
		done
	sed -n '/^Example:/,/^$/p' "$OUT" | sed '1d;s/^  //' >"$TMP/help.s2sim"
	[ "$(grep -c . "$TMP/help.s2sim")" -ge 6 ] || bad "sim --help: no example"
	run 0 sim "$TMP/help.s2sim" || cat "$TMP/help.s2sim" >&2
	;;
input)
	# NUL bytes: an error naming the line, never a hang (/dev/zero is endless NULs).
	timeout 20 "$TOOL" sim /dev/zero >"$OUT" 2>"$ERR"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q '^s2mmu: sim: /dev/zero:1: a NUL byte' "$ERR" ||
		bad "sim /dev/zero: exit $rc (want 2 and 'a NUL byte' at line 1)"
	printf 'vm 1\necho one\0 two\nvm 2\n' >"$TMP/nul.s2sim"
	err_case 2 2 "a NUL byte" "$TMP/nul.s2sim"
	grep -q 'vm2' "$OUT" && bad "the text after a NUL byte ran"
	# Numbers that overflow their field are refused, not truncated.
	f=$(scenario vmid <<'S'
vm 1
vm 4294967297
S
)
	err_case 2 2 "VM id 4294967297 is too large" "$f"
	f=$(scenario dumpvm <<'S'
vm 1
dump vm=4294967297
S
)
	err_case 2 2 "vm=4294967297 is out of range" "$f"
	f=$(scenario ipabits <<'S'
vm 1 ipa-bits=4294967336
S
)
	err_case 2 1 "ipa-bits=4294967336 is out of range" "$f"
	f=$(scenario vmidbits <<'S'
vm 1 vmid-bits=4294967304
S
)
	err_case 2 1 "vmid-bits is 8 or 16" "$f"
	f=$(scenario mte <<'S'
host mte=4294967298
S
)
	err_case 2 1 "mte=4294967298 is out of range" "$f"
	f=$(scenario bbm <<'S'
host bbm=4294967297
S
)
	err_case 2 1 "bbm=4294967297 is out of range" "$f"
	f=$(scenario suffix <<'S'
vm 1
slot 1 ipa=0x40000000 size=17179869184G ram pa=0x100000000
S
)
	err_case 2 2 "bad number '17179869184G'" "$f"
	f=$(scenario level <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
expect fault translation level=4294967297
S
)
	err_case 2 4 "bad level '4294967297'" "$f"
	f=$(scenario level2 <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
expect mapped 0x40000000 level=4294967298
S
)
	err_case 2 4 "bad level '4294967298'" "$f"
	f=$(scenario memattr <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
expect mapped 0x40000000 memattr=0x10000000f
S
)
	err_case 2 4 "memattr=4294967311 is out of range" "$f"
	f=$(scenario wrapslot <<'S'
vm 1
slot 1 ipa=0x40000000 size=8K ram pa=0xfffffffffffff000
S
)
	err_case 2 2 "wraps past 2^64" "$f"
	f=$(scenario wrapinval <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
read 0x40000000
invalidate 0xfffffffffffff000 0x2000
S
)
	err_case 2 4 "host PA 0xfffffffffffff000 + size 0x2000 wraps past 2^64" "$f"
	f=$(scenario wrapage <<'S'
vm 1
age 0x100000000 0xffffffffffffffff
S
)
	err_case 2 2 "wraps past 2^64" "$f"
	# VM ids that collide with the host's and the hypervisor's owner ids.
	for id in 0 255 256; do
		f=$(scenario "owner$id" <<S
pkvm ram=0x80000000 size=16M
vm $id
share-guest 0x80000000 0x1000 0x1000
S
)
		if [ "$id" = 0 ]; then why="owner 1 is the hypervisor's"; else why="owner ids are 8-bit"; fi
		err_case 2 3 "vm$id cannot take part in page ownership: .*$why" "$f"
	done
	f=$(scenario ownergran <<'S'
pkvm ram=0x80000000 size=16M
vm 1 granule=16k
share-guest 0x80000000 0x4000 0x4000
S
)
	err_case 2 3 "its 16k granule is not the host stage-2's 4k" "$f"
	# Errors name the real cause.
	f=$(scenario hostafterpkvm <<'S'
pkvm ram=0x80000000 size=16M
host pa-bits=40
S
)
	err_case 2 2 "'host' must come before 'pkvm'" "$f"
	f=$(scenario pkvmsize <<'S'
pkvm ram=0x80000000 size=0x800
S
)
	err_case 2 1 "pkvm RAM size 0x800 is less than a page" "$f"
	f=$(scenario dirtyrange <<'S'
vm 1
slot 1 ipa=0x40000000 size=2M ram pa=0x100000000
dirty 1 on
dirty 1 harvest
expect dirty 0x40002000..0x40001000
S
)
	err_case 2 5 "0x40002000..0x40001000 ends before it starts" "$f"
	# Lines: 1023 characters are fine (also as the last line without a newline), 1024 not.
	printf 'echo %01018d\n' 0 >"$TMP/l1023.s2sim"
	run 0 sim "$TMP/l1023.s2sim"
	printf 'echo %01018d' 0 >"$TMP/l1023e.s2sim"
	run 0 sim "$TMP/l1023e.s2sim"
	printf 'vm 1\necho %01019d\n' 0 >"$TMP/l1024.s2sim"
	err_case 2 2 "line too long (more than 1023 characters)" "$TMP/l1024.s2sim"
	# A directory, an unreadable file, an empty path.
	mkdir -p "$TMP/dir.s2sim"
	run 2 sim "$TMP/dir.s2sim" &&
		{ [ "$(wc -l <"$ERR")" = 1 ] &&
			grep -q "^s2mmu: sim: $TMP/dir.s2sim: cannot read: it is a directory$" "$ERR" ||
			bad "a directory is not reported in one line"; }
	if [ "$(id -u)" != 0 ]; then
		printf 'vm 1\n' >"$TMP/noread.s2sim"
		chmod 000 "$TMP/noread.s2sim"
		run 2 sim "$TMP/noread.s2sim" &&
			{ grep -q "cannot open: Permission denied" "$ERR" || bad "unreadable file"; }
	fi
	run 2 sim '' &&
		{ grep -qx "s2mmu: sim: the scenario file name is empty" "$ERR" ||
			bad "an empty scenario path is not reported as such"; }
	run 2 dump '' &&
		{ grep -qx "s2mmu: dump: the scenario file name is empty" "$ERR" ||
			bad "dump: an empty scenario path is not reported as such"; }
	run 2 dump "$EX/main.s2sim" --svg '' &&
		{ grep -q "svg.*empty" "$ERR" || bad "--svg '': not reported as an empty path"; }
	# --json is valid UTF-8 whatever the input: Latin-1, stray bytes, control characters.
	printf 'echo caf\xe9 \x01\x7f \xff\xfe \xed\xa0\x80 \xc0\xaf ok \xc3\xa9 \xf0\x9f\x98\x80\nfrob\xe9\n' \
		>"$TMP/utf8.s2sim"
	"$TOOL" sim "$TMP/utf8.s2sim" --json >"$OUT" 2>"$ERR"
	python3 - "$OUT" <<'PY' || bad "--json of non-UTF-8 input"
import json, sys
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw.decode("utf-8"))  # strict: fails on bytes that are not UTF-8
text = d["steps"][0]["text"]
assert text == "caf\ufffd \x01\x7f \ufffd\ufffd \ufffd\ufffd\ufffd \ufffd\ufffd ok \u00e9 \U0001F600", repr(text)
assert d["status"] == 2, d["status"]
assert b"\x7f" not in raw and b"\x01" not in raw
PY
	# ... and whatever the file's name holds.
	cp "$EX/main.s2sim" "$TMP/$(printf 'caf\xe9\x01.s2sim')"
	"$TOOL" sim "$TMP/$(printf 'caf\xe9\x01.s2sim')" --json >"$OUT" 2>"$ERR"
	python3 - "$OUT" <<'PY' || bad "--json of a file name that is not UTF-8"
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
assert d["scenario"].endswith("/caf\ufffd\x01.s2sim") and d["status"] == 0, d["scenario"]
PY
	;;
*)
	echo "unknown group $GROUP" >&2
	exit 2
	;;
esac

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS failure(s) in group $GROUP" >&2
	exit 1
fi
echo "group $GROUP: ok"
