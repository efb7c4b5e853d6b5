/* Random UUIDv4 strings from OpenSSL's RAND_bytes. */
#ifndef STREAMER_UUID_H
#define STREAMER_UUID_H

#include "result.h"

#define UUID_STR_SIZE 37 /* 36 characters and the NUL */

/*
 * Writes a random version-4 UUID (RFC 9562 §5.4), lower-case, into `out`.
 * RESULT_INTERNAL when the random generator fails (then `out` is "").
 */
enum result uuid_v4(char out[UUID_STR_SIZE]) WARN_UNUSED;

#endif
