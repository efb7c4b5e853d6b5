/* Credentials, region and service endpoints from the environment. */
#ifndef STREAMER_AWS_ENV_H
#define STREAMER_AWS_ENV_H

#include <stddef.h>

#include "result.h"
#include "sigv4.h"

/*
 * Reads one variable; returns NULL when unset. Every function below takes
 * one so tests can inject an environment; NULL means getenv().
 */
typedef const char *(*aws_env_get_fn)(const char *name);

/*
 * Static credentials, as Lambda provides them to the runtime ("Defined
 * runtime environment variables"). Owned copies, wiped on cleanup; never
 * logged.
 */
struct aws_env_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when there is none */
};

/*
 * Loads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the optional
 * AWS_SESSION_TOKEN (an empty value counts as unset) into `c`. Returns
 * RESULT_OK, or RESULT_CONFIG with `err` naming the missing variable (in
 * err->field and the message); then `c` holds nothing. The caller owns
 * `c`'s strings; free with aws_env_credentials_cleanup().
 */
enum result aws_env_credentials_load(struct aws_env_credentials *c,
                                     aws_env_get_fn get,
                                     struct error_info *err) WARN_UNUSED;

/*
 * Fills `c` with owned copies of `from`'s strings: a missing key id or
 * secret becomes "", an empty session token NULL (`from` may be NULL).
 * Whatever `c` held before is not freed. Free with
 * aws_env_credentials_cleanup(). Aborts when memory is exhausted.
 */
void aws_env_credentials_copy(struct aws_env_credentials *c,
                              const struct sigv4_credentials *from);

/* Wipes (secret_free()) and frees `c`'s strings and zeroes `c`; NULL is a
 * no-op. */
void aws_env_credentials_cleanup(struct aws_env_credentials *c);

/* Fills `out` with pointers borrowed from `c` (valid until its cleanup). */
void aws_env_credentials_view(const struct aws_env_credentials *c,
                              struct sigv4_credentials *out);

/*
 * Writes the region from AWS_REGION, else AWS_DEFAULT_REGION, into
 * `out` (NUL-terminated). Returns RESULT_OK, or RESULT_CONFIG naming the
 * variable when none is set or the value is not a region name (1..63 of
 * a-z 0-9 '-'); then `out` is untouched.
 */
enum result aws_env_region(char *out, size_t out_size, aws_env_get_fn get,
                           struct error_info *err) WARN_UNUSED;

/* A parsed http(s) endpoint URL. Every field is NUL-terminated. */
struct aws_env_endpoint {
    char scheme[6];        /* "http" or "https" */
    char host[256];        /* name or IP; an IPv6 literal keeps its [] */
    int port;              /* the explicit port, else 80 or 443 */
    char host_header[264]; /* host, plus ":port" when not the default */
    char base_path[512];   /* "" or "/a/b", never ending in '/' */
    char url[1024];        /* scheme://host_header base_path */
};

/*
 * Parses `url`: http or https (any case), a host, an optional port
 * (1..65535), an optional path. User info, a query, a fragment, blanks
 * and control bytes are rejected. Returns RESULT_OK, or RESULT_CONFIG
 * (the message says why without echoing the URL); on failure `*out` is
 * untouched.
 */
enum result aws_env_endpoint_parse(const char *url,
                                   struct aws_env_endpoint *out,
                                   struct error_info *err) WARN_UNUSED;

/*
 * Writes "AWS_ENDPOINT_URL_<ID>" into `out`: the service id upper-cased,
 * with ' ' and '-' turned into '_' (the SDKs' "Service-specific endpoints"
 * convention), e.g. "dynamodb" -> AWS_ENDPOINT_URL_DYNAMODB. Returns
 * RESULT_INVALID_INPUT when the id is empty or `out` too small.
 */
enum result aws_env_endpoint_var(const char *service_id, char *out,
                                 size_t out_size) WARN_UNUSED;

/*
 * Resolves the endpoint of a service, as the AWS SDKs do: the
 * service-specific variable (aws_env_endpoint_var()), else
 * AWS_ENDPOINT_URL, else `default_url`, else
 * https://<service_id lower-cased>.<region>.amazonaws.com (.com.cn in
 * the cn- regions). AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips both
 * variables. Empty values count as unset. For the API Gateway Management
 * API (signing name execute-api), pass the stage URL as `default_url`.
 * `region` may be NULL when `default_url` is given. Returns RESULT_OK, or
 * RESULT_CONFIG naming the variable whose URL is bad (or "AWS_REGION"
 * when a default needs a region); on failure `*out` is untouched.
 */
enum result aws_env_endpoint_resolve(const char *service_id, const char *region,
                                     const char *default_url,
                                     aws_env_get_fn get,
                                     struct aws_env_endpoint *out,
                                     struct error_info *err) WARN_UNUSED;

#endif
