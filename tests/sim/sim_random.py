#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Random scenarios for `s2mmu sim`: sim_random.py TOOL [SEEDS]

Each seed generates a scenario mixing every kind of step (memslots of random types, guest
accesses, dirty logging, locking, aging, invalidation, slot moves and deletes, page-ownership
transitions). Library refusals are expected in random sequences: when a run stops at a step
that failed with S2_EXXX, `expect error S2_EXXX` is inserted after it and the run repeated, so
the scenario goes on to its end. The properties checked at the end of every run are the
simulator's own end-of-run checks, which hold only if the library is right:
  - no TLB model entry disagrees with the tables (every change was followed by its TLBI);
  - every VM's tables (and the host stage-2) pass s2_pgtable_check;
  - no access made no progress (a fault the handler resumed must not come back forever);
  - no sanitizer report (the tool is built with ASan/UBSan in the test configuration).
"""
import os
import random
import re
import subprocess
import sys
import tempfile


def gen(seed):
    r = random.Random(seed)
    g = r.choice(["4k", "16k", "64k"])
    gsz = {"4k": 0x1000, "16k": 0x4000, "64k": 0x10000}[g]
    s = ["host pa-bits=44 hafdbs=2", "pkvm ram=0x800000000 size=64M granule=%s" % g]
    s.append("vm 1 ipa-bits=%d granule=%s %s" % (r.choice([36, 40, 44]), g,
                                                r.choice(["", "fwb", "ha hd", "fwb ha hd"])))
    for i in range(1, 5):
        s.append("slot %d ipa=%s size=%s %s pa=%s host=%s page=%s %s" % (
            i, hex(0x40000000 * i), r.choice(["2M", "32M", "64M"]),
            r.choice(["ram", "ram", "mmio"]), hex(0x100000000 * i),
            r.choice(["normal", "normal", "nc", "device-ngnre", "device-ngnrne"]),
            r.choice(["64K", "2M", "32M"]),
            r.choice(["", "", "read-only", "dirty-log", "allow-any-uncached"])))
    for _ in range(60):
        op = r.choice(["read", "write", "exec", "read", "write", "dirty", "age", "invalidate",
                       "lock", "unlock", "enter", "tlb-flush", "slot-move", "slot-flags",
                       "share-guest", "donate-guest", "unshare-guest", "donate-hyp"])
        slot = r.randint(1, 4)
        ipa = 0x40000000 * slot + r.randint(0, 40) * gsz
        pa = 0x100000000 * slot + r.randint(0, 4) * 0x200000
        if op in ("read", "write", "exec"):
            s.append("%s %s%s" % (op, hex(ipa), r.choice(["", "", " el0", " s1ptw"])))
        elif op == "dirty":
            s.append("dirty %d %s" % (slot, r.choice(["on", "on dbm", "off", "harvest", "harvest"])))
        elif op in ("age", "invalidate"):
            s.append("%s %s %s" % (op, hex(pa), r.choice(["64K", "2M", "1G"])))
        elif op == "lock":
            s.append("lock %d %s" % (slot, r.choice(["ro", "rw"])))
        elif op == "unlock":
            s.append("unlock %d" % slot)
        elif op == "slot-move":
            s.append("slot-move %d ipa=%s" % (slot, hex(0x200000000 + r.randint(0, 3) * 0x40000000)))
        elif op == "slot-flags":
            s.append("slot-flags %d %s" % (slot, r.choice(["", "read-only", "dirty-log"])))
        elif op in ("share-guest", "donate-guest"):
            s.append("%s %s %s %s" % (op, hex(0x800000000 + r.randint(0, 8) * gsz),
                                      hex(0x300000000 + r.randint(0, 8) * gsz), hex(gsz)))
        elif op == "unshare-guest":
            s.append("unshare-guest %s %s" % (hex(0x300000000 + r.randint(0, 8) * gsz), hex(gsz)))
        elif op == "donate-hyp":
            s.append("donate-hyp %s %s" % (hex(0x800000000 + r.randint(0, 8) * gsz), hex(gsz)))
        else:
            s.append(op)
    return s


def main():
    tool = sys.argv[1]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    fails = 0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.s2sim")
        for seed in range(seeds):
            lines = gen(seed)
            for _ in range(80):
                open(path, "w").write("\n".join(lines) + "\n")
                p = subprocess.run([tool, "sim", path], capture_output=True, text=True)
                m = re.search(r"r\.s2sim:(\d+): .* failed: (S2_E[A-Z0-9_]+)", p.stderr)
                if p.returncode == 1 and m and "sanitizer" not in p.stderr.lower():
                    lines.insert(int(m.group(1)), "expect error " + m.group(2))
                    continue
                break
            if p.returncode != 0 or p.stderr:
                fails += 1
                print("seed %d: exit %d\n%s" % (seed, p.returncode, p.stderr[:2000]))
                print("\n".join(lines))
    print("%d seeds, %d failures" % (seeds, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
