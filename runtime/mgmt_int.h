/* Management API internals that tests and runtime/fanout.c reach. */
#ifndef STREAMER_MGMT_INT_H
#define STREAMER_MGMT_INT_H

#include <stddef.h>

#include "mgmt.h"
#include "result.h"

/*
 * Sets the retry settings (as aws_client_set_retry()) of every AWS client
 * `m` has made and will make. Cannot fail. For tests and fuzz targets.
 */
void mgmt_set_retry(struct mgmt *m, long base_ms, long cap_ms,
                    int max_attempts);

/*
 * Writes the wire path for a connection into `out` (`size` bytes):
 * base_path + "/%40connections/" + the id percent-encoded (RFC 3986
 * unreserved characters kept). RESULT_INVALID_INPUT with err->field
 * "connection_id" when the id is empty or over 128 bytes or the path does
 * not fit; then `out` is untouched. Shared with runtime/fanout.c, which
 * sends to the same paths.
 */
enum result mgmt_path(const char *base_path, const char *connection_id,
                      char *out, size_t size,
                      struct error_info *err) WARN_UNUSED;

#endif
