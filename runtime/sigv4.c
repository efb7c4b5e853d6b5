/* AWS Signature Version 4: hashing, key derivation and signing (OpenSSL);
 * the canonical request it signs is built in sigv4_canonical.c. */
#include "sigv4.h"
#include "sigv4_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "clock.h"
#include "openssl_setup.h"
#include "secret.h"
#include "text.h"
#include "xmalloc.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"

/* Caps on what one request may make the signer build (the canonical
 * request's is SIGV4_CANONICAL_MAX_BYTES, sigv4_int.h). */
#define SIGNED_HEADERS_MAX_BYTES (16 * 1024)
#define SMALL_MAX_BYTES 1024

static const char hex_digits[] = "0123456789abcdef";

static void to_hex(char *out, const unsigned char *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/*
 * SHA-256, fetched from OpenSSL's provider once: EVP_sha256() in OpenSSL 3
 * fetches anew on every digest, which was most of a signature's cost.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    openssl_setup();
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 of the concatenation of up to two pieces, in `ctx` (reset
 * here: a context reused keeps OpenSSL's state allocated). */
static int sha256_in(EVP_MD_CTX *ctx, unsigned char out[32], const void *a,
                     size_t a_len, const void *b, size_t b_len)
{
    pthread_once(&sha256_once, fetch_sha256);
    unsigned int md_len = 0;
    return ctx && sha256_md && EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
           EVP_DigestUpdate(ctx, a, a_len) == 1 &&
           (!b_len || EVP_DigestUpdate(ctx, b, b_len) == 1) &&
           EVP_DigestFinal_ex(ctx, out, &md_len) == 1 && md_len == 32;
}

static enum result sha256(unsigned char out[32], const void *a, size_t a_len,
                          const void *b, size_t b_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = sha256_in(ctx, out, a, a_len, b, b_len);
    EVP_MD_CTX_free(ctx);
    return ok ? RESULT_OK : RESULT_INTERNAL;
}

/* HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || data)). */
static enum result hmac_sha256(unsigned char out[32], const void *key,
                               size_t key_len, const void *data,
                               size_t data_len)
{
    enum { BLOCK = 64 };
    unsigned char k[BLOCK] = {0}, pad[BLOCK], inner[32];
    enum result r = RESULT_OK;
    if (key_len > BLOCK)
        r = sha256(k, key, key_len, NULL, 0);
    else
        memcpy(k, key, key_len);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    if (r == RESULT_OK)
        r = sha256(inner, pad, BLOCK, data, data_len);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    if (r == RESULT_OK)
        r = sha256(out, pad, BLOCK, inner, sizeof(inner));
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    return r;
}

enum result sigv4_sha256_hex(char hex[65], const void *p, size_t n)
{
    unsigned char md[32];
    enum result r = sha256(md, p, n, NULL, 0);
    if (r != RESULT_OK)
        return r;
    to_hex(hex, md, sizeof(md));
    return RESULT_OK;
}

/* 10000-01-01T00:00:00Z: X-Amz-Date has room for four year digits. */
#define FIRST_FIVE_DIGIT_YEAR 253402300800LL

enum result sigv4_amz_date(char amz_date[17], time_t now)
{
    if (now < 0 || (long long)now >= FIRST_FIVE_DIGIT_YEAR)
        return RESULT_INVALID_INPUT;
    /* ISO 8601 basic format, "YYYYMMDD'T'HHMMSS'Z'", from the extended
     * one clock_rfc3339() writes ("YYYY-MM-DDTHH:MM:SS.mmmZ"). */
    char t[CLOCK_RFC3339_SIZE];
    clock_rfc3339((int64_t)now * 1000, t);
    static const unsigned char from[16] = {0,  1,  2,  3,  5,  6,  8,  9,
                                           10, 11, 12, 14, 15, 17, 18, 23};
    for (size_t i = 0; i < 16; i++)
        amz_date[i] = t[from[i]];
    amz_date[16] = '\0';
    return RESULT_OK;
}

/* The string to sign from the canonical request's hash (hex). */
static enum result join_string_to_sign(struct buf *out, const char *amz_date,
                                       const char *scope,
                                       const char *canonical_hash)
{
    return buf_append_strs(out, ALGORITHM "\n", amz_date, "\n", scope, "\n",
                           canonical_hash, NULL);
}

enum result sigv4_string_to_sign(struct buf *out, const char *amz_date,
                                 const char *scope,
                                 const char *canonical_request,
                                 size_t canonical_len)
{
    char hash[65];
    enum result r = sigv4_sha256_hex(hash, canonical_request, canonical_len);
    if (r != RESULT_OK)
        return r;
    return join_string_to_sign(out, amz_date, scope, hash);
}

enum result sigv4_derive_key(unsigned char key[32], const char *secret,
                             const char *date, const char *region,
                             const char *service)
{
    enum result r = RESULT_OK;
    size_t secret_len = strlen(secret);
    size_t seed_len = secret_len + 4;
    unsigned char *seed = xmalloc(seed_len);
    unsigned char k_date[32], k_region[32], k_service[32];

    /* IAM User Guide, "Calculate the signature": the chain of HMACs. */
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, secret_len);
    if ((r = hmac_sha256(k_date, seed, seed_len, date, strlen(date))) !=
            RESULT_OK ||
        (r = hmac_sha256(k_region, k_date, 32, region, strlen(region))) !=
            RESULT_OK ||
        (r = hmac_sha256(k_service, k_region, 32, service, strlen(service))) !=
            RESULT_OK ||
        (r = hmac_sha256(key, k_service, 32, TERMINATOR, strlen(TERMINATOR))) !=
            RESULT_OK)
        OPENSSL_cleanse(key, 32);

    OPENSSL_cleanse(seed, seed_len);
    OPENSSL_cleanse(k_date, sizeof(k_date));
    OPENSSL_cleanse(k_region, sizeof(k_region));
    OPENSSL_cleanse(k_service, sizeof(k_service));
    free(seed);
    return r;
}

