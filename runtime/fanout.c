/* Concurrent Management API pushes: libcurl multi over keep-alive. */
#include "fanout.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_env.h"
#include "aws_error.h"
#include "http.h"
#include "mgmt_int.h"
#include "retry.h"
#include "xmalloc.h"

#define SERVICE "execute-api"
#define CONTENT_TYPE "application/json"
#define MAX_ERROR_BODY_BYTES 1024
#define MAX_POLL_MS 1000

struct fanout {
    char *region;
    struct aws_env_credentials creds; /* wiped on free */
    struct sigv4_signer signer;
    struct retry_policy policy;
    char *ca_file, *ca_path;
    CURLM *multi; /* its connection cache keeps connections alive */
    CURL **idle;  /* easy handles ready for reuse */
    int idle_count;
    int concurrency;
    int peak;
};

/* One target being worked on. */
struct task {
    struct fanout_target *t;
    char *url;  /* scheme://host[:port]/stage/%40connections/id */
    char *path; /* the wire path, signed */
    char *host; /* the Host header, signed */
    int tries;  /* attempts for the current message */
    int64_t not_before_ms;
    CURL *easy; /* while a transfer runs */
    struct curl_slist *headers;
    char error_type[128];
    char body[MAX_ERROR_BODY_BYTES];
    size_t body_len;
};

/* The state of one fanout_send(). */
struct run {
    struct fanout *f;
    int64_t deadline_ms;
    struct task *tasks;
    struct task **ready; /* a FIFO of tasks to start */
    size_t head, tail;   /* ring indices over n slots */
    size_t ready_count;
    struct task **delayed; /* waiting for a backoff to end */
    size_t delayed_count;
    size_t n, remaining;
    int running;
};

struct fanout *fanout_new(const char *region,
                          const struct sigv4_credentials *creds,
                          int concurrency)
{
    struct fanout *f = xcalloc(1, sizeof(*f));
    f->region = xstrdup(region ? region : "");
    aws_env_credentials_copy(&f->creds, creds);
    sigv4_signer_init(&f->signer);
    retry_policy_init(&f->policy);
    retry_policy_set(&f->policy, FANOUT_RETRY_BASE_MS, FANOUT_RETRY_CAP_MS,
                     FANOUT_MAX_ATTEMPTS);
    if (concurrency <= 0)
        concurrency = FANOUT_DEFAULT_CONCURRENCY;
    f->concurrency = concurrency > FANOUT_MAX_CONCURRENCY
                         ? FANOUT_MAX_CONCURRENCY
                         : concurrency;
    f->idle = xcalloc((size_t)f->concurrency, sizeof(*f->idle));
    return f;
}

void fanout_free(struct fanout *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->idle_count; i++)
        curl_easy_cleanup(f->idle[i]);
    free(f->idle);
    if (f->multi)
        curl_multi_cleanup(f->multi);
    sigv4_signer_cleanup(&f->signer);
    free(f->region);
    aws_env_credentials_cleanup(&f->creds);
    free(f->ca_file);
    free(f->ca_path);
    free(f);
}

void fanout_set_retry(struct fanout *f, long base_ms, long cap_ms,
                      int max_attempts)
{
    retry_policy_set(&f->policy, base_ms, cap_ms, max_attempts);
}

int fanout_peak_in_flight(const struct fanout *f)
{
    return f->peak;
}

/*
 * The multi handle, made on first use so that init stays cheap. HTTP/1.1
 * without pipelining: each transfer has a connection of its own, and
 * up to `concurrency` of them are kept open between sends.
 */
static CURLM *multi_of(struct fanout *f)
{
    if (f->multi)
        return f->multi;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* counted; a no-op when done */
    f->multi = curl_multi_init();
    if (!f->multi)
        return NULL;
    curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->concurrency);
    curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)f->concurrency);
    http_trust_paths(&f->ca_file, &f->ca_path);
    return f->multi;
}

