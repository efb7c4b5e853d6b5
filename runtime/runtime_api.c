/* The Lambda Runtime API client: next, response, error, init error. */
#include "runtime_api.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http1.h"
#include "text.h"
#include "xmalloc.h"

/*
 * Lambda Developer Guide, "Using the Lambda runtime API for custom
 * runtimes": every path is under /2018-06-01/runtime/.
 */
#define API_PREFIX "/2018-06-01/runtime"
/* Posting a result goes to a local agent; a minute is generous. */
#define POST_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 1000L
/*
 * The error type goes out as the Lambda-Runtime-Function-Error-Type
 * header, and it may come from outside (an AWS error's __type): it is
 * cleaned of CR, LF and other controls (http_header_value_clean) so that
 * it can neither be refused nor inject a header. 256 bytes is more than
 * any type we make or AWS sends.
 */
#define ERROR_TYPE_BYTES 256
/* "/invocation/" + a request id (at most 127 bytes) + "/response". */
#define INVOCATION_PATH_BYTES 300

/*
 * The Runtime API is plain HTTP/1.1 on loopback: one kept-alive socket
 * (runtime/http1.c) rather than libcurl, whose option setting and state
 * machine cost more than the rest of an echo event (bench/results.md).
 */
struct runtime_api {
    struct http1_client *http;
    struct http1_response resp;
};

void invocation_init(struct invocation *inv)
{
    memset(inv, 0, sizeof(*inv));
    buf_init(&inv->event, RUNTIME_API_MAX_EVENT_BYTES);
}

void invocation_cleanup(struct invocation *inv)
{
    free(inv->client_context);
    free(inv->cognito_identity);
    inv->client_context = NULL;
    inv->cognito_identity = NULL;
    buf_cleanup(&inv->event);
}

int64_t invocation_remaining_ms(const struct invocation *inv, int64_t now_ms)
{
    int64_t left = inv->deadline_ms - now_ms;
    return left > 0 ? left : 0;
}

/* host:port with a non-empty host and a port in 1..65535. */
static int valid_address(const char *a)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || strlen(a) > 200)
        return 0;
    for (const char *p = a; p < colon; p++)
        if (*p == '/' || *p == ' ' || *p == '@' || *p == '?' || *p == '#')
            return 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return errno == 0 && end != colon + 1 && *end == '\0' && port > 0 &&
           port <= 65535;
}

struct runtime_api *runtime_api_new(const char *address, struct error_info *err)
{
    if (!address || !*address) {
        error_set(err, RESULT_CONFIG, "InvalidConfig",
                  "AWS_LAMBDA_RUNTIME_API is not set");
        return NULL;
    }
    const char *hostport = address;
    if (strncmp(hostport, "http://", 7) == 0)
        hostport += 7;
    char trimmed[256];
    snprintf(trimmed, sizeof(trimmed), "%s", hostport);
    size_t n = strlen(trimmed);
    if (n && trimmed[n - 1] == '/')
        trimmed[n - 1] = '\0';
    if (!valid_address(trimmed)) {
        error_set(err, RESULT_CONFIG, "InvalidConfig",
                  "AWS_LAMBDA_RUNTIME_API must be host:port, not '%.100s'",
                  address);
        return NULL;
    }
    char *colon = strrchr(trimmed, ':');
    *colon = '\0';
    struct runtime_api *api = xmalloc(sizeof(*api));
    api->http = http1_client_new(trimmed, atoi(colon + 1), CONNECT_TIMEOUT_MS);
    http1_response_init(&api->resp, RUNTIME_API_MAX_EVENT_BYTES);
    return api;
}

void runtime_api_free(struct runtime_api *api)
{
    if (!api)
        return;
    http1_response_cleanup(&api->resp);
    http1_client_free(api->http);
    free(api);
}

static void copy_header(const struct http1_response *r, const char *name,
                        char *out, size_t size)
{
    const char *v = http1_response_header(r, name);
    text_join(out, size, v ? v : "", (char *)NULL);
}

static char *dup_header(const struct http1_response *r, const char *name)
{
    const char *v = http1_response_header(r, name);
    return v ? xstrdup(v) : NULL;
}

