/* Streamer's configuration, read from the environment at init. */
#ifndef STREAMER_CONFIG_H
#define STREAMER_CONFIG_H

#include <stddef.h>

#include "result.h"

/* Every string is owned by the struct; free with config_cleanup(). */
struct config {
    char *connections_table;
    char *requests_table;
    char *subscriptions_table;
    char *jwt_public_key;   /* PEM text, or NULL when unset */
    char *jwt_issuer;       /* NULL when unset: not checked */
    char *jwt_audience;     /* NULL when unset: not checked */
    char **allowed_tenants; /* NULL when unset: any tenant */
    size_t allowed_tenant_count;
    char *metrics_namespace;
    long stale_after_seconds;
    int push_concurrency;       /* PUSH_CONCURRENCY, default 32 */
    long max_inflight_per_user; /* PENDING+PROCESSING+RETRYING per user */
    char *websocket_endpoint;   /* NULL: derived from each event */
    char *region;
    char *function_name;
};

/* A getenv-like lookup, injectable for tests. */
typedef const char *(*config_get_fn)(const char *name);

/*
 * Reads and validates every setting of docs/configuration.md through `get`
 * (getenv when NULL). On failure returns RESULT_CONFIG with `err->field` naming
 * the setting and `err->message` saying what is wrong; `*c` is then empty.
 * Caller owns the strings; free with config_cleanup().
 */
enum result config_load(struct config *c, config_get_fn get,
                        struct error_info *err) WARN_UNUSED;

/* Frees the strings config_load() made and empties `c`. Cannot fail. */
void config_cleanup(struct config *c);

/* True when `tenant` may connect (always, without ALLOWED_TENANTS). */
int config_tenant_allowed(const struct config *c, const char *tenant);

#endif
