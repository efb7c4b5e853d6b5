/* The WebSocket API and its Management API, as API Gateway serves them. */
#ifndef STREAMER_LOCAL_WSAPI_H
#define STREAMER_LOCAL_WSAPI_H

/* API Gateway's WebSocket quotas ("Amazon API Gateway quotas for
 * WebSocket APIs"): idle timeout 10 minutes, connection duration 2 hours. */
#define WSAPI_IDLE_TIMEOUT_MS (10L * 60 * 1000)
#define WSAPI_MAX_CONNECTION_MS (2L * 3600 * 1000)
#define WSAPI_MAX_CONNECTIONS 2048

struct invoker;
struct wsapi;

/* How the API is served (the strings are borrowed by wsapi_new()). */
struct wsapi_options {
    int port;                /* 0: any free loopback port */
    const char *stage;       /* "prod" */
    const char *console_dir; /* static files served at /, or NULL */
    /* The quotas, settable for tests; 0 or less: the defaults above. */
    long idle_timeout_ms;
    long max_connection_ms;
    int max_connections; /* concurrent WebSockets (a thread each) */
};

/*
 * Serves ws://127.0.0.1:PORT/<stage> and the Management API at
 * http://127.0.0.1:PORT/<stage>/@connections/{id}, invoking the function
 * through `inv` (borrowed; it must outlive the API) for each event.
 * Returns NULL (logged) when the port cannot be bound. Caller owns the
 * result; free with wsapi_free().
 */
struct wsapi *wsapi_new(const struct wsapi_options *o, struct invoker *inv);

/* The port actually bound; cannot fail. */
int wsapi_port(const struct wsapi *ws);

/* Stops serving: closes every connection (no $disconnect) and frees `ws`;
 * NULL is a no-op. */
void wsapi_free(struct wsapi *ws);

#endif
