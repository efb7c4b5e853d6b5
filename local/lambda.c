/* The gateway's Invoke-API back end: events to `sam local start-lambda`. */
#include "lambda.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws_env.h"
#include "clock.h"
#include "service.h"
#include "sigv4.h"
#include "xmalloc.h"

/*
 * Lambda API Reference, "Invoke": POST
 * /2015-03-31/functions/{FunctionName}/invocations with the event as the
 * body and X-Amz-Invocation-Type RequestResponse. A 200 answer's body is
 * the function's result; when the function failed, the answer is still 200
 * and carries X-Amz-Function-Error (Unhandled, or Handled) with the error
 * document as the body. Any other status is an error of the service (or of
 * `sam local start-lambda`) itself. The synchronous payload is capped at
 * 6 MB ("Lambda quotas"). Requests are signed with SigV4 (service
 * "lambda"), which sam local ignores and Lambda requires.
 */
#define INVOKE_PATH_FMT "/2015-03-31/functions/%s/invocations"
#define MAX_ANSWER_BYTES ((size_t)6 * 1024 * 1024)
#define MARGIN_MS 5000 /* a cold container's start, on top of the timeout */

struct lambda_remote {
    struct aws_env_endpoint ep;
    char path[1024];
    char region[64];
    long timeout_ms;
    atomic_int stopping;
};

