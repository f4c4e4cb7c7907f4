# Packaging: `make install` puts contrib's systemd units where systemd reads them, naming the
# installed binary, and systemd-analyze verify accepts them (and rejects a broken copy);
# `make uninstall` takes everything back. `make deb` builds a package whose control fields
# declare what the binary links against, whose dependencies resolve on this system
# (apt-get --simulate), and which installs into a throwaway root (dpkg --root) where
# --version, man -w, help and the shipped runbooks work. Nothing touches the real root.

P=$TEST_TMP/package
B=$P/build
mkdir -p "$P"
version=$(sed -n 's/^#define MIDSOPS_VERSION "\([^"]*\)".*/\1/p' "$TOP/include/version.h")
# The make that runs this file (make test) must not hand its goals' variables down.
pmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$TOP" "$@"; }
units_of() { ls "$1"/usr/lib/systemd/system/midsops-* 2>/dev/null; }

# verify_units ROOT NAME: systemd-analyze verify on ROOT's midsops units, in a copy of ROOT
# with the host's targets and slices, which verify needs to resolve the units' ordering.
# Prints verify's output; fails when it fails or says anything at all.
verify_units() {
	v=$P/verify-$2
	rm -rf "$v" && mkdir -p "$v" && cp -a "$1/." "$v/"
	for d in /lib/systemd/system /usr/lib/systemd/system; do
		[ -d "$d" ] && cp -L "$d"/*.target "$d"/*.slice "$v/usr/lib/systemd/system/" 2>/dev/null
	done
	vout=$(MANPATH=$v/usr/share/man systemd-analyze verify --root="$v" $(units_of "$v") 2>&1)
	vrc=$?
	printf '%s' "$vout"
	[ "$vrc" = 0 ] && [ -z "$vout" ]
}
have_analyze=
command -v systemd-analyze >/dev/null 2>&1 && have_analyze=1

have_dpkg=
command -v dpkg-deb >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 && have_dpkg=1
# The package first: its build directory (PREFIX=/usr) then serves make install as well, so
# the sources are compiled once.
if [ -n "$have_dpkg" ]; then
	arch=$(dpkg --print-architecture)
	deb=$P/out/midsops_${version}_${arch}.deb
	DEB_BUILD="$B" DEB_OUTDIR="$P/out" DEB_LINTIAN=no pmake -s deb >"$P/deb.log" 2>&1
	deb_rc=$?
fi

# ---- (a) make install DESTDIR=... PREFIX=/usr ----
part_a() {
	I=$P/inst
	if pmake -s install DESTDIR="$I" PREFIX=/usr BUILD="$B" BIN="$B/midsops" >"$P/install.log" 2>&1; then
		ok "make install DESTDIR PREFIX=/usr"
	else
		fail "make install DESTDIR PREFIX=/usr" "$(tail -n 5 "$P/install.log")"
		return 0
	fi
	missing=
	for f in "$TOP"/contrib/*.service "$TOP"/contrib/*.timer; do
		[ -f "$I/usr/lib/systemd/system/${f##*/}" ] || missing="$missing ${f##*/}"
	done
	for f in usr/bin/midsops usr/share/man/man1/midsops.1 usr/share/doc/midsops/examples/midsops.cron \
		usr/share/doc/midsops/examples/README.md usr/lib/systemd/system/midsops-collect.service \
		usr/lib/systemd/system/midsops-collect.timer usr/lib/systemd/system/midsops-wal-receive.service; do
		[ -f "$I/$f" ] || missing="$missing $f"
	done
	[ -z "$missing" ] && ok "install puts down every contrib unit, the cron example and README" \
		|| fail "install puts down every contrib unit, the cron example and README" "missing:$missing"
	bad=$(cat $(units_of "$I") /dev/null | grep '^ExecStart=' | grep -v '^ExecStart=/usr/bin/midsops ')
	bad="$bad$(grep -v '^#' "$I/usr/share/doc/midsops/examples/midsops.cron" 2>/dev/null | grep -v '^$' |
		grep -v ' /usr/bin/midsops ')"
	[ -z "$bad" ] && ok "installed units and cron lines run \$(BINDIR)/midsops (/usr/bin)" \
		|| fail "installed units and cron lines run \$(BINDIR)/midsops" "$bad"
	nowants=
	for u in $(units_of "$I"); do
		if grep -q '^After=.*network-online\.target' "$u" &&
			! grep -q '^Wants=.*network-online\.target' "$u"; then
			nowants="$nowants ${u##*/}"
		fi
	done
	[ -z "$nowants" ] && ok "every unit ordered after network-online.target also Wants= it" \
		|| fail "units ordered after network-online.target Want it" "no Wants= in:$nowants"
	svc=$I/usr/lib/systemd/system/midsops-wal-receive.service
	grep -q '^Restart=on-failure' "$svc" 2>/dev/null && grep -q '^Type=simple' "$svc" &&
		ok "wal-receive is a long-running service restarted on failure" ||
		fail "wal-receive is a long-running service restarted on failure" "$(cat "$svc" 2>&1)"
	grep -q '^OnCalendar=' "$I/usr/lib/systemd/system/midsops-collect.timer" 2>/dev/null &&
		grep -q '^Type=oneshot' "$I/usr/lib/systemd/system/midsops-collect.service" &&
		ok "collect is a oneshot service with a timer" || fail "collect is a oneshot service with a timer" "see the units"

	if [ -z "$have_analyze" ]; then
		skip "systemd-analyze verify on the installed units" "systemd-analyze is not installed"
	else
		if out=$(verify_units "$I" inst); then
			ok "systemd-analyze verify accepts the installed units ($(units_of "$I" | wc -l) files)"
		else
			fail "systemd-analyze verify accepts the installed units" "$out"
		fi
		# The same check must be able to fail: a missing binary, a bad calendar, a missing page.
		B1=$P/broken1 B2=$P/broken2 B3=$P/broken3
		for b in "$B1" "$B2" "$B3"; do rm -rf "$b" && cp -a "$I" "$b"; done
		sed -i 's|^ExecStart=/usr/bin/midsops |ExecStart=/usr/bin/midsops-absent |' \
			"$B1/usr/lib/systemd/system/midsops-collect.service"
		sed -i 's|^OnCalendar=.*|OnCalendar=every now and then|' "$B2/usr/lib/systemd/system/midsops-collect.timer"
		rm -f "$B3/usr/share/man/man1/midsops.1"
		out=$(verify_units "$B1" b1) && fail "verify rejects a unit whose binary is missing" "it passed" ||
			assert_contains "$out" "midsops-absent" "verify rejects a unit whose binary is missing"
		out=$(verify_units "$B2" b2) && fail "verify rejects a timer with a bad calendar" "it passed" ||
			assert_contains "$out" "midsops-collect.timer" "verify rejects a timer with a bad calendar"
		out=$(verify_units "$B3" b3) && fail "verify rejects units whose man page is not installed" "it passed" ||
			assert_contains "$out" "midsops(1)" "verify rejects units whose man page is not installed"
	fi

	if pmake -s uninstall DESTDIR="$I" PREFIX=/usr >"$P/uninstall.log" 2>&1; then
		left=$(find "$I" ! -type d)
		[ -z "$left" ] && ok "make uninstall removes every file install put down" \
			|| fail "make uninstall removes every file install put down" "left: $(printf '%s' "$left" | head -n 5)"
	else
		fail "make uninstall" "$(tail -n 5 "$P/uninstall.log")"
	fi

}

