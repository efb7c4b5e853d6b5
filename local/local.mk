# The local gateway (local/): API Gateway WebSocket + Management API, the
# Lambda Runtime API for the bootstrap, and a DynamoDB Streams poller, on
# loopback with civetweb. Used by `make run` and the end-to-end tests.
GATEWAY_SRC := $(wildcard local/*.c)
GATEWAY_OBJ := $(GATEWAY_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/gateway: $(GATEWAY_OBJ) $(BUILD)/libstreamer.a
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcivetweb $(LIBS)

# The end-to-end tests start the gateway and speak WebSocket to it with
# civetweb's client API.
TEST_DEPS += $(BUILD)/gateway
TEST_LIBS += -lcivetweb
