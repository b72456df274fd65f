#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""s2mmu mutation testing: seed small faults into src/*.c and see whether the fast suites notice.

Subcommands (see docs/testing.md, "Mutation testing"):

  list      print the candidate mutants of some files (id, weight, location, change)
  run       sample mutants (seeded, weighted), apply each in turn to a private copy of the
            tree, rebuild incrementally, run the tests that link the mutated file, classify
            (killed / timeout / survived / build-error), record it in a state file; resumable
  report    (re)write the per-file report from a state file
  selftest  check the tool itself on a small fixture (seconds, no build of the project)

Everything happens in a private copy of the repository (OUT/tree) with its own build tree
(OUT/build), so the working tree is never modified and an interrupted run leaves nothing behind.
"""
import argparse
import difflib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOOL_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DEFAULT = os.path.dirname(os.path.dirname(TOOL_DIR))
STATE_VERSION = 1

# ---- tokenizer ---------------------------------------------------------------------------------

_PUNCT = sorted(
    """<<= >>= ... -> ++ -- << >> <= >= == != && || += -= *= /= %= &= |= ^= ## { } [ ] ( ) ; , < >
    = + - * / % & | ^ ! ~ ? : . #""".split(),
    key=len,
    reverse=True,
)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"(0[xX][0-9A-Fa-f]+|\d+)([uUlL]*)\b|\d+\.\d*([eE][-+]?\d+)?[fFlL]?")


class Tok:
    __slots__ = ("kind", "text", "start", "end", "line")

    def __init__(self, kind, text, start, end, line):
        self.kind, self.text, self.start, self.end, self.line = kind, text, start, end, line

    def __repr__(self):
        return "Tok(%s,%r,%d)" % (self.kind, self.text, self.line)


def tokenize(src):
    """C tokens of @src, without comments, string/char literals' contents or preprocessor lines.

    Literals are kept as single 'str' tokens (never mutated). Preprocessor directives (with
    their continuation lines) are skipped entirely, so macros are never mutated."""
    toks = []
    i, n, line = 0, len(src), 1
    at_line_start = True
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "#" and at_line_start:
            # directive: up to an unescaped newline (comments inside are fine to skip too)
            while i < n:
                if src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
                    i += 2
                    line += 1
                    continue
                if src[i] == "\n":
                    break
                if src.startswith("/*", i):
                    j = src.find("*/", i + 2)
                    j = n if j < 0 else j + 2
                    line += src.count("\n", i, j)
                    i = j
                    continue
                i += 1
            continue
        at_line_start = False
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += src.count("\n", i, j)
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            j += 1
            toks.append(Tok("str", src[i:j], i, j, line))
            line += src.count("\n", i, j)
            i = j
            continue
        m = _IDENT.match(src, i)
        if m:
            toks.append(Tok("id", m.group(0), i, m.end(), line))
            i = m.end()
            continue
        if c.isdigit():
            m = _NUMBER.match(src, i)
            j = m.end() if m else i + 1
            toks.append(Tok("num", src[i:j], i, j, line))
            i = j
            continue
        for p in _PUNCT:
            if src.startswith(p, i):
                toks.append(Tok("p", p, i, i + len(p), line))
                i += len(p)
                break
        else:
            toks.append(Tok("p", c, i, i + 1, line))
            i += 1
    return toks


# ---- mutant generation ---------------------------------------------------------------------------

# Operators. Each mutant replaces one span [start, end) of the file with new text.
#   cmp      boundary flips  < <=  > >=  and  == !=
#   logic    && <-> ||
#   delcall  delete a call statement (port TLBI/CMO/barrier, refcount, lock, descriptor store ...)
#   delstore delete a store through memory (*p = v, a->f = v, a[i] = v, x += v, x++ ...)
#   off1     off-by-one: drop a "+ 1" / "- 1", or a bound compared against becomes bound + 1
#   bool     true <-> false
#   negcond  if (c) -> if (!(c))
#   ret0     return ret; -> return 0;   (an error swallowed)
CMP_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
# Calls that matter most: weighted up (issue 13: the classes that slipped through).
HOT_CALL = re.compile(
    r"tlbi|dcache|icache|cmo|barrier|dsb|isb|refcount|rc_add|rc_|get_page|put_page|"
    r"lock|unlock|store64|store32|cas64|add32|free|flush|inval|clean|unused|pending|"
    r"excl|stage2|dirty|young"
)
# Functions on the fault path (abort handling, relax, young, single-entry maps).
FAULT_FN = re.compile(r"fault|abort|relax|young|single|shared|handle")
NO_DELETE_CALLS = {"S2_BUG", "S2_BUG_ON", "__builtin_unreachable", "abort"}
ERR_VARS = {"ret", "err", "rc", "r", "error"}

W_BASE = 1.0
W_HOT_CALL = 4.0
W_STORE = 2.0
W_NEGCOND = 0.5
W_FAULT_FN = 2.0
W_IN_BUG_ON = 0.2


class Mutant:
    def __init__(self, path, func, op, start, end, new, line, weight, orig):
        self.path, self.func, self.op = path, func, op
        self.start, self.end, self.new = start, end, new
        self.line, self.weight, self.orig = line, weight, orig
        self.id = None

    def apply(self, text):
        return text[: self.start] + self.new + text[self.end :]

    def to_dict(self):
        return {
            "id": self.id,
            "path": self.path,
            "func": self.func,
            "op": self.op,
            "line": self.line,
            "start": self.start,
            "end": self.end,
            "orig": self.orig,
            "new": self.new,
            "weight": self.weight,
        }

    @staticmethod
    def from_dict(d):
        m = Mutant(d["path"], d["func"], d["op"], d["start"], d["end"], d["new"], d["line"],
                   d["weight"], d["orig"])
        m.id = d["id"]
        return m


