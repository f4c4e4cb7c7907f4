# Helpers for the fleet tests (sourced by tests/integration/test_fleet.sh and
# tests/tui/test_console_fleet.sh, not a test itself): real clusters in $TEST_TMP/fleet.
#   staging  a second primary (initdb), port $FL_P1
#   dr       a streaming standby of staging (pg_basebackup -R), port $FL_P2
#   old      a port where nothing listens ($FL_DEAD): a stopped environment
# plus production, the test's own cluster ($MIDSOPS_DSN). fleet_down stops them; the
# caller traps it on EXIT.
FL=$TEST_TMP/fleet
FL_P1=$((MIDSOPS_PGPORT + 31))
FL_P2=$((MIDSOPS_PGPORT + 32))
FL_DEAD=$((MIDSOPS_PGPORT + 33))
FL_BIN=$(pg_config --bindir 2>/dev/null)
[ -x "$FL_BIN/pg_ctl" ] || FL_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
# The server tools refuse root: as root the clusters belong to postgres.
fl_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
FL_STAGING="host=$FL port=$FL_P1 dbname=postgres user=postgres"
FL_DR="host=$FL port=$FL_P2 dbname=postgres user=postgres"
FL_OLD="host=127.0.0.1 port=$FL_DEAD dbname=postgres user=postgres"

fl_conf() {
	printf "port = %s\nunix_socket_directories = '%s'\nlisten_addresses = ''\nfsync = off\n" \
		"$1" "$FL" >>"$2/postgresql.conf"
}

# fleet_up: 0 when both clusters run and dr streams from staging.
fleet_up() {
	mkdir -p "$FL" && chmod 0711 "$FL"
	[ "$(id -u)" = 0 ] && chown postgres "$FL"
	fl_as_pg "$FL_BIN/initdb" -D "$FL/a" -A trust -U postgres --no-sync >"$FL/initdb.log" 2>&1 ||
		return 1
	fl_conf "$FL_P1" "$FL/a"
	fl_as_pg "$FL_BIN/pg_ctl" -D "$FL/a" -l "$FL/a.log" -w start >/dev/null 2>&1 || return 1
	fl_as_pg "$FL_BIN/pg_basebackup" -h "$FL" -p "$FL_P1" -U postgres -D "$FL/b" -R -X stream \
		>"$FL/basebackup.log" 2>&1 || return 1
	fl_conf "$FL_P2" "$FL/b"
	fl_as_pg "$FL_BIN/pg_ctl" -D "$FL/b" -l "$FL/b.log" -w start >/dev/null 2>&1 || return 1
	i=0
	while [ $i -lt 100 ]; do
		[ "$(psql "$FL_STAGING" -XAtqc "select count(*) from pg_stat_replication
			where state = 'streaming'" 2>/dev/null)" = 1 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

fleet_down() {
	for d in b a; do
		[ -f "$FL/$d/postmaster.pid" ] &&
			fl_as_pg "$FL_BIN/pg_ctl" -D "$FL/$d" -m immediate -w stop >/dev/null 2>&1
	done
	return 0
}

# fleet_config: the four environments, production first (the test's cluster).
fleet_config() {
	mkdir -p "$XDG_CONFIG_HOME/midsops"
	cat >"$XDG_CONFIG_HOME/midsops/midsops.conf" <<EOC
[env production]
dsn = $MIDSOPS_DSN

[env staging]
dsn = $FL_STAGING

[env dr]
dsn = $FL_DR

[env old]
dsn = $FL_OLD
EOC
}
