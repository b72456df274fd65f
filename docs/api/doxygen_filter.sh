#!/bin/sh
# Doxygen INPUT_FILTER for the public headers: the comments are kernel-doc, where "@name"
# refers to an argument or member; Doxygen would read it as an (unknown) command. Inside
# comments, "@name" becomes "\p name" (rendered as code). Usage: doxygen_filter.sh FILE
exec sed -E 's/@([A-Za-z_][A-Za-z0-9_]*)/\\p \1/g' "$1"
