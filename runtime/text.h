/* Checks and cuts on UTF-8 text (RFC 3629); strings joined without printf. */
#ifndef STREAMER_TEXT_H
#define STREAMER_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the UTF-8 sequence that starts at `p` (1 to 4), given `left`
 * bytes from `p` on; 0 when it is not a valid sequence: a stray
 * continuation byte, a truncated sequence, an overlong form, a surrogate
 * (U+D800..U+DFFF) or a code point past U+10FFFF. Does not look past
 * `left` bytes. NUL (0x00) is a valid one-byte sequence here.
 */
size_t utf8_seq_len(const unsigned char *p, size_t left);

/* Whether the `n` bytes at `s` are strict UTF-8 (see utf8_seq_len). */
bool utf8_valid(const char *s, size_t n);

/*
 * The number of bytes of the longest prefix of the NUL-terminated `s`
 * that is at most `max` bytes and does not end inside a UTF-8 sequence
 * (a cut one would make the whole text invalid). strlen(s) when that is
 * at most `max`.
 */
size_t utf8_prefix_len(const char *s, size_t max);

/* The prefix above as a new string (xmalloc: aborts on exhaustion). */
char *utf8_prefix(const char *s, size_t max);

/*
 * Whether the `len` bytes of JSON text hold a NUL character: a raw byte,
 * or the escape \u0000, which cJSON would turn into a string silently cut
 * short (an id "a\u0000b" would become "a"). Backslashes occur only in
 * strings in JSON that parses, so no string tracking is needed.
 */
bool json_text_has_nul(const char *text, size_t len);

/*
 * Joins the NUL-terminated strings that follow `size`, up to a NULL, into
 * `dst` (`size` > 0 bytes, always NUL-terminated, cut to fit), as
 * snprintf(dst, size, "%s%s...", ...) would without parsing a format:
 * hot paths build keys, paths and headers this way. Returns the length
 * of the whole join: `size` or more when it was cut.
 */
size_t text_join(char *dst, size_t size, ...) __attribute__((sentinel));

/* `v` in decimal into `out`, NUL-terminated; returns its length. */
size_t text_u64(char out[21], unsigned long long v);
/* The same for a signed `v` ('-' first when negative, INT64_MIN too). */
size_t text_i64(char out[21], long long v);

#endif
