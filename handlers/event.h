/* Reading API Gateway WebSocket events: context, headers, query. */
#ifndef STREAMER_EVENT_H
#define STREAMER_EVENT_H

#include <cjson/cJSON.h>

/* requestContext.<name> as a string, or NULL. Owned by `event`. */
const char *event_ctx_str(const cJSON *event, const char *name);

/* requestContext.<name> as a number, or `fallback` when it is missing or
 * not a number. */
double event_ctx_num(const cJSON *event, const char *name, double fallback);

/*
 * A header, by case-insensitive name: headers first, then the first
 * value in multiValueHeaders. NULL when absent. Owned by `event`.
 */
const char *event_header(const cJSON *event, const char *name);

/* A query-string parameter (exact name), single- or multi-valued (the
 * first value); NULL when absent. Owned by `event`. */
const char *event_query(const cJSON *event, const char *name);

#endif
