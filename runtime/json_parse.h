/* JSON text read into a cJSON tree, as cJSON's parser reads it. */
#ifndef STREAMER_JSON_PARSE_H
#define STREAMER_JSON_PARSE_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * cJSON_ParseWithLengthOpts(text, len, end, require_null_terminated) in
 * fewer instructions: the same text accepted or refused, the same tree
 * (node for node, allocated through cJSON's hooks, so cJSON_Delete()
 * frees it and json_arena.c's arena holds it) and, on success, the same
 * `*end`. json_parse.c says what cJSON 1.7.15 accepts. Unlike cJSON it
 * leaves cJSON_GetErrorPtr() alone (Streamer does not read it), and on
 * failure `*end` points at or near where reading stopped.
 */
cJSON *json_parse(const char *text, size_t len, const char **end,
                  int require_null_terminated);

#endif