def _matching(toks, i):
    """Index of the bracket closing toks[i] (a '(' '[' or '{'), or None."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    o, c, depth = toks[i].text, pairs[toks[i].text], 0
    for j in range(i, len(toks)):
        if toks[j].kind == "p":
            if toks[j].text == o:
                depth += 1
            elif toks[j].text == c:
                depth -= 1
                if depth == 0:
                    return j
    return None


def _line_text(src, pos):
    a = src.rfind("\n", 0, pos) + 1
    b = src.find("\n", pos)
    return src[a : (len(src) if b < 0 else b)]


def generate(path, src):
    """All candidate mutants of one C source (path is the repo-relative name)."""
    toks = tokenize(src)
    n = len(toks)
    func = [None] * n  # enclosing function of each token (None outside functions)
    in_bug = [False] * n  # inside S2_BUG_ON(...) / S2_BUG(...)
    stmt_start = [False] * n  # token begins a statement
    # --- pass 1: enclosing functions and BUG_ON spans
    depth, pdepth, cur, fname, bug_end = 0, 0, None, None, -1
    for i, t in enumerate(toks):
        if t.kind == "id" and t.text in ("S2_BUG_ON", "S2_BUG") and i + 1 < n and toks[i + 1].text == "(":
            j = _matching(toks, i + 1)
            if j is not None:
                bug_end = max(bug_end, j)
        in_bug[i] = i <= bug_end
        func[i] = cur if depth > 0 else None
        if t.kind != "p":
            if depth == 0 and pdepth == 0 and t.kind == "id" and i + 1 < n and toks[i + 1].text == "(":
                fname = t.text
            continue
        if depth == 0:
            if t.text == "(":
                pdepth += 1
            elif t.text == ")":
                pdepth -= 1
            elif t.text in (";", "=", ","):
                fname = None if t.text != "," or pdepth == 0 else fname
        if t.text == "{":
            if depth == 0:
                cur = fname if i > 0 and toks[i - 1].text == ")" else None
            depth += 1
        elif t.text == "}":
            depth -= 1
            if depth == 0:
                cur = fname = None
    # --- pass 2: statement starts
    opener_of_close, stack = {}, []
    for i, t in enumerate(toks):
        if t.kind == "p" and t.text == "(":
            stack.append(i)
        elif t.kind == "p" and t.text == ")" and stack:
            opener_of_close[i] = stack.pop()
    for i in range(1, n):
        if not func[i]:
            continue
        pv = toks[i - 1]
        if pv.kind == "p" and pv.text in (";", "{", "}"):
            stmt_start[i] = True
        elif pv.kind == "id" and pv.text in ("else", "do"):
            stmt_start[i] = True
        elif pv.kind == "p" and pv.text == ")":
            o = opener_of_close.get(i - 1)
            stmt_start[i] = o is not None and o > 0 and toks[o - 1].text in ("if", "while", "for")
        elif pv.kind == "p" and pv.text == ":" and i >= 3 and toks[i - 3].text == "case":
            stmt_start[i] = True

    muts = []

    def weight(i, base):
        w = base
        if func[i] and FAULT_FN.search(func[i]):
            w *= W_FAULT_FN
        if in_bug[i]:
            w *= W_IN_BUG_ON
        return round(w, 3)

    def add(op, i, start, end, new, base):
        if not func[i]:
            return
        muts.append(Mutant(path, func[i], op, start, end, new, toks[i].line, weight(i, base),
                           src[start:end]))

    def is_operand_end(t):
        return t.kind in ("id", "num", "str") or (t.kind == "p" and t.text in (")", "]"))

    for i, t in enumerate(toks):
        if not func[i]:
            continue
        if t.kind == "p":
            if t.text in CMP_FLIP:
                # '<' / '>' only as binary operators between operands
                if i > 0 and is_operand_end(toks[i - 1]):
                    add("cmp", i, t.start, t.end, CMP_FLIP[t.text], W_BASE)
                    if t.text in ("<", "<=", ">", ">=") and i + 1 < n and toks[i + 1].kind == "num":
                        nt = toks[i + 1]
                        if i + 2 < n and toks[i + 2].text in (")", ";", "&&", "||", ",", "?"):
                            add("off1", i, nt.start, nt.end, "(%s + 1)" % nt.text, W_BASE)
            elif t.text in ("&&", "||"):
                add("logic", i, t.start, t.end, "||" if t.text == "&&" else "&&", W_BASE)
            elif t.text in ("+", "-") and i + 1 < n and toks[i + 1].text == "1" and i > 0 and is_operand_end(toks[i - 1]):
                nxt = toks[i + 2] if i + 2 < n else None
                # not "x - 1 * y" style: the 1 must end the operand
                if nxt is not None and nxt.kind == "p" and nxt.text not in ("*", "/", "%", "<<", ">>", "(", "["):
                    add("off1", i, t.start, toks[i + 1].end, "", W_BASE)
        elif t.kind == "id":
            if t.text in ("true", "false"):
                add("bool", i, t.start, t.end, "false" if t.text == "true" else "true", W_BASE)
            elif t.text == "if" and i + 1 < n and toks[i + 1].text == "(":
                j = _matching(toks, i + 1)
                if j is not None and not in_bug[i]:
                    a, b = toks[i + 2].start, toks[j - 1].end
                    add("negcond", i, a, b, "!(" + src[a:b] + ")", W_NEGCOND)
            elif t.text == "return" and i + 2 < n and toks[i + 1].kind == "id" and toks[i + 1].text in ERR_VARS and toks[i + 2].text == ";":
                add("ret0", i, toks[i + 1].start, toks[i + 1].end, "0", W_BASE)
        if stmt_start[i] and not in_bug[i]:
            _statement_mutants(src, toks, i, add)
    # ids: stable across edits elsewhere in the file (function + text of the line + change)
    seen = {}
    for m in muts:
        key = "%s|%s|%s|%s|%s|%d" % (m.func, m.op, _line_text(src, m.start).strip(), m.orig, m.new,
                                     m.start - (src.rfind("\n", 0, m.start) + 1))
        h = hashlib.sha1(key.encode()).hexdigest()[:8]
        base = "%s:%s:%s:%s" % (path, m.func, m.op, h)
        seen[base] = seen.get(base, 0) + 1
        m.id = base if seen[base] == 1 else "%s.%d" % (base, seen[base])
    return muts


def _statement_mutants(src, toks, i, add):
    """delcall / delstore for the statement starting at toks[i]."""
    n = len(toks)
    j = i
    if toks[j].text == "(" and j + 2 < n and toks[j + 1].text == "void" and toks[j + 2].text == ")":
        j += 3
    elif toks[j].text == "(":
        # (*p)++; (*p) += v;
        e = _matching(toks, j)
        if e is not None and e + 2 < n and toks[j + 1].text == "*":
            if toks[e + 1].text in ("++", "--") and toks[e + 2].text == ";":
                add("delstore", i, toks[i].start, toks[e + 2].end, ";", W_STORE)
        return
    if j >= n or toks[j].kind != "id" or toks[j].text in (
        "return", "if", "else", "for", "while", "do", "switch", "case", "default", "break",
        "continue", "goto", "struct", "union", "enum", "const", "static", "unsigned", "signed",
        "int", "long", "char", "bool", "void", "uint64_t", "uint32_t", "int64_t", "int32_t",
        "uint16_t", "uint8_t", "size_t", "volatile",
    ):
        star = toks[j].text == "*" if j < n else False
        if not star:
            return
    # postfix chain: ident ( . | -> ident | [ ... ] )*
    k = j
    if toks[k].text == "*":
        k += 1
        if k >= n or toks[k].kind != "id":
            return
    callee = toks[k].text
    k += 1
    lvalue_mem = toks[j].text == "*"
    while k < n:
        if toks[k].text in (".", "->") and k + 1 < n and toks[k + 1].kind == "id":
            callee = toks[k + 1].text
            lvalue_mem = True
            k += 2
        elif toks[k].text == "[":
            e = _matching(toks, k)
            if e is None:
                return
            lvalue_mem = True
            k = e + 1
        else:
            break
    if k >= n:
        return
    if toks[k].text == "(":
        e = _matching(toks, k)
        if e is None or e + 1 >= n or toks[e + 1].text != ";":
            return
        if callee in NO_DELETE_CALLS:
            return
        add("delcall", i, toks[i].start, toks[e + 1].end, ";",
            W_HOT_CALL if HOT_CALL.search(callee.lower()) else W_BASE)
        return
    op = toks[k].text
    if op in ("++", "--") and k + 1 < n and toks[k + 1].text == ";":
        add("delstore", i, toks[i].start, toks[k + 1].end, ";", W_STORE)
        return
    if op in ("=", "+=", "-=", "|=", "&=", "^=") and (lvalue_mem or op != "="):
        # up to the ';' at the same nesting level
        depth = 0
        for e in range(k + 1, n):
            tx = toks[e].text
            if toks[e].kind == "p" and tx in ("(", "[", "{"):
                depth += 1
            elif toks[e].kind == "p" and tx in (")", "]", "}"):
                depth -= 1
                if depth < 0:
                    return
            elif tx == ";" and depth == 0:
                add("delstore", i, toks[i].start, toks[e].end, ";", W_STORE)
                return


def sample(muts, count, seed):
    """Weighted sample without replacement (Efraimidis-Spirakis), deterministic for a seed."""
    rng = random.Random(seed)
    keyed = []
    for m in sorted(muts, key=lambda m: m.id):
        u = rng.random()
        keyed.append((u ** (1.0 / m.weight) if m.weight > 0 else 0.0, m.id, m))
    keyed.sort(key=lambda x: (-x[0], x[1]))
    return [m for _, _, m in keyed[:count]]


def diff_of(path, before, after):
    return "".join(
        difflib.unified_diff(before.splitlines(True), after.splitlines(True), "a/" + path, "b/" + path, n=1)
    )


# ---- equivalent mutants (recorded in docs/testing.md) ----------------------------------------------

_EQ_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*(.*?)\s*\|\s*$")


def load_equivalents(doc_path):
    """{mutant id: reason} from the table under the '#### Equivalent mutants' heading."""
    eq = {}
    if not os.path.exists(doc_path):
        return eq
    inside = False
    with open(doc_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                inside = line.strip().lstrip("#").strip().lower() == "equivalent mutants"
                continue
            if inside:
                m = _EQ_ROW.match(line)
                if m:
                    eq[m.group(1)] = m.group(2)
    return eq


# ---- state ---------------------------------------------------------------------------------------


def load_state(path):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return None


def save_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


# ---- report ---------------------------------------------------------------------------------------

COUNTED = ("killed", "timeout", "survived")


def summarize(state, equivalents):
    files = {}
    for m in state["mutants"]:
        f = files.setdefault(m["path"], {"killed": 0, "timeout": 0, "survived": 0, "build-error": 0,
                                         "equivalent": 0, "pending": 0, "survivors": []})
        r = state["results"].get(m["id"])
        if r is None:
            f["pending"] += 1
            continue
        st = r["status"]
        if st == "equivalent" or (st == "survived" and m["id"] in equivalents):
            f["equivalent"] += 1
            continue
        f[st] += 1
        if st == "survived":
            f["survivors"].append(m)
    for f in files.values():
        den = f["killed"] + f["timeout"] + f["survived"]
        f["score"] = round(100.0 * (f["killed"] + f["timeout"]) / den, 1) if den else None
    tot = {k: sum(f[k] for f in files.values()) for k in ("killed", "timeout", "survived", "build-error", "equivalent", "pending")}
    den = tot["killed"] + tot["timeout"] + tot["survived"]
    tot["score"] = round(100.0 * (tot["killed"] + tot["timeout"]) / den, 1) if den else None
    return files, tot


def write_report(out, state, equivalents):
    files, tot = summarize(state, equivalents)
    by_id = {m["id"]: m for m in state["mutants"]}
    killers = {}
    for mid, r in state["results"].items():
        if r["status"] == "killed" and r.get("test"):
            killers[r["test"]] = killers.get(r["test"], 0) + 1
    js = {
        "seed": state["seed"],
        "count": state["count"],
        "total": tot,
        "files": {p: {k: v for k, v in f.items() if k != "survivors"} | {"survivors": [m["id"] for m in f["survivors"]]}
                  for p, f in sorted(files.items())},
        "killed_by": killers,
    }
    with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as fh:
        json.dump(js, fh, indent=1, sort_keys=True)
    L = []
    L.append("# s2mmu mutation report\n")
    L.append("seed %s, %d mutants sampled from %d candidates; tests: %s\n" % (
        state["seed"], state["count"], state.get("candidates", 0), ", ".join(state.get("labels", []))))
    L.append("score = (killed + timeout) / (killed + timeout + survived); equivalent mutants (same "
             "object code, or recorded in docs/testing.md) "
             "and build errors are not counted.\n")
    L.append("| file | score | killed | timeout | survived | equivalent | build-error | pending |")
    L.append("|---|---|---|---|---|---|---|---|")
    for p, f in sorted(files.items()):
        L.append("| %s | %s | %d | %d | %d | %d | %d | %d |" % (
            p, "-" if f["score"] is None else "%.1f%%" % f["score"], f["killed"], f["timeout"],
            f["survived"], f["equivalent"], f["build-error"], f["pending"]))
    L.append("| **total** | %s | %d | %d | %d | %d | %d | %d |" % (
        "-" if tot["score"] is None else "%.1f%%" % tot["score"], tot["killed"], tot["timeout"],
        tot["survived"], tot["equivalent"], tot["build-error"], tot["pending"]))
    L.append("")
    if killers:
        L.append("Killed first by: " + ", ".join("%s %d" % kv for kv in sorted(killers.items(), key=lambda kv: -kv[1])))
        L.append("")
    L.append("## Survivors\n")
    any_s = False
    for p, f in sorted(files.items()):
        for m in f["survivors"]:
            any_s = True
            r = state["results"][m["id"]]
            L.append("### `%s`\n" % m["id"])
            L.append("%s:%d in %s() (%s, weight %s)\n" % (m["path"], m["line"], m["func"], m["op"], m["weight"]))
            L.append("```diff\n" + r.get("diff", "").rstrip("\n") + "\n```\n")
    if not any_s:
        L.append("(none)\n")
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(L) + "\n")
    return files, tot


# ---- running ----------------------------------------------------------------------------------------


def run_cmd(cmd, cwd, timeout, env=None, log=None):
    """Run @cmd in its own process group. Return ('ok'|'fail'|'timeout', seconds, output tail)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        st = "ok" if p.returncode == 0 else "fail"
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        st = "timeout"
    dt = time.monotonic() - t0
    tail = out.decode("utf-8", "replace")[-3000:] if out else ""
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write("$ %s  [%s %.1fs]\n%s\n" % (" ".join(cmd), st, dt, tail[-1500:]))
    return st, dt, tail


