/* HTTP internals that tests and fuzz targets reach: a transport hook. */
#ifndef STREAMER_HTTP_INT_H
#define STREAMER_HTTP_INT_H

#include <stddef.h>

#include "http.h"

/*
 * What stands in for the network: called by http_perform() after the
 * headers were checked, with `resp` reset; it fills `resp` (status,
 * headers through http_response_add_line(), body through buf_append(),
 * RESULT_TOO_LARGE when that refuses) and returns as http_perform() does.
 */
typedef enum result (*http_transport_fn)(void *ctx,
                                         const struct http_request *req,
                                         struct http_response *resp,
                                         struct error_info *err);

/*
 * Routes every client's requests in the process to `fn` instead of
 * the network (NULL restores it). For fuzz targets and tests that must
 * not touch the network; never set in the bootstrap.
 */
void http_set_transport(http_transport_fn fn, void *ctx);

/*
 * Reads one raw response header line as it comes off the wire
 * ("Name: value\r\n"): the name lower-cased, the value trimmed; a status
 * line ("HTTP/...") drops the headers so far; a line without ':' and
 * lines past HTTP_MAX_HEADERS are ignored. `line` need not be
 * NUL-terminated. Aborts on OOM.
 */
void http_response_add_line(struct http_response *r, const char *line,
                            size_t len);

#endif