static void finish(struct run *u, struct task *k, enum result r,
                   const struct error_info *e)
{
    k->t->result = r;
    if (e)
        k->t->err = *e;
    else
        error_clear(&k->t->err);
    u->remaining--;
}

static void make_ready(struct run *u, struct task *k)
{
    u->ready[u->tail] = k;
    u->tail = (u->tail + 1) % u->n;
    u->ready_count++;
}

/* Where a target goes: the URL, wire path and Host header. */
static enum result locate(struct task *k, const struct aws_env_endpoint *ep,
                          struct error_info *e)
{
    char path[1024];
    enum result r =
        mgmt_path(ep->base_path, k->t->connection_id, path, sizeof(path), e);
    if (r != RESULT_OK)
        return r;
    size_t n = strlen(ep->scheme) + 3 + strlen(ep->host_header) + strlen(path);
    k->url = xmalloc(n + 1);
    snprintf(k->url, n + 1, "%s://%s%s", ep->scheme, ep->host_header, path);
    k->path = xstrdup(path);
    k->host = xstrdup(ep->host_header);
    return RESULT_OK;
}

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    struct task *k = userdata;
    size_t len = size * n, room = sizeof(k->body) - 1 - k->body_len;
    size_t take = len < room ? len : room;
    memcpy(k->body + k->body_len, p, take);
    k->body_len += take;
    k->body[k->body_len] = '\0';
    return len; /* the rest of an error body is not needed */
}

static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
    struct task *k = userdata;
    size_t len = size * n;
    static const char name[] = "x-amzn-errortype:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        const char *v = p + sizeof(name) - 1;
        size_t vlen = len - (sizeof(name) - 1);
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
                        v[vlen - 1] == ' '))
            vlen--;
        snprintf(k->error_type, sizeof(k->error_type), "%.*s", (int)vlen, v);
    }
    return len;
}

static void add_header(struct curl_slist **list, const char *name,
                       const char *value)
{
    char line[2048];
    snprintf(line, sizeof(line), "%s: %s", name, value);
    *list = curl_slist_append(*list, line);
}

/* Signs the target's next message and adds its transfer to the multi. */
static enum result start(struct run *u, struct task *k, struct error_info *e)
{
    struct fanout *f = u->f;
    const struct fanout_msg *m = &k->t->msgs[k->t->sent];
    int64_t now = retry_now_ms(&f->policy);
    long timeout_ms = FANOUT_TIMEOUT_MS;
    if (u->deadline_ms > 0) {
        int64_t left = u->deadline_ms - f->policy.margin_ms - now;
        if (left <= 0)
            return error_set(e, RESULT_TIMEOUT, "DeadlineExceeded",
                             "no time left to push to %s", k->t->connection_id);
        if (left < timeout_ms)
            timeout_ms = (long)left;
    }
    struct sigv4_credentials creds;
    aws_env_credentials_view(&f->creds, &creds);
    struct sigv4_params params = {.region = f->region,
                                  .service = SERVICE,
                                  .now = (time_t)(now / 1000),
                                  .double_encode_path = 1,
                                  .normalize_path = 1};
    struct sigv4_header signed_headers[] = {{"host", k->host},
                                            {"content-type", CONTENT_TYPE}};
    struct sigv4_request sreq = {"POST", k->path, NULL,  signed_headers,
                                 2,      m->data, m->len};
    struct sigv4_output sig;
    enum result r = sigv4_sign(&f->signer, &creds, &params, &sreq, &sig);
    if (r != RESULT_OK)
        return error_set(e, r, "SigningFailed", "could not sign a push");

