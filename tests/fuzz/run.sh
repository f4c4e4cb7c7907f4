#!/bin/sh
# make fuzz: build every tests/fuzz/fuzz_*.c with libFuzzer + ASan/UBSan and run each for
# FUZZ_SECONDS (default 60) on a copy of its committed seed corpus. Crashes land in
# tests/fuzz/crashes/ and fail the run; add each as a regression seed once fixed.
# FUZZ_TARGETS="map runbook" runs only those (two long runs side by side on two cores).
# FUZZ_BUILD_ONLY=1 builds the targets and runs each seed once (a quick regression check).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
SECS=${FUZZ_SECONDS:-60}
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	echo "fuzz: needs clang and libclang-rt-14-dev: apt-get install -y clang libclang-rt-14-dev"
	exit 1
fi
SAN="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -Wno-unknown-warning-option"
make -s BUILD=build-fuzz BIN=build-fuzz/midsops CC=clang CFLAGS="$SAN" build-fuzz/libmidsops.a || exit 1
PKG=$(pkg-config --cflags --libs ncursesw libpq libcjson readline libzstd)
mkdir -p build-fuzz/bin tests/fuzz/crashes
status=0
printf '%-16s %12s %10s %8s %s\n' target executions "exec/s" cov result
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	t=${name#fuzz_}
	case " ${FUZZ_TARGETS:-$t} " in *" $t "*) ;; *) continue ;; esac
	bin=build-fuzz/bin/$name
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -o "$bin" "$src" \
		build-fuzz/libmidsops.a $PKG -lm || { status=1; continue; }
	work=build-fuzz/corpus-$t
	mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/"
	log=build-fuzz/$name.log
	if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
		# Every committed seed (regressions included) once, no mutation.
		if "$bin" -runs=0 "tests/fuzz/corpus/$t" >"$log" 2>&1; then res=ok; else res="CRASH (see $log)"; status=1; fi
		printf '%-16s %12s %10s %8s %s\n' "$t" seeds - - "$res"
		continue
	fi
	# tests/fuzz/TARGET.dict: the format's keywords, so mutations get past the parser.
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=tests/fuzz/$t.dict
	"$bin" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 \
		$dict -artifact_prefix=tests/fuzz/crashes/"$t"- "$work" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
	if [ $rc -eq 0 ]; then res=ok; else res="CRASH (see $log)"; status=1; fi
	printf '%-16s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$res"
done
exit $status
