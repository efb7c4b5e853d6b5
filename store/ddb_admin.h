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
 * RESULT_ALREADY_EXISTS when the table exists.
 */
enum result ddb_create_table(struct ddb *d, const cJSON *request,
                             int64_t deadline_ms,
                             struct error_info *err) WARN_UNUSED;

/* DescribeTable: `*table` gets the "Table" object (caller owns). */
enum result ddb_describe_table(struct ddb *d, const char *table,
                               int64_t deadline_ms, cJSON **description,
                               struct error_info *err) WARN_UNUSED;

/* Polls DescribeTable until TableStatus is ACTIVE or the deadline passes. */
enum result ddb_wait_active(struct ddb *d, const char *table,
                            int64_t deadline_ms,
                            struct error_info *err) WARN_UNUSED;

/* UpdateTimeToLive; enabling it again when enabled is RESULT_OK. */
enum result ddb_update_ttl(struct ddb *d, const char *table,
                           const char *attribute, int enabled,
                           int64_t deadline_ms,
                           struct error_info *err) WARN_UNUSED;

/* DeleteTable. RESULT_NOT_FOUND when there is no such table. */
enum result ddb_delete_table(struct ddb *d, const char *table,
                             int64_t deadline_ms,
                             struct error_info *err) WARN_UNUSED;

#endif