    struct curl_slist *h = NULL;
    /* libcurl would add "Expect: 100-continue" to a big body: a wasted
     * round trip. */
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "Accept:");
    add_header(&h, "Host", k->host);
    add_header(&h, "Content-Type", CONTENT_TYPE);
    add_header(&h, "X-Amz-Date", sig.amz_date);
    add_header(&h, "Authorization", sig.authorization);
    if (f->creds.session_token)
        add_header(&h, "X-Amz-Security-Token", f->creds.session_token);

    CURL *c = f->idle_count ? f->idle[--f->idle_count] : curl_easy_init();
    if (!c) {
        curl_slist_free_all(h);
        return error_set(e, RESULT_INTERNAL, "HttpInit",
                         "could not create a libcurl handle");
    }
    curl_easy_reset(c);
    http_easy_setup(c, k->url, f->ca_file, f->ca_path);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < HTTP_CONNECT_TIMEOUT_MS
                         ? timeout_ms
                         : HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, m->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(c, CURLOPT_PRIVATE, k);
    k->error_type[0] = '\0';
    k->body_len = 0;
    k->body[0] = '\0';
    if (curl_multi_add_handle(f->multi, c) != CURLM_OK) {
        curl_slist_free_all(h);
        f->idle[f->idle_count++] = c;
        return error_set(e, RESULT_INTERNAL, "HttpInit",
                         "could not add a transfer");
    }
    k->easy = c;
    k->headers = h;
    k->tries++;
    k->t->attempts++;
    if (++u->running > f->peak)
        f->peak = u->running;
    return RESULT_OK;
}

/* Starts what may start: backoffs that ended, then ready tasks. */
static void start_ready(struct run *u)
{
    int64_t now = retry_now_ms(&u->f->policy);
    for (size_t i = 0; i < u->delayed_count;) {
        if (u->delayed[i]->not_before_ms <= now) {
            make_ready(u, u->delayed[i]);
            u->delayed[i] = u->delayed[--u->delayed_count];
        } else {
            i++;
        }
    }
    while (u->running < u->f->concurrency && u->ready_count) {
        struct task *k = u->ready[u->head];
        u->head = (u->head + 1) % u->n;
        u->ready_count--;
        struct error_info e;
        error_clear(&e);
        enum result r = start(u, k, &e);
        if (r != RESULT_OK)
            finish(u, k, r, &e);
    }
}

/* A transfer ended: next message, a retry after a backoff, or the end. */
static void on_done(struct run *u, CURL *c, CURLcode rc)
{
    struct fanout *f = u->f;
    char *priv = NULL;
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, &priv);
    struct task *k = (struct task *)(void *)priv;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(f->multi, c);
    f->idle[f->idle_count++] = c;
    curl_slist_free_all(k->headers);
    k->headers = NULL;
    k->easy = NULL;
    u->running--;

    struct error_info e;
    error_clear(&e);
    enum result r = RESULT_OK;
    if (rc != CURLE_OK)
        r = error_set(
            &e,
            rc == CURLE_OPERATION_TIMEDOUT ? RESULT_TIMEOUT : RESULT_TRANSPORT,
            rc == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "TransportError",
            "push to %s: %s", k->t->connection_id, curl_easy_strerror(rc));
    else if (status == 410)
        r = error_set(&e, RESULT_NOT_FOUND, "GoneException",
                      "connection %s is gone", k->t->connection_id);
    else if (status < 200 || status > 299)
        r = aws_error_parse((int)status, k->body, k->body_len,
                            k->error_type[0] ? k->error_type : NULL, &e);
    e.http_status = (int)status;
    if (r == RESULT_OK) {
        k->tries = 0;
        if (++k->t->sent == k->t->count)
            finish(u, k, RESULT_OK, NULL);
        else
            make_ready(u, k);
        return;
    }
    long delay_ms = 0;
    enum retry_decision d =
        r == RESULT_NOT_FOUND
            ? RETRY_NOT_RETRYABLE
            : retry_decide(&f->policy, k->tries,
                           retry_is_retryable(r, (int)status, e.type),
                           u->deadline_ms, &delay_ms);
    if (d == RETRY_AGAIN) {
        k->not_before_ms = retry_now_ms(&f->policy) + delay_ms;
        u->delayed[u->delayed_count++] = k;
        return;
    }
    if (d != RETRY_NOT_RETRYABLE) {
        size_t len = strlen(e.message);
        snprintf(e.message + len, sizeof(e.message) - len,
                 " (%d attempt%s, %s)", k->tries, k->tries == 1 ? "" : "s",
                 retry_decision_str(d));
    }
    finish(u, k, r, &e);
}

