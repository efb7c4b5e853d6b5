/* The built-in actions: ping, echo, (un)subscribe, status, cancel. */
#ifndef STREAMER_BUILTIN_H
#define STREAMER_BUILTIN_H

#include "message_int.h"

/*
 * A built-in action: answers `m` at once (docs/protocol.md, "Built-in
 * actions"), from the store where it must. Returns the reply text, an
 * error reply included; caller owns it, free with free(). Never NULL.
 */
typedef char *(*builtin_fn)(struct message *m);

/* The built-in action called `name`, or NULL when there is none. */
builtin_fn builtin_find(const char *name);

#endif
