/* Results too big for one message, sent as ordered parts. */
#include "parts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "xmalloc.h"

/* Prints and frees `o`. */
static char *print(cJSON *o)
{
    char *s = xjson_print(o);
    cJSON_Delete(o);
    return s;
}

/* The bytes cJSON writes for `c` inside a JSON string. */
static size_t escaped_bytes(unsigned char c)
{
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
        c == '\r' || c == '\t')
        return 2;
    return c < 0x20 ? 6 : 1;
}

/* The length of the next part from `text`: at most PARTS_DATA_BYTES
 * once escaped, cut before a UTF-8 lead byte or an ASCII byte. */
static size_t next_cut(const char *text, size_t len)
{
    size_t cost = 0, i = 0, cut = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) != 0x80)
            cut = i; /* a boundary: the part may end before this byte */
        cost += escaped_bytes(c);
        if (cost > PARTS_DATA_BYTES)
            return cut > 0 ? cut : i;
    }
    return len;
}

char **parts_split(const char *request_id, const char *text, size_t len,
                   size_t *count)
{
    size_t n = 0, cap = 4;
    char **frames = xcalloc(cap, sizeof(*frames));
    size_t *lens = xcalloc(cap, sizeof(*lens));
    const char **starts = xcalloc(cap, sizeof(*starts));
    for (size_t at = 0; at < len || n == 0;) {
        size_t take = next_cut(text + at, len - at);
        if (n == cap) {
            cap *= 2;
            frames = xrealloc(frames, cap * sizeof(*frames));
            lens = xrealloc(lens, cap * sizeof(*lens));
            starts = xrealloc(starts, cap * sizeof(*starts));
        }
        starts[n] = text + at;
        lens[n++] = take;
        at += take;
        if (take == 0)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *o = xjson(cJSON_CreateObject());
        xjson_add(o, "type", cJSON_CreateString("result_part"));
        xjson_add(o, "request_id", cJSON_CreateString(request_id));
        xjson_add(o, "index", cJSON_CreateNumber((double)i));
        xjson_add(o, "parts", cJSON_CreateNumber((double)n));
        char *slice = xstrndup(starts[i], lens[i]);
        xjson_add(o, "data", cJSON_CreateString(slice));
        free(slice);
        frames[i] = print(o);
    }
    free(lens);
    free(starts);
    *count = n;
    return frames;
}

char **parts_complete(const char *request_id, const cJSON *result,
                      const char *timestamp, size_t *count)
{
    char *whole = reply_complete(request_id, result, timestamp);
    if (strlen(whole) <= PARTS_MAX_FRAME_BYTES) {
        char **frames = xcalloc(1, sizeof(*frames));
        frames[0] = whole;
        *count = 1;
        return frames;
    }
    free(whole);
    char *text = xjson_print(result);
    size_t len = strlen(text), n = 0;
    char **parts = parts_split(request_id, text, len, &n);
    cJSON_free(text);
    char **frames = xcalloc(n + 1, sizeof(*frames));
    cJSON *head = xjson(cJSON_CreateObject());
    xjson_add(head, "type", cJSON_CreateString("complete"));
    xjson_add(head, "request_id", cJSON_CreateString(request_id));
    xjson_add(head, "result_parts", cJSON_CreateNumber((double)n));
    xjson_add(head, "result_bytes", cJSON_CreateNumber((double)len));
    xjson_add(head, "timestamp", cJSON_CreateString(timestamp));
    frames[0] = print(head);
    memcpy(frames + 1, parts, n * sizeof(*parts));
    free(parts);
    *count = n + 1;
    return frames;
}

void parts_free(char **frames, size_t count)
{
    for (size_t i = 0; frames && i < count; i++)
        free(frames[i]);
    free(frames);
}
