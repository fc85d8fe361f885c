# kingsmootd - leader-election sidecar for etcd v3.
#
#   make            build kingsmootd
#   make deps       install missing Debian packages (build, test and run)
#   make run        build, start a throw-away etcd if none answers, run
#   make demo       three daemons on a throw-away etcd, with a live view
#   make check      build and run unit, integration and fault tests, plain
#                   and sanitized, a short smoke of every fuzz target, and the
#                   tests against etcd 3.5 beside the installed 3.4
#   make chaos      CHAOS_RUNS random fault schedules of CHAOS_SECONDS each
#   make bench      kingsmootd against etcdctl elect; writes BENCHMARKS.md
#   make install    PREFIX=/usr/local SYSCONFDIR=/etc UNITDIR=/lib/systemd/system DESTDIR=
#   make install-check  make install into temporary trees, checked

PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
UNITDIR   ?= /lib/systemd/system
DESTDIR   ?=

CC        ?= cc
PKGS      := libcurl jansson libconfig libsystemd
CFLAGS    ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
             -D_GNU_SOURCE -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
             -DKM_SYSCONFDIR='"$(SYSCONFDIR)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PYTHON    := /usr/bin/python3

BUILD     := build
LIB_SRCS  := $(filter-out src/kingsmootd.c src/kingsmootctl.c,$(wildcard src/*.c))
LIB_OBJS  := $(LIB_SRCS:src/%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEB_PACKAGES := build-essential pkg-config libcurl4-openssl-dev libjansson-dev \
                libconfig-dev libsystemd-dev libcmocka-dev etcd-server \
                etcd-client python3 python3-pytest faketime valgrind \
                clang libclang-rt-dev prometheus-node-exporter openssl \
                debian-archive-keyring gnuplot-nox

.PHONY: all deps run demo check unit unit-asan integration integration-asan faults chaos \
        install clean bench bench-quick fuzz fuzz-build fuzz-smoke \
        etcd-3.5 integration-etcd3.5 faults-etcd3.5 install-check FORCE

all: $(BUILD)/kingsmootd $(BUILD)/kingsmootctl

$(BUILD) $(BUILD)/tests:
	mkdir -p $@

# SYSCONFDIR is compiled in (the default configuration and hooks paths):
# this file changes, and the objects are rebuilt, when it does.
$(BUILD)/sysconfdir: FORCE | $(BUILD)
	@echo '$(SYSCONFDIR)' | cmp -s - $@ || echo '$(SYSCONFDIR)' > $@

$(BUILD)/%.o: src/%.c src/*.h $(BUILD)/sysconfdir | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/libkm.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/kingsmootd: $(BUILD)/kingsmootd.o $(BUILD)/libkm.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/kingsmootctl: $(BUILD)/kingsmootctl.o $(BUILD)/libkm.a
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkm.a | $(BUILD)/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Isrc -o $@ $< $(BUILD)/libkm.a \
	    $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null) $(LDFLAGS)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
	        missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing; \
	fi

run: deps
	$(MAKE) all
	./scripts/run-local

# Three daemons on a throw-away etcd (DEMO_ENDPOINT, default 127.0.0.1:2379),
# with a live view of their state files; Ctrl-C stops what it started.
DEMO_ENDPOINT ?= http://127.0.0.1:2379
demo: deps
	$(MAKE) all
	BUILD=$(BUILD) ./scripts/demo -e $(DEMO_ENDPOINT)

unit: $(UNIT_BINS)
	@failed=""; for t in $(UNIT_BINS); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

# Coverage-guided fuzzing of everything that parses outside input: etcd's
# answers, the watch stream's framing in random chunks, the state file and
# the configuration (tests/fuzz/). The library is built once with clang in
# build-fuzz/; crashes land there too. `make fuzz` runs each target for
# FUZZ_SECONDS; `make fuzz-smoke` (part of make check) replays each
# target's seeds and regression inputs, then fuzzes FUZZ_SMOKE_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS := fuzz_etcd fuzz_keepalive fuzz_watch fuzz_state fuzz_config fuzz_ndjson
FUZZ_BINS := $(FUZZ_TARGETS:%=build-fuzz/%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN)

fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link" \
	    build-fuzz/libkm.a
	$(MAKE) $(FUZZ_BINS)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libkm.a
	clang -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	    $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc $(PKG_CFLAGS) -o $@ $< \
	    build-fuzz/libkm.a $(PKG_LIBS)

# Each target's seeds, and the inputs of crashes it once found.
fuzz_inputs = $$(ls -d tests/fuzz/seeds-$${t\#fuzz_} tests/fuzz/regressions-$${t\#fuzz_} 2>/dev/null)

fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus-$$t; \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	    build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -artifact_prefix=build-fuzz/$$t- build-fuzz/corpus-$$t $(fuzz_inputs) \
	        < /dev/null || exit 1; \
	done

fuzz-smoke: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    rm -rf build-fuzz/smoke-$$t && mkdir -p build-fuzz/smoke-$$t; \
	    if ! LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	            build-fuzz/$$t -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=10 -seed=1 \
	            -print_final_stats=1 -artifact_prefix=build-fuzz/$$t- \
	            build-fuzz/smoke-$$t $(fuzz_inputs) \
	            > build-fuzz/$$t-smoke.log 2>&1 < /dev/null; then \
	        tail -60 build-fuzz/$$t-smoke.log; echo "$$t: failed"; exit 1; \
	    fi; \
	    echo "$$t: $$(sed -n 's/^stat::number_of_executed_units: *//p' \
	        build-fuzz/$$t-smoke.log) inputs in $(FUZZ_SMOKE_SECONDS) s, no crash"; \
	done

# The same unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
unit-asan:
	$(MAKE) BUILD=build-asan CC=$(CC) CFLAGS="$(SAN_CFLAGS)" LDFLAGS="$(SAN_LDFLAGS)" unit

# Integration tests against kingsmootd and kingsmootctl built like that, in
# build-asan/, and against etcd 3.5 (the plain run in `make integration`
# has 3.4): one pass, so the whole suite meets both etcd series within
# make check's time. The sanitizers write each report to
# build-asan/sanitizer/; any report fails the run, even when the test that
# caused it passed (about 4 minutes).
INTEGRATION_ASAN_TESTS ?= tests/integration
SAN_REPORTS := $(CURDIR)/build-asan/sanitizer
integration-asan: etcd-3.5
	$(MAKE) BUILD=build-asan CC=$(CC) CFLAGS="$(SAN_CFLAGS)" LDFLAGS="$(SAN_LDFLAGS)" all
	rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	@$(ETCD35_ENV) KM_SANITIZED=1 KINGSMOOTD=$(CURDIR)/build-asan/kingsmootd \
	ASAN_OPTIONS=detect_leaks=1:log_path=$(SAN_REPORTS)/asan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(SAN_REPORTS)/ubsan \
	    $(PYTHON) -m pytest -q $(INTEGRATION_ASAN_TESTS); rc=$$?; \
	for f in $(SAN_REPORTS)/*; do [ -e "$$f" ] || continue; echo "== $$f"; cat "$$f"; rc=1; done; \
	exit $$rc

integration: all
	KINGSMOOTD=$(CURDIR)/$(BUILD)/kingsmootd $(PYTHON) -m pytest -q tests/integration

faults: all
	KINGSMOOTD=$(CURDIR)/$(BUILD)/kingsmootd $(PYTHON) -m pytest -q tests/faults

# The chaos scenario of tests/faults over many fresh seeds: one summary
# line per seed; fails if any seed does. KM_CHAOS_SEED=N replays one.
CHAOS_RUNS    ?= 30
CHAOS_SECONDS ?= 60
chaos: all
	KM_CHAOS_RUNS=$(CHAOS_RUNS) KM_CHAOS_SECONDS=$(CHAOS_SECONDS) \
	    KINGSMOOTD=$(CURDIR)/$(BUILD)/kingsmootd \
	    $(PYTHON) -m pytest -q tests/faults/test_fault_chaos.py -k test_chaos

# etcd 3.5 beside the installed 3.4: Debian's unstable packages, fetched
# and unpacked under the build tree (scripts/fetch-etcd), never installed.
ETCD35_DIR := $(BUILD)/etcd-3.5
ETCD35_ENV  = KM_ETCD=$(CURDIR)/$(ETCD35_DIR)/root/usr/bin/etcd \
              KM_ETCDCTL=$(CURDIR)/$(ETCD35_DIR)/root/usr/bin/etcdctl KM_ETCD_SERIES=3.5
# make check runs the whole integration suite against 3.5 in
# integration-asan, and these fault scenarios: a killed and a frozen
# leader, etcd down longer than the TTL, a blackholed link, a 3-member
# cluster losing its quorum, and a compacted watch. `make
# integration-etcd3.5` runs the suite against 3.5 with the plain build.
INTEGRATION_ETCD35 ?= tests/integration
FAULTS_ETCD35 := \
	tests/faults/test_fault_process.py::test_kill9_leader \
	tests/faults/test_fault_process.py::test_sigstop_leader_longer_than_ttl \
	tests/faults/test_fault_etcd.py::test_etcd_restart_longer_than_ttl \
	'tests/faults/test_fault_proxy.py::test_proxy_fault_on_leader[blackhole]' \
	tests/faults/test_fault_etcd.py::test_cluster_quorum_lost_and_regained \
	tests/faults/test_fault_watch.py::test_watch_compaction_under_follower

etcd-3.5:
	scripts/fetch-etcd 3.5 $(ETCD35_DIR)

integration-etcd3.5: all etcd-3.5
	$(ETCD35_ENV) KINGSMOOTD=$(CURDIR)/$(BUILD)/kingsmootd $(PYTHON) -m pytest -q $(INTEGRATION_ETCD35)

faults-etcd3.5: all etcd-3.5
	$(ETCD35_ENV) KINGSMOOTD=$(CURDIR)/$(BUILD)/kingsmootd $(PYTHON) -m pytest -q $(FAULTS_ETCD35)

# etcd 3.5 is fetched first: without it the run would fail at its end.

# Benchmarks side by side with etcdctl elect on one throw-away etcd
# (tests/bench/): the floor, graceful handovers, crash failovers, handovers
# with more candidates, the idle footprint and many elections, with etcd's
# data on tmpfs and then on disk. Writes BENCHMARKS.md and its plot to
# BENCH_OUT; raw samples and results.json to $(BUILD)/bench. `make
# bench-quick` runs every stage with few repetitions (a smoke, about two
# minutes), into $(BUILD)/bench-quick. Neither asserts any timing.
BENCH_OUT ?= .
BENCH_ARGS ?=
BENCH_QUICK_ARGS := --reps 10 --floor-reps 20 --paced-reps 10 --crash-reps 2 --scale 10 --scale-reps 5 \
                    --idle-seconds 5 --idle-windows 1 --many 10 --many-etcdctl 5 --many-seconds 3 \
                    --disk-stages floor,handover
# bare is the yardstick: the least work a candidate can do (tests/bench/bare.c).
$(BUILD)/bench-bare: tests/bench/bare.c tests/bench/bare_state.c tests/bench/bare_state.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c,$^)

# bare-curl is the same renewer on libcurl, the daemon's transport.
$(BUILD)/bench-bare-curl: tests/bench/bare_curl.c tests/bench/bare_state.c tests/bench/bare_state.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libcurl) -o $@ $(filter %.c,$^) \
	    $(shell pkg-config --libs libcurl)

bench: all $(BUILD)/bench-bare $(BUILD)/bench-bare-curl
	$(PYTHON) tests/bench/bench.py --kingsmootd $(BUILD)/kingsmootd --bare $(BUILD)/bench-bare \
	    --bare-curl $(BUILD)/bench-bare-curl \
	    --work $(BUILD)/bench --out $(BENCH_OUT) $(BENCH_ARGS)

bench-quick: all $(BUILD)/bench-bare $(BUILD)/bench-bare-curl
	$(PYTHON) tests/bench/bench.py --kingsmootd $(BUILD)/kingsmootd --bare $(BUILD)/bench-bare \
	    --bare-curl $(BUILD)/bench-bare-curl \
	    --work $(BUILD)/bench-quick --out $(BUILD)/bench-quick $(BENCH_QUICK_ARGS) $(BENCH_ARGS)

check: deps
	$(MAKE) etcd-3.5
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) integration
	$(MAKE) integration-asan
	$(MAKE) faults
	$(MAKE) fuzz-smoke
	$(MAKE) install-check
	$(MAKE) faults-etcd3.5

# Every installed text names this installation: the units' command lines,
# the example configuration and the manual pages.
INSTALLED_PATHS = sed -e 's|/usr/local/sbin/kingsmootd|$(SBINDIR)/kingsmootd|g' \
                      -e 's|/usr/local/bin/kingsmootctl|$(BINDIR)/kingsmootctl|g' \
                      -e 's|/etc/kingsmoot/|$(SYSCONFDIR)/kingsmoot/|g'

# An existing kingsmootd.conf is the site's: it is never overwritten.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/kingsmoot/hooks.d \
	    $(DESTDIR)$(DATADIR)/kingsmootd/examples/hooks.d
	install -m 0755 $(BUILD)/kingsmootd $(DESTDIR)$(SBINDIR)/kingsmootd
	install -m 0755 $(BUILD)/kingsmootctl $(DESTDIR)$(BINDIR)/kingsmootctl
	for f in man1/kingsmootctl.1 man5/kingsmootd.conf.5 man8/kingsmootd.8; do \
	    $(INSTALLED_PATHS) man/$${f#*/} > $(DESTDIR)$(MANDIR)/$$f && \
	    chmod 0644 $(DESTDIR)$(MANDIR)/$$f || exit 1; \
	done
	for u in kingsmootd.service kingsmootd@.service; do \
	    $(INSTALLED_PATHS) systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0755 etc/hooks.d/* $(DESTDIR)$(DATADIR)/kingsmootd/examples/hooks.d/
	conf=$(DESTDIR)$(SYSCONFDIR)/kingsmoot/kingsmootd.conf; \
	if [ ! -e $$conf ]; then \
	    $(INSTALLED_PATHS) etc/kingsmootd.conf > $$conf && chmod 0644 $$conf; \
	fi

# make install into a temporary DESTDIR and a temporary PREFIX, checked.
install-check:
	$(PYTHON) -m pytest -q tests/install

FORCE:

clean:
	rm -rf build build-asan build-fuzz
