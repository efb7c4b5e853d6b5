/* Concurrent Management API pushes: non-blocking HTTP/1.1, keep-alive. */
#include "fanout.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "aws_env.h"
#include "aws_error.h"
#include "clock.h"
#include "http.h"
#include "http1.h"
#include "mgmt_int.h"
#include "retry.h"
#include "xmalloc.h"

#define SERVICE "execute-api"
#define CONTENT_TYPE "application/json"
#define MAX_ERROR_BODY_BYTES 1024
/* An answer's body is kept up to this (API Gateway's are a few hundred
 * bytes at most); aws_error_parse() reads its first
 * MAX_ERROR_BODY_BYTES. */
#define MAX_ANSWER_BODY_BYTES (64 * 1024)
#define MAX_POLL_MS 1000

/*
 * One connection of the pool: a runtime/http1.c client for one origin,
 * kept alive between pushes and between fanout_send() calls. Made when
 * first needed; replaced when a push for another origin takes the slot.
 */
struct slot {
    struct http1_client *conn;   /* NULL until first used */
    char *origin;                /* "scheme://host[:port]" of `conn` */
    struct http1_response *resp; /* the answer being read */
    struct task *k;              /* the push in flight; NULL when free */
    short events;                /* what its exchange waits for */
};

struct fanout {
    char *region;
    struct aws_env_credentials creds; /* wiped on free */
    struct sigv4_signer signer;
    struct retry_policy policy;
    SSL_CTX *tls; /* made at the first https:// push */
    struct slot *slots;
    int *free_slots; /* a stack of the free slots' indices */
    int free_count;
    int concurrency;
    int peak;
};

/* Where pushes go: one per endpoint met in a fanout_send(). */
struct dest {
    struct dest *next;
    char origin[300];      /* "scheme://host_header": the pool's key */
    char host[256];        /* for the client: a name or an IP literal */
    char host_header[264]; /* the Host header, signed */
    char base_path[512];   /* "/{stage}" */
    int port;
    int tls;
};

/* One target being worked on. */
struct task {
    struct fanout_target *t;
    const struct dest *d;
    char *path; /* the wire path, signed */
    int tries;  /* attempts for the current message */
    int64_t not_before_ms;
};

/* The state of one fanout_send(). */
struct run {
    struct fanout *f;
    int64_t deadline_ms;
    struct task *tasks;
    struct dest *dests;    /* the last one made first */
    const char *last_text; /* the endpoint text of dests */
    struct task **ready;   /* a FIFO of tasks to start */
    size_t head, tail;     /* ring indices over n slots */
    size_t ready_count;
    struct task **delayed; /* waiting for a backoff to end */
    size_t delayed_count;
    size_t n, remaining;
    int running;
    struct pollfd *fds;   /* one per exchange in flight */
    struct slot **polled; /* the slot of each */
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
    f->slots = xcalloc((size_t)f->concurrency, sizeof(*f->slots));
    f->free_slots = xcalloc((size_t)f->concurrency, sizeof(*f->free_slots));
    /* Slot 0 on top: at low load, pushes keep to the first connections. */
    for (int i = 0; i < f->concurrency; i++)
        f->free_slots[i] = f->concurrency - 1 - i;
    f->free_count = f->concurrency;
    return f;
}

static void slot_close(struct slot *s)
{
    http1_client_free(s->conn);
    s->conn = NULL;
    free(s->origin);
    s->origin = NULL;
}

void fanout_free(struct fanout *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->concurrency; i++) {
        slot_close(&f->slots[i]);
        if (f->slots[i].resp) {
            http1_response_cleanup(f->slots[i].resp);
            free(f->slots[i].resp);
        }
    }
    free(f->slots);
    free(f->free_slots);
    SSL_CTX_free(f->tls);
    sigv4_signer_cleanup(&f->signer);
    free(f->region);
    aws_env_credentials_cleanup(&f->creds);
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

/*
 * A free slot for a push to `d`, off the free stack: the topmost one for
 * d's origin (its connection may be open), else the topmost never used,
 * else the topmost, whose client is replaced. The TLS context (the trust
 * store of http.c) is made for the first https:// destination; NULL,
 * `e` set, when it cannot be.
 */