def _killpg(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_tests(tests, jobs, timeout_of, log=None):
    """Run @tests (in order; dicts with name, cmd, cwd, env) until the first that fails or
    times out, up to @jobs at a time, each in its own process group with its timeout
    timeout_of(test). The first to end badly stops the others (their process groups killed).
    Return ('ok'|'fail'|'timeout', name of that test or None, its output tail)."""
    if jobs <= 1:
        for t in tests:
            st, _, tail = run_cmd(t["cmd"], t["cwd"], timeout_of(t), env=t.get("env"), log=log)
            if st != "ok":
                return st, t["name"], tail
        return "ok", None, ""
    pending = list(tests)
    running = []  # (test, Popen, start, output file)
    result = ("ok", None, "")
    try:
        while pending or running:
            while pending and len(running) < jobs:
                t = pending.pop(0)
                fh = tempfile.TemporaryFile()
                p = subprocess.Popen(t["cmd"], cwd=t["cwd"], env=t.get("env"), stdout=fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
                running.append((t, p, time.monotonic(), fh))
            time.sleep(0.02)
            for item in list(running):
                t, p, t0, fh = item
                dt = time.monotonic() - t0
                if p.poll() is None and dt <= timeout_of(t):
                    continue
                if p.returncode is None:
                    _killpg(p)
                    p.wait()
                    st = "timeout"
                else:
                    st = "ok" if p.returncode == 0 else "fail"
                running.remove(item)
                fh.seek(0)
                tail = fh.read()[-3000:].decode("utf-8", "replace")
                fh.close()
                if log:
                    with open(log, "a", encoding="utf-8") as f:
                        f.write("$ %s  [%s %.1fs]\n%s\n" % (" ".join(t["cmd"]), st, dt, tail[-1500:]))
                if st != "ok":
                    result = (st, t["name"], tail)
                    pending = []
                    break
            if result[0] != "ok":
                break
    finally:
        for t, p, t0, fh in running:  # stopped early (or interrupted): end the others
            _killpg(p)
            p.wait()
            fh.close()
    return result


_SKIP_SECTIONS = (".debug", ".rela.debug", ".comment", ".note", ".llvm_addrsig", ".symtab", ".strtab",
                  ".shstrtab", ".group", ".rela.eh_frame", ".eh_frame", ".rela.debug")


def code_digest(obj):
    """A hash of an object file's code, data, relocations and symbols, leaving out debug
    information: two builds with the same digest behave the same. None if it cannot be read."""
    try:
        secs = subprocess.run(["readelf", "-SW", obj], capture_output=True, text=True, check=True).stdout
        names = re.findall(r"\]\s+(\S+)\s+(?:PROGBITS|NOBITS|INIT_ARRAY|FINI_ARRAY|RELA)\s", secs)
        h = hashlib.sha1()
        for n in sorted(set(names)):
            if n.startswith(_SKIP_SECTIONS):
                continue
            out = subprocess.run(["readelf", "-x", n, obj], capture_output=True, text=True).stdout
            h.update(n.encode() + b"\0" + out.encode())
        rel = subprocess.run(["readelf", "-rW", obj], capture_output=True, text=True, check=True).stdout
        keep = True
        for line in rel.splitlines():
            m = re.match(r"Relocation section '([^']+)'", line)
            if m:
                keep = not m.group(1).startswith(_SKIP_SECTIONS)
                h.update(m.group(1).encode())  # (not the "at offset": debug sizes move it)
                continue
            if keep:
                h.update(line.encode())
        syms = subprocess.run(["readelf", "-sW", obj], capture_output=True, text=True, check=True).stdout
        h.update(syms.encode())
        return h.hexdigest()
    except (OSError, subprocess.CalledProcessError):
        return None


def same_code(proj, src, base_digest):
    """Whether every object built from @src (or, for a header, including it) has the digest it
    had unmutated."""
    objs = [o for o in proj.dependents(src) if base_digest.get(o)]
    return bool(objs) and all(code_digest(o) == base_digest[o] for o in objs)


def parse_ninja_deps(text, build):
    """`ninja -t deps` output -> {dependency (absolute, normalised): {object files reading it}}.
    The depfiles list every header a compilation read: `ninja -t inputs` does not."""
    deps, obj = {}, None
    for line in text.splitlines():
        if not line.strip():
            obj = None
        elif not line[0].isspace():
            obj = os.path.normpath(os.path.join(build, line.split(":")[0].strip()))
        elif obj:
            d = os.path.normpath(os.path.join(build, line.strip()))
            deps.setdefault(d, set()).add(obj)
    return deps


def repo_files(repo):
    out = subprocess.check_output(["git", "-C", repo, "ls-files", "-co", "--exclude-standard", "-z"])
    return [f for f in out.decode().split("\0") if f and os.path.isfile(os.path.join(repo, f))]


def sync_tree(repo, tree):
    """Make @tree a copy of the repo's files (copy only what differs: keeps the build incremental)."""
    os.makedirs(tree, exist_ok=True)
    h = hashlib.sha1()
    for f in sorted(repo_files(repo)):
        s, d = os.path.join(repo, f), os.path.join(tree, f)
        with open(s, "rb") as fh:
            data = fh.read()
        if not f.startswith(("tools/mutate/", "docs/")):
            h.update(f.encode() + b"\0" + hashlib.sha1(data).digest())
        try:
            with open(d, "rb") as fh:
                same = fh.read() == data
        except OSError:
            same = False
        if not same:
            # a fresh mtime (not the original's): what was built from an interrupted mutant
            # must be rebuilt
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copyfile(s, d)
            shutil.copymode(s, d)
    return h.hexdigest()[:12]


class Project:
    """The private build tree: configure, find which tests exercise which source file."""

    def __init__(self, out, tree, labels, jobs, cmake_args, log):
        self.out, self.tree, self.labels, self.jobs, self.log = out, tree, labels, jobs, log
        self.build = os.path.join(out, "build")
        self.cmake_args = cmake_args

    def configure(self):
        if os.path.exists(os.path.join(self.build, "build.ninja")):
            # re-run CMake if the tree changed (new test files are found by globs)
            st, _, tail = run_cmd(["ninja", "-C", self.build, "build.ninja"], self.out, 600, log=self.log)
            if st != "ok":
                sys.exit("mutate: re-configure failed:\n" + tail)
            return
        cmd = ["cmake", "-S", self.tree, "-B", self.build, "-G", "Ninja",
               "-DCMAKE_C_COMPILER=clang", "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DS2_SANITIZE=ON",
               "-DS2_FUZZ=OFF", "-DS2_BENCH=OFF", "-DS2_WERROR=OFF"] + self.cmake_args
        st, _, tail = run_cmd(cmd, self.out, 600, log=self.log)
        if st != "ok":
            sys.exit("mutate: configure failed:\n" + tail)

    def tests(self):
        """[(name, command, cwd, executables)] of the selected labels (mutate.* excluded)."""
        out = subprocess.check_output(["ctest", "--show-only=json-v1"], cwd=self.build)
        data = json.loads(out)
        res = []
        for t in data.get("tests", []):
            props = {p["name"]: p["value"] for p in t.get("properties", [])}
            labels = props.get("LABELS", [])
            if not set(labels) & set(self.labels) or t["name"].startswith("mutate."):
                continue
            cmd = t.get("command")
            if not cmd:
                continue  # its executable is not built
            exes = [a for a in cmd if a.startswith(self.build + "/") and os.path.isfile(a)]
            env = dict(os.environ)
            for kv in props.get("ENVIRONMENT", []):
                k, _, v = kv.partition("=")
                env[k] = v
            res.append({"name": t["name"], "cmd": cmd, "cwd": props.get("WORKING_DIRECTORY", self.build),
                        "env": env, "exes": [os.path.relpath(e, self.build) for e in exes]})
        return res

    def host_executables(self):
        """Every host executable of the build (tests, the tool): not the EL2 images."""
        out = subprocess.check_output(["ninja", "-C", self.build, "-t", "targets", "all"])
        return [l.split(":")[0] for l in out.decode().splitlines() if ": C_EXECUTABLE_LINKER" in l]

    def objects(self, src):
        """The host object files compiled from @src (absolute path)."""
        try:
            out = subprocess.check_output(["ninja", "-C", self.build, "-t", "query", src], stderr=subprocess.DEVNULL)
        except subprocess.CalledProcessError:
            return []
        objs, inside = [], False
        for line in out.decode().splitlines():
            if line.strip() == "outputs:":
                inside = True
            elif line.strip().endswith(":"):
                inside = False
            elif inside and line.strip().endswith(".o") and "CMakeFiles/" in line:
                objs.append(os.path.join(self.build, line.strip()))
        return objs

    def dependents(self, src):
        """The host object files whose compilation reads @src (absolute path): those compiled
        from it and, for a header, those including it (from the depfiles of the last build)."""
        objs = set(self.objects(src))
        if not src.endswith(".c"):
            if getattr(self, "_deps", None) is None:
                out = subprocess.check_output(["ninja", "-C", self.build, "-t", "deps"])
                self._deps = parse_ninja_deps(out.decode("utf-8", "replace"), self.build)
            objs |= {o for o in self._deps.get(os.path.normpath(src), ()) if "CMakeFiles/" in o}
        return sorted(objs)

    def inputs(self, target):
        out = subprocess.check_output(["ninja", "-C", self.build, "-t", "inputs", target])
        return set(os.path.normpath(os.path.join(self.build, l)) for l in out.decode().split())

    def build_targets(self, targets, timeout=1800):
        cmd = ["cmake", "--build", self.build, "-j", str(self.jobs), "--target"] + sorted(targets)
        return run_cmd(cmd, self.out, timeout, log=self.log)


def test_order(tests, path, durations, kills=None):
    """The test named after the file first, then those that killed most per second so far,
    then the fastest: survivors cost every test, so killers should run early."""
    stem = os.path.splitext(os.path.basename(path))[0]
    kills = kills or {}

    def key(t):
        d = durations.get(t["name"], 1e9)
        return (0 if t["name"].split(".")[-1] == stem else 1, -kills.get(t["name"], 0) / (d + 1.0), d)

    return sorted(tests, key=key)


def _sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def cmd_run(args):
    signal.signal(signal.SIGTERM, _sigterm)  # restore the mutated file on kill, too
    repo = os.path.abspath(args.repo)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    tree = os.path.join(out, "tree")
    log = os.path.join(out, "log.txt")
    state_path = os.path.join(out, "state.json")
    state = load_state(state_path)
    # The sources, and the engine's private header (its hot inline code: the descent, the
    # geometry and descriptor helpers, break-before-make).
    files = args.files or sorted("src/" + f for f in os.listdir(os.path.join(repo, "src"))
                                 if (f.endswith(".c") and f not in ("env_hosted.c", "error.c"))
                                 or f == "pgtable_internal.h")
    if state and (state["seed"] != args.seed or state["count"] != args.mutants or state["files"] != files) and not args.fresh:
        sys.exit("mutate: %s holds a run with seed %s, %d mutants of %s; use the same settings to resume, "
                 "or --fresh to start over" % (state_path, state["seed"], state["count"], ",".join(state["files"])))
    if args.fresh:
        state = None
    if args.test_jobs < 1:
        sys.exit("mutate: --test-jobs must be at least 1")
    print("mutate: syncing %s" % tree, flush=True)
    fp = sync_tree(repo, tree)
    if state and state.get("fingerprint") != fp:
        print("mutate: note: the sources changed since this run started; results so far were taken "
              "against the old tests (use --retest survived to re-run survivors)", flush=True)
    if state is None:
        cands = []
        for f in files:
            with open(os.path.join(tree, f), encoding="utf-8") as fh:
                cands += generate(f, fh.read())
        picked = sample(cands, args.mutants, args.seed)
        picked.sort(key=lambda m: (m.path, m.start))
        state = {"version": STATE_VERSION, "seed": args.seed, "count": args.mutants, "files": files,
                 "candidates": len(cands), "labels": args.labels, "fingerprint": fp,
                 "mutants": [m.to_dict() for m in picked], "results": {}}
        save_state(state_path, state)
    state["fingerprint"] = fp
    if args.retest:
        for mid in [k for k, r in state["results"].items() if r["status"] in args.retest]:
            del state["results"][mid]
    proj = Project(out, tree, args.labels, args.jobs, args.cmake_arg or [], log)
    proj.configure()
    print("mutate: building the unmutated tree (%s)" % proj.build, flush=True)
    st, _, tail = proj.build_targets(proj.host_executables())
    if st != "ok":
        sys.exit("mutate: the unmutated tree does not build:\n" + tail)
    tests = proj.tests()
    all_exes = sorted({e for t in tests for e in t["exes"]})
    if not all_exes:
        sys.exit("mutate: no tests with labels %s" % ",".join(args.labels))
    exe_inputs = {e: proj.inputs(e) for e in all_exes}
    # the object code of every unmutated file of the sample: a mutant compiling to the same
    # code is equivalent, whatever the tests say (no need to run them)
    base_digest = {}
    for f in sorted({d["path"] for d in state["mutants"]}):
        for o in proj.dependents(os.path.normpath(os.path.join(tree, f))):
            base_digest[o] = code_digest(o)
    base_path = os.path.join(out, "baseline.json")
    base = load_state(base_path) or {}
    if state.get("baseline_fp") != fp and base.get("fingerprint") == fp and \
            set(base.get("durations", {})) == {t["name"] for t in tests}:
        state["durations"], state["baseline_fp"] = base["durations"], fp  # same tree: reuse
    if state.get("baseline_fp") != fp:
        print("mutate: baseline run of %d tests" % len(tests), flush=True)
        dur = {}
        for t in tests:
            s, dt, tail = run_cmd(t["cmd"], t["cwd"], args.max_timeout, env=t["env"], log=log)
            if s != "ok":
                sys.exit("mutate: test %s fails without any mutant (%s):\n%s" % (t["name"], s, tail))
            dur[t["name"]] = dt
        state["durations"], state["baseline_fp"] = dur, fp
        save_state(state_path, state)
        save_state(base_path, {"fingerprint": fp, "durations": dur})
    dur = state["durations"]
    equivalents = load_equivalents(os.path.join(repo, "docs", "testing.md"))
    todo = [Mutant.from_dict(d) for d in state["mutants"] if d["id"] not in state["results"]]
    print("mutate: %d of %d mutants to run" % (len(todo), len(state["mutants"])), flush=True)
    originals = {}
    t_start = time.monotonic()
    try:
        for idx, m in enumerate(todo):
            src_path = os.path.join(tree, m.path)
            if m.path not in originals:
                with open(src_path, encoding="utf-8") as fh:
                    originals[m.path] = fh.read()
            orig = originals[m.path]
            if orig[m.start : m.end] != m.orig:
                # the file changed since the sample was drawn: find the mutant by its id
                again = {x.id: x for x in generate(m.path, orig)}
                if m.id not in again:
                    state["results"][m.id] = {"status": "build-error",
                                              "why": "the mutated code is gone from the source"}
                    continue
                m = again[m.id]
            mutated = m.apply(orig)
            dif = diff_of(m.path, orig, mutated)
            absf = os.path.normpath(src_path)
            # the tests whose executables are built from the file, or (a header) from an
            # object that includes it
            reads = {absf} | set(proj.dependents(absf))
            rel_tests = [t for t in tests if any(reads & exe_inputs[e] for e in t["exes"])]
            t0 = time.monotonic()
            res = {"diff": dif}
            if not rel_tests:
                res["status"] = "survived"
                res["why"] = "no selected test links this file"
            else:
                with open(src_path, "w", encoding="utf-8") as fh:
                    fh.write(mutated)
                try:
                    exes = {e for t in rel_tests for e in t["exes"]}
                    bst, _, btail = proj.build_targets(exes)
                    if bst != "ok":
                        res["status"] = "build-error"
                        res["why"] = btail[-800:]
                    elif same_code(proj, absf, base_digest):
                        res["status"] = "equivalent"
                        res["why"] = "same object code as the unmutated file"
                    else:
                        res["status"] = "survived"
                        kills = {}
                        for r in state["results"].values():
                            if r.get("test"):
                                kills[r["test"]] = kills.get(r["test"], 0) + 1
                        s, killer, tail = run_tests(
                            test_order(rel_tests, m.path, dur, kills), args.test_jobs,
                            lambda t: min(args.max_timeout,
                                          args.timeout_factor * dur.get(t["name"], 10) + 10), log)
                        if s != "ok":
                            res["status"] = "killed" if s == "fail" else "timeout"
                            res["test"] = killer
                            res["tail"] = tail[-600:]
                finally:
                    with open(src_path, "w", encoding="utf-8") as fh:
                        fh.write(orig)
            res["seconds"] = round(time.monotonic() - t0, 1)
            state["results"][m.id] = res
            save_state(state_path, state)
            done = len(state["results"])
            el = time.monotonic() - t_start
            eta = el / (idx + 1) * (len(todo) - idx - 1)
            print("mutate: [%d/%d] %-9s %s (%s:%d %s)%s  eta %dm" % (
                done, len(state["mutants"]), res["status"], m.id, m.path, m.line, m.op,
                " by " + res["test"] if res.get("test") else "", eta // 60), flush=True)
    finally:
        save_state(state_path, state)
    files_s, tot = write_report(out, state, equivalents)
    print("mutate: score %s%% (killed %d, timeout %d, survived %d, equivalent %d, build-error %d); report: %s" % (
        tot["score"], tot["killed"], tot["timeout"], tot["survived"], tot["equivalent"], tot["build-error"],
        os.path.join(out, "report.md")))
    for p, f in sorted(files_s.items()):
        print("  %-16s %s%%  (%d survived of %d counted)" % (p, f["score"], f["survived"],
                                                        f["killed"] + f["timeout"] + f["survived"]))
    return 0


def cmd_list(args):
    repo = os.path.abspath(args.repo)
    tot = 0
    for f in args.files:
        with open(os.path.join(repo, f), encoding="utf-8") as fh:
            src = fh.read()
        muts = generate(f, src)
        tot += len(muts)
        for m in muts:
            print("%s\t%s\t%s:%d\t%r -> %r" % (m.id, m.weight, f, m.line, m.orig, m.new))
    print("# %d candidates" % tot, file=sys.stderr)
    return 0


def cmd_report(args):
    out = os.path.abspath(args.out)
    state = load_state(os.path.join(out, "state.json"))
    if not state:
        sys.exit("mutate: no state.json in %s" % out)
    eq = load_equivalents(os.path.join(os.path.abspath(args.repo), "docs", "testing.md"))
    _, tot = write_report(out, state, eq)
    print(open(os.path.join(out, "report.md"), encoding="utf-8").read())
    return 0


# ---- self-test --------------------------------------------------------------------------------------


def cmd_selftest(args):
    fails = []

    def check(cond, what):
        if not cond:
            fails.append(what)
            print("selftest: FAIL: " + what)

    fx = os.path.join(TOOL_DIR, "selftest", "fixture.c")
    exp_path = os.path.join(TOOL_DIR, "selftest", "fixture.expected")
    with open(fx, encoding="utf-8") as f:
        src = f.read()
    muts = generate("fixture.c", src)
    got = ["%s %s %d %r -> %r" % (m.func, m.op, m.line, m.orig, m.new) for m in muts]
    if args.update:
        with open(exp_path, "w", encoding="utf-8") as f:
            f.write("\n".join(got) + "\n")
        print("selftest: wrote %s (%d mutants)" % (exp_path, len(got)))
        return 0
    with open(exp_path, encoding="utf-8") as f:
        exp = [l.rstrip("\n") for l in f if l.strip()]
    if got != exp:
        for l in difflib.unified_diff(exp, got, "expected", "generated", lineterm=""):
            print(l)
    check(got == exp, "generated mutants differ from selftest/fixture.expected")
    check(len({m.id for m in muts}) == len(muts), "mutant ids are unique")
    moved = generate("fixture.c", "static int added_above(int x)\n{\n\treturn x;\n}\n" + src)
    check({m.id for m in muts} <= {m.id for m in moved}, "ids survive edits elsewhere in the file")
    # every mutant: changes exactly its span, reverts byte-identical, still compiles
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("clang") or shutil.which("gcc")
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "fixture.c")
        for m in muts:
            mutated = m.apply(src)
            check(mutated != src, "%s changes the source" % m.id)
            check(mutated[: m.start] == src[: m.start] and mutated[m.start + len(m.new):] == src[m.end:],
                  "%s changes only its span" % m.id)
            with open(p, "w", encoding="utf-8") as f:
                f.write(mutated)
            if cc:
                r = subprocess.run([cc, "-std=c11", "-fsyntax-only", "-w", p], capture_output=True)
                check(r.returncode == 0, "%s compiles: %s" % (m.id, r.stderr.decode()[-300:]))
            with open(p, "w", encoding="utf-8") as f:
                f.write(src)
            with open(p, encoding="utf-8") as f:
                check(f.read() == src, "%s reverts cleanly" % m.id)
        # nothing generated outside functions, in comments, strings or macros
        for m in muts:
            check(m.func is not None, "%s is inside a function" % m.id)
            check("NOT_MUTATED" not in _line_text(src, m.start), "%s not on a NOT_MUTATED line" % m.id)
        # sampling: deterministic per seed, weighted toward hot calls and the fault path
        a, b, c = sample(muts, 10, 1), sample(muts, 10, 1), sample(muts, 10, 2)
        check([m.id for m in a] == [m.id for m in b], "same seed, same sample")
        check([m.id for m in a] != [m.id for m in c], "another seed, another sample")
        hot = [m for m in muts if m.op == "delcall" and "tlbi" in m.orig]
        check(hot and all(m.weight >= W_HOT_CALL for m in hot), "TLBI deletions are weighted up")
        fault = [m for m in muts if m.func == "handle_fault" and m.op == "cmp" and
                 "S2_BUG_ON" not in _line_text(src, m.start)]
        check(fault and all(m.weight == W_FAULT_FN for m in fault), "fault-path functions weighted up")
        hits = sum(1 for s in range(200) for m in sample(muts, 5, s) if m in hot)
        check(hits > 200 * 5 * len(hot) / len(muts), "hot mutants are sampled more often than uniform")
        # running: classification of a passing, failing and hanging command
        check(run_cmd(["sh", "-c", "exit 0"], td, 10)[0] == "ok", "run_cmd ok")
        check(run_cmd(["sh", "-c", "echo boom; exit 3"], td, 10)[0] == "fail", "run_cmd fail")
        t0 = time.monotonic()
        check(run_cmd(["sh", "-c", "sleep 30 & sleep 30"], td, 0.5)[0] == "timeout", "run_cmd timeout")
        check(time.monotonic() - t0 < 5, "timeout kills the whole process group quickly")
        # a mutant's tests: one after the other, or N at a time, stopping at the first failure
        def tst(name, script):
            return {"name": name, "cmd": ["sh", "-c", script], "cwd": td, "env": None}
        mark = os.path.join(td, "ran")
        seq = [tst("a", "exit 0"), tst("b", "echo boom; exit 3"), tst("c", "touch " + mark)]
        check(run_tests(seq, 1, lambda t: 10)[:2] == ("fail", "b") and not os.path.exists(mark),
              "run_tests: sequential, stops at the first failure")
        check(run_tests([tst("a", "exit 0"), tst("b", "exit 0"), tst("c", "exit 0")], 2,
                        lambda t: 10)[0] == "ok", "run_tests: parallel, all pass")
        pidf = os.path.join(td, "pgid")
        t0 = time.monotonic()
        st, who, tail = run_tests([tst("hang", "echo $$ > %s; sleep 30 & sleep 30" % pidf),
                                   tst("boom", "sleep 0.5; echo boom; exit 3")], 2, lambda t: 20)
        check((st, who) == ("fail", "boom") and "boom" in tail, "run_tests: parallel, the failing one named")
        check(time.monotonic() - t0 < 5, "run_tests: the first failure stops the others at once")
        if os.path.isdir("/proc/self"):
            pg, alive = int(open(pidf).read()), []
            for d in os.listdir("/proc"):
                try:
                    stat = open("/proc/%s/stat" % d).read()
                except (OSError, ValueError):
                    continue
                fields = stat[stat.rfind(")") + 2:].split()  # state ppid pgrp ...
                if int(fields[2]) == pg and fields[0] != "Z":  # zombies are dead, unreaped
                    alive.append(d)
            check(not alive, "run_tests: the others' process groups are killed (%s alive)" % alive)
        check(run_tests([tst("ok", "exit 0"), tst("hang", "sleep 30")], 2,
                        lambda t: 0.5)[:2] == ("timeout", "hang"), "run_tests: parallel timeout")
        # a header's dependents come from the depfiles (ninja -t deps), relative or absolute
        dtxt = ("CMakeFiles/a.dir/src/a.c.o: #deps 2, deps mtime 1 (VALID)\n    ../src/a.c\n"
                "    ../src/h.h\n\nCMakeFiles/b.dir/src/b.c.o: #deps 2, deps mtime 1 (VALID)\n"
                "    /r/src/b.c\n    /r/src/h.h\n\n")
        dd = parse_ninja_deps(dtxt, "/r/build")
        check(dd.get("/r/src/h.h") == {"/r/build/CMakeFiles/a.dir/src/a.c.o",
                                        "/r/build/CMakeFiles/b.dir/src/b.c.o"} and
              dd.get("/r/src/a.c") == {"/r/build/CMakeFiles/a.dir/src/a.c.o"},
              "ninja -t deps parses: a header's including objects found")
        # report: per-file scores, survivors with diffs, equivalents excluded; JSON parses
        doc = os.path.join(td, "testing.md")
        eq_id = muts[2].id
        with open(doc, "w", encoding="utf-8") as f:
            f.write("# x\n\n#### Equivalent mutants\n\n| mutant | reason |\n|---|---|\n| `%s` | same code |\n\n## after\n| `zzz` | no |\n" % eq_id)
        eqs = load_equivalents(doc)
        check(eqs == {eq_id: "same code"}, "equivalents table parses: %r" % eqs)
        st = {"seed": 1, "count": 6, "candidates": len(muts), "labels": ["unit"],
              "mutants": [dict(m.to_dict(), path=("src/a.c" if i < 4 else "src/b.c")) for i, m in enumerate(muts[:6])],
              "results": {}}
        kinds = ["killed", "survived", "survived", "timeout", "build-error", "killed"]
        for m, k in zip(st["mutants"], kinds):
            st["results"][m["id"]] = {"status": k, "diff": diff_of(m["path"], src, Mutant.from_dict(m).apply(src)),
                                      "test": "unit.x" if k == "killed" else None}
        save_state(os.path.join(td, "state.json"), st)
        write_report(td, load_state(os.path.join(td, "state.json")), eqs)
        with open(os.path.join(td, "report.json"), encoding="utf-8") as f:
            rj = json.load(f)
        check(rj["files"]["src/a.c"]["score"] == 66.7, "score of src/a.c: %r" % rj["files"]["src/a.c"]["score"])
        check(rj["files"]["src/a.c"]["equivalent"] == 1 and rj["files"]["src/a.c"]["survivors"] == [muts[1].id],
              "equivalent excluded, survivor listed")
        check(rj["files"]["src/b.c"]["score"] == 100.0 and rj["files"]["src/b.c"]["build-error"] == 1,
              "build errors not counted")
        check(rj["total"]["score"] == 75.0, "total score")
        md = open(os.path.join(td, "report.md"), encoding="utf-8").read()
        check("### `%s`" % muts[1].id in md and "```diff\n--- a/src/a.c" in md, "report lists survivors with diffs")
        rows = [l for l in md.splitlines() if l.startswith("| src/")]
        check(len(rows) == 2 and all(len(r.split("|")) == 10 for r in rows), "report table parses")
    # object-code comparison: a change the compiler erases is recognised, a real one is not
    if cc and shutil.which("readelf"):
        with tempfile.TemporaryDirectory() as td:
            digests = []
            for i, body in enumerate(("return x * 2;", "return x + x;", "return x * 2 + 1;")):
                os.makedirs(os.path.join(td, str(i)))
                c, o = os.path.join(td, str(i), "f.c"), os.path.join(td, str(i), "f.o")
                with open(c, "w") as f:
                    f.write("int f(int x);\nint f(int x)\n{\n\t%s\n}\n" % body)
                subprocess.run([cc, "-O2", "-g", "-c", c, "-o", o], check=True)
                digests.append(code_digest(o))
            check(digests[0] is not None and digests[0] == digests[1], "same code, same digest")
            check(digests[0] != digests[2], "other code, other digest")
    # the private tree: a file left mutated by an interrupted run is restored with a fresh
    # mtime (so the build tool recompiles it), unchanged files keep theirs
    if shutil.which("git"):
        with tempfile.TemporaryDirectory() as td:
            repo, tree = os.path.join(td, "repo"), os.path.join(td, "tree")
            os.makedirs(repo)
            subprocess.run(["git", "init", "-q", repo], check=True)
            for name in ("a.c", "b.c"):
                with open(os.path.join(repo, name), "w") as f:
                    f.write("int %s;\n" % name[0])
            old = time.time() - 3600
            for name in ("a.c", "b.c"):
                os.utime(os.path.join(repo, name), (old, old))
            fp1 = sync_tree(repo, tree)
            with open(os.path.join(tree, "a.c"), "w") as f:
                f.write("int mutated;\n")
            os.utime(os.path.join(tree, "a.c"), (old, old))
            bt = os.path.getmtime(os.path.join(tree, "b.c"))
            fp2 = sync_tree(repo, tree)
            check(open(os.path.join(tree, "a.c")).read() == "int a;\n", "sync restores a mutated file")
            check(os.path.getmtime(os.path.join(tree, "a.c")) > old + 1800, "restored file gets a fresh mtime")
            check(os.path.getmtime(os.path.join(tree, "b.c")) == bt, "unchanged file keeps its mtime")
            check(fp1 == fp2, "fingerprint is of the repository, not the tree")
    # the tokenizer on the real sources (when present): every file yields mutants and no mutant
    # falls inside a comment or preprocessor line
    srcdir = os.path.join(REPO_DEFAULT, "src")
    if os.path.isdir(srcdir):
        for f in sorted(os.listdir(srcdir)):
            if not f.endswith(".c") or f in ("env_hosted.c", "error.c"):
                continue
            s = open(os.path.join(srcdir, f), encoding="utf-8").read()
            ms = generate("src/" + f, s)
            check(len(ms) > 10, "src/%s yields mutants" % f)
            starts = {t.start for t in tokenize(s)}
            for m in ms:
                lt = _line_text(s, m.start).lstrip()
                if m.start not in starts or lt.startswith("#"):
                    check(False, "%s is not on a code token: %r" % (m.id, lt))
                    break
    if fails:
        print("selftest: %d failure(s)" % len(fails))
        return 1
    print("selftest: ok (%d fixture mutants)" % len(muts))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mutate.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=REPO_DEFAULT, help="repository root (default: this checkout)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="sample, apply, build, test, record (resumable)")
    p.add_argument("--out", default=os.path.join(REPO_DEFAULT, "build", "mutate"),
                   help="work directory: tree copy, build, state.json, report.md (default build/mutate)")
    p.add_argument("--mutants", "-n", type=int, default=30, help="sample size (default 30)")
    p.add_argument("--seed", "-s", type=int, default=1, help="sampling seed (default 1)")
    p.add_argument("--files", nargs="*", help="src files to mutate (default: src/*.c but env_hosted.c, error.c, and src/pgtable_internal.h)")
    p.add_argument("--labels", nargs="*", default=["unit", "sim", "cli"], help="CTest labels to run (default unit sim cli)")
    p.add_argument("--jobs", "-j", type=int, default=2, help="build jobs (default 2)")
    p.add_argument("--test-jobs", type=int, default=1,
                   help="run up to N of a mutant's tests at once, stopping at the first failure (default 1: "
                        "one after the other)")
    p.add_argument("--timeout-factor", type=float, default=4.0, help="test timeout = factor x baseline + 10 s")
    p.add_argument("--max-timeout", type=float, default=600.0, help="cap of a test's timeout (s)")
    p.add_argument("--fresh", action="store_true", help="discard the state file and start over")
    p.add_argument("--retest", nargs="*", choices=["survived", "timeout", "build-error", "killed"],
                   help="forget these results and run those mutants again")
    p.add_argument("--cmake-arg", action="append", help="extra argument for cmake configure")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("list", help="print candidate mutants")
    p.add_argument("files", nargs="+")
    p.set_defaults(fn=cmd_list)
    p = sub.add_parser("report", help="rewrite report.md/report.json from state.json")
    p.add_argument("--out", default=os.path.join(REPO_DEFAULT, "build", "mutate"))
    p.set_defaults(fn=cmd_report)
    p = sub.add_parser("selftest", help="check the tool on its fixture")
    p.add_argument("--update", action="store_true", help="rewrite selftest/fixture.expected")
    p.set_defaults(fn=cmd_selftest)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
