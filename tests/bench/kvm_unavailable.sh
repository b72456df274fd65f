#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/kvm_unavailable.sh BENCH_PGTABLE - the benchmark without Linux KVM's engine:
# bench/kvm/extract.sh with a tarball that is missing, and one that is not a tarball, must
# write an "unavailable" status with the reason (exit 0, no sources left); bench/run.sh over a
# build tree whose KVM engines are unavailable must still pass and say why in results.json,
# results.md and machine.txt. BENCH_PGTABLE is a built bench_pgtable (the smoke build).
set -euo pipefail

bin=${1:?usage: kvm_unavailable.sh BENCH_PGTABLE}
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# 1. A tarball that does not exist (e.g. the package could not be installed).
missing=$tmp/no-such-dir/linux-source-6.12.tar.xz
S2_KVM612_TARBALL=$missing bash "$repo/bench/kvm/extract.sh" 6.12 "$tmp/build/bench/kvm/6.12" ||
	fail "extract.sh exited $? for a missing tarball"
st=$tmp/build/bench/kvm/6.12/status
grep -qx 'status: unavailable' "$st" || fail "status not unavailable: $(cat "$st")"
grep -qF "reason: $missing not found" "$st" || fail "reason does not name the tarball: $(cat "$st")"
[ ! -e "$tmp/build/bench/kvm/6.12/src" ] || fail "sources left behind"

# 2. A file that is not an xz tarball, given as the argument (overrides the variable).
echo "not a tarball" >"$tmp/bad.tar.xz"
bash "$repo/bench/kvm/extract.sh" 6.1 "$tmp/build/bench/kvm/6.1" "$tmp/bad.tar.xz" ||
	fail "extract.sh exited $? for a bad tarball"
st=$tmp/build/bench/kvm/6.1/status
grep -qx 'status: unavailable' "$st" || fail "status not unavailable: $(cat "$st")"
grep -q '^reason: cannot extract ' "$st" || fail "reason: $(cat "$st")"

# 3. Bad arguments are an error, not a status.
if bash "$repo/bench/kvm/extract.sh" 6.x "$tmp/x" 2>/dev/null; then
	fail "extract.sh accepted version 6.x"
fi

# 4. run.sh over a build tree with both engines unavailable: passes, and says why.
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$tmp/build/bench/bench_pgtable"
S2_BENCH_NO_CG=1 S2_BENCH_ROUNDS=1 S2_BENCH_REPS=1 S2_BENCH_SIZE_MIB=4 S2_BENCH_SCALE=none \
	S2_BENCH_CONC=none S2_BENCH_DIRTY=none \
	bash "$repo/bench/run.sh" "$tmp/build" "$tmp/out" >"$tmp/run.log" 2>&1 ||
	{ cat "$tmp/run.log" >&2; fail "run.sh failed without KVM"; }
python3 - "$tmp/out" "$missing" <<'PY'
import json, sys
out, missing = sys.argv[1], sys.argv[2]
res = {r["op"]: r for r in json.load(open(out + "/results.json"))}
r = res["map_fault_4k"]
assert r["verified"] and r["ns_per_unit"] > 0, r
assert r["kvm612_status"] == f"unavailable: {missing} not found", r["kvm612_status"]
assert r["kvm61_status"].startswith("unavailable: cannot extract"), r["kvm61_status"]
assert "kvm612_instr_per_unit" not in r and "kvm612_ns_per_unit" not in r, r
assert res["kvm612_engine"]["status"] == "unavailable", res["kvm612_engine"]
assert not any(op.startswith(("kvm612_map", "kvm61_map")) for op in res), list(res)
md = open(out + "/results.md").read()
assert f"- kvm612: unavailable: {missing} not found" in md, md
assert "| n/a | n/a |" in md, md
mt = open(out + "/machine.txt").read()
assert f"kvm 6.12: unavailable: {missing} not found" in mt, mt
assert "kvm 6.1: unavailable: cannot extract" in mt, mt
PY
echo "kvm_unavailable: ok"
