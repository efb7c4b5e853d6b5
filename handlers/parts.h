/* Results too big for one message, sent as ordered parts. */
#ifndef STREAMER_PARTS_H
#define STREAMER_PARTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

/*
 * API Gateway Developer Guide, "Amazon API Gateway quotas for WebSocket
 * APIs": a message (and so a PostToConnection body or a route response)
 * is at most 128 KB. A frame that would be larger is sent as a header
 * frame that says how many parts follow, then the result's JSON text cut
 * into `result_part` frames, each carrying at most PARTS_DATA_BYTES of
 * escaped text (docs/protocol: "Big results"):
 *   {"type":"result_part","request_id":R,"index":i,"parts":N,"data":"..."}
 * The client joins the `data` of parts 0..N-1 of R in index order and
 * parses the text as JSON.
 */
#define PARTS_MAX_FRAME_BYTES ((size_t)128 * 1024)
#define PARTS_DATA_BYTES ((size_t)96 * 1024)

/*
 * The frames that deliver a result to a subscriber: one `complete` when
 * it fits one message; else `{"type":"complete","request_id",
 * "result_parts":N,"result_bytes":B,"timestamp"}` and N parts. Returns
 * the frames (`*count` of them). Caller owns them; free with
 * parts_free().
 */
char **parts_complete(const char *request_id, const cJSON *result,
                      const char *timestamp, size_t *count);

/*
 * Cuts the JSON text `text` (`len` bytes, valid UTF-8) into part frames
 * for `request_id`, never inside a UTF-8 sequence. Returns the frames
 * (`*count`, at least 1). Caller owns them; free with parts_free().
 */
char **parts_split(const char *request_id, const char *text, size_t len,
                   size_t *count);

/* Frees frames and the array; NULL is a no-op. */
void parts_free(char **frames, size_t count);

#endif