enum result sigv4_signature(char hex[65], const unsigned char key[32],
                            const char *string_to_sign, size_t len)
{
    unsigned char mac[32];
    enum result r = hmac_sha256(mac, key, 32, string_to_sign, len);
    if (r == RESULT_OK)
        to_hex(hex, mac, sizeof(mac));
    return r;
}

void sigv4_signer_init(struct sigv4_signer *s)
{
    memset(s, 0, sizeof(*s));
}

void sigv4_signer_cleanup(struct sigv4_signer *s)
{
    /* EVP_MD_CTX_free cleanses the states it frees. */
    EVP_MD_CTX_free(s->md);
    EVP_MD_CTX_free(s->key_inner);
    EVP_MD_CTX_free(s->key_outer);
    secret_free(s->key_secret);
    OPENSSL_cleanse(s, sizeof(*s));
}

/* The signer's scratch digest state; NULL when OpenSSL cannot make one. */
static EVP_MD_CTX *scratch(struct sigv4_signer *s)
{
    if (!s->md)
        s->md = EVP_MD_CTX_new();
    return s->md;
}

/* SHA-256 of `p` as lowercase hex, in the signer's scratch state. */
static enum result hash_hex(struct sigv4_signer *s, char hex[65], const void *p,
                            size_t n)
{
    unsigned char md[32];
    if (!sha256_in(scratch(s), md, p, n, NULL, 0))
        return RESULT_INTERNAL;
    to_hex(hex, md, sizeof(md));
    return RESULT_OK;
}

/* HMAC-SHA256's two states for s->key: SHA-256 having absorbed
 * key ^ ipad, and key ^ opad (the key is 32 bytes: one block each). */
static enum result precompute_pads(struct sigv4_signer *s)
{
    pthread_once(&sha256_once, fetch_sha256);
    unsigned char pad[64];
    if (!s->key_inner)
        s->key_inner = EVP_MD_CTX_new();
    if (!s->key_outer)
        s->key_outer = EVP_MD_CTX_new();
    int ok = s->key_inner && s->key_outer && sha256_md;
    for (int round = 0; ok && round < 2; round++) {
        memset(pad, round ? 0x5c : 0x36, sizeof(pad));
        for (size_t i = 0; i < 32; i++)
            pad[i] ^= s->key[i];
        EVP_MD_CTX *ctx = round ? s->key_outer : s->key_inner;
        ok = EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
             EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1;
    }
    OPENSSL_cleanse(pad, sizeof(pad));
    return ok ? RESULT_OK : RESULT_INTERNAL;
}

/* The signature: HMAC-SHA256(s->key, string to sign) from the
 * precomputed states, as lowercase hex. */
static enum result sign_with_pads(struct sigv4_signer *s, char hex[65],
                                  const char *string_to_sign, size_t len)
{
    EVP_MD_CTX *ctx = scratch(s);
    unsigned char inner[32], mac[32];
    unsigned int n1 = 0, n2 = 0;
    int ok = ctx && EVP_MD_CTX_copy_ex(ctx, s->key_inner) == 1 &&
             EVP_DigestUpdate(ctx, string_to_sign, len) == 1 &&
             EVP_DigestFinal_ex(ctx, inner, &n1) == 1 &&
             EVP_MD_CTX_copy_ex(ctx, s->key_outer) == 1 &&
             EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 &&
             EVP_DigestFinal_ex(ctx, mac, &n2) == 1 && n1 == 32 && n2 == 32;
    if (ok)
        to_hex(hex, mac, sizeof(mac));
    OPENSSL_cleanse(inner, sizeof(inner));
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok ? RESULT_OK : RESULT_INTERNAL;
}

