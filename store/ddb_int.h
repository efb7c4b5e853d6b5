/* DynamoDB client internals that tests and tools reach: retry tuning. */
#ifndef STREAMER_DDB_INT_H
#define STREAMER_DDB_INT_H

#include "aws_int.h"
#include "ddb.h"
#include "retry.h"

/*
 * ddb.c waits on its own between calls (BatchWriteItem's UnprocessedItems
 * backoff, ddb_wait_active()'s polls), with a retry policy of its own:
 * aws.h has no way to read the client's policy back. These two set the
 * client's (aws_client_set_hooks / aws_client_set_retry) and ddb's own
 * together, so a test clock and a fake sleep reach every wait. Setting
 * the hooks on ddb_aws() alone leaves ddb's own waits on the real clock.
 * Arguments as in aws.h; neither can fail.
 */
void ddb_set_hooks(struct ddb *d, const struct retry_hooks *hooks);
void ddb_set_retry(struct ddb *d, long base_ms, long cap_ms, int max_attempts);

#endif