/* How long to wait for sockets: until the first backoff ends, at most. */
static int wait_ms(const struct run *u)
{
    int64_t wait = MAX_POLL_MS;
    int64_t now = retry_now_ms(&u->f->policy);
    for (size_t i = 0; i < u->delayed_count; i++)
        if (u->delayed[i]->not_before_ms - now < wait)
            wait = u->delayed[i]->not_before_ms - now;
    return wait < 0 ? 0 : (int)wait;
}

/* Prepares the tasks; targets with nothing to send or no usable
 * endpoint are done at once. */
static void prepare(struct run *u, struct fanout_target *targets)
{
    struct aws_env_endpoint ep;
    const char *parsed = NULL; /* the endpoint `ep` holds */
    for (size_t i = 0; i < u->n; i++) {
        struct task *k = &u->tasks[i];
        struct error_info e;
        error_clear(&e);
        k->t = &targets[i];
        k->t->result = RESULT_OK;
        k->t->sent = 0;
        k->t->attempts = 0;
        error_clear(&k->t->err);
        enum result r = RESULT_OK;
        if (!k->t->endpoint || !k->t->connection_id)
            r = error_field(&e, "endpoint", "a target has no endpoint or id");
        else if (!parsed || strcmp(parsed, k->t->endpoint) != 0) {
            r = aws_env_endpoint_parse(k->t->endpoint, &ep, &e);
            parsed = r == RESULT_OK ? k->t->endpoint : NULL;
        }
        if (r == RESULT_OK)
            r = locate(k, &ep, &e);
        if (r != RESULT_OK)
            finish(u, k, r, &e);
        else if (k->t->count == 0)
            finish(u, k, RESULT_OK, NULL);
        else
            make_ready(u, k);
    }
}

void fanout_send(struct fanout *f, struct fanout_target *targets, size_t n,
                 int64_t deadline_ms)
{
    if (n == 0)
        return;
    struct run u = {.f = f, .deadline_ms = deadline_ms, .n = n, .remaining = n};
    u.tasks = xcalloc(n, sizeof(*u.tasks));
    u.ready = xcalloc(n, sizeof(*u.ready));
    u.delayed = xcalloc(n, sizeof(*u.delayed));
    if (!multi_of(f)) {
        struct error_info e;
        error_set(&e, RESULT_INTERNAL, "HttpInit",
                  "could not create a libcurl multi handle");
        for (size_t i = 0; i < n; i++) {
            targets[i].result = RESULT_INTERNAL;
            targets[i].sent = 0;
            targets[i].err = e;
        }
        u.remaining = 0;
    } else {
        prepare(&u, targets);
    }
    while (u.remaining > 0) {
        start_ready(&u);
        if (u.remaining == 0)
            break;
        int still = 0;
        curl_multi_perform(f->multi, &still);
        CURLMsg *msg;
        int left = 0;
        while ((msg = curl_multi_info_read(f->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                on_done(&u, msg->easy_handle, msg->data.result);
        if (u.remaining == 0 || (u.ready_count && u.running < f->concurrency))
            continue;
        curl_multi_poll(f->multi, NULL, 0, wait_ms(&u), NULL);
    }
    for (size_t i = 0; i < n; i++) {
        free(u.tasks[i].url);
        free(u.tasks[i].path);
        free(u.tasks[i].host);
    }
    free(u.tasks);
    free(u.ready);
    free(u.delayed);
}