# ---- (b) make deb ----
part_b() {
	if [ -z "$have_dpkg" ]; then
		skip "make deb and the package tests" "dpkg-deb is not installed (not a Debian system)"
		return 0
	fi
	if [ "$deb_rc" = 0 ] && [ -f "$deb" ]; then
		ok "make deb writes midsops_${version}_${arch}.deb"
	else
		fail "make deb writes midsops_${version}_${arch}.deb" "$(tail -n 5 "$P/deb.log")"
		return 0
	fi

	assert_eq "$(dpkg-deb -f "$deb" Package)" midsops "control: Package"
	assert_eq "$(dpkg-deb -f "$deb" Version)" "$version" "control: Version is include/version.h's"
	assert_eq "$(dpkg-deb -f "$deb" Architecture)" "$arch" "control: Architecture"
	assert_eq "$(dpkg-deb -f "$deb" Recommends)" postgresql-15 "control: Recommends postgresql-15"
	assert_eq "$(dpkg-deb -f "$deb" Section)" admin "control: Section admin"
	depends=$(dpkg-deb -f "$deb" Depends | tr -d ' ' | tr ',' '\n' | sed 's/(.*//')
	missing=
	for p in libcjson1 libpq5 libncursesw6 libreadline8 postgresql-client-15; do
		printf '%s\n' "$depends" | grep -qx "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && ok "control: Depends lists libcjson1 libpq5 libncursesw6 libreadline8 postgresql-client-15" \
		|| fail "control: Depends lists the required packages" "missing:$missing in $(dpkg-deb -f "$deb" Depends)"
	dpkg-deb -I "$deb" | grep -qw md5sums && ok "control archive has md5sums" || fail "control archive has md5sums" "$(dpkg-deb -I "$deb")"

	contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./||')
	want="usr/bin/midsops usr/share/man/man1/midsops.1.gz usr/share/doc/midsops/copyright
	usr/share/doc/midsops/changelog.gz usr/share/doc/midsops/examples/midsops.cron"
	for f in "$TOP"/runbooks/*.json; do want="$want usr/share/midsops/runbooks/${f##*/}"; done
	for f in "$TOP"/themes/*.theme; do want="$want usr/share/midsops/themes/${f##*/}"; done
	for f in "$TOP"/contrib/*.service "$TOP"/contrib/*.timer; do want="$want usr/lib/systemd/system/${f##*/}"; done
	missing=
	for f in $want; do printf '%s\n' "$contents" | grep -qx "$f" || missing="$missing $f"; done
	[ -z "$missing" ] && ok "package holds the binary, man page, runbooks, themes, units and examples" \
		|| fail "package holds the binary, man page, runbooks, themes, units and examples" "missing:$missing"
	if grep -q 'bash-completion' "$TOP/Makefile"; then
		printf '%s\n' "$contents" | grep -qx 'usr/share/bash-completion/completions/midsops' &&
			ok "package holds the bash completion" ||
			fail "package holds the bash completion" "no usr/share/bash-completion/completions/midsops"
	else
		skip "package holds the bash completion" "make install does not install one yet"
	fi
	printf '%s\n' "$contents" | grep -q '^usr/share/man/man1/midsops\.1$' &&
		fail "man page compressed" "an uncompressed midsops.1 is in the package" || ok "man page only compressed"

	# Dependencies resolve against this system's packages (no download, no change).
	if command -v apt-get >/dev/null 2>&1; then
		sim=$(apt-get install --simulate "$deb" 2>&1)
		src=$?
		if [ "$src" = 0 ] && printf '%s' "$sim" | grep -Eq '^Inst midsops |midsops is already the newest'; then
			ok "apt-get install --simulate ./midsops_*.deb resolves the dependencies"
		else
			fail "apt-get install --simulate resolves the dependencies" "exit $src: $(printf '%s' "$sim" | tail -n 6)"
		fi
	else
		skip "apt-get install --simulate" "apt-get is not installed"
	fi

	# Into a throwaway root: dpkg with its own admin directory.
	R=$P/root
	mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
	: >"$R/var/lib/dpkg/status"
	: >"$R/var/lib/dpkg/available"
	if dpkg --root="$R" --force-depends --force-not-root --log=/dev/null -i "$deb" >"$P/dpkg.log" 2>&1 &&
		dpkg --root="$R" -s midsops 2>/dev/null | grep -qx 'Status: install ok installed'; then
		ok "dpkg --root installs the package into a throwaway root"
	else
		fail "dpkg --root installs the package into a throwaway root" "$(tail -n 5 "$P/dpkg.log")"
		return 0
	fi
	M=$R/usr/bin/midsops
	expect_exit 0 "installed midsops --version" "$M" --version
	assert_contains "$OUT" "midsops $version" "installed --version names $version"
	expect_exit 0 "installed midsops help" "$M" help
	assert_contains "$OUT" "wal-receive" "installed help lists the commands"
	sharedir=$("$M" version --json 2>/dev/null | json_get .sharedir)
	assert_eq "$sharedir" /usr/share/midsops "the packaged binary looks in /usr/share/midsops"
	page=$(man -M "$R/usr/share/man" -w midsops 2>&1)
	assert_eq "$page" "$R/usr/share/man/man1/midsops.1.gz" "man -w midsops finds the installed page"
	text=$(MANPAGER=cat MANWIDTH=80 man -M "$R/usr/share/man" midsops 2>/dev/null)
	assert_contains "$text" "wal-receive" "the compressed page renders"
	nrb=$(ls "$TOP"/runbooks/*.json | wc -l)
	val=$(MIDSOPS_SHARE=$R/usr/share/midsops "$M" wizard validate 2>&1)
	assert_eq "$(printf '%s\n' "$val" | grep -c ': ok ')" "$nrb" "the installed runbooks validate ($nrb)"
	for t in "$TOP"/themes/*.theme; do
		cmp -s "$t" "$R/usr/share/midsops/themes/${t##*/}" || fail "installed theme ${t##*/}" "differs or missing"
	done
	grep -q ' /usr/bin/midsops ' "$R/usr/share/doc/midsops/examples/midsops.cron" &&
		ok "the cron example runs /usr/bin/midsops" || fail "the cron example runs /usr/bin/midsops" "see the file"

	# Every library the binary links against comes from a package it Depends on.
	if command -v readelf >/dev/null 2>&1; then
		undeclared=
		for so in $(readelf -d "$M" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			# Any owner will do (libc.so.6 also comes with libc6-i386, for /lib32).
			owners=$(dpkg -S "*/$so" 2>/dev/null | cut -d: -f1 | sort -u)
			printf '%s\n' "$owners" | grep -qxF "$depends" || undeclared="$undeclared $so($(echo $owners))"
		done
		[ -z "$undeclared" ] && ok "Depends covers every NEEDED library" || fail "Depends covers every NEEDED library" "$undeclared"
	else
		skip "Depends covers every NEEDED library" "readelf is not installed"
	fi

	if [ -n "$have_analyze" ]; then
		out=$(verify_units "$R" deb) && ok "systemd-analyze verify accepts the packaged units" ||
			fail "systemd-analyze verify accepts the packaged units" "$out"
	fi

	if dpkg --root="$R" --force-depends --force-not-root --log=/dev/null -r midsops >"$P/dpkg-r.log" 2>&1; then
		left=$(find "$R" ! -type d ! -path "$R/var/lib/dpkg/*")
		[ -z "$left" ] && ok "dpkg -r removes every file" || fail "dpkg -r removes every file" "$(printf '%s' "$left" | head -n 5)"
	else
		fail "dpkg -r midsops" "$(tail -n 5 "$P/dpkg-r.log")"
	fi

	if command -v lintian >/dev/null 2>&1; then
		lout=$(lintian --fail-on error,warning "$deb" 2>&1)
		lrc=$?
		[ "$lrc" = 0 ] && ok "lintian: no errors or warnings" ||
			fail "lintian: no errors or warnings" "$(printf '%s' "$lout" | grep -E '^[EW]:' | head -n 5)"
	else
		skip "lintian" "lintian is not installed (optional)"
	fi
}

part_a
part_b
