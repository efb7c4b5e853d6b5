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

# The JavaScript tests (tests/js/, node:test): the client, sam local's
# environment and the Invoke-API mode, the browser console (Chromium).
# JS_TESTS picks files; the sanitizer variant skips the browser.
JS_TESTS ?=
test-js: $(BUILD)/gateway $(BUILD)/bootstrap
	$(Q)STREAMER_BUILD=$(BUILD) STREAMER_BOOTSTRAP=$(BUILD)/bootstrap \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:$(ASAN_OPTIONS) \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    scripts/test-js $(JS_TESTS)

# DynamoDB Local on 127.0.0.1:$(DDB_PORT) with the three tables, for
# `sam local` (deploy/env.local.json points at port 8000).
DDB_PORT ?= 8000
ddb-local: deps $(BUILD)/gateway
	$(Q)STREAMER_DDB_PORT=$(DDB_PORT) scripts/ddb-local

# A token for deploy/events/connect.json, signed by the dev key.
dev-token: $(BUILD)/gateway
	$(Q)$(BUILD)/gateway --print-dev-token deploy/dev/jwt_private.pem

.PHONY: test-js ddb-local dev-token
