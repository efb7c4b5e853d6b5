# Benchmarks (bench/): `make bench` runs scripts/bench, which builds these.
# bench/<name>.c may use the tests' DynamoDB Local launcher and helpers.

$(BUILD)/bench/%.o: CFLAGS += -Itests/support -Ibench

# PutItem throughput and CPU per request over one client.
$(BUILD)/ddb_bench: $(BUILD)/bench/ddb_bench.o \
                    $(BUILD)/tests/support/ddb_local.o \
                    $(BUILD)/tests/support/net_util.o $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The side-by-side driver: Streamer's bootstrap against the Node peer.
BENCH_DRIVER_OBJ := $(patsubst %.c,$(BUILD)/%.o,bench/driver.c \
                    bench/bench_rapi.c bench/events.c bench/procstat.c \
                    bench/tokens.c bench/words.c \
                    bench/report.c tests/support/ddb_local.c \
                    tests/support/net_util.c)
$(BUILD)/bench_driver: $(BENCH_DRIVER_OBJ) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The init floor (bench/floor.c): linked as the bootstrap is, dynamic
# glibc, nothing else.
$(BUILD)/bench_floor: bench/floor.c
	@echo "  LINK    $@"
	$(Q)$(CC) $(STD) $(WARN) -O2 -o $@ $<

# The Go peer (bench/peer-go/): Debian's Go 1.19 and AWS SDK for Go v2
# (/usr/share/gocode), built in GOPATH mode with no network, as a
# provided.al2023 function is built: static (CGO_ENABLED=0), stripped.
# Go's own build cache (GOCACHE, by default under $HOME/.cache) keeps the
# SDK's packages compiled between builds.
GO_PEER_SRC := $(wildcard bench/peer-go/*.go)
build/peer-go/bootstrap: $(GO_PEER_SRC)
	@mkdir -p $(dir $@)
	@echo "  GO      $@"
	$(Q)cd bench/peer-go && GO111MODULE=off GOPATH=/usr/share/gocode \
	  GOPROXY=off GOFLAGS= CGO_ENABLED=0 GOOS=linux \
	  $(if $(HOME),,GOCACHE=$(CURDIR)/build/go-cache) \
	  go build -trimpath -ldflags='-s -w' -o $(CURDIR)/$@ .
# Fan-out to N subscribers, capacity units per async request and the echo
# through the local gateway (issue 16), Streamer and the Node peer.
FANOUT_BENCH_OBJ := $(patsubst %.c,$(BUILD)/%.o,bench/fanout_bench.c \
                    bench/bench_rapi.c bench/events.c bench/words.c \
                    tests/support/ddb_local.c tests/support/net_util.c \
                    tests/support/test_gateway.c tests/support/proc.c \
                    tests/support/raw_ws.c)
$(BUILD)/fanout_bench: $(FANOUT_BENCH_OBJ) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Instructions per fanout_send() under callgrind (bench/fanout_cg.c).
$(BUILD)/fanout_cg: $(BUILD)/bench/fanout_cg.o $(BUILD)/tests/support/net_util.o \
                  $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BOOT_LIBS)
