/* Telling a request's subscribers: who listens, and pushes to all at once. */
#include "notify.h"

#include <stdlib.h>
#include <string.h>

#include "connections.h"
#include "fanout.h"
#include "log.h"
#include "push.h"
#include "subscriptions.h"
#include "xmalloc.h"

#define URL_BYTES 1024

void notify_init(struct notify *n, struct app *a, const char *tenant_id,
                 const char *user_id, const char *request_id,
                 int64_t interval_ms)
{
    memset(n, 0, sizeof(*n));
    n->a = a;
    n->tenant_id = xstrdup(tenant_id);
    n->user_id = xstrdup(user_id);
    n->request_id = xstrdup(request_id);
    n->interval_ms = interval_ms;
}

static void listeners_free(struct notify_listener *l, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(l[i].connection_id);
        free(l[i].url);
    }
    free(l);
}

void notify_cleanup(struct notify *n)
{
    listeners_free(n->listeners, n->count);
    free(n->tenant_id);
    free(n->user_id);
    free(n->request_id);
    memset(n, 0, sizeof(*n));
}

static int by_connection(const void *a, const void *b)
{
    return strcmp(((const struct notify_listener *)a)->connection_id,
                  ((const struct notify_listener *)b)->connection_id);
}

/* The known listener `id`, or NULL. */
static struct notify_listener *known(const struct notify *n, const char *id)
{
    struct notify_listener key = {.connection_id = (char *)id};
    if (n->count == 0)
        return NULL;
    return bsearch(&key, n->listeners, n->count, sizeof(key), by_connection);
}

/* Every subscription of the request (all pages); NULL on failure. */
static struct subscription *list_subs(struct notify *n, size_t *count,
                                      int64_t deadline_ms)
{
    struct subscription *subs = NULL;
    size_t len = 0;
    char *cursor = NULL;
    do {
        struct sub_page page = {0};
        struct error_info err;
        enum result r = sub_list_by_request(&n->a->store, n->tenant_id,
                                            n->user_id, n->request_id, 0,
                                            cursor, &page, deadline_ms, &err);
        free(cursor);
        cursor = NULL;
        if (r != RESULT_OK) {
            log_kv(LOG_WARN, "listing subscribers failed", "requestId",
                   n->request_id, "error", err.message, (char *)NULL);
            for (size_t i = 0; i < len; i++)
                sub_cleanup(&subs[i]);
            free(subs);
            return NULL;
        }
        subs = xrealloc(subs, (len + page.count + 1) * sizeof(*subs));
        if (page.count)
            memcpy(subs + len, page.items, page.count * sizeof(*subs));
        len += page.count;
        free(page.items);
        page.items = NULL;
        page.count = 0;
        cursor = page.next_cursor;
        page.next_cursor = NULL;
        sub_page_cleanup(&page);
    } while (cursor);
    *count = len;
    return subs ? subs : xcalloc(1, sizeof(*subs));
}

/* The connections of `subs` not known yet, in one BatchGetItem per 100:
 * their Management API URLs in `urls` (NULL for those not found). */
static int resolve_new(struct notify *n, const struct subscription *subs,
                       size_t count, char **urls, int64_t deadline_ms)
{
    const char **ids = xcalloc(count + 1, sizeof(*ids));
    size_t *at = xcalloc(count + 1, sizeof(*at));
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        const struct notify_listener *k = known(n, subs[i].connection_id);
        if (k) {
            urls[i] = k->url ? xstrdup(k->url) : NULL;
        } else {
            ids[m] = subs[i].connection_id;
            at[m++] = i;
        }
    }
    struct connection *conns = NULL;
    struct error_info err;
    int ok = 1;
    if (m > 0 && conn_batch_get(&n->a->store, ids, m, &conns, deadline_ms,
                                &err) != RESULT_OK) {
        log_kv(LOG_WARN, "reading subscribers' connections failed", "requestId",
               n->request_id, "error", err.message, (char *)NULL);
        ok = 0;
    }
    for (size_t j = 0; ok && j < m; j++) {
        char url[URL_BYTES];
        if (conns[j].connection_id &&
            push_endpoint_url(n->a, conns[j].endpoint, url, sizeof(url),
                              &err) == RESULT_OK)
            urls[at[j]] = xstrdup(url);
    }
    conn_array_free(conns, m);
    free(ids);
    free(at);
    return ok;
}

/*
 * Reads who listens now. On a failed read the previous list is kept. A
 * subscriber whose connection is not stored (gone) is left out.
 */
