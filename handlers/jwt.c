/* RS256 JSON Web Token verification for $connect (OpenSSL). */
#include "jwt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used". */
#define MIN_KEY_BITS 2048

struct jwt_verifier {
    EVP_PKEY *key;
    char *issuer;
    char *audience;
};

enum result jwt_verifier_new(const char *pem, const char *issuer,
                             const char *audience, struct jwt_verifier **out,
                             struct error_info *err)
{
    if (!pem || !*pem)
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY is not set");
    /* OpenSSL's decoder reads both PEM forms: PKIX SubjectPublicKeyInfo
     * ("PUBLIC KEY") and PKCS#1 RSAPublicKey ("RSA PUBLIC KEY"). */
    EVP_PKEY *key = NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
        &key, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    const unsigned char *data = (const unsigned char *)pem;
    size_t len = strlen(pem);
    if (!dctx || OSSL_DECODER_from_data(dctx, &data, &len) != 1) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    OSSL_DECODER_CTX_free(dctx);
    /* A failed decode leaves entries on this thread's OpenSSL error queue,
     * which the TLS of our HTTP clients shares; they are ours to clear. */
    ERR_clear_error();
    if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY is not a PEM RSA public key "
                         "(PUBLIC KEY or RSA PUBLIC KEY)");
    }
    if (EVP_PKEY_get_bits(key) < MIN_KEY_BITS) {
        int bits = EVP_PKEY_get_bits(key);
        EVP_PKEY_free(key);
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY is a %d-bit RSA key; RS256 needs "
                         "at least %d bits",
                         bits, MIN_KEY_BITS);
    }
    struct jwt_verifier *v = xcalloc(1, sizeof(*v));
    v->key = key;
    v->issuer = issuer && *issuer ? xstrdup(issuer) : NULL;
    v->audience = audience && *audience ? xstrdup(audience) : NULL;
    *out = v;
    return RESULT_OK;
}

void jwt_verifier_free(struct jwt_verifier *v)
{
    if (!v)
        return;
    EVP_PKEY_free(v->key);
    free(v->issuer);
    free(v->audience);
    free(v);
}

static enum result reject(struct error_info *err, const char *reason,
                          const char *detail)
{
    return error_set(err, RESULT_INVALID_INPUT, reason, "%s", detail);
}

/* base64url without padding (RFC 7515 §2) into a malloc'd buffer. */
static unsigned char *b64url_decode(const char *in, size_t n, size_t *out_len)
{
    if (n % 4 == 1)
        return NULL;
    size_t padded = n + (4 - n % 4) % 4;
    char *std = xmalloc(padded + 1);
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                   (c >= '0' && c <= '9'))) {
            free(std);
            return NULL;
        }
        std[i] = c;
    }
    memset(std + n, '=', padded - n);
    unsigned char *out = xmalloc(padded / 4 * 3 + 1);
    int len = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
    free(std);
    if (len < 0) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)len - (padded - n);
    out[*out_len] = '\0';
    return out;
}

/*
 * Whether JSON text holds a NUL character, raw or as the escape \u0000:
 * cJSON keeps strings NUL-terminated, so a "sub" of "admin\u0000x" would
 * silently become "admin". Outside strings a backslash cannot parse, so
 * walking escapes pairwise is enough.
 */
static int has_nul(const char *text, size_t len)
{
    if (memchr(text, '\0', len))
        return 1;
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && i + 6 <= len &&
            memcmp(text + i + 2, "0000", 4) == 0)
            return 1;
        i++; /* skip the escaped character */
    }
    return 0;
}

/* Decodes one base64url part as a JSON object. */
static cJSON *json_part(const char *p, size_t n)
{
    size_t len = 0;
    unsigned char *raw = b64url_decode(p, n, &len);
    if (!raw)
        return NULL;
    if (has_nul((const char *)raw, len)) {
        free(raw);
        return NULL;
    }
    cJSON *o = cJSON_ParseWithLength((char *)raw, len);
    free(raw);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static enum result check_signature(const struct jwt_verifier *v,
                                   const char *token, size_t signed_len,
                                   const char *sig64, size_t sig64_len,
                                   struct error_info *err)
{
    size_t sig_len = 0;
    unsigned char *sig = b64url_decode(sig64, sig64_len, &sig_len);
    if (!sig)
        return reject(err, "malformed", "signature is not base64url");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx &&
             EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, v->key) ==
                 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)token,
                              signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    free(sig);
    if (ok)
        return RESULT_OK;
    /* A signature that fails to verify queues OpenSSL errors; see
     * jwt_verifier_new(). */
    ERR_clear_error();
    return reject(err, "bad_signature", "signature does not verify");
}

