/* DynamoDB table administration: create, describe, wait, TTL, delete. */
#ifndef STREAMER_DDB_ADMIN_H
#define STREAMER_DDB_ADMIN_H

#include "ddb.h"

/*
 * Control-plane calls, used by store/tables.c, the local stack and tests;
 * the handlers never make them. Each fails as the data-plane calls do
 * (ddb.h): RESULT_INVALID_INPUT naming the field for a missing table or
 * attribute name, the service's error mapped by aws_error_parse()
 * otherwise, details in `err` (may be NULL).
 */

/*
 * CreateTable with the request JSON as the API takes it (borrowed).
 * RESULT_ALREADY_EXISTS when the table exists; RESULT_INVALID_INPUT
 * ("request") without a TableName, before any call. Does not wait for the
 * table: see ddb_wait_active().
 */
enum result ddb_create_table(struct ddb *d, const cJSON *request,
                             int64_t deadline_ms,
                             struct error_info *err) WARN_UNUSED;

/*
 * DescribeTable: `*description` gets the answer's "Table" object (caller
 * owns; cJSON_Delete), untouched on failure. RESULT_NOT_FOUND when there
 * is no such table; RESULT_PARSE when the answer has no Table object.
 */
enum result ddb_describe_table(struct ddb *d, const char *table,
                               int64_t deadline_ms, cJSON **description,
                               struct error_info *err) WARN_UNUSED;

/*
 * Polls DescribeTable (50 ms doubling to 1 s apart) until the table and
 * every global secondary index are ACTIVE. RESULT_TIMEOUT when they are
 * not by the deadline (0: the AWS SDKs' waiter time, 500 s);
 * RESULT_NOT_FOUND when there is no such table; RESULT_PARSE for an
 * answer without TableStatus.
 */
enum result ddb_wait_active(struct ddb *d, const char *table,
                            int64_t deadline_ms,
                            struct error_info *err) WARN_UNUSED;

/*
 * UpdateTimeToLive on `attribute`: enabling it again when enabled (or
 * disabling when disabled) is RESULT_OK; TTL active on another attribute
 * is RESULT_INVALID_INPUT from the service. An empty table or attribute
 * name is RESULT_INVALID_INPUT before any call.
 */
enum result ddb_update_ttl(struct ddb *d, const char *table,
                           const char *attribute, int enabled,
                           int64_t deadline_ms,
                           struct error_info *err) WARN_UNUSED;

/* DeleteTable, without waiting for the deletion to end. RESULT_NOT_FOUND
 * when there is no such table. */
enum result ddb_delete_table(struct ddb *d, const char *table,
                             int64_t deadline_ms,
                             struct error_info *err) WARN_UNUSED;

#endif
