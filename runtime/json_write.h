/* cJSON trees written as compact JSON, as cJSON_PrintUnformatted() would. */
#ifndef STREAMER_JSON_WRITE_H
#define STREAMER_JSON_WRITE_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * `item` as compact JSON, byte for byte what cJSON_PrintUnformatted()
 * gives (json_write.c says what that is), with its length in `*len`
 * when `len` is not NULL. NULL when `item` is NULL or holds an invalid
 * node or a raw node without text, as cJSON's printer fails. Caller owns
 * the result; free with free(). Aborts on OOM.
 */
char *json_write(const cJSON *item, size_t *len);

/* The escape JSON text needs for `c`, a byte below 0x20, '"' or '\\', as
 * cJSON writes it (\n, \", \u001f, ...) into `out`; its length, 2 or 6. */
size_t json_escape(unsigned char c, char out[6]);

#endif
