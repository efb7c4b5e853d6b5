/* json_parse() against cJSON's own parser, for tests and the fuzzer. */
#ifndef STREAMER_TEST_JSON_DIFF_H
#define STREAMER_TEST_JSON_DIFF_H

#include <stddef.h>

/*
 * Parses `len` bytes at `text` with json_parse() and with
 * cJSON_ParseWithLengthOpts(), both with `require_null_terminated`, and
 * compares: both refuse, or both accept with the same end and the same
 * tree (types, names, string bytes, numbers, order, links). 0 when they
 * agree; else -1 with what differs in `why`.
 */
int json_diff(const char *text, size_t len, int require_null_terminated,
              char *why, size_t why_len);

/*
 * Calls `each` with the text of every sample event (the .json files in
 * deploy/events under $STREAMER_ROOT, else the working directory): `len`
 * bytes, NUL-terminated. Returns how many, or -1 when the folder or a
 * file cannot be read.
 */
int json_sample_events(void (*each)(const char *text, size_t len));

#endif
