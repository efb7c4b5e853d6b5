/* Creating the three tables with their indexes, stream and TTL. */
#ifndef STREAMER_TABLES_H
#define STREAMER_TABLES_H

#include "result.h"
#include "store.h"

/*
 * Creates the connections, requests and subscriptions tables of
 * docs/data-model.md (PAY_PER_REQUEST, their GSIs, a NEW_IMAGE stream on
 * requests), waits until each is ACTIVE, then enables TTL on `ttl`. Idempotent:
 * existing tables are left alone (TTL is still ensured).
 */
enum result tables_create_all(struct store *s, int64_t deadline_ms,
                              struct error_info *err) WARN_UNUSED;

/* Deletes the three tables (tests); missing ones are not an error. */
enum result tables_delete_all(struct store *s, int64_t deadline_ms,
                              struct error_info *err) WARN_UNUSED;

#endif
