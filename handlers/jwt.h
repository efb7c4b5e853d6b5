/* RS256 JSON Web Token verification for $connect (OpenSSL). */
#ifndef STREAMER_JWT_H
#define STREAMER_JWT_H

#include <stdint.h>

#include "result.h"

#define JWT_MAX_TOKEN_BYTES 8192
#define JWT_LEEWAY_SECONDS 60

/* Built once at init from JWT_PUBLIC_KEY, JWT_ISSUER and JWT_AUDIENCE. */
struct jwt_verifier;

/*
 * Parses `pem` (PKIX "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY"; it must be
 * RSA of at least 2048 bits, RFC 7518 §3.3). `issuer` and `audience` may
 * be NULL (then not checked); they are copied. RESULT_CONFIG naming
 * JWT_PUBLIC_KEY when the key is unusable. Caller owns `*out`; free with
 * jwt_verifier_free(). On failure `*out` is untouched.
 */
enum result jwt_verifier_new(const char *pem, const char *issuer,
                             const char *audience, struct jwt_verifier **out,
                             struct error_info *err) WARN_UNUSED;
/* Frees the key and the copied strings; NULL is a no-op. */
void jwt_verifier_free(struct jwt_verifier *v);

/* The claims Streamer uses; strings are NUL-terminated copies. */
struct jwt_claims {
    char sub[129];
    char tenant_id[129];
};

/*
 * Verifies `token` at time `now` (epoch seconds) per RFC 7519 / RFC 7515:
 * three base64url parts, header alg exactly "RS256" (none, HS256 and all
 * others refused), an RSASSA-PKCS1-v1_5 SHA-256 signature by the key, exp
 * required (with JWT_LEEWAY_SECONDS), nbf honoured, iat not more than the
 * leeway in the future, iss and aud when configured (aud may be a string
 * or an array), sub and tenant_id required strings of 1-128 bytes.
 * RESULT_OK fills `*claims`; otherwise RESULT_INVALID_INPUT with a short
 * reason in err->type (e.g. "expired", "bad_signature") and detail in
 * err->message, for the log only.
 */
enum result jwt_verify(struct jwt_verifier *v, const char *token, int64_t now,
                       struct jwt_claims *claims,
                       struct error_info *err) WARN_UNUSED;

#endif
