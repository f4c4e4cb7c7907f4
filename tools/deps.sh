#!/bin/sh
# make deps: check the Debian packages midsops needs. As root, install what is missing
# (apt-get update first, only then); otherwise print the exact command and stop.
set -u
PKGS="build-essential pkg-config libncurses-dev libpq-dev libcjson-dev libreadline-dev \
postgresql-15 postgresql-client-15 postgresql-contrib tmux mandoc python3 time \
prometheus monitoring-plugins-standard bash-completion logrotate libzstd-dev pgbackrest locales"
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$st" = "installed" ] || missing="$missing $p"
done
# The German locale lets the tests run a server whose messages are not English
# (test_lc_messages.sh): midsops decides by SQLSTATE, never by message text.
locale_ok() { locale -a 2>/dev/null | grep -qix 'de_DE.utf-\?8'; }
add_locale() {
	locale_ok && return 0
	if [ "$(id -u)" = 0 ] && command -v localedef >/dev/null 2>&1; then
		localedef -i de_DE -f UTF-8 de_DE.UTF-8 && echo "deps: generated the de_DE.UTF-8 locale" || echo "deps: localedef de_DE.UTF-8 failed (the lc_messages test will skip)"
	else
		echo "deps: no de_DE.UTF-8 locale (the lc_messages test will skip); as root: localedef -i de_DE -f UTF-8 de_DE.UTF-8"
	fi
}
if [ -z "$missing" ]; then
	add_locale
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
add_locale
