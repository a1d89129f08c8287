# pgconduit — PGXS build of the extension (src/) and the output plugin (output_plugin/)

EXTENSION = pgconduit
EXTVERSION = 0.2

MODULE_big = pgconduit
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA = $(wildcard sql/$(EXTENSION)--*.sql)
PGFILEDESC = "pgconduit - Conduit-style data pipelines inside PostgreSQL"

PG_CPPFLAGS = -I$(libpq_srcdir) -DPGC_CATALOG_VERSION='"$(EXTVERSION)"' -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK_INTERNAL = $(libpq)

# Every sql/*.sql except the install scripts is a regression test.
REGRESS ?= $(sort $(patsubst sql/%.sql,%,$(filter-out $(DATA),$(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-config=$(CURDIR)/tmp_test/pgconduit.conf \
	--temp-instance=$(CURDIR)/tmp_test/regress --load-extension=pgconduit
ISOLATION ?= $(sort $(patsubst specs/%.spec,%,$(wildcard specs/*.spec)))
ISOLATION_OPTS = --temp-config=$(CURDIR)/tmp_test/pgconduit.conf \
	--temp-instance=$(CURDIR)/tmp_test/isolation --load-extension=pgconduit
TAP_TESTS = 1

EXTRA_CLEAN = tmp_test results output_iso log

# PG=15 (Debian's packages), 17 or 18 (built by t/build-server.sh into
# /var/cache/pgconduit) chooses the server, unless PG_CONFIG names one.
ifneq ($(filter 17 18,$(PG)),)
PG_CONFIG ?= /var/cache/pgconduit/pg$(PG)/bin/pg_config
endif
ifeq ($(PG),15)
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
endif
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else ifeq ($(filter-out test demo dist test-deb deb check-meta,$(or $(MAKECMDGOALS),all)),)
# these targets set up what they need themselves
else
$(error $(PG_CONFIG) not found: install postgresql-server-dev-15 (or run make test or make demo as root, which install it), or name a pg_config with PG_CONFIG=)
endif

# PGXS tracks header dependencies only in --enable-depend builds: every
# object depends on every header of its directory, so none goes stale
$(OBJS): $(wildcard src/*.h)

# after PGXS, which resets it: t/ holds the TAP tests' shared module
PROVE_FLAGS += -I $(CURDIR)/t

# The output plugin is a library of its own, built by its own PGXS makefile.
all: output-plugin
output-plugin:
	$(MAKE) -C output_plugin PG_CONFIG=$(PG_CONFIG)
install: install-output-plugin
install-output-plugin:
	$(MAKE) -C output_plugin PG_CONFIG=$(PG_CONFIG) install
uninstall: uninstall-output-plugin
uninstall-output-plugin:
	$(MAKE) -C output_plugin PG_CONFIG=$(PG_CONFIG) uninstall
clean: clean-output-plugin
clean-output-plugin:
	$(MAKE) -C output_plugin PG_CONFIG=$(PG_CONFIG) clean

# Server settings for the temporary test instances.  output_plugin_libraries
# exists only in servers that ship the plugin allow-list (Debian 15.19 and
# later); it is set only where the server knows it.
tmp_test/pgconduit.conf: t/pgconduit.conf
	@mkdir -p tmp_test
	cp $< $@
	@if grep -q output_plugin_libraries '$(shell $(PG_CONFIG) --sharedir)/postgresql.conf.sample'; then \
		echo "output_plugin_libraries = 'pgoutput, test_decoding, pgconduit_output'" >> $@; fi
installcheck: tmp_test/pgconduit.conf
installcheck-regress: tmp_test/pgconduit.conf
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
installcheck-isolation: tmp_test/pgconduit.conf
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
installcheck-tap:
	$(prove_installcheck)

# The one test command: installs what a fresh machine lacks, builds,
# installs and runs every suite (see README.md).
test:
	sh t/run-tests.sh

# The Debian package (debian/, pg_buildext): build it; or build, install
# and run every suite against it.
deb:
	sh t/build-deb.sh
test-deb:
	DEB=1 sh t/run-tests.sh

# A throwaway instance, a pipeline between two databases, and its status;
# as root it first installs what a fresh machine lacks, builds and installs.
demo:
	sh t/demo.sh

# PGXN: META.json checked against the PGXN Meta Spec, and the release zip
# of the committed tree (git archive), named by META.json's version.
DISTVERSION = $(shell perl -MJSON::PP -e 'local $$/; open my $$f, "<", "META.json" or exit 1; print decode_json(<$$f>)->{version}')
check-meta:
	perl t/check-meta META.json
dist: check-meta
	@git diff --quiet HEAD -- || echo "dist: uncommitted changes are not in the zip, which holds HEAD"
	git archive --format zip --prefix=$(EXTENSION)-$(DISTVERSION)/ -o $(EXTENSION)-$(DISTVERSION).zip HEAD
	@echo "dist: $(EXTENSION)-$(DISTVERSION).zip"

.PHONY: check-meta dist output-plugin install-output-plugin uninstall-output-plugin clean-output-plugin \
	installcheck-regress installcheck-isolation installcheck-tap test demo deb test-deb