static void load(struct notify *n, int64_t deadline_ms)
{
    size_t count = 0;
    struct subscription *subs = list_subs(n, &count, deadline_ms);
    if (!subs)
        return;
    char **urls = xcalloc(count + 1, sizeof(*urls));
    if (resolve_new(n, subs, count, urls, deadline_ms)) {
        struct notify_listener *next = xcalloc(count + 1, sizeof(*next));
        size_t len = 0;
        for (size_t i = 0; i < count; i++) {
            if (!urls[i])
                continue;
            next[len].connection_id = xstrdup(subs[i].connection_id);
            next[len].url = urls[i];
            next[len++].events = subs[i].event_types;
            urls[i] = NULL;
        }
        qsort(next, len, sizeof(*next), by_connection);
        listeners_free(n->listeners, n->count);
        n->listeners = next;
        n->count = len;
        n->loaded_ms = n->a->now_ms();
    }
    for (size_t i = 0; i < count; i++) {
        free(urls[i]);
        sub_cleanup(&subs[i]);
    }
    free(urls);
    free(subs);
}

/* Deletes gone connections (one batch) and then their subscriptions. */
static void forget(struct app *a, const char **ids, size_t m,
                   int64_t deadline_ms)
{
    struct error_info err;
    if (m == 0)
        return;
    if (conn_delete_many(&a->store, ids, m, deadline_ms, &err) != RESULT_OK)
        log_kv(LOG_WARN, "deleting gone connections failed", "error",
               err.message, (char *)NULL);
    for (size_t i = 0; i < m; i++) {
        size_t deleted = 0;
        log_kv(LOG_INFO, "client gone; forgetting it", "connectionId", ids[i],
               (char *)NULL);
        if (sub_delete_by_connection(&a->store, ids[i], deadline_ms, &deleted,
                                     &err) != RESULT_OK)
            log_kv(LOG_WARN,
                   "deleting a gone connection's subscriptions "
                   "failed",
                   "connectionId", ids[i], "error", err.message, (char *)NULL);
    }
}

static struct fanout_msg *messages(char *const *frames, size_t count)
{
    struct fanout_msg *m = xcalloc(count + 1, sizeof(*m));
    for (size_t i = 0; i < count; i++)
        m[i] = (struct fanout_msg){frames[i], strlen(frames[i])};
    return m;
}

size_t notify_send(struct notify *n, unsigned event, char *const *frames,
                   size_t count, int fresh, int64_t deadline_ms)
{
    if (fresh || n->loaded_ms == 0 ||
        n->a->now_ms() - n->loaded_ms >= n->interval_ms)
        load(n, deadline_ms);
    struct fanout_msg *msgs = messages(frames, count);
    struct fanout_target *t = xcalloc(n->count + 1, sizeof(*t));
    struct notify_listener **who = xcalloc(n->count + 1, sizeof(*who));
    size_t m = 0, delivered = 0, gone = 0;
    for (size_t i = 0; i < n->count; i++) {
        struct notify_listener *l = &n->listeners[i];
        if (!(l->events & event))
            continue;
        t[m] = (struct fanout_target){.endpoint = l->url,
                                      .connection_id = l->connection_id,
                                      .msgs = msgs,
                                      .count = count};
        who[m++] = l;
    }
    fanout_send(n->a->fanout, t, m, deadline_ms);
    const char **gone_ids = xcalloc(m + 1, sizeof(*gone_ids));
    for (size_t i = 0; i < m; i++) {
        if (t[i].result == RESULT_OK) {
            delivered++;
        } else if (t[i].result == RESULT_NOT_FOUND) {
            who[i]->events = 0;
            gone_ids[gone++] = who[i]->connection_id;
        } else {
            log_kv(LOG_WARN, "push failed", "connectionId", t[i].connection_id,
                   "requestId", n->request_id, "error", t[i].err.message,
                   (char *)NULL);
        }
    }
    forget(n->a, gone_ids, gone, deadline_ms);
    free(gone_ids);
    free(who);
    free(t);
    free(msgs);
    return delivered;
}

enum result notify_push_one(struct app *a, const char *connection_id,
                            const char *endpoint, char *const *frames,
                            size_t count, int64_t deadline_ms,
                            struct error_info *err)
{
    char url[URL_BYTES];
    enum result r = push_endpoint_url(a, endpoint, url, sizeof(url), err);
    if (r != RESULT_OK)
        return r;
    struct fanout_msg *msgs = messages(frames, count);
    struct fanout_target t = {.endpoint = url,
                              .connection_id = connection_id,
                              .msgs = msgs,
                              .count = count};
    fanout_send(a->fanout, &t, 1, deadline_ms);
    free(msgs);
    r = t.result;
    if (r != RESULT_OK && err)
        *err = t.err;
    if (r == RESULT_NOT_FOUND)
        forget(a, &connection_id, 1, deadline_ms);
    return r;
}
