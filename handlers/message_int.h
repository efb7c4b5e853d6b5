/* What message.c shares with the actions that answer a message. */
#ifndef STREAMER_MESSAGE_INT_H
#define STREAMER_MESSAGE_INT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "app.h"
#include "connections.h"
#include "result.h"

/* docs/protocol.md: a client's "id" is 1-128 characters. */
#define MESSAGE_MAX_ID_BYTES 128

/*
 * One message being handled: message.c fills it from the envelope and
 * the sender's connection; the action that answers borrows it.
 */
struct message {
    struct app *a;
    int64_t deadline_ms;
    const char *connection_id;
    struct connection conn; /* the sender, once looked up */
    cJSON *root;            /* the parsed body */
    const char *action;
    const char *id; /* the client's id, or NULL */
    const cJSON *payload;
    char reply_id[MESSAGE_MAX_ID_BYTES + 1]; /* id, or a fresh UUID */
};

/*
 * The error reply `code` for `request_id` (may be NULL) with the message
 * `text` and `details` (may be NULL; takes ownership), counted (metric
 * MessageRejected by code). Returns the reply text; caller owns it, free
 * with free(). Aborts when memory is exhausted.
 */
char *message_reject(struct message *m, const char *request_id,
                     const char *code, const char *text, cJSON *details);

/*
 * The error reply `code` with the message `text` and, when `field` is
 * neither NULL nor "", details {"field": field}; counts the rejection
 * (metric MessageRejected by code) and logs it. Returns the reply text;
 * caller owns it, free with free(). Aborts when memory is exhausted.
 */
char *message_fail(struct message *m, const char *code, const char *text,
                   const char *field);

/*
 * A store call's failure `r` that the client cannot fix: logged with
 * `e`'s details, answered with a generic INTERNAL_ERROR reply (as
 * message_fail()). Caller owns the result; free with free().
 */
char *message_internal(struct message *m, const struct error_info *e,
                       enum result r);

#endif
