/* An in-memory AWS for fuzz targets: no network, answers by the request. */
#ifndef STREAMER_FUZZ_FAKE_AWS_H
#define STREAMER_FUZZ_FAKE_AWS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "app.h"

/*
 * The process's app, built once through app_init() with fixed settings
 * (tables, region, fake credentials, a JWT key made now) and every HTTP
 * request routed to the fake (http_set_transport): DynamoDB answers
 * GetItem with a stored connection ("c1", user "u1", tenant "t1") or a
 * PENDING request ("r1", the same user's), Query and Scan with no items,
 * and every write with {}; the Management API answers 200. No retries,
 * no sleeps. Logs and metrics go to /dev/null. Aborts when it cannot.
 */
struct app *fake_aws_app(void);

/* The RSA key whose public half the app's JWT verifier holds. */
EVP_PKEY *fake_aws_jwt_key(void);

/*
 * Every DynamoDB call gets this answer instead (status, body, and the
 * X-Amzn-ErrorType header when `type` is not NULL) until
 * fake_aws_answer_clear(). Borrowed: keep them alive until cleared.
 */
void fake_aws_answer(int status, const char *body, size_t len,
                     const char *type);
void fake_aws_answer_clear(void);

/* now + `ms`, epoch ms: a deadline that leaves no time to sleep. */
int64_t fake_aws_deadline(int64_t ms);

/* A broken invariant is a bug: print `what` and abort, so libFuzzer keeps
 * the input. */
void fake_aws_require(int ok, const char *what);

#endif
