/* Logging: one record per line on stdout, text or JSON (Lambda's formats). */
#ifndef STREAMER_LOG_H
#define STREAMER_LOG_H

#include <stdio.h>

#include "result.h"

enum log_level {
    LOG_TRACE = 0,
    LOG_DEBUG,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
    LOG_FATAL,
};

/*
 * Reads AWS_LAMBDA_LOG_FORMAT (Text|JSON) and AWS_LAMBDA_LOG_LEVEL
 * (TRACE..FATAL, any case) through `get` (getenv when NULL). Lambda's
 * advanced logging controls: "Configuring JSON and plain text log formats".
 * Returns RESULT_CONFIG naming the variable when a value is not allowed;
 * then the defaults (Text, INFO) stay in force.
 */
enum result log_init(const char *(*get)(const char *name),
                     struct error_info *err) WARN_UNUSED;

/* Sends records to `out` instead of stdout (tests); NULL restores stdout. */
void log_set_stream(FILE *out);

/* The request id stamped on each record until the next call; NULL clears. */
void log_set_request_id(const char *request_id);

/* True when records of `level` are written. */
int log_enabled(enum log_level level);

/* Writes a record with a printf-formatted message. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Writes a record with extra fields: pairs of (const char *key,
 * const char *value), ended by NULL. In JSON they become string members
 * of the record; in text they follow the message as key=value.
 */
void log_kv(enum log_level level, const char *message, ...)
    __attribute__((sentinel));

/*
 * Writes `line` and a newline as is, whatever the level and format: for
 * records with a format of their own, such as CloudWatch EMF.
 */
void log_raw(const char *line);

struct buf;

/*
 * Appends `s` (NULL as "") to `b` as a JSON string, quotes included,
 * escaped byte for byte as cJSON prints strings (RFC 8259 section 7):
 * \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00xx (lower-case
 * hex), all other bytes as they are. For lines written without building
 * a cJSON tree (JSON log records, metrics.c's EMF records).
 * RESULT_TOO_LARGE past b's cap; `b` may then hold part of the string.
 */
enum result log_json_string(struct buf *b, const char *s) WARN_UNUSED;

/* Returns "TRACE".."FATAL". */
const char *log_level_str(enum log_level level);

#endif
