#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_doc_paths.py - public headers and docs name no file that is not in the repository.

Usage: check_doc_paths.py ROOT [FILE...]

Scans include/s2mmu/*.h, README.md and docs/*.md under ROOT (or the FILEs given, for the
failing fixture) for repository paths: words starting with src/, docs/, tests/, tools/, bench/,
port/, examples/, include/, fuzz/ or cmake/. Each must exist under ROOT. A path may be a
directory (trailing '/'), or a pattern: '*' and a <placeholder> match any characters within a
component ("tests/unit/test_<name>.c" needs at least one such file), "{a,b}" alternatives each
must exist. A path preceded by another path component ("build/tools/s2mmu/s2mmu",
"share/s2mmu/src/pgtable.c") is an installed or built location, not a repository one, and is
not checked. Exit 0 when every path exists, 1 (listing file:line: path) otherwise.
"""
import glob
import os
import re
import sys

TOPS = ("src", "docs", "tests", "tools", "bench", "port", "examples", "include", "fuzz", "cmake")
PATH_RE = re.compile(r"(?<![\w./@-])((?:%s)/[A-Za-z0-9_.*<>{},/+-]*)" % "|".join(TOPS))


def expand_braces(p):
    m = re.search(r"\{([^{}]*)\}", p)
    if not m:
        return [p]
    out = []
    for alt in m.group(1).split(","):
        out += expand_braces(p[: m.start()] + alt + p[m.end():])
    return out


def exists(root, p):
    pat = re.sub(r"<[^<>/]*>", "*", p)
    if "<" in pat or ">" in pat:
        return False
    for one in expand_braces(pat):
        one = one.rstrip("/")
        full = os.path.join(root, one)
        if "*" in one:
            if not glob.glob(full):
                return False
        elif not os.path.exists(full):
            return False
    return True


def clean(p):
    # Sentence punctuation and a trailing "." or "," are not part of the path.
    p = p.rstrip(".,")
    return p


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
    files = sys.argv[2:]
    if not files:
        files = sorted(glob.glob(os.path.join(root, "include/s2mmu/*.h")))
        files += [os.path.join(root, "README.md")]
        files += sorted(glob.glob(os.path.join(root, "docs/*.md")))
    bad = 0
    checked = 0
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                for m in PATH_RE.finditer(line):
                    p = clean(m.group(1))
                    checked += 1
                    if not exists(root, p):
                        print("%s:%d: %s does not exist" % (os.path.relpath(f, root), n, p))
                        bad += 1
    if bad:
        print("check_doc_paths: %d path(s) named in headers/docs are not in the repository" % bad)
        return 1
    print("check_doc_paths: %d path(s) checked, all present" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
