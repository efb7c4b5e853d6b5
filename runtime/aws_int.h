/* AWS client internals that tests reach: the retry loop's hooks. */
#ifndef STREAMER_AWS_INT_H
#define STREAMER_AWS_INT_H

#include "aws.h"
#include "retry.h"

/*
 * Replaces the clock, PRNG and sleep the retry loop uses (copied; NULL
 * members select the real ones; `hooks` NULL restores all defaults). The
 * clock also gives the signing time, so a test clock fixes x-amz-date.
 * Cannot fail. For tests and fuzz targets; never called by the bootstrap.
 */
void aws_client_set_hooks(struct aws_client *c,
                          const struct retry_hooks *hooks);

#endif
