/* Minting RSA keys and JSON Web Tokens in tests (OpenSSL). */
#include "test_jwt.h"

#include <check.h>
#include <openssl/bio.h>
#include <openssl/encoder.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

EVP_PKEY *test_jwt_key(void)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    ck_assert_msg(key != NULL, "RSA key generation failed");
    return key;
}

/* Everything written to a memory BIO, as a NUL-terminated string. */
static char *bio_text(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    ck_assert_int_gt(n, 0);
    char *out = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    return out;
}

char *test_jwt_pem(EVP_PKEY *key, int pkcs1)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(bio);
    if (pkcs1) {
        /* "type-specific" is RSAPublicKey, which PEM calls RSA PUBLIC KEY. */
        OSSL_ENCODER_CTX *ctx = OSSL_ENCODER_CTX_new_for_pkey(
            key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(OSSL_ENCODER_to_bio(ctx, bio), 1);
        OSSL_ENCODER_CTX_free(ctx);
    } else {
        ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, key), 1);
    }
    char *pem = bio_text(bio);
    BIO_free(bio);
    return pem;
}

char *test_jwt_b64url(const void *data, size_t n)
{
    unsigned char *std = malloc(4 * ((n + 2) / 3) + 1);
    ck_assert_ptr_nonnull(std);
    int len = EVP_EncodeBlock(std, data, (int)n);
    while (len > 0 && std[len - 1] == '=')
        len--;
    std[len] = '\0';
    for (int i = 0; i < len; i++) {
        if (std[i] == '+')
            std[i] = '-';
        else if (std[i] == '/')
            std[i] = '_';
    }
    return (char *)std;
}

char *test_jwt_rs256(EVP_PKEY *key, const char *input)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    size_t len = 0;
    ck_assert_int_eq(EVP_DigestSign(ctx, NULL, &len,
                                    (const unsigned char *)input,
                                    strlen(input)),
                     1);
    unsigned char *sig = malloc(len);
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &len,
                                    (const unsigned char *)input,
                                    strlen(input)),
                     1);
    EVP_MD_CTX_free(ctx);
    char *out = test_jwt_b64url(sig, len);
    free(sig);
    return out;
}

char *test_jwt_hs256(const char *secret, const char *input)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, (int)strlen(secret),
                               (const unsigned char *)input, strlen(input), mac,
                               &len));
    return test_jwt_b64url(mac, len);
}

char *test_jwt_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *out = malloc(na + nb + 2);
    ck_assert_ptr_nonnull(out);
    memcpy(out, a, na);
    out[na] = '.';
    memcpy(out + na + 1, b, nb + 1);
    return out;
}

char *test_jwt_token(EVP_PKEY *key, const char *header, const char *claims)
{
    char *h = test_jwt_b64url(header, strlen(header));
    char *c = test_jwt_b64url(claims, strlen(claims));
    char *input = test_jwt_join(h, c);
    char *sig = test_jwt_rs256(key, input);
    char *token = test_jwt_join(input, sig);
    free(h);
    free(c);
    free(input);
    free(sig);
    return token;
}
