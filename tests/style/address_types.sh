#!/bin/sh
# Distinct address types (docs/stability.md, "Names"): tests/style/address_types.c must compile
# with CASE=0 (the right types, in the API's argument order) and fail to compile with each
# CASE from 1 to 7 (an IPA, PA or integer where another is expected).
# Usage: address_types.sh SOURCE_DIR CC
set -eu
src=$1
cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -Wall -Wextra -Werror -I $src/include -fsyntax-only"
if ! $cc $flags -DCASE=0 "$src/tests/style/address_types.c" 2>"$tmp/err"; then
	echo "CASE 0 (correct use) does not compile:"
	cat "$tmp/err"
	exit 1
fi
bad=0
for c in 1 2 3 4 5 6 7; do
	if $cc $flags -DCASE=$c "$src/tests/style/address_types.c" 2>"$tmp/err"; then
		echo "CASE $c compiles: an address of the wrong type is accepted"
		sed -n "/CASE == $c\$/,/#elif/p" "$src/tests/style/address_types.c"
		bad=1
	fi
done
[ $bad = 0 ] && echo "address types: correct use compiles, 7 misuses are refused"
exit $bad
