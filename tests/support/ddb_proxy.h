/* A counting, fault-injecting proxy in front of DynamoDB Local. */
#ifndef STREAMER_TEST_DDB_PROXY_H
#define STREAMER_TEST_DDB_PROXY_H

struct ddb_proxy;

/*
 * Starts a loopback HTTP server that forwards every request to DynamoDB
 * Local (ddb_local_endpoint()) and counts them by operation (the
 * X-Amz-Target after the '.'). Returns NULL on failure. Caller owns the
 * result; free with ddb_proxy_stop().
 */
struct ddb_proxy *ddb_proxy_start(void);

/* Stops the server and frees `p`; NULL is a no-op. */
void ddb_proxy_stop(struct ddb_proxy *p);

/* "http://127.0.0.1:PORT", the endpoint to give the client under test. */
const char *ddb_proxy_url(const struct ddb_proxy *p);

/* Requests of `operation` ("GetItem"; NULL: all) since the last reset. */
int ddb_proxy_count(struct ddb_proxy *p, const char *operation);

/* Sets every count to 0. */
void ddb_proxy_reset(struct ddb_proxy *p);

/*
 * While set, requests of `operation` whose body holds `marker` (NULL:
 * any) are answered 500 InternalServerError and never reach DynamoDB
 * Local (they are still counted). `operation` NULL clears the fault.
 */
void ddb_proxy_fail(struct ddb_proxy *p, const char *operation,
                    const char *marker);

struct test_http_request;
struct test_http_reply;

/*
 * Sends `req` on to DynamoDB Local and copies its answer (status, body)
 * into `reply`: for test servers that forward what they do not fault.
 */
void ddb_proxy_forward(const struct test_http_request *req,
                       struct test_http_reply *reply);

/* Fills `reply` with DynamoDB's HTTP 500 InternalServerError ("injected"):
 * the fault test servers answer instead of forwarding. */
void ddb_proxy_reply_fault(struct test_http_reply *reply);

#endif
