#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""compare.py OLD.json NEW.json - instructions and CPU time per unit, before and after.

    python3 bench/compare.py bench/results/8a3ba69.json build/bench/results.json

Prints one line per operation present in both files (memory records by their page or byte
counts), with the change in percent, and where NEW measured Linux KVM's engine in the same
run (bench/README.md) its instructions per unit over s2mmu's (`kvm612 x`, `kvm61 x`). Exit
status 0; this is a report, not a gate.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return {r["op"]: r for r in json.load(f)}


def pct(old, new):
    if old in (None, 0) or new is None:
        return ""
    return f"{(new - old) / old * 100:+.0f}%"


def fmt(v, nd):
    return "-" if v is None else f"{v:.{nd}f}"


def main():
    old, new = load(sys.argv[1]), load(sys.argv[2])
    print(f"{'op':28s} {'instr old':>10s} {'new':>8s} {'':>6s}  {'ns old':>8s} {'new':>8s} {'':>6s}"
          f"  {'kvm612 x':>8s} {'kvm61 x':>8s}")
    for op, n in new.items():
        o = old.get(op)
        if o is None:
            continue
        if n.get("unit") == "pages":
            print(f"{op:28s} {o.get('pages', '-'):>10} {n.get('pages', '-'):>8} pages")
            continue
        if n.get("unit") == "byte":
            if o.get("pages_bytes") != n.get("pages_bytes") or \
               o.get("blocks_bytes") != n.get("blocks_bytes"):
                print(f"{op:28s} table bytes {o.get('pages_bytes')}/{o.get('blocks_bytes')} -> "
                      f"{n.get('pages_bytes')}/{n.get('blocks_bytes')}")
            continue
        oi, ni = o.get("instr_per_unit"), n.get("instr_per_unit")
        on, nn = o.get("ns_per_unit"), n.get("ns_per_unit")
        print(f"{op:28s} {fmt(oi, 1):>10s} {fmt(ni, 1):>8s} {pct(oi, ni):>6s}  "
              f"{fmt(on, 2):>8s} {fmt(nn, 2):>8s} {pct(on, nn):>6s}  "
              f"{fmt(n.get('kvm612_instr_ratio'), 1):>8s} {fmt(n.get('kvm61_instr_ratio'), 1):>8s}")


if __name__ == "__main__":
    main()