/* A NumericDate claim (RFC 7519 §2); absent → 0 in *present. */
static enum result numeric_date(const cJSON *claims, const char *name,
                                int *present, double *out,
                                struct error_info *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
    *present = v != NULL;
    if (!v)
        return RESULT_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return reject(err, "malformed", "a time claim is not a number");
    *out = v->valuedouble;
    return RESULT_OK;
}

static enum result check_times(const cJSON *c, int64_t now,
                               struct error_info *err)
{
    int has_exp, has_nbf, has_iat;
    double exp = 0, nbf = 0, iat = 0;
    enum result r;
    if ((r = numeric_date(c, "exp", &has_exp, &exp, err)) ||
        (r = numeric_date(c, "nbf", &has_nbf, &nbf, err)) ||
        (r = numeric_date(c, "iat", &has_iat, &iat, err)))
        return r;
    double t = (double)now;
    if (!has_exp)
        return reject(err, "missing_exp", "exp is required");
    if (t > exp + JWT_LEEWAY_SECONDS)
        return reject(err, "expired", "token expired");
    if (has_nbf && t + JWT_LEEWAY_SECONDS < nbf)
        return reject(err, "not_yet_valid", "nbf is in the future");
    if (has_iat && iat > t + JWT_LEEWAY_SECONDS)
        return reject(err, "iat_in_future", "iat is in the future");
    return RESULT_OK;
}

static int audience_matches(const cJSON *aud, const char *want)
{
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, want) == 0;
    if (!cJSON_IsArray(aud))
        return 0;
    for (const cJSON *a = aud->child; a; a = a->next)
        if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
            return 1;
    return 0;
}

static enum result copy_claim(const cJSON *c, const char *name, char *out,
                              size_t size, struct error_info *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
    if (!cJSON_IsString(v) || !*v->valuestring ||
        strlen(v->valuestring) >= size)
        return error_set(err, RESULT_INVALID_INPUT, "missing_claim",
                         "%s must be a string of 1-%zu bytes", name,
                         size - 1);
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return RESULT_OK;
}

static enum result check_claims(const struct jwt_verifier *v, const cJSON *c,
                                int64_t now, struct jwt_claims *claims,
                                struct error_info *err)
{
    enum result r = check_times(c, now, err);
    if (r != RESULT_OK)
        return r;
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
    if (v->issuer && (!cJSON_IsString(iss) ||
                      strcmp(iss->valuestring, v->issuer) != 0))
        return reject(err, "bad_issuer", "iss does not match JWT_ISSUER");
    if (v->audience &&
        !audience_matches(cJSON_GetObjectItemCaseSensitive(c, "aud"),
                          v->audience))
        return reject(err, "bad_audience", "aud does not match JWT_AUDIENCE");
    struct jwt_claims out;
    if ((r = copy_claim(c, "sub", out.sub, sizeof(out.sub), err)) ||
        (r = copy_claim(c, "tenant_id", out.tenant_id, sizeof(out.tenant_id),
                        err)))
        return r;
    *claims = out;
    return RESULT_OK;
}

enum result jwt_verify(const struct jwt_verifier *v, const char *token,
                       int64_t now, struct jwt_claims *claims,
                       struct error_info *err)
{
    if (!v)
        return reject(err, "no_key", "no JWT_PUBLIC_KEY configured");
    if (!token || !*token)
        return reject(err, "missing_token", "no token");
    size_t n = strlen(token);
    if (n > JWT_MAX_TOKEN_BYTES)
        return reject(err, "oversized", "token is too long");
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token))
                        : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
        return reject(err, "malformed", "a JWT has three parts");
    cJSON *header = json_part(token, (size_t)(d1 - token));
    cJSON *body = NULL;
    enum result r = RESULT_OK;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    if (!header)
        r = reject(err, "malformed", "header is not base64url JSON");
    /* RFC 8725 §3.1: accept only the algorithm we expect, never what the
     * token asks for — that refuses "none" and HS256-with-the-public-key. */
    else if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0)
        r = reject(err, "bad_alg", "alg must be RS256");
    else if (cJSON_GetObjectItemCaseSensitive(header, "crit"))
        r = reject(err, "bad_header", "crit extensions are not supported");
    if (r == RESULT_OK)
        r = check_signature(v, token, (size_t)(d2 - token), d2 + 1,
                            n - (size_t)(d2 + 1 - token), err);
    if (r == RESULT_OK &&
        !(body = json_part(d1 + 1, (size_t)(d2 - d1 - 1))))
        r = reject(err, "malformed", "payload is not base64url JSON");
    if (r == RESULT_OK)
        r = check_claims(v, body, now, claims, err);
    cJSON_Delete(header);
    cJSON_Delete(body);
    return r;
}
