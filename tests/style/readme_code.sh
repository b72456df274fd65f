#!/bin/sh
# The C code shown in README.md must compile against the public headers: every ```c block is
# put in a function body after the declarations its free names need (a host's ID registers,
# a page table, a port, a VM cookie), and compiled with -Wall -Werror.
# Usage: readme_code.sh SOURCE_DIR CC
set -eu
src=$1
cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=$(grep -c '^```c' "$src/README.md" || true)
[ "$n" -ge 1 ] || { echo "README.md has no C block"; exit 1; }
{
	for h in "$src"/include/s2mmu/*.h; do echo "#include \"s2mmu/$(basename "$h")\""; done
	echo 'void readme_example(void);'
	echo 'void readme_example(void)'
	echo '{'
	echo '	struct s2_idregs idregs = { 0 };'
	echo '	struct s2_pgtable pgt;'
	echo '	struct s2_port my_port = { 0 };'
	echo '	void *vm = NULL;'
	awk '/^```c/{f=1;next} /^```/{f=0} f' "$src/README.md"
	echo '}'
} > "$tmp/readme.c"
if ! "$cc" -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -I "$src/include" -c \
	"$tmp/readme.c" -o "$tmp/readme.o"; then
	echo "README.md's C code does not compile (as wrapped in $tmp/readme.c):"
	cat -n "$tmp/readme.c" | tail -n 20
	exit 1
fi
echo "README.md: $n C block(s) compiled"
