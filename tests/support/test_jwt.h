/* Minting RSA keys and JSON Web Tokens in tests (OpenSSL). */
#ifndef STREAMER_TEST_JWT_H
#define STREAMER_TEST_JWT_H

#include <openssl/evp.h>
#include <stddef.h>

/* A fresh 2048-bit RSA key pair. Caller frees with EVP_PKEY_free(). */
EVP_PKEY *test_jwt_key(void);

/*
 * The public half of `key` as PEM: PKCS#1 "RSA PUBLIC KEY" when `pkcs1`,
 * else PKIX "PUBLIC KEY". Caller frees.
 */
char *test_jwt_pem(EVP_PKEY *key, int pkcs1);

/* `n` bytes as base64url without padding (RFC 7515 §2). Caller frees. */
char *test_jwt_b64url(const void *data, size_t n);

/* The RS256 signature of `input` by `key`, base64url. Caller frees. */
char *test_jwt_rs256(EVP_PKEY *key, const char *input);

/* The HS256 MAC of `input` under `secret`, base64url. Caller frees. */
char *test_jwt_hs256(const char *secret, const char *input);

/*
 * A compact JWS: base64url(header).base64url(claims).signature, signed
 * RS256 by `key`. Caller frees.
 */
char *test_jwt_token(EVP_PKEY *key, const char *header, const char *claims);

/* "<a>.<b>" in a new string. Caller frees. */
char *test_jwt_join(const char *a, const char *b);

#endif
