#!/bin/sh
# make deps: check the Debian packages midsops needs. As root, install what is missing
# (apt-get update first, only then); otherwise print the exact command and stop.
set -u
PKGS="build-essential pkg-config libncurses-dev libpq-dev libcjson-dev libreadline-dev \
postgresql-15 postgresql-client-15 postgresql-contrib tmux mandoc python3 time \
prometheus monitoring-plugins-standard bash-completion logrotate libzstd-dev pgbackrest"
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$st" = "installed" ] || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
echo "deps: missing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run this, then try again:"
	echo "  sudo apt-get update && sudo apt-get install -y$missing"
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q && apt-get install -y -q --no-install-recommends $missing || {
	echo "deps: apt-get install failed" >&2
	exit 1
}
# Debian's server package creates and starts a system cluster; midsops never uses it.
echo "deps: installed$missing"
