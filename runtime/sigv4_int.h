/* SigV4 signing stages, exposed for tests (not part of the public API). */
#ifndef STREAMER_SIGV4_INT_H
#define STREAMER_SIGV4_INT_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "result.h"
#include "sigv4.h"

/* The most bytes a canonical request (or a step of one) may take. */
#define SIGV4_CANONICAL_MAX_BYTES (1024 * 1024)

/*
 * Each stage follows one step of the IAM User Guide's "Create a signed
 * AWS API request". Stages that append to a `struct buf` may leave a
 * partial result in it on failure; the caller owns the buffer.
 */

/*
 * Appends s[0..len) URI-encoded the AWS way: the unreserved bytes
 * A-Z a-z 0-9 - _ . ~ stay, '/' stays when `keep_slash`, every other byte
 * becomes %XY with upper-case hex. Fails only with RESULT_TOO_LARGE.
 */
enum result sigv4_uri_encode(struct buf *out, const char *s, size_t len,
                             int keep_slash) WARN_UNUSED;

/*
 * Appends the canonical URI of `path` (NULL or "" means "/"): dot segments
 * and empty segments removed when `normalize_path`, then encoded once more
 * when `double_encode_path` (see struct sigv4_params).
 */
enum result sigv4_canonical_uri(struct buf *out, const char *path,
                                int normalize_path,
                                int double_encode_path) WARN_UNUSED;

/*
 * Appends the canonical query string of the raw query `query` (NULL for
 * none): each name and value percent-decoded, then URI-encoded, sorted by
 * name and then value, joined as name=value with '&'.
 */
enum result sigv4_canonical_query(struct buf *out,
                                  const char *query) WARN_UNUSED;

/*
 * Appends the canonical request to `out` and the SignedHeaders list to
 * `signed_headers`. `amz_date` is the x-amz-date value; `session_token`
 * is the token to sign (NULL when none or omitted); `payload_sha256` is
 * the payload's hex hash. Returns RESULT_INVALID_INPUT when the method or
 * host header is missing or a header name is malformed.
 */
enum result sigv4_canonical_request(struct buf *out, struct buf *signed_headers,
                                    const struct sigv4_params *params,
                                    const struct sigv4_request *req,
                                    const char *amz_date,
                                    const char *session_token,
                                    const char *payload_sha256) WARN_UNUSED;

/*
 * Appends the string to sign: the algorithm, `amz_date`, `scope`
 * (date/region/service/aws4_request) and the hex SHA-256 of the canonical
 * request. RESULT_INTERNAL when OpenSSL fails.
 */
enum result sigv4_string_to_sign(struct buf *out, const char *amz_date,
                                 const char *scope,
                                 const char *canonical_request,
                                 size_t canonical_len) WARN_UNUSED;

/*
 * Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4" secret, date),
 * region), service), "aws4_request") into `key`. `date` is YYYYMMDD.
 * RESULT_INTERNAL when OpenSSL fails; then `key` is zeroed.
 */
enum result sigv4_derive_key(unsigned char key[32], const char *secret,
                             const char *date, const char *region,
                             const char *service) WARN_UNUSED;

/* Writes hex(HMAC-SHA256(key, string_to_sign)) and a NUL into `hex`. */
enum result sigv4_signature(char hex[65], const unsigned char key[32],
                            const char *string_to_sign, size_t len) WARN_UNUSED;

/* Writes the lower-case hex SHA-256 of p[0..n) and a NUL into `hex`. */
enum result sigv4_sha256_hex(char hex[65], const void *p, size_t n) WARN_UNUSED;

/*
 * Writes `now` as YYYYMMDDTHHMMSSZ (UTC) and a NUL into `amz_date`.
 * RESULT_INVALID_INPUT when the time cannot be represented so.
 */
enum result sigv4_amz_date(char amz_date[17], time_t now) WARN_UNUSED;

#endif
