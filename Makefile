# jiceng: one non-recursive Makefile. Everything builds into build/.
#
#   make            build everything
#   make test       install missing packages, build, run unit + integration tests
#   make demo       run the daemon with simulated townships
#   make bench      end-to-end and raw-ceiling benchmark
#   make fuzz       libFuzzer on the envelope checks (FUZZ_RUNS, FUZZ_SECONDS);
#                   FUZZ_TARGET=fold: on the workers' rules
#   make install    PREFIX=/usr/local DESTDIR=...

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/jiceng
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR   ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DESTDIR   ?=

B := build
CC ?= cc
PKGS := libzmq libczmq libprotobuf-c lmdb libsystemd libsodium jansson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libnats (NATS JetStream) only where it is used: jiceng-mirror and the
# standby side of jicengd.
NATS_LIBS = $(shell pkg-config --libs libnats 2>/dev/null)
# The part of libjiceng that calls libnats (pulled in by those two only).
LIB_NATS_SRC := lib/natsconn.c

# Warnings are errors in CI (CI=true) and whenever WERROR=1.
ifneq ($(filter true 1,$(CI) $(WERROR)),)
  WERRFLAG := -Werror
endif
WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wsign-compare $(WERRFLAG)
OPT ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) -fno-strict-aliasing -I$(B)/gen -Ilib -Iworkers -Itools $(PKG_CFLAGS)
CFLAGS_ALL = $(BASE_CFLAGS) $(WARN) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm $(LDLIBS)