/* Makes sure s->key and its HMAC pads are this day's and scope's,
 * deriving them when stale. The secret is compared with the one the key
 * is of in constant time for its length (a copy kept as the credentials
 * are: wiped when dropped). */
static enum result signing_key(struct sigv4_signer *s, const char *secret,
                               const char *date, const char *region,
                               const char *service)
{
    size_t n = strlen(secret);
    if (s->key_valid && strcmp(s->key_date, date) == 0 &&
        strcmp(s->key_region, region) == 0 &&
        strcmp(s->key_service, service) == 0 && s->key_secret &&
        strlen(s->key_secret) == n &&
        CRYPTO_memcmp(s->key_secret, secret, n) == 0)
        return RESULT_OK;
    s->key_valid = 0;
    enum result r;
    if ((r = sigv4_derive_key(s->key, secret, date, region, service)) !=
            RESULT_OK ||
        (r = precompute_pads(s)) != RESULT_OK)
        return r;
    text_join(s->key_date, sizeof(s->key_date), date, (char *)NULL);
    text_join(s->key_region, sizeof(s->key_region), region, (char *)NULL);
    text_join(s->key_service, sizeof(s->key_service), service, (char *)NULL);
    secret_free(s->key_secret);
    s->key_secret = secret_dup(secret);
    s->key_valid = 1;
    s->key_derivations++;
    return RESULT_OK;
}

/* A scope part: 1..63 bytes of visible ASCII other than '/'. */
static int valid_scope_part(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
            s[i] == '/')
            return 0;
    return 1;
}

static int valid_inputs(const struct sigv4_credentials *creds,
                        const struct sigv4_params *params,
                        const struct sigv4_request *req)
{
    return creds && params && req && creds->access_key_id &&
           *creds->access_key_id && !strchr(creds->access_key_id, '/') &&
           creds->secret_access_key && *creds->secret_access_key &&
           valid_scope_part(params->region) &&
           valid_scope_part(params->service) &&
           (req->payload || req->payload_len == 0);
}

enum result sigv4_sign(struct sigv4_signer *s,
                       const struct sigv4_credentials *creds,
                       const struct sigv4_params *params,
                       const struct sigv4_request *req,
                       struct sigv4_output *out)
{
    enum result r = RESULT_OK;
    struct sigv4_output o;
    struct buf canonical, signed_headers, sts;
    char date[9], scope[256], signature[65], canonical_hash[65];
    const char *token = NULL;

    memset(&o, 0, sizeof(o));
    buf_init(&canonical, SIGV4_CANONICAL_MAX_BYTES);
    buf_init(&signed_headers, SIGNED_HEADERS_MAX_BYTES);
    buf_init(&sts, SMALL_MAX_BYTES);

    if (!s || !out || !valid_inputs(creds, params, req)) {
        r = RESULT_INVALID_INPUT;
        goto done;
    }
    if ((r = sigv4_amz_date(o.amz_date, params->now)) != RESULT_OK ||
        (r = hash_hex(s, o.payload_sha256, req->payload ? req->payload : "",
                      req->payload_len)) != RESULT_OK)
        goto done;
    memcpy(date, o.amz_date, 8);
    date[8] = '\0';
    /* Region and service are 1-63 bytes each (valid_inputs): it fits. */
    text_join(scope, sizeof(scope), date, "/", params->region, "/",
              params->service, "/" TERMINATOR, (char *)NULL);
    if (creds->session_token && *creds->session_token)
        token = creds->session_token;

    if ((r = sigv4_canonical_request(&canonical, &signed_headers, params, req,
                                     o.amz_date, token, o.payload_sha256)) !=
            RESULT_OK ||
        (r = hash_hex(s, canonical_hash, buf_str(&canonical), canonical.len)) !=
            RESULT_OK ||
        (r = join_string_to_sign(&sts, o.amz_date, scope, canonical_hash)) !=
            RESULT_OK ||
        (r = signing_key(s, creds->secret_access_key, date, params->region,
                         params->service)) != RESULT_OK ||
        (r = sign_with_pads(s, signature, buf_str(&sts), sts.len)) != RESULT_OK)
        goto done;

    /* "Add the signature to the request": Credential, SignedHeaders and
     * Signature, separated by ", ". */
    size_t n = text_join(o.authorization, sizeof(o.authorization),
                         ALGORITHM " Credential=", creds->access_key_id, "/",
                         scope, ", SignedHeaders=", buf_str(&signed_headers),
                         ", Signature=", signature, (char *)NULL);
    if (n >= sizeof(o.authorization)) {
        r = RESULT_TOO_LARGE;
        goto done;
    }
    *out = o;
done:
    OPENSSL_cleanse(&o, sizeof(o));
    buf_cleanup(&canonical);
    buf_cleanup(&signed_headers);
    buf_cleanup(&sts);
    return r;
}