/* Reads the invocation's headers; RESULT_PARSE when one that Lambda always
 * sends is missing or malformed. */
static enum result read_headers(const struct http1_response *r,
                                struct invocation *inv, struct error_info *err)
{
    copy_header(r, "lambda-runtime-aws-request-id", inv->request_id,
                sizeof(inv->request_id));
    if (!inv->request_id[0])
        return error_set(
            err, RESULT_PARSE, "Runtime.InvalidNext",
            "/next answered without Lambda-Runtime-Aws-Request-Id");
    const char *d = http1_response_header(r, "lambda-runtime-deadline-ms");
    char *end = NULL;
    errno = 0;
    long long deadline = d ? strtoll(d, &end, 10) : 0;
    if (!d || errno || end == d || *end != '\0' || deadline <= 0)
        return error_set(err, RESULT_PARSE, "Runtime.InvalidNext",
                         "/next answered without a valid "
                         "Lambda-Runtime-Deadline-Ms");
    inv->deadline_ms = deadline;
    copy_header(r, "lambda-runtime-invoked-function-arn", inv->function_arn,
                sizeof(inv->function_arn));
    copy_header(r, "lambda-runtime-trace-id", inv->trace_id,
                sizeof(inv->trace_id));
    inv->client_context = dup_header(r, "lambda-runtime-client-context");
    inv->cognito_identity = dup_header(r, "lambda-runtime-cognito-identity");
    return RESULT_OK;
}

/* What /next answered (`r`: how the exchange went): the invocation's
 * headers, or why there is none. */
static enum result read_answer(struct runtime_api *api, struct invocation *inv,
                               enum result r, struct error_info *err)
{
    if (r == RESULT_TOO_LARGE) {
        /* The headers arrived; name the invocation so it gets an error. */
        copy_header(&api->resp, "lambda-runtime-aws-request-id",
                    inv->request_id, sizeof(inv->request_id));
        return error_set(err, RESULT_TOO_LARGE, "Runtime.EventTooLarge",
                         "event over %u bytes", RUNTIME_API_MAX_EVENT_BYTES);
    }
    if (r != RESULT_OK)
        return RESULT_TRANSPORT;
    if (api->resp.status >= 500)
        return error_set(err, RESULT_FATAL, "Runtime.ApiError",
                         "/next answered HTTP %ld: the runtime must exit",
                         api->resp.status);
    if (api->resp.status != 200)
        return error_set(err, RESULT_PARSE, "Runtime.ApiError",
                         "/next answered HTTP %ld", api->resp.status);
    return read_headers(&api->resp, inv, err);
}

enum result runtime_api_next(struct runtime_api *api, struct invocation *inv,
                             struct error_info *err)
{
    /* The last event's buffer, kept for the next answer's body: two
     * buffers take turns, so no event grows one from nothing. */
    struct buf spare = inv->event;
    buf_init(&inv->event, RUNTIME_API_MAX_EVENT_BYTES);
    invocation_cleanup(inv);
    invocation_init(inv);
    /* "Don't set a timeout on the GET call": the sandbox can be frozen
     * for as long as no event arrives. */
    struct http1_request req = {.method = "GET",
                                .path = API_PREFIX "/invocation/next",
                                .timeout_ms = 0};
    enum result r = read_answer(
        api, inv, http1_perform(api->http, &req, &api->resp, err), err);
    if (r == RESULT_OK) {
        /* Hand the body over without a copy; the spare takes its place. */
        inv->event = api->resp.body;
        api->resp.body = spare;
        api->resp.body.max_bytes = RUNTIME_API_MAX_EVENT_BYTES;
        buf_reset(&api->resp.body);
    } else {
        buf_cleanup(&spare);
    }
    return r;
}

