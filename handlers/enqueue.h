/* Async actions: check the payload, enqueue, subscribe, acknowledge. */
#ifndef STREAMER_ENQUEUE_H
#define STREAMER_ENQUEUE_H

#include "actions.h"
#include "message_int.h"

/*
 * Answers `m` for the registered async action `act`: checks the payload
 * (act->validate), then enqueues the request (the client's id, or a
 * fresh one, is its id) and subscribes the sender in one transaction,
 * and acknowledges. An acknowledgment means both are stored; an error
 * reply means neither is (VALIDATION_ERROR, PAYLOAD_TOO_LARGE,
 * DUPLICATE_REQUEST, RATE_LIMITED) or, when the store did not answer,
 * says that it may be ("queued": "unknown"). Returns the reply text;
 * caller owns it, free with free(). Never NULL.
 */
char *enqueue_request(struct message *m, const struct action *act);

#endif
