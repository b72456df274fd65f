#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cg_breakdown.py DUMP UNITS - where the instructions of one measured operation go.

Reads one callgrind dump (one operation, see bench/run.sh) through `callgrind_annotate
--auto=yes`, assigns the self cost of every source line to the C function whose body contains
that line (so the cost of helpers the compiler inlined is charged to the helper, not to the
function they were inlined into), and prints instructions per unit for each, largest first,
followed by the most expensive source lines. Run it from the repository root, so that the
source paths in the dump resolve.
"""
import re
import subprocess
import sys

FUNC_RE = re.compile(r"^(?!#)(?:static\s+|inline\s+|const\s+|_Noreturn\s+|S2_ALWAYS_INLINE\s+)*"
                     r"[A-Za-z_][\w\s\*]*?\b(\w+)\s*\(")


def function_starts(path):
    """(line, name) of every function definition in a C file written in kernel style."""
    starts = []
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return starts
    for i, text in enumerate(lines, 1):
        if not text or text[0] in " \t{}#/*" or text.rstrip().endswith(";"):
            continue
        m = FUNC_RE.match(re.sub(r"^__attribute__\(\(.*?\)\)\s*", "", text))
        if m and m.group(1) not in ("if", "for", "while", "switch", "return", "sizeof"):
            starts.append((i, m.group(1)))
    return starts


def enclosing(starts, line):
    name = "?"
    for s, n in starts:
        if s > line:
            break
        name = n
    return name


def breakdown(dump):
    """(total, {file:function: Ir}, [(Ir, file:line, source)]) of one dump."""
    out = subprocess.run(["callgrind_annotate", "--auto=yes", "--show-percs=no", "--context=1",
                          "--threshold=100", dump],
                         capture_output=True, text=True, check=False).stdout
    per_func, per_line, total = {}, [], 0
    cur_file, cur_line, starts = None, None, []
    # The per-function table first: functions whose source is not annotated (libc's memset,
    # code without debug information) are charged as a whole.
    funcs, annotated, in_table = [], set(), False
    for text in out.split("\n"):
        if re.match(r"Ir\s+file:function", text):
            in_table = True
            continue
        if in_table:
            m = re.match(r"\s*([\d,]+)\s+(\S.*?):(\S+)(?: \[.*\])?$", text)
            if m:
                funcs.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3)))
            elif text.strip() and not text.startswith("---"):
                in_table = False
            elif not text.strip() and funcs:
                in_table = False
        m = re.match(r"-- Auto-annotated source: (.*)$", text)
        if m:
            annotated.add(m.group(1).strip())
    for ir, path, fn in funcs:
        if path not in annotated:
            key = f"{path.split('/')[-1]}:{fn.split(chr(39))[0]}"
            per_func[key] = per_func.get(key, 0) + ir
            per_line.append((ir, key, "(no line information)"))
            total += ir
    for text in out.split("\n"):
        m = re.match(r"-- Auto-annotated source: (.*)$", text)
        if m:
            cur_file, cur_line = m.group(1).strip(), None
            starts = function_starts(cur_file)
            continue
        if re.match(r"-{10,}$", text):
            cur_line = None  # a separator: what follows is not numbered source
            continue
        m = re.match(r"-- line (\d+) -+$", text)
        if m:
            cur_line = int(m.group(1))
            continue
        if cur_file is None or cur_line is None:
            continue
        if re.match(r"\s*[\d,]+\s+=> ", text) or text.startswith("--"):
            continue  # a call's inclusive cost: counted at the callee's own lines
        m = re.match(r"\s*([\d,]+|\.)\s\s(.*)$", text)
        if not m:
            continue
        if m.group(1) != ".":
            ir = int(m.group(1).replace(",", ""))
            short = cur_file.split("/")[-1]
            fn = f"{short}:{enclosing(starts, cur_line)}"
            per_func[fn] = per_func.get(fn, 0) + ir
            per_line.append((ir, f"{short}:{cur_line}", m.group(2).strip()))
            total += ir
        cur_line += 1
    return total, per_func, per_line


def report(dump, units, file=sys.stdout):
    total, per_func, per_line = breakdown(dump)
    print(f"{total / units:.1f} instructions per unit "
          f"({total} over {units:.0f} units)", file=file)
    print("\nper function (inlined helpers charged to themselves), instructions per unit:",
          file=file)
    for fn, ir in sorted(per_func.items(), key=lambda kv: -kv[1]):
        if ir / units >= 0.05:
            print(f"  {ir / units:8.2f}  {fn}", file=file)
    print("\nmost expensive source lines, instructions per unit:", file=file)
    for ir, where, src in sorted(per_line, reverse=True)[:25]:
        print(f"  {ir / units:8.2f}  {where:22s} {src[:90]}", file=file)
    return total, per_func


def main():
    report(sys.argv[1], float(sys.argv[2]))


if __name__ == "__main__":
    main()
