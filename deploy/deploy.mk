# The packaged build: the bootstrap Lambda runs, zipped with its libraries.
#
#   make package [ARCH=x86_64|arm64]   build/package/<arch>/{bootstrap,lib/}
#                                      zipped to build/streamer.zip (x86_64)
#                                      or build/streamer-arm64.zip, checked
#                                      by deploy/check
#   make build-StreamerFunction        SAM's makefile build (sam build)
#
# The bootstrap links cJSON built from Debian's source package
# (deploy/build-cjson; cached in build/) and OpenSSL 3 in one of two ways
# (OPENSSL_LINK):
#   static   (default) a minimal static OpenSSL built from Debian's source
#            with only what Streamer uses (deploy/build-openssl), unused
#            objects dropped: the zip is 1.11 MB (arm64 1.01 MB),
#            inside docs/budgets.md's 1.2 MB;
#   bundled  Debian's libssl.so.3/libcrypto.so.3 copied to lib/ and found
#            through RPATH $ORIGIN/lib: the two libraries alone deflate to
#            2.08 MB, so this zip (~2.3 MB) fails deploy/check's size limit.
# It links no libcurl: every AWS call, pushes included, goes over
# runtime/http1.c.
# Either way the binary needs glibc only from the system. The binary is the ELF
# `bootstrap` Lambda executes: "Custom runtimes: the runtime is an
# executable file named bootstrap at the root of the deployment package"
# (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html).
# The local/dev build (`make`, build/bootstrap) links Debian's shared
# OpenSSL.

# ARCH may come from the environment (`ARCH=arm64 sam build`); Debian's
# and the kernel's names for the two are accepted too. A value this file
# does not know is reported by the package targets only, so that an
# unrelated ARCH in someone's environment breaks no other target.
ARCH ?= x86_64
override ARCH := $(patsubst amd64,x86_64,$(patsubst aarch64,arm64,$(ARCH)))
OPENSSL_LINK ?= static
ifeq ($(ARCH),x86_64)
PKG_CC     := gcc
PKG_STRIP  := strip
PKG_TRIPLE := x86_64-linux-gnu
PKG_ZIP    := build/streamer.zip
else ifeq ($(ARCH),arm64)
PKG_CC     := aarch64-linux-gnu-gcc
PKG_STRIP  := aarch64-linux-gnu-strip
PKG_TRIPLE := aarch64-linux-gnu
PKG_ZIP    := build/streamer-arm64.zip
else
PKG_BAD := ARCH must be x86_64 or arm64, not '$(ARCH)'
endif

# The static dependencies are pinned to the installed Debian packages'
# versions; a security update of either rebuilds them.
# libssl-dev is installed for both architectures (multiarch, arm64 for
# the cross build): the build machine's own names the version.
SSL_DEB_VERSION   := $(shell dpkg-query -W -f='$${Version}' libssl-dev:$$(dpkg --print-architecture) 2>/dev/null)
CJSON_DEB_VERSION := $(shell dpkg-query -W -f='$${Version}' libcjson-dev 2>/dev/null)
SSL_PREFIX   := build/openssl-$(or $(SSL_DEB_VERSION),none)-$(ARCH)
CJSON_PREFIX := build/cjson-$(or $(CJSON_DEB_VERSION),none)-$(ARCH)
SSL_LIB      := $(SSL_PREFIX)/lib/libcrypto.a
CJSON_LIB    := $(CJSON_PREFIX)/lib/libcjson.a

PKG_DIR  := build/package/$(ARCH)
PKG_OBJ  := build/package-obj/$(ARCH)-$(OPENSSL_LINK)
PKG_SRC  := $(LIB_SRC) handlers/main.c
PKG_OBJS := $(PKG_SRC:%.c=$(PKG_OBJ)/%.o)

