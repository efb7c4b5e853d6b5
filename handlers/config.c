/* Streamer's configuration, read from the environment at init. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "xmalloc.h"

#define DEFAULT_STALE_AFTER_SECONDS 7200L
#define MAX_STALE_AFTER_SECONDS (366L * 24 * 3600)
#define DEFAULT_MAX_INFLIGHT_PER_USER 20L
#define MAX_MAX_INFLIGHT_PER_USER 100000L

static enum result bad(struct error_info *err, const char *name,
                       const char *what)
{
    error_set(err, RESULT_CONFIG, "InvalidConfig", "%s %s", name, what);
    if (err)
        snprintf(err->field, sizeof(err->field), "%s", name);
    return RESULT_CONFIG;
}

static char *dup_or_null(const char *v)
{
    return v && *v ? xstrdup(v) : NULL;
}

/* DynamoDB table names: 3-255 of [a-zA-Z0-9_.-] (API Reference,
 * CreateTable, TableName). */
static int valid_table_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 255)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
            return 0;
    return 1;
}

static enum result table(char **out, config_get_fn get, const char *name,
                         const char *fallback, struct error_info *err)
{
    const char *v = get(name);
    if (!v || !*v)
        v = fallback;
    if (!valid_table_name(v))
        return bad(err, name,
                   "must be a DynamoDB table name: 3-255 of A-Z a-z 0-9 _ . -");
    *out = xstrdup(v);
    return RESULT_OK;
}

/* CloudWatch namespaces: 1-255 of alphanumerics and . - _ / # : space. */
static int valid_namespace(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 255 || *s == ':')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(".-_/#: ", *s))
            return 0;
    return 1;
}

/* Splits a comma list; blanks around items are dropped, empty items are
 * an error. */
static enum result tenants(struct config *c, const char *v,
                           struct error_info *err)
{
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a == b || b - a > 128)
            return bad(err, "ALLOWED_TENANTS",
                       "must be a comma-separated list of tenant ids "
                       "(1-128 characters each)");
        c->allowed_tenants = xrealloc(
            c->allowed_tenants, (c->allowed_tenant_count + 1) * sizeof(char *));
        c->allowed_tenants[c->allowed_tenant_count++] =
            xstrndup(a, (size_t)(b - a));
        p = comma ? comma + 1 : end;
        if (comma && !*p)
            return bad(err, "ALLOWED_TENANTS", "ends with a comma");
    }
    return RESULT_OK;
}

/*
 * A whole number setting `name` from `min` to `max`: `*out` keeps its
 * default when `v` is unset or empty; anything else out of range or not a
 * plain number is an error naming the setting and its range.
 */
static enum result whole_number(const char *name, const char *v, long min,
                                long max, long *out, struct error_info *err)
{
    if (!v || !*v)
        return RESULT_OK;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be a whole number from %ld to %ld",
                 min, max);
        return bad(err, name, msg);
    }
    *out = n;
    return RESULT_OK;
}

/* STALE_AFTER_SECONDS, PUSH_CONCURRENCY (runtime/fanout.h) and
 * MAX_INFLIGHT_PER_USER, each with its default. */
static enum result numbers(struct config *c, config_get_fn get,
                           struct error_info *err)
{
    long push = FANOUT_DEFAULT_CONCURRENCY;
    enum result r;
    c->stale_after_seconds = DEFAULT_STALE_AFTER_SECONDS;
    c->max_inflight_per_user = DEFAULT_MAX_INFLIGHT_PER_USER;
    if ((r = whole_number("STALE_AFTER_SECONDS", get("STALE_AFTER_SECONDS"), 1,
                          MAX_STALE_AFTER_SECONDS, &c->stale_after_seconds,
                          err)) ||
        (r = whole_number("PUSH_CONCURRENCY", get("PUSH_CONCURRENCY"), 1,
                          FANOUT_MAX_CONCURRENCY, &push, err)) ||
        (r = whole_number("MAX_INFLIGHT_PER_USER", get("MAX_INFLIGHT_PER_USER"),
                          1, MAX_MAX_INFLIGHT_PER_USER,
                          &c->max_inflight_per_user, err)))
        return r;
    c->push_concurrency = (int)push;
    return RESULT_OK;
}

