#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the JSON an s2mmu command printed.

usage: jcheck.py FILE KEY=JSONVALUE... [KEY=!absent]
       jcheck.py FILE --get KEY
       jcheck.py FILE --pairs KEY...

FILE must hold exactly one JSON object. Each KEY=JSONVALUE compares the member with the JSON
literal strictly (types too: 1 is not true, "0x1" is not 1). KEY=!absent requires the member to
be missing. --get KEY prints the member's value (strings raw, others as JSON). --pairs prints
KEY=JSONVALUE for each KEY, one a line, ready to be checked against another output.
"""
import json
import sys


def fail(msg):
    print("jcheck: " + msg, file=sys.stderr)
    sys.exit(1)


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def main():
    if len(sys.argv) < 2:
        fail("no file")
    with open(sys.argv[1]) as f:
        text = f.read()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        fail("output is not one JSON value: %s\n%s" % (e, text))
    if not isinstance(obj, dict):
        fail("output is not a JSON object")
    args = sys.argv[2:]
    if args and args[0] == "--get":
        if args[1] not in obj:
            fail("no key %r" % args[1])
        v = obj[args[1]]
        print(v if isinstance(v, str) else json.dumps(v))
        return
    if args and args[0] == "--pairs":
        for k in args[1:]:
            if k not in obj:
                fail("no key %r" % k)
            print("%s=%s" % (k, json.dumps(obj[k])))
        return
    bad = 0
    for a in args:
        key, _, want = a.partition("=")
        if want == "!absent":
            if key in obj:
                print("jcheck: %s should be absent, is %s" % (key, json.dumps(obj[key])),
                      file=sys.stderr)
                bad += 1
            continue
        if key not in obj:
            print("jcheck: missing key %s" % key, file=sys.stderr)
            bad += 1
            continue
        exp = json.loads(want)
        if not same(obj[key], exp):
            print("jcheck: %s is %s, expected %s" % (key, json.dumps(obj[key]), want),
                  file=sys.stderr)
            bad += 1
    if bad:
        fail("%d mismatch(es) in:\n%s" % (bad, text))


main()
