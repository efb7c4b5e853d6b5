/* base64 and base64url (RFC 4648): encoding, and strict decoding. */
#ifndef STREAMER_BASE64_H
#define STREAMER_BASE64_H

#include <stddef.h>

enum base64_alphabet {
    BASE64_STD, /* RFC 4648 §4: padded to a multiple of 4 with '=' */
    BASE64_URL, /* RFC 4648 §5 without padding (JWT, our cursors) */
};

/*
 * Decodes `n` characters of `in`. BASE64_STD: a multiple of 4 characters,
 * '=' only as the last one or two. BASE64_URL: no '=', a length that is
 * not 1 more than a multiple of 4. Any other character (blanks included)
 * is an error, and so is a non-canonical encoding: one whose last
 * character carries non-zero bits past the last byte (RFC 4648 §3.5). Returns a
 * malloc'd buffer of `*out_len` bytes followed by a NUL (caller frees), or
 * NULL.
 */
unsigned char *base64_decode(const char *in, size_t n,
                             enum base64_alphabet alphabet, size_t *out_len);

/*
 * Encodes the `n` bytes at `in`: BASE64_STD padded with '=', BASE64_URL
 * without padding. Returns a malloc'd NUL-terminated string (caller
 * frees); aborts when memory is exhausted, never returns NULL. When
 * `out_len` is not NULL it receives the string's length.
 */
char *base64_encode(const void *in, size_t n, enum base64_alphabet alphabet,
                    size_t *out_len);

#endif