/* POSTs `body` to `path` below the base and checks for 202 Accepted. */
static enum result post(struct runtime_api *api, const char *path,
                        const char *error_type, const char *body, size_t len,
                        struct error_info *err)
{
    char target[400];
    text_join(target, sizeof(target), API_PREFIX, path, (char *)NULL);
    /* The error type comes from a handler or a library: a CR or LF in it
     * is refused by http1_perform() rather than sent. */
    struct http1_header headers[2] = {
        {"Content-Type", "application/json"},
        {"Lambda-Runtime-Function-Error-Type", error_type},
    };
    struct http1_request req = {.method = "POST",
                                .path = target,
                                .headers = headers,
                                .header_count = error_type ? 2 : 1,
                                .body = body,
                                .body_len = len,
                                .timeout_ms = POST_TIMEOUT_MS};
    enum result r = http1_perform(api->http, &req, &api->resp, err);
    if (r != RESULT_OK)
        return r;
    long status = api->resp.status;
    if (status >= 500)
        return error_set(err, RESULT_FATAL, "Runtime.ApiError",
                         "POST %s answered HTTP %ld: the runtime must exit",
                         path, status);
    if (status != 202 && status != 200)
        return error_set(err, RESULT_SERVICE_ERROR, "Runtime.ApiError",
                         "POST %s answered HTTP %ld: %.200s", path, status,
                         buf_str(&api->resp.body));
    return RESULT_OK;
}

/* Request ids are UUIDs; anything that would change the path is refused. */
static int safe_id(const char *id)
{
    if (!*id)
        return 0;
    for (const char *p = id; *p; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == '%' ||
            (unsigned char)*p <= ' ')
            return 0;
    return 1;
}

/* "/invocation/{id}/{what}" into `path`; RESULT_INVALID_INPUT, with
 * `path` untouched, when the id is unsafe. */
static enum result invocation_path(char path[INVOCATION_PATH_BYTES],
                                   const char *request_id, const char *what,
                                   struct error_info *err)
{
    if (!safe_id(request_id))
        return error_set(err, RESULT_INVALID_INPUT, "Runtime.InvalidId",
                         "unsafe request id");
    text_join(path, INVOCATION_PATH_BYTES, "/invocation/", request_id, "/",
              what, (char *)NULL);
    return RESULT_OK;
}

enum result runtime_api_respond(struct runtime_api *api, const char *request_id,
                                const char *body, size_t len,
                                struct error_info *err)
{
    char path[INVOCATION_PATH_BYTES];
    enum result r = invocation_path(path, request_id, "response", err);
    return r == RESULT_OK ? post(api, path, NULL, body, len, err) : r;
}

static char *error_body(const char *error_type, const char *message)
{
    cJSON *o = xjson(cJSON_CreateObject());
    xjson_add(o, "errorMessage", cJSON_CreateString(message ? message : ""));
    xjson_add(o, "errorType", cJSON_CreateString(error_type));
    xjson_add(o, "stackTrace", cJSON_CreateArray());
    char *s = xjson_print(o);
    cJSON_Delete(o);
    return s;
}

/*
 * The error type as it may go into the header: controls cleaned to
 * spaces (http_header_value_clean), and Runtime.HandlerError when nothing
 * is left, so the invocation still gets its error rather than none.
 */
static void safe_type(const char *t, char out[ERROR_TYPE_BYTES])
{
    http_header_value_clean(t, out, ERROR_TYPE_BYTES);
    if (!out[strspn(out, " \t")])
        snprintf(out, ERROR_TYPE_BYTES, "Runtime.HandlerError");
}

enum result runtime_api_fail(struct runtime_api *api, const char *request_id,
                             const char *error_type, const char *message,
                             struct error_info *err)
{
    char path[INVOCATION_PATH_BYTES];
    enum result r = invocation_path(path, request_id, "error", err);
    if (r != RESULT_OK)
        return r;
    char type[ERROR_TYPE_BYTES];
    safe_type(error_type, type);
    char *body = error_body(type, message);
    r = post(api, path, type, body, strlen(body), err);
    free(body);
    return r;
}

enum result runtime_api_init_error(struct runtime_api *api,
                                   const char *error_type, const char *message,
                                   struct error_info *err)
{
    char type[ERROR_TYPE_BYTES];
    safe_type(error_type, type);
    char *body = error_body(type, message);
    enum result r = post(api, "/init/error", type, body, strlen(body), err);
    free(body);
    return r;
}