# Release flags, no sanitizers; sections per function so that the linker
# drops what the static libraries carry but the bootstrap never calls.
# A position-dependent executable (-fno-pie, -no-pie): a PIE bootstrap
# carries ~13,000 relative relocations (OpenSSL's tables of pointers)
# that ld.so applies at every cold start: 170k of its 450k instructions
# from exec to the first GET /next, and 60 page faults (callgrind,
# docs/budgets.md); its .rela.dyn is ~300 KB of the binary. libc, the stack, the heap and every mmap stay
# randomized; only the bootstrap's own addresses are fixed. The compact
# alternative, DT_RELR (-z pack-relative-relocs), needs glibc 2.36 and
# provided.al2023 has 2.34. No unwind tables (C, and nothing unwinds:
# deploy/build-openssl says why); -g stays in the unstripped copy.
PKG_CFLAGS  = $(STD) $(WARN) -O2 -g -fno-pie \
              -fno-asynchronous-unwind-tables -fno-unwind-tables $(INCLUDES) \
              $(if $(PKG_SSL_INC),-I$(PKG_SSL_INC)) \
              -I$(CJSON_PREFIX)/include \
              -ffunction-sections -fdata-sections -MMD -MP
PKG_LDFLAGS = -no-pie -Wl,--gc-sections -Wl,-O1 -Wl,--as-needed
# OPENSSL_LINK=bundled: Debian's libssl3/libssl-dev (multiarch for arm64:
# libssl-dev:arm64), ABI-compatible with Amazon Linux 2023's OpenSSL 3.0,
# found through DT_RPATH rather than DT_RUNPATH (--disable-new-dtags): it
# also applies to the bundled libraries' own dependencies (libssl ->
# libcrypto), and it is searched before LD_LIBRARY_PATH, which Lambda
# sets to system folders first, so the bundled OpenSSL is the one loaded.
# The static build has no RPATH: ld.so would otherwise look for libc in
# a dozen lib/ subfolders at every cold start.
PKG_SSL_DIR  := /usr/lib/$(PKG_TRIPLE)
ifeq ($(OPENSSL_LINK),static)
PKG_SSL_INC  := $(SSL_PREFIX)/include
PKG_SSL_DEP  := $(SSL_LIB)
PKG_SSL_LIBS := $(SSL_PREFIX)/lib/libssl.a $(SSL_PREFIX)/lib/libcrypto.a
PKG_BUNDLE   :=
else ifeq ($(OPENSSL_LINK),bundled)
PKG_SSL_INC  :=
PKG_SSL_DEP  :=
PKG_SSL_LIBS := -lssl -lcrypto
PKG_BUNDLE   := libssl.so.3 libcrypto.so.3
PKG_LDFLAGS += -Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN/lib'
else
PKG_BAD := OPENSSL_LINK must be static or bundled, not '$(OPENSSL_LINK)'
endif
PKG_LIBS    = $(CJSON_LIB) $(PKG_SSL_LIBS) -lm -pthread

.PHONY: package build-StreamerFunction

ifdef PKG_BAD
package build-StreamerFunction:
	@echo "deploy.mk: $(PKG_BAD)" >&2; exit 2
else
package: $(PKG_ZIP)
	$(Q)deploy/check $(PKG_ZIP)

$(SSL_LIB): deploy/build-openssl deploy/debsrc.sh
	@echo "  OPENSSL $(SSL_PREFIX) (static, what Streamer uses)"
	$(Q)deploy/build-openssl $(ARCH) $(SSL_PREFIX)

$(CJSON_LIB): deploy/build-cjson deploy/debsrc.sh
	@echo "  CJSON   $(CJSON_PREFIX)"
	$(Q)deploy/build-cjson $(ARCH) $(CJSON_PREFIX)