static struct slot *take_slot(struct fanout *f, const struct dest *d,
                              struct error_info *e)
{
    if (d->tls && !f->tls && !(f->tls = http_tls_context_new(e)))
        return NULL;
    int pick = f->free_count - 1;
    for (int i = f->free_count - 1; i >= 0; i--) {
        const struct slot *s = &f->slots[f->free_slots[i]];
        if (s->origin && strcmp(s->origin, d->origin) == 0) {
            pick = i;
            break;
        }
        if (!s->conn && f->slots[f->free_slots[pick]].conn)
            pick = i;
    }
    struct slot *s = &f->slots[f->free_slots[pick]];
    f->free_slots[pick] = f->free_slots[--f->free_count];
    if (!s->origin || strcmp(s->origin, d->origin) != 0) {
        slot_close(s);
        s->conn = http1_client_new(d->host, d->port, HTTP_CONNECT_TIMEOUT_MS);
        http1_client_use_tls(s->conn, d->tls ? f->tls : NULL);
        s->origin = xstrdup(d->origin);
    }
    if (!s->resp) {
        s->resp = xmalloc(sizeof(*s->resp));
        http1_response_init(s->resp, MAX_ANSWER_BODY_BYTES);
    }
    return s;
}

static void give_slot(struct fanout *f, struct slot *s)
{
    s->k = NULL;
    s->events = 0;
    f->free_slots[f->free_count++] = (int)(s - f->slots);
}

/* Where a target goes: its endpoint (parsed once for consecutive
 * targets that share it) and its wire path. */
static enum result locate(struct run *u, struct task *k, struct error_info *e)
{
    if (!u->last_text || strcmp(u->last_text, k->t->endpoint) != 0) {
        struct aws_env_endpoint ep;
        u->last_text = NULL;
        enum result r = aws_env_endpoint_parse(k->t->endpoint, &ep, e);
        if (r != RESULT_OK)
            return r;
        struct dest *d = xcalloc(1, sizeof(*d));
        snprintf(d->origin, sizeof(d->origin), "%s://%s", ep.scheme,
                 ep.host_header);
        snprintf(d->host, sizeof(d->host), "%s", ep.host);
        snprintf(d->host_header, sizeof(d->host_header), "%s", ep.host_header);
        snprintf(d->base_path, sizeof(d->base_path), "%s", ep.base_path);
        d->port = ep.port;
        d->tls = strcmp(ep.scheme, "https") == 0;
        d->next = u->dests;
        u->dests = d;
        u->last_text = k->t->endpoint;
    }
    char path[1024];
    enum result r = mgmt_path(u->dests->base_path, k->t->connection_id, path,
                              sizeof(path), e);
    if (r != RESULT_OK)
        return r;
    k->d = u->dests;
    k->path = xstrdup(path);
    return RESULT_OK;
}

/* Signs the target's next message and starts its exchange on a slot of
 * the pool; the slot, or NULL with `*r` and `e` saying why not. */