static enum result read_all(struct config *c, config_get_fn get,
                            struct error_info *err)
{
    enum result r;
    if ((r = table(&c->connections_table, get, "CONNECTIONS_TABLE",
                   "streamer_connections", err)) ||
        (r = table(&c->requests_table, get, "REQUESTS_TABLE",
                   "streamer_requests", err)) ||
        (r = table(&c->subscriptions_table, get, "SUBSCRIPTIONS_TABLE",
                   "streamer_subscriptions", err)))
        return r;
    const char *region = get("AWS_REGION");
    if (!region || !*region)
        region = get("AWS_DEFAULT_REGION");
    if (!region || !*region)
        return bad(err, "AWS_REGION", "is not set (nor AWS_DEFAULT_REGION)");
    c->region = xstrdup(region);
    const char *key = get("JWT_PUBLIC_KEY");
    if (key && *key && !strstr(key, "-----BEGIN "))
        return bad(err, "JWT_PUBLIC_KEY", "must be a PEM public key");
    c->jwt_public_key = dup_or_null(key);
    c->jwt_issuer = dup_or_null(get("JWT_ISSUER"));
    c->jwt_audience = dup_or_null(get("JWT_AUDIENCE"));
    const char *t = get("ALLOWED_TENANTS");
    if (t && *t && (r = tenants(c, t, err)))
        return r;
    const char *ns = get("METRICS_NAMESPACE");
    if (!ns || !*ns)
        ns = "Streamer";
    if (!valid_namespace(ns))
        return bad(err, "METRICS_NAMESPACE",
                   "must be 1-255 of A-Z a-z 0-9 . - _ / # : space");
    c->metrics_namespace = xstrdup(ns);
    if ((r = numbers(c, get, err)))
        return r;
    const char *ws = get("WEBSOCKET_ENDPOINT");
    if (ws && *ws && strncmp(ws, "https://", 8) != 0 &&
        strncmp(ws, "http://", 7) != 0)
        return bad(err, "WEBSOCKET_ENDPOINT", "must be an http(s):// URL");
    c->websocket_endpoint = dup_or_null(ws);
    c->function_name = dup_or_null(get("AWS_LAMBDA_FUNCTION_NAME"));
    return RESULT_OK;
}

/* getenv() returns char *, so calling it through a pointer to a function
 * returning const char * is undefined behaviour (C11 6.5.2.2p9); this
 * wrapper has exactly the type of the callback. */
static const char *env_get(const char *name)
{
    return getenv(name);
}

enum result config_load(struct config *c, config_get_fn get,
                        struct error_info *err)
{
    memset(c, 0, sizeof(*c));
    enum result r = read_all(c, get ? get : env_get, err);
    if (r != RESULT_OK)
        config_cleanup(c);
    return r;
}

void config_cleanup(struct config *c)
{
    free(c->connections_table);
    free(c->requests_table);
    free(c->subscriptions_table);
    free(c->jwt_public_key);
    free(c->jwt_issuer);
    free(c->jwt_audience);
    for (size_t i = 0; i < c->allowed_tenant_count; i++)
        free(c->allowed_tenants[i]);
    free(c->allowed_tenants);
    free(c->metrics_namespace);
    free(c->websocket_endpoint);
    free(c->region);
    free(c->function_name);
    memset(c, 0, sizeof(*c));
}

int config_tenant_allowed(const struct config *c, const char *tenant)
{
    if (!c->allowed_tenants)
        return 1;
    for (size_t i = 0; i < c->allowed_tenant_count; i++)
        if (strcmp(c->allowed_tenants[i], tenant) == 0)
            return 1;
    return 0;
}
