/* The subscriptions store: which connection hears which request. */
#ifndef STREAMER_SUBSCRIPTIONS_H
#define STREAMER_SUBSCRIPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "result.h"
#include "store.h"

#define SUB_TTL_SECONDS (24 * 3600)

/* Event types a subscriber hears (a bit set). */
enum sub_event {
    SUB_PROGRESS = 1,
    SUB_COMPLETE = 2,
    SUB_ERROR = 4,
    SUB_ALL = 7,
};

/* "progress" | "complete" | "error" → its bit in `*bit`; anything else
 * (NULL included) is RESULT_INVALID_INPUT, `*bit` then untouched. */
enum result sub_event_parse(const char *name, unsigned *bit) WARN_UNUSED;

/*
 * A subscription (docs/data-model.md): pk CONN#<connection_id>, sk "SUB#" +
 * the request key (store_request_key(): the request's tenant, user and
 * id), which it also keeps as request_key, the request-index's hash key;
 * event_types stored as a string set. A request is named by all three
 * ids, as request ids are unique per user only. Strings owned; free
 * with sub_cleanup().
 */
struct subscription {
    char *connection_id;
    char *request_id;
    char *tenant_id; /* the request's owner */
    char *user_id;
    char *subscription_id; /* "<connection_id>#<request key>" */
    unsigned event_types;  /* enum sub_event bits */
    char created_at[CLOCK_RFC3339_SIZE];
    char updated_at[CLOCK_RFC3339_SIZE];
    int64_t version;
    int64_t ttl;
};

/* A page of subscriptions. Free with sub_page_cleanup(). */
struct sub_page {
    struct subscription *items;
    size_t count;
    char *next_cursor; /* NULL on the last page */
};

/* Frees what `s` holds and zeroes it; safe on a zeroed struct. */
void sub_cleanup(struct subscription *s);
/* Frees the page's subscriptions and cursor and zeroes it; safe on a
 * zeroed page. */
void sub_page_cleanup(struct sub_page *p);

/*
 * Subscribes sub->connection_id to the request sub->request_id of
 * sub->user_id of sub->tenant_id for sub->event_types (0: all). Subscribing
 * again replaces the event types (a conditional update of the existing item,
 * version + 1). Fills the stored fields (subscription_id is the struct's,
 * freed by sub_cleanup()). RESULT_INVALID_INPUT naming the field for a
 * bad id or event type, before any call.
 */
enum result sub_subscribe(struct store *s, struct subscription *sub,
                          int64_t deadline_ms,
                          struct error_info *err) WARN_UNUSED;

/*
 * The item a first sub_subscribe() of `sub` would put (event_types 0:
 * all), for a caller that writes it in a transaction with other items.
 * Fills sub's stored fields (subscription_id, timestamps, version 1, ttl)
 * and `*item` (caller owns). RESULT_INVALID_INPUT naming the field for a
 * bad id or event type; then `*item` is untouched.
 */
enum result sub_new_item(struct store *s, struct subscription *sub,
                         cJSON **item, struct error_info *err) WARN_UNUSED;

/* Removes one subscription; RESULT_NOT_FOUND when there was none;
 * RESULT_INVALID_INPUT for a bad id, before any call. */
enum result sub_unsubscribe(struct store *s, const char *connection_id,
                            const char *tenant_id, const char *user_id,
                            const char *request_id, int64_t deadline_ms,
                            struct error_info *err) WARN_UNUSED;

/*
 * A connection's subscriptions (by the base table's pk, strongly
 * consistent), one page of at most `limit` (1..100; 0 = 100) resumed from
 * `cursor` (NULL for the first). `*page` is zeroed first and filled on
 * success (caller owns; free with sub_page_cleanup(), which is safe after
 * any result). RESULT_INVALID_INPUT naming "connection_id" or "cursor";
 * RESULT_PARSE for an item that is not a subscription. On failure
 * `*page` is empty.
 */
enum result sub_list_by_connection(struct store *s, const char *connection_id,
                                   int limit, const char *cursor,
                                   struct sub_page *page, int64_t deadline_ms,
                                   struct error_info *err) WARN_UNUSED;

/*
 * The subscribers of a user's request (the request-index GSI, on the
 * request key: never another user's request of the same id), one page,
 * as sub_list_by_connection(): `*page` zeroed first, filled on success
 * (caller owns; free with sub_page_cleanup()), empty on failure.
 * RESULT_INVALID_INPUT naming a bad id or "cursor".
 */
enum result sub_list_by_request(struct store *s, const char *tenant_id,
                                const char *user_id, const char *request_id,
                                int limit, const char *cursor,
                                struct sub_page *page, int64_t deadline_ms,
                                struct error_info *err) WARN_UNUSED;

/*
 * Deletes every subscription of a connection: Query on its pk, then
 * BatchWriteItem. `*deleted` (may be NULL) gets the count (0 on
 * failure). RESULT_INVALID_INPUT for a bad id, before any call;
 * RESULT_THROTTLED when some stay unprocessed.
 */
enum result sub_delete_by_connection(struct store *s, const char *connection_id,
                                     int64_t deadline_ms, size_t *deleted,
                                     struct error_info *err) WARN_UNUSED;

#endif