struct answer {
    char *data;
    size_t len;
    int too_large;
    char function_error[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t k = size * n;
    if (a->len + k > MAX_ANSWER_BYTES) {
        a->too_large = 1;
        return 0;
    }
    a->data = xrealloc(a->data, a->len + k + 1);
    memcpy(a->data + a->len, p, k);
    a->len += k;
    a->data[a->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t k = size * n;
    static const char name[] = "x-amz-function-error:";
    if (k > sizeof(name) && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *v = p + sizeof(name) - 1;
        size_t len = k - (sizeof(name) - 1);
        while (len && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len &&
               (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        snprintf(a->function_error, sizeof(a->function_error), "%.*s", (int)len,
                 v);
    }
    return k;
}

/* Aborts a transfer once the gateway is stopping. */
static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
                       curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    struct lambda_remote *lr = arg;
    return atomic_load(&lr->stopping);
}

struct lambda_remote *lambda_remote_new(const char *endpoint,
                                        const char *function, long timeout_ms)
{
    /* "Invoke": a function name is 1-64 of [A-Za-z0-9_-] (ARNs and
     * qualifiers are not needed locally). */
    size_t n = strspn(function, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                "OPQRSTUVWXYZ0123456789-_");
    if (n == 0 || n > 64 || function[n]) {
        service_log("STREAMER_LAMBDA_FUNCTION %s: not a function name "
                    "(1-64 of A-Z a-z 0-9 - _)",
                    function);
        return NULL;
    }
    struct lambda_remote *lr = xcalloc(1, sizeof(*lr));
    struct error_info err;
    if (aws_env_endpoint_parse(endpoint, &lr->ep, &err) != RESULT_OK) {
        service_log("STREAMER_LAMBDA_ENDPOINT %s: %s", endpoint, err.message);
        free(lr);
        return NULL;
    }
    if (aws_env_region(lr->region, sizeof(lr->region), NULL, &err) != RESULT_OK)
        snprintf(lr->region, sizeof(lr->region), "us-east-1");
    snprintf(lr->path, sizeof(lr->path), "%s" INVOKE_PATH_FMT, lr->ep.base_path,
             function);
    lr->timeout_ms = timeout_ms;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before the threads that call */
    return lr;
}

void lambda_remote_stop(struct lambda_remote *lr)
{
    if (lr)
        atomic_store(&lr->stopping, 1);
}

void lambda_remote_free(struct lambda_remote *lr)
{
    if (!lr)
        return;
    curl_global_cleanup();
    free(lr);
}

const char *lambda_remote_url(const struct lambda_remote *lr)
{
    return lr->ep.url;
}

/* The signed headers of one call, as curl_slist lines. */
static struct curl_slist *signed_headers(const struct lambda_remote *lr,
                                         const char *event, size_t len)
{
    struct aws_env_credentials env;
    struct sigv4_credentials creds;
    struct error_info err;
    struct curl_slist *h = NULL;
    char line[1200];
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Amz-Invocation-Type: RequestResponse");
    h = curl_slist_append(h, "X-Amz-Log-Type: None");
    h = curl_slist_append(h, "Expect:");
    if (aws_env_credentials_load(&env, NULL, &err) != RESULT_OK)
        return h; /* sam local does not check; Lambda would answer 403 */
    aws_env_credentials_view(&env, &creds);
    struct sigv4_header sh[] = {
        {"host", lr->ep.host_header},
        {"content-type", "application/json"},
        {"x-amz-invocation-type", "RequestResponse"},
        {"x-amz-log-type", "None"},
    };
    struct sigv4_request req = {"POST", lr->path, NULL, sh, 4, event, len};
    struct sigv4_params p = {lr->region, "lambda", time(NULL), 1, 1};
    struct sigv4_output out;
    struct sigv4_signer s;
    sigv4_signer_init(&s);
    if (sigv4_sign(&s, &creds, &p, &req, &out) == RESULT_OK) {
        snprintf(line, sizeof(line), "X-Amz-Date: %s", out.amz_date);
        h = curl_slist_append(h, line);
        snprintf(line, sizeof(line), "Authorization: %s", out.authorization);
        h = curl_slist_append(h, line);
        if (creds.session_token && *creds.session_token) {
            snprintf(line, sizeof(line), "X-Amz-Security-Token: %s",
                     creds.session_token);
            h = curl_slist_append(h, line);
        }
    }
    sigv4_signer_cleanup(&s);
    aws_env_credentials_cleanup(&env);
    return h;
}

int lambda_remote_invoke(struct lambda_remote *lr, const char *label,
                         const char *event, char **answer)
{
    struct answer a = {0};
    char url[1400], text[151];
    size_t len = strlen(event);
    *answer = NULL;
    if (atomic_load(&lr->stopping))
        return -1;
    snprintf(url, sizeof(url), "%s://%s%s", lr->ep.scheme, lr->ep.host_header,
             lr->path);
    CURL *c = curl_easy_init();
    if (!c) {
        *answer =
            service_error_doc("Gateway.CurlInit", "curl_easy_init failed");
        return 1;
    }
    struct curl_slist *h = signed_headers(lr, event, len);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, event);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, lr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, lr->timeout_ms + MARGIN_MS);
    int64_t started = clock_now_ms();
    service_log("-> %s (Invoke API %s)", label, lr->ep.url);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    int rc;
    if (atomic_load(&lr->stopping)) {
        free(a.data);
        return -1;
    }
    if (cc != CURLE_OK || a.too_large) {
        free(a.data);
        a.data = service_error_doc("Gateway.InvokeFailed", "Invoke %s: %s", url,
                                   a.too_large ? "answer over 6 MB"
                                               : curl_easy_strerror(cc));
        rc = 1;
    } else if (status != 200) {
        /* The service's own error (e.g. 404 ResourceNotFoundException
         * for an unknown function name): the event was not handled. */
        char *got = a.data;
        a.data = service_error_doc("Gateway.InvokeFailed",
                                   "Invoke %s: HTTP %ld: %.200s", url, status,
                                   got ? got : "");
        free(got);
        rc = 1;
    } else {
        if (!a.data)
            a.data = xstrdup("null");
        rc = a.function_error[0] ? 1 : 0;
    }
    service_snippet(a.data, text, sizeof(text));
    service_log("<- %s %s%s in %lld ms: %s", label, rc ? "FAILED" : "ok",
                a.function_error[0] ? " (X-Amz-Function-Error)" : "",
                (long long)(clock_now_ms() - started), text);
    *answer = a.data;
    return rc;
}