static struct slot *start(struct run *u, struct task *k, enum result *r,
                          struct error_info *e)
{
    struct fanout *f = u->f;
    const struct fanout_msg *m = &k->t->msgs[k->t->sent];
    int64_t now = retry_now_ms(&f->policy);
    long timeout_ms = FANOUT_TIMEOUT_MS;
    if (u->deadline_ms > 0) {
        int64_t left = u->deadline_ms - f->policy.margin_ms - now;
        if (left <= 0) {
            *r = error_set(e, RESULT_TIMEOUT, "DeadlineExceeded",
                           "no time left to push to %s", k->t->connection_id);
            return NULL;
        }
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
    struct sigv4_header signed_headers[] = {{"host", k->d->host_header},
                                            {"content-type", CONTENT_TYPE}};
    struct sigv4_request sreq = {"POST", k->path, NULL,  signed_headers,
                                 2,      m->data, m->len};
    struct sigv4_output sig;
    *r = sigv4_sign(&f->signer, &creds, &params, &sreq, &sig);
    if (*r != RESULT_OK) {
        *r = error_set(e, *r, "SigningFailed", "could not sign a push");
        return NULL;
    }
    struct slot *s = take_slot(f, k->d, e);
    if (!s) {
        *r = RESULT_TRANSPORT; /* no TLS context: `e` says why */
        return NULL;
    }
    /* http1_start() copies the headers into the request's head; the body
     * stays the caller's until the exchange ends. */
    const struct http1_header h[] = {
        {"Host", k->d->host_header},
        {"Content-Type", CONTENT_TYPE},
        {"X-Amz-Date", sig.amz_date},
        {"Authorization", sig.authorization},
        {"X-Amz-Security-Token", creds.session_token},
    };
    struct http1_request req = {
        .method = "POST",
        .path = k->path,
        .headers = h,
        .header_count = creds.session_token && *creds.session_token ? 5 : 4,
        .body = m->data,
        .body_len = m->len,
        .timeout_ms = timeout_ms,
        .connect_timeout_ms = timeout_ms < HTTP_CONNECT_TIMEOUT_MS
                                  ? timeout_ms
                                  : HTTP_CONNECT_TIMEOUT_MS,
    };
    *r = http1_start(s->conn, &req, s->resp, e);
    if (*r != RESULT_OK) {
        give_slot(f, s);
        return NULL;
    }
    s->k = k;
    k->tries++;
    k->t->attempts++;
    if (++u->running > f->peak)
        f->peak = u->running;
    return s;
}

/* An exchange ended with `rc` (`why` says how it failed): the next
 * message, a retry after a backoff, or the end of the target. */
static void on_done(struct run *u, struct slot *s, enum result rc,
                    const struct error_info *why)
{
    struct fanout *f = u->f;
    struct task *k = s->k;
    const struct http1_response *a = s->resp;
    /* An answer whose body is over the cap still has its status. */
    long status = rc == RESULT_OK || (rc == RESULT_TOO_LARGE && a->status)
                      ? a->status
                      : 0;
    struct error_info e;
    error_clear(&e);
    enum result r = RESULT_OK;
    if (!status)
        r = error_set(&e, rc,
                      rc == RESULT_TIMEOUT     ? "Timeout"
                      : rc == RESULT_TRANSPORT ? "TransportError"
                                               : why->type,
                      "push to %s: %s", k->t->connection_id, why->message);
    else if (status == 410)
        r = error_set(&e, RESULT_NOT_FOUND, "GoneException",
                      "connection %s is gone", k->t->connection_id);
    else if (status < 200 || status > 299)
        r = aws_error_parse((int)status, a->body.data ? a->body.data : "",
                            a->body.len < MAX_ERROR_BODY_BYTES
                                ? a->body.len
                                : MAX_ERROR_BODY_BYTES,
                            http1_response_header(a, "x-amzn-errortype"), &e);
    e.http_status = (int)status;
    give_slot(f, s);
    u->running--;
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

/* Takes a slot's exchange as far as it goes without waiting. */
static void advance(struct run *u, struct slot *s)
{
    enum result r = RESULT_OK;
    struct error_info e;
    error_clear(&e);
    short events = 0;
    if (http1_step(s->conn, &events, &r, &e))
        on_done(u, s, r, &e);
    else
        s->events = events;
}

/* Starts what may start: backoffs that ended, then ready tasks, each
 * taken as far as it goes at once (on a kept-alive connection, the
 * request is sent). */
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
        enum result r = RESULT_OK;
        struct slot *s = start(u, k, &r, &e);
        if (s)
            advance(u, s);
        else
            finish(u, k, r, &e);
    }
}

/*
 * Waits in one poll() for the exchanges in flight, at most until the
 * first backoff or exchange deadline ends, then steps each one that is
 * ready or due.
 */
static void wait_and_step(struct run *u)
{
    struct fanout *f = u->f;
    int64_t wait = MAX_POLL_MS;
    int64_t now = retry_now_ms(&f->policy);
    for (size_t i = 0; i < u->delayed_count; i++)
        if (u->delayed[i]->not_before_ms - now < wait)
            wait = u->delayed[i]->not_before_ms - now;
    int64_t mono = clock_monotonic_ms();
    nfds_t n = 0;
    for (int i = 0; i < f->concurrency; i++) {
        struct slot *s = &f->slots[i];
        if (!s->k)
            continue;
        int64_t by = http1_wake_ms(s->conn);
        if (by && by - mono < wait)
            wait = by - mono;
        u->fds[n] = (struct pollfd){http1_fd(s->conn), s->events, 0};
        u->polled[n++] = s;
    }
    if (poll(u->fds, n, wait < 0 ? 0 : (int)wait) < 0)
        return; /* EINTR: the caller comes back */
    mono = clock_monotonic_ms();
    for (nfds_t i = 0; i < n; i++) {
        struct slot *s = u->polled[i];
        int64_t by = http1_wake_ms(s->conn);
        if (u->fds[i].revents || (by && by <= mono))
            advance(u, s);
    }
}

/* Prepares the tasks; targets with nothing to send or no usable
 * endpoint are done at once. */
static void prepare(struct run *u, struct fanout_target *targets)
{
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
        else
            r = locate(u, k, &e);
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
    u.fds = xcalloc((size_t)f->concurrency, sizeof(*u.fds));
    u.polled = xcalloc((size_t)f->concurrency, sizeof(*u.polled));
    prepare(&u, targets);
    while (u.remaining > 0) {
        start_ready(&u);
        if (u.remaining > 0)
            wait_and_step(&u);
    }
    for (size_t i = 0; i < n; i++)
        free(u.tasks[i].path);
    while (u.dests) {
        struct dest *d = u.dests;
        u.dests = d->next;
        free(d);
    }
    free(u.tasks);
    free(u.ready);
    free(u.delayed);
    free(u.fds);
    free(u.polled);
}
