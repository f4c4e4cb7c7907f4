#!/bin/sh
# make run: the embedded cluster, the bundled sample export, then the console.
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
M=${MIDSOPS:-$TOP/midsops}
"$M" cluster start
"$M" db-create >/dev/null
if "$M" help import >/dev/null 2>&1 && [ -d "$TOP/tests/data/export-mini" ]; then
	# A completed run is the sample loaded already: make run stays idempotent.
	gen=$("$M" db-shell -Atc 'select coalesce(max(generation), 0) from ops.import_runs where state = '"'"'completed'"'"'' 2>/dev/null || echo 0)
	if [ "${gen:-0}" = 0 ]; then
		"$M" import "$TOP/tests/data/export-mini"
		"$M" help seed-builds >/dev/null 2>&1 && "$M" seed-builds "$TOP/tests/data/builds-mini.json" || true
	fi
fi
if [ -t 0 ] && [ -t 1 ] && "$M" help console >/dev/null 2>&1; then
	exec "$M" console
fi
exec "$M" status
