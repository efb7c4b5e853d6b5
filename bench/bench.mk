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
                    bench/tokens.c \
                    bench/report.c tests/support/ddb_local.c \
                    tests/support/net_util.c)
$(BUILD)/bench_driver: $(BENCH_DRIVER_OBJ) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
