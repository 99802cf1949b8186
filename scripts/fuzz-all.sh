#!/bin/bash
# Runs every fuzz target of the module for FUZZTIME each (default 20s): the targets are found
# in the sources (func FuzzXxx in *_test.go), so a new one is fuzzed without being listed.
# Prints one line per target and exits non-zero when any failed (its output is kept).
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20s}
failed=0
while IFS=: read -r file name; do
	dir=./$(dirname "$file")
	start=$(date +%s)
	if out=$("$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir" 2>&1); then
		echo "fuzz $name ($dir): ok in $(($(date +%s) - start))s"
	else
		echo "fuzz $name ($dir): FAILED"
		echo "$out" | tail -30
		failed=1
	fi
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' cmd internal | sed 's/func //' | sort)
exit $failed
