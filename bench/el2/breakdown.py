#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/el2/breakdown.py ELF TRACE - AArch64 instructions per function of bench_el2.elf's
measured loops, from a QEMU execution trace (every instruction executed, in order):

    qemu-system-aarch64 -M virt,virtualization=on -cpu max,pauth-impdef=on -nographic \\
        -nic none -semihosting-config enable=on,target=native -icount shift=0 \\
        -singlestep -d exec,nochain -D /tmp/el2.trace -kernel bench_el2.elf
    python3 bench/el2/breakdown.py bench_el2.elf /tmp/el2.trace

(-singlestep: one instruction per translation block, so each "Trace" line is one executed
instruction; about 3 GB of log and 5-10 minutes in all.) Each executed PC is charged to the
symbol that contains it (aarch64-linux-gnu-nm), so inlined helpers count in their caller.
Every entry into a loop_* function starts a new window, numbered per loop in the image's
order (for each configuration: the empty-function run, then the operation's; loop_abort
serves fault_4k and then fault_dirty_4k); a window ends when the code returns to the image's
own set-up or verification. Totals match the PMU's count of the same loop to within the
loop's prologue and epilogue. Prints every window's total and its functions.
"""
import bisect
import collections
import re
import subprocess
import sys

# The image's own code outside the measured loops (a window ends when it runs).
HARNESS = ("el2_test_main", "bench_", "report", "verify", "eng_", "vm_", "pmu", "count_spin",
           "spin", "el2_printf", "el2_vprintf", "el2_putc", "el2_puts")


def main():
    elf, log = sys.argv[1], sys.argv[2]
    syms = []
    nm = subprocess.run(["aarch64-linux-gnu-nm", "-n", elf], capture_output=True, text=True,
                        check=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTwW":
            syms.append((int(p[0], 16), p[2]))
    addrs = [a for a, _ in syms]
    entry = {a: n for a, n in syms if n.startswith("loop_")}
    rx = re.compile(r"Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")
    seen = collections.Counter()
    per = collections.defaultdict(collections.Counter)
    cache = {}
    cur = None
    with open(log, errors="replace") as f:
        for line in f:
            m = rx.match(line)
            if not m:
                continue
            pc = int(m.group(1), 16)
            if pc in entry:
                seen[entry[pc]] += 1
                cur = (entry[pc], seen[entry[pc]])
            if cur is None:
                continue
            s = cache.get(pc)
            if s is None:
                i = bisect.bisect_right(addrs, pc) - 1
                s = cache[pc] = syms[i][1] if i >= 0 else "?"
            if s == cur[0] or not s.startswith(HARNESS + ("loop_",)):
                per[cur][s] += 1
            else:
                cur = None
    for key in sorted(per):
        c = per[key]
        print(f"{key[0]} #{key[1]}: {sum(c.values())}")
        for s, v in c.most_common():
            print(f"   {v:9d} {s}")


if __name__ == "__main__":
    main()
