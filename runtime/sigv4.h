/* AWS Signature Version 4 request signing (HMAC-SHA256 via OpenSSL). */
#ifndef STREAMER_SIGV4_H
#define STREAMER_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "result.h"

/*
 * Follows AWS's "Create a signed AWS API request" (IAM User Guide,
 * "Elements of an AWS API request signature"): canonical request, string
 * to sign, signing key, signature, Authorization header.
 */

struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when there is none */
};

struct sigv4_header {
    const char *name; /* any case; signed lower-cased */
    const char *value;
};

/* The request to sign; every pointer is borrowed. */
struct sigv4_request {
    const char *method;
    const char *path;  /* the path as sent on the wire, already encoded */
    const char *query; /* the raw query without '?', or NULL */
    const struct sigv4_header *headers; /* must include "host" */
    size_t header_count;
    const void *payload;
    size_t payload_len;
};

struct sigv4_params {
    const char *region;
    const char *service;
    time_t now; /* the signing time, seconds since the epoch */
    /*
     * Every service but S3 expects the canonical URI to be the path
     * encoded once more ('%' -> '%25'); for API Gateway's Management API
     * this turns /prod/%40connections/abc%3D into
     * /prod/%2540connections/abc%253D. Set to 1 for those services.
     */
    int double_encode_path;
    /* Remove "." and ".." segments and repeated '/' (non-S3 services). */
    int normalize_path;
};

/* The headers to add to the request, each a NUL-terminated value. */
struct sigv4_output {
    char amz_date[17];        /* x-amz-date: YYYYMMDDTHHMMSSZ */
    char payload_sha256[65];  /* lower-case hex (x-amz-content-sha256) */
    char authorization[1024]; /* the whole Authorization header value */
};

/*
 * Caches the signing key per (date, region, service, secret): the HMAC
 * chain is computed once a day, not per request. Caller-owned struct; one
 * signer must not be used by two threads at once.
 */
struct sigv4_signer {
    char key_date[9];
    char key_region[64];
    char key_service[64];
    char *key_secret; /* the secret the key is of (secret_dup: wiped) */
    unsigned char key[32];
    int key_valid;
    unsigned long key_derivations; /* times the key was computed */
    /* OpenSSL digest states (EVP_MD_CTX), made at the first signature: a
     * scratch one, and HMAC-SHA256's inner and outer states with the
     * key's pads already hashed (RFC 2104 §4: "precomputed"), so a
     * signature hashes the string to sign and 32 bytes, not 2 more
     * blocks. */
    void *md, *key_inner, *key_outer;
};

/* Prepares an empty signer; allocates nothing. A signer is for one
 * thread at a time. */
void sigv4_signer_init(struct sigv4_signer *s);
/* Wipes the cached key and frees the digest states; `s` may be
 * initialised again. */
void sigv4_signer_cleanup(struct sigv4_signer *s);

/*
 * Signs `req`. The x-amz-date and (when a session token is set)
 * x-amz-security-token headers are signed even if `req` lacks them; the
 * caller must send them with exactly these values. Headers in `req` with
 * those names are replaced by the signer's; "authorization" is never
 * signed. Every other header in `req` is signed, so pass only headers sent
 * unchanged. (Streamer's services do not need x-amz-content-sha256; a
 * caller that wants it signed passes it with the payload's hex SHA-256.)
 * Returns RESULT_OK, RESULT_INVALID_INPUT (missing host header,
 * credentials, region or service; a malformed header name), or
 * RESULT_TOO_LARGE (the Authorization value exceeds its 1024 bytes).
 * On failure, `*out` is untouched.
 */
enum result sigv4_sign(struct sigv4_signer *s,
                       const struct sigv4_credentials *creds,
                       const struct sigv4_params *params,
                       const struct sigv4_request *req,
                       struct sigv4_output *out) WARN_UNUSED;

#endif