# Every object waits for the headers of the static libraries.
$(PKG_OBJ)/%.o: %.c | $(PKG_SSL_DEP) $(CJSON_LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $< ($(ARCH), packaged)"
	$(Q)$(PKG_CC) $(PKG_CFLAGS) -c -o $@ $<

# The code an event runs, together: deploy/hot-text.txt lists the input
# sections (one function each, -ffunction-sections; an assembly object's
# whole .text) that the bench's events execute (scripts/hot-text makes it
# from a callgrind run), and this script places them in one output
# section, .text.hot, ahead of .text, after all of Streamer's own code
# (140 KB, whatever the list says: it changes most often). The kernel
# maps a file's pages 64 KB around each fault ("fault-around"), so
# OpenSSL's code spread over 1.7 MB made the whole of it resident;
# grouped, the cold rest is never mapped (RSS -0.8 MB, docs/budgets.md).
# INSERT keeps ld's default script for the rest. A section the list
# names but the build does not have (arm64's assembly, a renamed
# function) matches nothing and is harmless; an OpenSSL function the list
# misses lands in .text, correct but cold, and maps the 64 KB around it:
# run scripts/hot-text again when a change makes OpenSSL run new code.
$(PKG_OBJ)/hot-text.ld: deploy/hot-text.txt deploy/deploy.mk
	@mkdir -p $(dir $@)
	$(Q){ echo 'SECTIONS'; echo '{'; echo '  .text.hot :'; echo '  {'; \
	  echo '    $(PKG_OBJ)/*(.text .text.*)'; \
	  grep -v '^#' deploy/hot-text.txt | sed '/^$$/d; s/^/    /'; \
	  echo '  }'; echo '}'; echo 'INSERT BEFORE .text;'; } > $@.tmp
	$(Q)mv $@.tmp $@

# The unstripped binary and its link map (scripts/hot-text reads it)
# stay beside the objects.
$(PKG_OBJ)/bootstrap: $(PKG_OBJS) $(PKG_SSL_DEP) $(CJSON_LIB) \
                      $(PKG_OBJ)/hot-text.ld
	@echo "  LINK    $@"
	$(Q)$(PKG_CC) $(PKG_LDFLAGS) -Wl,-T,$(PKG_OBJ)/hot-text.ld \
	    -Wl,-Map,$@.map -o $@ $(PKG_OBJS) $(PKG_LIBS)

# Switching OPENSSL_LINK must redo the artifact even when the other mode's
# binary is older: a stamp that changes only with the mode.
PKG_MODE := build/package-obj/$(ARCH).openssl-link
$(shell mkdir -p build/package-obj && \
  [ "$$(cat $(PKG_MODE) 2>/dev/null)" = "$(OPENSSL_LINK)" ] || \
  echo $(OPENSSL_LINK) > $(PKG_MODE))

$(PKG_DIR)/bootstrap: $(PKG_OBJ)/bootstrap $(PKG_MODE)
	@mkdir -p $(PKG_DIR)/lib
	@echo "  STRIP   $@"
	$(Q)rm -f $(PKG_DIR)/lib/*
	$(Q)$(PKG_STRIP) --strip-all -o $@ $<
	$(Q)for l in $(PKG_BUNDLE); do cp -L $(PKG_SSL_DIR)/$$l $(PKG_DIR)/lib/; done

# Deflate only (Lambda unzips standard archives); stored without extra
# attributes (-X) and in a fixed order so that two builds compare equal.
# advzip, when present, recompresses the same deflate streams smaller.
$(PKG_ZIP): $(PKG_DIR)/bootstrap
	@echo "  ZIP     $@"
	$(Q)rm -f $@
	$(Q)cd $(PKG_DIR) && zip -q -X -9 $(CURDIR)/$@ bootstrap \
	    $(addprefix lib/,$(PKG_BUNDLE))
	$(Q)if command -v advzip >/dev/null; then advzip -q -z -3 $@; fi

# SAM's makefile builds ("Building custom runtimes", BuildMethod: makefile,
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/building-custom-runtimes.html):
# `sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR set and
# deploys what the target copied there. ARCH picks the architecture
# (`ARCH=arm64 sam build`), x86_64 by default.
build-StreamerFunction: package
	@test -n "$(ARTIFACTS_DIR)" || \
	    { echo "build-StreamerFunction: ARTIFACTS_DIR is not set"; exit 1; }
	$(Q)mkdir -p "$(ARTIFACTS_DIR)/lib"
	$(Q)cp $(PKG_DIR)/bootstrap "$(ARTIFACTS_DIR)/bootstrap"
	$(Q)for l in $(PKG_BUNDLE); do cp $(PKG_DIR)/lib/$$l "$(ARTIFACTS_DIR)/lib/"; done

endif

# `make test` builds the x86_64 package first (the package suite runs the
# sample events through it) and the arm64 one
# (scripts/deps installs its cross toolchain; the suite runs it under
# qemu).
TEST_DEPS += package-for-tests
.PHONY: package-for-tests
package-for-tests:
	$(Q)$(MAKE) --no-print-directory ARCH=x86_64 package
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 package

-include $(shell find $(PKG_OBJ) -name "*.d" 2>/dev/null)