# ---------------------------------------------------------------- sources
PROTOS   := $(wildcard proto/jiceng/v1/*.proto)
GEN_C    := $(patsubst proto/%.proto,$(B)/gen/%.pb-c.c,$(PROTOS))
GEN_H    := $(GEN_C:.c=.h)
GEN_PY   := $(patsubst proto/%.proto,$(B)/py/%_pb2.py,$(PROTOS))

LIB_SRC    := $(wildcard lib/*.c)
WORKER_MAINS := workers/worker.c workers/query.c
DOMAIN_SRC := $(filter-out $(WORKER_MAINS),$(wildcard workers/*.c))
DAEMON_SRC := $(wildcard daemon/*.c)
UNIT_SRC   := $(wildcard tests/unit/*.c)
INTEG_SHIM := tests/integration/io_shim.c
INTEG_SRC  := $(filter-out $(INTEG_SHIM),$(wildcard tests/integration/*.c))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
GEN_OBJ    := $(patsubst $(B)/gen/%.c,$(B)/obj/gen/%.o,$(GEN_C))
LIB_OBJ    := $(call obj,$(LIB_SRC)) $(GEN_OBJ)
DOMAIN_OBJ := $(call obj,$(DOMAIN_SRC))

BINS := $(B)/jicengd $(B)/jiceng-worker $(B)/jiceng-query $(B)/jicengctl \
        $(B)/jiceng-sim $(B)/jiceng-bench $(B)/test-unit $(B)/test-integration \
        $(B)/jiceng-mirror $(B)/jiceng-province-feed

all: $(BINS) $(GEN_PY)

.PHONY: all bootstrap test test-unit test-asan test-integration demo bench \
        soak fuzz install uninstall clean

# ---------------------------------------------------------------- protobuf
$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto $<

$(B)/py/%_pb2.py: proto/%.proto
	@mkdir -p $(B)/py
	protoc --python_out=$(B)/py -Iproto $<

$(B)/obj/gen/%.o: $(B)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

# ---------------------------------------------------------------- objects
$(B)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c -o $@ $<

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

$(B)/libjiceng.a: $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/libdomain.a: $(DOMAIN_OBJ)
	@rm -f $@; ar rcs $@ $^

$(B)/jicengd: $(call obj,$(DAEMON_SRC)) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL) $(NATS_LIBS)
$(B)/jiceng-worker: $(call obj,workers/worker.c) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)
$(B)/jiceng-query: $(call obj,workers/query.c) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)
# The journal into NATS JetStream ([mirror]), and the example consumer of
# that stream a province runs (README, "Province feed").
$(B)/jiceng-mirror: $(call obj,$(wildcard mirror/*.c)) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL) $(NATS_LIBS)
$(B)/jiceng-province-feed: $(call obj,examples/province_feed.c) $(GEN_OBJ)
	$(CC) -o $@ $^ $(LDLIBS_ALL) $(NATS_LIBS)
$(B)/jicengctl: $(call obj,$(wildcard tools/ctl*.c)) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)
$(B)/jiceng-sim: $(call obj,tools/sim.c) $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)
$(B)/jiceng-bench: $(call obj,$(wildcard bench/*.c)) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL) $(NATS_LIBS)
# The CSV reader of jicengctl import and resend-tail's rules are
# unit-tested with the rest.
UNIT_TOOLS := tools/ctl_csv.c tools/ctl_tail.c
$(B)/test-unit: $(call obj,$(UNIT_SRC) $(UNIT_TOOLS)) $(B)/libdomain.a $(B)/libjiceng.a
	$(CC) -o $@ $^ $(LDLIBS_ALL) -lcmocka
$(B)/test-integration: $(call obj,$(INTEG_SRC)) $(B)/libdomain.a $(B)/libjiceng.a | $(B)/test-io-shim.so
	$(CC) -o $@ $^ $(LDLIBS_ALL) $(NATS_LIBS) -lcmocka
# The LD_PRELOAD hook on journal.mdb some tests start jicengd with: failing
# flushes (45-storage), a log of writes and flushes (47-powercut).
$(B)/test-io-shim.so: $(INTEG_SHIM) tests/integration/powercut_log.h
	@mkdir -p $(B)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

# One ASan+UBSan build, in its own tree, of the unit tests and of the fuzz
# targets' replays (tests/fuzz/replay.c: the seeds and saved crashes run
# without libFuzzer, which gcc lacks).
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
aobj = $(patsubst %.c,$(B)/asan/obj/%.o,$(1))
ASAN_OBJ := $(call aobj,$(filter-out $(LIB_NATS_SRC),$(LIB_SRC)) $(DOMAIN_SRC)) \
            $(patsubst $(B)/gen/%.c,$(B)/asan/obj/gen/%.o,$(GEN_C))
FUZZ_TARGETS := envelope fold query
REPLAYS := $(patsubst %,$(B)/asan/replay-%,$(FUZZ_TARGETS))

$(B)/asan/obj/gen/%.o: $(B)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<
$(B)/asan/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(WARN) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(B)/asan/obj -name '*.d' 2>/dev/null)

$(B)/asan/libjiceng-asan.a: $(ASAN_OBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/asan/test-unit: $(call aobj,$(UNIT_SRC) $(UNIT_TOOLS)) $(B)/asan/libjiceng-asan.a
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka
$(B)/asan/replay-%: $(call aobj,tests/fuzz/replay.c tests/fuzz/county.c tests/fuzz/fuzz_%.c) \
    $(B)/asan/libjiceng-asan.a
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS_ALL)

# ---------------------------------------------------------------- targets
bootstrap:
	@sh tools/bootstrap

test: bootstrap
	@$(MAKE) --no-print-directory all $(B)/asan/test-unit $(REPLAYS)
	@sh tests/run

test-unit: all
	@$(B)/test-unit

test-asan: $(B)/asan/test-unit
	@$(B)/asan/test-unit

test-integration: all
	@$(B)/test-integration

demo: bootstrap
	@$(MAKE) --no-print-directory all
	@sh tools/demo

# Twice: the derived files (ids.mdb, state/) in memory, as by default, then
# beside the journal, as derived_dir = data_dir puts them; then the status
# stream and the JetStream mirror (docs/benchmark.md).
bench: bootstrap
	@$(MAKE) --no-print-directory all
	@echo "== 1 of 4: derived_dir in memory (/dev/shm, the default)"
	@$(B)/jiceng-bench
	@echo
	@echo "== 2 of 4: derived_dir beside the journal, on its disk"
	@$(B)/jiceng-bench --derived-dir data
	@echo
	@echo "== 3 of 4: the status stream (subscribers, snapshot, catch-up)"
	@$(B)/jiceng-bench --status-only
	@echo
	@echo "== 4 of 4: the JetStream mirror (a nats-server of its own)"
	@$(B)/jiceng-bench --mirror

soak: bootstrap
	@$(MAKE) --no-print-directory all
	@sh tests/soak

# A libFuzzer target, not part of `make test`: arbitrary bytes through the
# checks and the packing jicengd does before it journals, asserting that
# what would be journaled decodes and packs again to itself
# (tests/fuzz/fuzz_envelope.c). clang and its fuzzer runtime come from
# Debian, installed by tools/bootstrap as `make test` installs its own. One
# process, FUZZ_RUNS executions (-1: no limit) or FUZZ_SECONDS (0: no
# limit), whichever ends first; the corpus grows in $(B)/fuzz/corpus, and a
# crash leaves its input in $(B)/fuzz/. FUZZ_PROTOBUF_C=path/protobuf-c.c,
# the source of the same release as the system library (1.4.1 in Debian 12),
# builds it into the target instrumented, so that the fuzzer is guided
# through protobuf-c's parser too (without UBSan: its parser shifts a
# 5-byte tag's last byte into an int's sign bit, harmless and not ours).
FUZZ_CC ?= clang
FUZZ_PROTOBUF_C ?=
FUZZ_PBC_OBJ := $(if $(FUZZ_PROTOBUF_C),$(B)/fuzz/protobuf-c.o)
FUZZ_RUNS ?= 10000000
FUZZ_SECONDS ?= 0
FUZZ_PKGS := clang libclang-rt-dev
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer

$(B)/fuzz/protobuf-c.o: $(FUZZ_PROTOBUF_C)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) -O1 -g -fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer -c -o $@ $<

# FUZZ_TARGET=fold: tests/fuzz/fuzz_fold.c, runs of frames through the
# broker's checks and the three workers' rules (the domain sources
# instrumented too); FUZZ_TARGET=query: tests/fuzz/fuzz_query.c, Query
# frames answered by the query server from a seeded county's state. Each target has its own seeds, corpus and crashes
# under $(B)/fuzz/TARGET/.
FUZZ_TARGET ?= envelope
FUZZ_LIB_SRC := $(filter-out $(LIB_NATS_SRC),$(LIB_SRC))
FUZZ_DIR := $(B)/fuzz/$(FUZZ_TARGET)
$(B)/fuzz/fuzz-envelope: tests/fuzz/fuzz_envelope.c tests/fuzz/fuzz.h $(FUZZ_LIB_SRC) $(GEN_C) $(GEN_H) \
    $(wildcard lib/*.h) $(FUZZ_PBC_OBJ)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(BASE_CFLAGS) -Wall -Wextra $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_envelope.c \
	    $(FUZZ_LIB_SRC) $(GEN_C) $(FUZZ_PBC_OBJ) $(LDLIBS_ALL)
$(B)/fuzz/fuzz-fold: tests/fuzz/fuzz_fold.c tests/fuzz/county.c tests/fuzz/county.h \
    tests/fuzz/fuzz.h $(FUZZ_LIB_SRC) $(DOMAIN_SRC) $(GEN_C) $(GEN_H) \
    $(wildcard lib/*.h workers/*.h) $(FUZZ_PBC_OBJ)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(BASE_CFLAGS) -Itests/fuzz -Wall -Wextra $(FUZZ_FLAGS) -DJICENG_LIBFUZZER -o $@ \
	    tests/fuzz/fuzz_fold.c tests/fuzz/county.c $(FUZZ_LIB_SRC) $(DOMAIN_SRC) $(GEN_C) \
	    $(FUZZ_PBC_OBJ) $(LDLIBS_ALL)

$(B)/fuzz/fuzz-query: tests/fuzz/fuzz_query.c workers/query.c tests/fuzz/county.c \
    tests/fuzz/county.h tests/fuzz/fuzz.h $(FUZZ_LIB_SRC) $(DOMAIN_SRC) $(GEN_C) $(GEN_H) \
    $(wildcard lib/*.h workers/*.h) $(FUZZ_PBC_OBJ)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(BASE_CFLAGS) -Itests/fuzz -Wall -Wextra $(FUZZ_FLAGS) -o $@ \
	    tests/fuzz/fuzz_query.c tests/fuzz/county.c $(FUZZ_LIB_SRC) $(DOMAIN_SRC) $(GEN_C) \
	    $(FUZZ_PBC_OBJ) $(LDLIBS_ALL)

fuzz:
	@sh tools/bootstrap $(FUZZ_PKGS)
	@$(MAKE) --no-print-directory $(B)/fuzz/fuzz-$(FUZZ_TARGET)
	@rm -rf $(FUZZ_DIR)/seeds && mkdir -p $(FUZZ_DIR)/seeds $(FUZZ_DIR)/corpus
	@JICENG_FUZZ_SEEDS=$(FUZZ_DIR)/seeds $(B)/fuzz/fuzz-$(FUZZ_TARGET)
	$(B)/fuzz/fuzz-$(FUZZ_TARGET) -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_SECONDS) \
	    -dict=tests/fuzz/envelope.dict -artifact_prefix=$(FUZZ_DIR)/ -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(B)/jicengd $(DESTDIR)$(SBINDIR)/jicengd
	install -m 0755 $(B)/jiceng-worker $(B)/jiceng-query $(B)/jiceng-mirror $(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 $(B)/jicengctl $(DESTDIR)$(BINDIR)/jicengctl
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' systemd/jicengd.service > $(DESTDIR)$(UNITDIR)/jicengd.service
	install -m 0644 systemd/jiceng.sysusers $(DESTDIR)$(SYSUSERSDIR)/jiceng.conf
	install -m 0644 systemd/jiceng.tmpfiles $(DESTDIR)$(TMPFILESDIR)/jiceng.conf
	install -d $(DESTDIR)$(SYSCONFDIR)/jiceng $(DESTDIR)$(SYSCONFDIR)/jiceng/keys
	test -e $(DESTDIR)$(SYSCONFDIR)/jiceng/jiceng.conf || \
	  install -m 0640 systemd/jiceng.conf $(DESTDIR)$(SYSCONFDIR)/jiceng/jiceng.conf
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/jicengd $(DESTDIR)$(BINDIR)/jicengctl
	rm -rf $(DESTDIR)$(LIBEXECDIR)
	rm -f $(DESTDIR)$(UNITDIR)/jicengd.service $(DESTDIR)$(SYSUSERSDIR)/jiceng.conf \
	      $(DESTDIR)$(TMPFILESDIR)/jiceng.conf
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5)))
	@echo "uninstall: $(SYSCONFDIR)/jiceng and /var/lib/jiceng are kept (config, keys, data)"

clean:
	rm -rf $(B)
