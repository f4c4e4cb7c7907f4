# midsops: operations console for the Mids Hero Web data-import system.
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    := $(PREFIX)/bin
SHAREDIR  := $(PREFIX)/share/midsops
MANDIR    := $(PREFIX)/share/man/man1
# contrib's units, not enabled: systemd reads /usr/local/lib/systemd/system too.
UNITDIR   := $(PREFIX)/lib/systemd/system
DOCDIR    := $(PREFIX)/share/doc/midsops
UNITS     := $(sort $(wildcard contrib/*.service contrib/*.timer))

CC        ?= gcc
PKGS      := ncursesw libpq libcjson readline
PKG_CONFIG ?= pkg-config
# The packages' flags are asked for only by a make that builds, never by the one that runs
# `deps`: `run`, `test` and `check-asan` install first and then build in a second make, which
# reads this afresh (a make reading it before the install would get nothing for any of them).
# Recursively expanded, and cached on first use, so a make that only installs never runs it.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)
DEPS_SCRIPT ?= tools/deps.sh
CFLAGS    ?= -O2 -g
# Truncation by snprintf is deliberate everywhere (bounded buffers), so that warning is off.
XCFLAGS    = -std=c11 -Wall -Wextra -Wno-format-truncation -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) \
             -DMIDSOPS_SHAREDIR='"$(SHAREDIR)"' -MMD -MP
LDLIBS    += $(PKG_LIBS) -lm
BUILD     ?= build

SRCS      := $(sort $(wildcard src/*.c src/*/*.c))
OBJS      := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o $(BUILD)/gen/version.o
LIBOBJS   := $(filter-out $(BUILD)/src/main.o,$(OBJS))
SQL       := $(sort $(wildcard sql/*.sql))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

FUZZ_SECONDS ?= 60

.PHONY: all build deps run test check check-asan unit fuzz clean install uninstall deb lint-man format \
        bench-import bench-console bench-query bench-backup drill-dr chaos valgrind-console

BIN       ?= midsops

all: $(BIN)

$(BIN): $(OBJS)
	$(CC) $(CFLAGS) $(XCFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

$(BUILD)/gen/migrations.c: $(SQL) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	sh tools/embed-sql.sh $(SQL) > $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

# Rewritten only when the description changes, so an unchanged checkout relinks nothing.
$(BUILD)/gen/version.c: FORCE
	@mkdir -p $(dir $@)
	@sh tools/gen-version.sh >$@.tmp && if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/gen/version.o: $(BUILD)/gen/version.c
	$(CC) $(CFLAGS) $(XCFLAGS) -c -o $@ $<

FORCE:

# Made afresh: `ar r` would keep the objects of source files that were removed.
$(BUILD)/libmidsops.a: $(LIBOBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(BUILD)/libmidsops.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XCFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmidsops.a $(LDLIBS)

unit: $(UNIT_BINS)

# Install what is missing from Debian (as root), or say exactly what to run.
deps:
	@sh $(DEPS_SCRIPT)

# The build after deps, in a make of its own: see PKG_CFLAGS.
BUILD_GOALS ?= all unit
build: deps
	@$(MAKE) --no-print-directory $(BUILD_GOALS)

run: build
	@sh tools/run.sh

test: build
	@sh tests/run.sh

check: test

# The same tests with AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan/.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
check-asan: deps
	$(MAKE) BUILD=build-asan BIN=build-asan/midsops CFLAGS="$(ASAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" build-asan/midsops unit
	MIDSOPS=$(CURDIR)/build-asan/midsops UNIT_DIR=$(CURDIR)/build-asan/tests TEST_TIME_FACTOR=3 \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tests/run.sh

# libFuzzer targets (clang + libclang-rt-14-dev), FUZZ_SECONDS each.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh

# Faults on purpose (kill -9, server stops, full disks, a hanging server, SIGHUP, concurrent
# runs) against a private cluster; prints a table of each fault and its outcome.
chaos: all
	@sh tests/chaos/run.sh

# One console session under valgrind in a private tmux server: fails on invalid reads or
# writes and on definite leaks.
valgrind-console: all
	@sh tests/chaos/valgrind-console.sh

lint-man:
	mandoc -Tlint -W warning midsops.1

format:
	clang-format -i $(SRCS) $(wildcard include/*.h) $(UNIT_SRCS)

bench-import bench-console bench-query bench-backup drill-dr: all
	@sh bench/$@.sh

# contrib's units and cron lines name /usr/local/bin/midsops; the installed copies name $(BINDIR).
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(SHAREDIR)/themes \
		$(DESTDIR)$(SHAREDIR)/runbooks
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/midsops
	install -m 0644 midsops.1 $(DESTDIR)$(MANDIR)/midsops.1
	for f in themes/*.theme; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(SHAREDIR)/themes/; done; true
	for f in runbooks/*.json; do [ -e "$$f" ] && install -m 0644 "$$f" $(DESTDIR)$(SHAREDIR)/runbooks/; done; true
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	for f in $(UNITS) contrib/midsops.cron; do \
		case $$f in *.cron) d=$(DESTDIR)$(DOCDIR)/examples ;; *) d=$(DESTDIR)$(UNITDIR) ;; esac; \
		sed 's|/usr/local/bin/midsops|$(BINDIR)/midsops|g' "$$f" >"$$d/$${f##*/}" && chmod 0644 "$$d/$${f##*/}" || exit 1; \
	done
	install -m 0644 contrib/README.md $(DESTDIR)$(DOCDIR)/examples/README.md

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/midsops $(DESTDIR)$(MANDIR)/midsops.1
	rm -rf $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR)
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))

# midsops_VERSION_ARCH.deb here, built in build-deb/ with PREFIX=/usr: see tools/mkdeb.sh.
deb:
	@sh tools/mkdeb.sh

clean:
	rm -rf build build-asan build-fuzz build-deb midsops

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)
