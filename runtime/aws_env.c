/* Credentials, region and service endpoints from the environment. */
#include "aws_env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secret.h"

#define VAR_ACCESS_KEY "AWS_ACCESS_KEY_ID"
#define VAR_SECRET_KEY "AWS_SECRET_ACCESS_KEY"
#define VAR_SESSION_TOKEN "AWS_SESSION_TOKEN"
#define VAR_REGION "AWS_REGION"
#define VAR_DEFAULT_REGION "AWS_DEFAULT_REGION"
#define VAR_ENDPOINT "AWS_ENDPOINT_URL"
#define VAR_IGNORE_ENDPOINTS "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"

static const char *env_get(const char *name)
{
    return getenv(name);
}

/* Reads `name`; an empty value counts as unset (NULL). */
static const char *lookup(aws_env_get_fn get, const char *name)
{
    const char *v = (get ? get : env_get)(name);
    return (v && *v) ? v : NULL;
}

/* Fills `err` for a bad or missing setting `var`; returns RESULT_CONFIG. */
static enum result config_error(struct error_info *err, const char *var,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum result config_error(struct error_info *err, const char *var,
                                const char *fmt, ...)
{
    error_clear(err);
    va_list ap;
    va_start(ap, fmt);
    enum result r =
        error_vfield(err, RESULT_CONFIG, "ConfigError", var, fmt, ap);
    va_end(ap);
    return r;
}

enum result aws_env_credentials_load(struct aws_env_credentials *c,
                                     aws_env_get_fn get, struct error_info *err)
{
    memset(c, 0, sizeof(*c));
    /* Lambda sets all three for the execution role ("Defined runtime
     * environment variables"); the token is absent for long-term keys. */
    const char *key = lookup(get, VAR_ACCESS_KEY);
    const char *secret = lookup(get, VAR_SECRET_KEY);
    if (!key)
        return config_error(err, VAR_ACCESS_KEY, "%s is not set",
                            VAR_ACCESS_KEY);
    if (!secret)
        return config_error(err, VAR_SECRET_KEY, "%s is not set",
                            VAR_SECRET_KEY);
    c->access_key_id = secret_dup(key);
    c->secret_access_key = secret_dup(secret);
    c->session_token = secret_dup(lookup(get, VAR_SESSION_TOKEN));
    return RESULT_OK;
}

void aws_env_credentials_copy(struct aws_env_credentials *c,
                              const struct sigv4_credentials *from)
{
    c->access_key_id =
        secret_dup(from && from->access_key_id ? from->access_key_id : "");
    c->secret_access_key = secret_dup(
        from && from->secret_access_key ? from->secret_access_key : "");
    c->session_token =
        secret_dup(from && from->session_token && *from->session_token
                       ? from->session_token
                       : NULL);
}

void aws_env_credentials_cleanup(struct aws_env_credentials *c)
{
    if (!c)
        return;
    secret_free(c->access_key_id);
    secret_free(c->secret_access_key);
    secret_free(c->session_token);
    memset(c, 0, sizeof(*c));
}

void aws_env_credentials_view(const struct aws_env_credentials *c,
                              struct sigv4_credentials *out)
{
    out->access_key_id = c->access_key_id;
    out->secret_access_key = c->secret_access_key;
    out->session_token = c->session_token;
}

/* A region name: 1..63 of a-z, 0-9 and '-' (it becomes part of a host). */
static int valid_region(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return 0;
    return 1;
}

enum result aws_env_region(char *out, size_t out_size, aws_env_get_fn get,
                           struct error_info *err)
{
    const char *var = VAR_REGION;
    const char *v = lookup(get, VAR_REGION);
    if (!v) {
        var = VAR_DEFAULT_REGION;
        v = lookup(get, VAR_DEFAULT_REGION);
    }
    if (!v)
        return config_error(err, VAR_REGION, "%s (or %s) is not set",
                            VAR_REGION, VAR_DEFAULT_REGION);
    if (!valid_region(v))
        return config_error(err, var, "%s is not a region name", var);
    if (strlen(v) >= out_size)
        return config_error(err, var, "%s is too long", var);
    memcpy(out, v, strlen(v) + 1);
    return RESULT_OK;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Host characters: a DNS name or IPv4 address, or an IPv6 literal. */
static int valid_host(const char *h, size_t n)
{
    if (n == 0)
        return 0;
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return 0;
        for (size_t i = 1; i + 1 < n; i++)
            if (!is_alnum(h[i]) && h[i] != ':' && h[i] != '.')
                return 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
            return 0;
    return 1;
}

/* Parses 1..65535 from p[0..n); returns 0 when it is not one. */
static int parse_port(const char *p, size_t n)
{
    int port = 0;
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        port = port * 10 + (p[i] - '0');
    }
    return (port >= 1 && port <= 65535) ? port : 0;
}

/* Splits scheme://authority/path; returns a reason on failure, else NULL. */
static const char *parse_url(const char *url, struct aws_env_endpoint *e)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return "has no scheme";
    size_t scheme_len = (size_t)(sep - url);
    if (scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
        memcpy(e->scheme, "http", 5);
    else if (scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
        memcpy(e->scheme, "https", 6);
    else
        return "is not http or https";
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
            *p == '?' || *p == '#')
            return "has a blank, control byte, query or fragment";

    const char *auth = sep + 3;
    const char *path = strchr(auth, '/');
    if (!path)
        path = auth + strlen(auth);
    if (memchr(auth, '@', (size_t)(path - auth)))
        return "has user info";
    const char *host_end = auth;
    if (*auth == '[') {
        const char *close = memchr(auth, ']', (size_t)(path - auth));
        host_end = close ? close + 1 : path;
    } else {
        const char *colon = memchr(auth, ':', (size_t)(path - auth));
        host_end = colon ? colon : path;
    }
    size_t host_len = (size_t)(host_end - auth);
    if (!valid_host(auth, host_len) || host_len >= sizeof(e->host))
        return "has no valid host";
    memcpy(e->host, auth, host_len);
    e->host[host_len] = '\0';

    int default_port = e->scheme[4] == 's' ? 443 : 80;
    e->port = default_port;
    if (host_end < path) {
        if (*host_end != ':' ||
            !(e->port =
                  parse_port(host_end + 1, (size_t)(path - host_end - 1))))
            return "has an invalid port";
    }

    size_t path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (path_len >= sizeof(e->base_path))
        return "has a path that is too long";
    memcpy(e->base_path, path, path_len);
    e->base_path[path_len] = '\0';

    if (e->port == default_port)
        snprintf(e->host_header, sizeof(e->host_header), "%s", e->host);
    else
        snprintf(e->host_header, sizeof(e->host_header), "%s:%d", e->host,
                 e->port);
    int n = snprintf(e->url, sizeof(e->url), "%s://%s%s", e->scheme,
                     e->host_header, e->base_path);
    if (n < 0 || (size_t)n >= sizeof(e->url))
        return "is too long";
    return NULL;
}

/* Parses `url` taken from `source`; RESULT_CONFIG naming it on failure. */
static enum result parse_from(const char *source, const char *url,
                              struct aws_env_endpoint *out,
                              struct error_info *err)
{
    struct aws_env_endpoint e;
    memset(&e, 0, sizeof(e));
    const char *why = url ? parse_url(url, &e) : "is empty";
    if (why)
        return config_error(err, source, "%s %s", source, why);
    *out = e;
    return RESULT_OK;
}

enum result aws_env_endpoint_parse(const char *url,
                                   struct aws_env_endpoint *out,
                                   struct error_info *err)
{
    return parse_from("endpoint URL", url, out, err);
}

enum result aws_env_endpoint_var(const char *service_id, char *out,
                                 size_t out_size)
{
    static const char prefix[] = VAR_ENDPOINT "_";
    size_t n = service_id ? strlen(service_id) : 0;
    if (n == 0 || sizeof(prefix) + n > out_size)
        return RESULT_INVALID_INPUT;
    memcpy(out, prefix, sizeof(prefix) - 1);
    char *p = out + sizeof(prefix) - 1;
    for (size_t i = 0; i < n; i++) {
        char c = service_id[i];
        if (c == ' ' || c == '-')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        *p++ = c;
    }
    *p = '\0';
    return RESULT_OK;
}

/* https://<service>.<region>.amazonaws.com, the regional default. */
static enum result default_endpoint(const char *service_id, const char *region,
                                    struct aws_env_endpoint *out,
                                    struct error_info *err)
{
    char url[512], host_service[128];
    size_t n = strlen(service_id);
    if (!region || !valid_region(region))
        return config_error(err, VAR_REGION, "%s is needed for the %s endpoint",
                            VAR_REGION, service_id);
    if (n >= sizeof(host_service))
        return config_error(err, "service", "service id is too long");
    for (size_t i = 0; i <= n; i++) {
        char c = service_id[i];
        host_service[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    /* The China partition's domain is amazonaws.com.cn. */
    const char *suffix =
        strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    snprintf(url, sizeof(url), "https://%s.%s.%s", host_service, region,
             suffix);
    return parse_from("default endpoint", url, out, err);
}

enum result aws_env_endpoint_resolve(const char *service_id, const char *region,
                                     const char *default_url,
                                     aws_env_get_fn get,
                                     struct aws_env_endpoint *out,
                                     struct error_info *err)
{
    char var[128];
    if (aws_env_endpoint_var(service_id, var, sizeof(var)) != RESULT_OK)
        return config_error(err, "service", "invalid service id");

    /* "Service-specific endpoints" (AWS SDKs and Tools Reference Guide):
     * the service's variable wins over the global one; both are ignored
     * when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true. */
    const char *ignore = lookup(get, VAR_IGNORE_ENDPOINTS);
    if (!ignore || strcasecmp(ignore, "true") != 0) {
        const char *v = lookup(get, var);
        if (v)
            return parse_from(var, v, out, err);
        v = lookup(get, VAR_ENDPOINT);
        if (v)
            return parse_from(VAR_ENDPOINT, v, out, err);
    }
    if (default_url)
        return parse_from("default endpoint", default_url, out, err);
    return default_endpoint(service_id, region, out, err);
}
