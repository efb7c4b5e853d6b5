/* The benchmark's events, made from the samples in deploy/events/. */
#ifndef STREAMER_BENCH_EVENTS_H
#define STREAMER_BENCH_EVENTS_H

/* The parsed sample events; built once. */
struct events;

/*
 * Reads connect.json, message.json and stream.json from `dir`. `token`
 * is the JWT every $connect carries. NULL (after printing why) when a
 * file is missing or not JSON. Free with events_free().
 */
struct events *events_load(const char *dir, const char *token);
void events_free(struct events *e);

/* Each returns JSON text; caller frees. */

/* $connect of `connection_id`, with the token in ?Authorization=. */
char *events_connect(const struct events *e, const char *connection_id);

/* The same with `token` instead of the one given to events_load(). */
char *events_connect_token(const struct events *e, const char *connection_id,
                           const char *token);

/* A $default message from `connection_id` whose body is `body`. */
char *events_message(const struct events *e, const char *connection_id,
                     const char *body);

/*
 * A DynamoDB Streams batch of one INSERT of the PENDING request
 * `request_id` (action process_data, payload {"items":[1,2,3]}, version
 * 1) as the enqueue of `connection_id` by `user_id` / `tenant_id` stored
 * it.
 */
char *events_stream(const struct events *e, const char *request_id,
                    const char *connection_id, const char *user_id,
                    const char *tenant_id);

#endif
