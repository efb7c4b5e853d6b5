/* RS256 JSON Web Token verification for $connect (OpenSSL). */
#include "jwt.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json_arena.h"
#include "openssl_setup.h"
#include "text.h"
#include "xmalloc.h"

/* RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used". */
#define MIN_KEY_BITS 2048
/* The largest modulus taken: 8192 bits. */
#define JWT_MAX_KEY_BYTES 1024

/*
 * The key is read at init (its DER, checked, and its size) but its
 * numbers are built on the first verification. A signature is checked
 * with OpenSSL's big numbers directly (RSAVP1 with a Montgomery context
 * kept for the key, then the EMSA-PKCS1-v1_5 encoding compared whole),
 * not through EVP_DigestVerify: the EVP path spent about 310k
 * instructions per token, most of it in provider dispatch, context copies
 * and key checks done again for every token.
 */
struct jwt_verifier {
    unsigned char *n, *e; /* modulus and exponent, big-endian */
    size_t n_len, e_len;
    BIGNUM *bn_n, *bn_e; /* NULL until the first verification */
    BN_MONT_CTX *mont;
    BN_CTX *bn_ctx;
    EVP_MD *sha256;
    EVP_MD_CTX *md_ctx;
    char *issuer;
    char *audience;
    struct cached_token *cache; /* JWT_CACHE_SLOTS, NULL until first use */
};

/*
 * A bounded cache of verified tokens: a client that reconnects with the
 * token it connected with a moment ago is not checked with RSA again.
 * A slot keeps a copy of the whole token (signature included) and is hit
 * only by the very same bytes; the bucket is picked by a cheap hash
 * (FNV-1a), as the comparison, not the hash, is what decides. What is kept
 * are the token's claims and time claims, and the times are checked again
 * on every hit (an expired token falls out). One slot per bucket, the
 * newest wins, tokens over JWT_CACHE_MAX_TOKEN bytes are not kept: the
 * memory is bounded (at most JWT_CACHE_SLOTS * ~2.3 KB, typically a
 * tenth of it) whatever the traffic. Issuer and audience are the
 * verifier's own, so a cached verdict cannot go stale.
 */
#define JWT_CACHE_SLOTS 256
#define JWT_CACHE_MAX_TOKEN 2048

/* A token's time claims (RFC 7519 §4.1.4-6), kept with a cached token. */
struct token_times {
    int has_exp, has_nbf, has_iat;
    double exp, nbf, iat;
};

struct cached_token {
    char *token; /* NULL when the slot is empty */
    size_t len;
    struct token_times times;
    struct jwt_claims claims;
};

/* A DER element (ITU-T X.690 §8.1): tag, definite length, contents. */
struct der {
    const unsigned char *p;
    size_t n;
};

/* Takes the next element of `d` if its tag is `tag`; -1 otherwise. */
static int der_take(struct der *d, unsigned char tag, struct der *out)
{
    if (d->n < 2 || d->p[0] != tag)
        return -1;
    size_t len = d->p[1], head = 2;
    if (len & 0x80) {
        size_t bytes = len & 0x7f;
        if (bytes < 1 || bytes > 3 || d->n < 2 + bytes)
            return -1;
        len = 0;
        for (size_t i = 0; i < bytes; i++)
            len = len << 8 | d->p[2 + i];
        head = 2 + bytes;
    }
    if (d->n - head < len)
        return -1;
    out->p = d->p + head;
    out->n = len;
    d->p += head + len;
    d->n -= head + len;
    return 0;
}

#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_SEQUENCE 0x30

/* RFC 8017 §A.1.1 RSAPublicKey ::= SEQUENCE { modulus, publicExponent }. */
static int der_rsa_public_key(struct der d, struct der *n, struct der *e)
{
    struct der seq;
    if (der_take(&d, DER_SEQUENCE, &seq) || d.n ||
        der_take(&seq, DER_INTEGER, n) || der_take(&seq, DER_INTEGER, e) ||
        seq.n || !n->n || !e->n || (n->p[0] & 0x80) || (e->p[0] & 0x80))
        return -1;
    return 0;
}

/* RFC 5280 §4.1 SubjectPublicKeyInfo with RFC 3279 §2.3.1 rsaEncryption
 * (OID 1.2.840.113549.1.1.1, NULL parameters) around an RSAPublicKey. */
static int der_spki(struct der d, struct der *n, struct der *e)
{
    static const unsigned char rsa_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                            0x0d, 0x01, 0x01, 0x01};
    struct der spki, alg, oid, null, bits;
    if (der_take(&d, DER_SEQUENCE, &spki) || d.n ||
        der_take(&spki, DER_SEQUENCE, &alg) ||
        der_take(&spki, DER_BIT_STRING, &bits) || spki.n ||
        der_take(&alg, DER_OID, &oid) || oid.n != sizeof(rsa_oid) ||
        memcmp(oid.p, rsa_oid, sizeof(rsa_oid)) != 0 ||
        (alg.n && (der_take(&alg, DER_NULL, &null) || null.n || alg.n)) ||
        bits.n < 1 || bits.p[0] != 0)
        return -1;
    bits.p++;
    bits.n--;
    return der_rsa_public_key(bits, n, e);
}

/*
 * The DER inside a PEM block "-----BEGIN <label>-----" (RFC 7468): NULL
 * when there is no such block or its base64 is bad. `*len` gets its size.
 */
static unsigned char *pem_block(const char *pem, const char *label, size_t *len)
{
    char begin[64], end[64];
    snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
    snprintf(end, sizeof(end), "-----END %s-----", label);
    const char *from = strstr(pem, begin);
    const char *to = from ? strstr(from, end) : NULL;
    if (!to)
        return NULL;
    from += strlen(begin);
    char *text = xmalloc((size_t)(to - from) + 1);
    size_t k = 0;
    for (const char *c = from; c < to; c++)
        if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t')
            text[k++] = *c;
    text[k] = '\0';
    unsigned char *der = k ? base64_decode(text, k, BASE64_STD, len) : NULL;
    free(text);
    return der;
}

/* Copies an INTEGER's magnitude without its sign-padding zeros. */
static unsigned char *integer_bytes(struct der i, size_t *len)
{
    while (i.n > 1 && i.p[0] == 0) {
        i.p++;
        i.n--;
    }
    unsigned char *out = xmalloc(i.n);
    memcpy(out, i.p, i.n);
    *len = i.n;
    return out;
}

/*
 * Reads the RSA numbers of a PEM: PKIX "PUBLIC KEY" or PKCS#1 "RSA PUBLIC
 * KEY" (RFC 7468 labels). -1 when it is neither.
 */
static int read_key(const char *pem, struct jwt_verifier *v)
{
    size_t len = 0;
    struct der n, e;
    int ok = -1;
    unsigned char *der = pem_block(pem, "PUBLIC KEY", &len);
    if (der)
        ok = der_spki((struct der){der, len}, &n, &e);
    else if ((der = pem_block(pem, "RSA PUBLIC KEY", &len)) != NULL)
        ok = der_rsa_public_key((struct der){der, len}, &n, &e);
    if (ok == 0) {
        v->n = integer_bytes(n, &v->n_len);
        v->e = integer_bytes(e, &v->e_len);
    }
    free(der);
    return ok;
}

/* The modulus size in bits. */
static int key_bits(const struct jwt_verifier *v)
{
    int bits = (int)v->n_len * 8;
    for (unsigned char top = v->n[0]; bits > 0 && !(top & 0x80); top <<= 1)
        bits--;
    return bits;
}

/* Builds the key's numbers and contexts once; -1 on failure. */
static int build_key(struct jwt_verifier *v)
{
    if (v->mont)
        return 0;
    openssl_setup();
    v->bn_n = BN_bin2bn(v->n, (int)v->n_len, NULL);
    v->bn_e = BN_bin2bn(v->e, (int)v->e_len, NULL);
    v->bn_ctx = BN_CTX_new();
    v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    v->md_ctx = EVP_MD_CTX_new();
    BN_MONT_CTX *mont = BN_MONT_CTX_new();
    if (!v->bn_n || !v->bn_e || !v->bn_ctx || !v->sha256 || !v->md_ctx ||
        !mont || !BN_MONT_CTX_set(mont, v->bn_n, v->bn_ctx)) {
        BN_MONT_CTX_free(mont);
        ERR_clear_error();
        return -1;
    }
    v->mont = mont;
    return 0;
}

/* SHA-256 of `p`; 0 on success. */
static int sha256(struct jwt_verifier *v, const void *p, size_t n,
                  unsigned char md[32])
{
    unsigned int len = 0;
    return EVP_DigestInit_ex2(v->md_ctx, v->sha256, NULL) == 1 &&
                   EVP_DigestUpdate(v->md_ctx, p, n) == 1 &&
                   EVP_DigestFinal_ex(v->md_ctx, md, &len) == 1 && len == 32
               ? 0
               : -1;
}

/*
 * RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 §8.2.2): the
 * signature is k bytes (k the modulus' length) and less than n; its
 * RSAVP1 image must equal, byte for byte, the EMSA-PKCS1-v1_5 encoding
 * of the message's hash (§9.2: 0x00 0x01, 0xff padding, 0x00, the
 * SHA-256 DigestInfo, the hash) built here. 1 when it verifies.
 */
static int rsa_verify(struct jwt_verifier *v, const unsigned char *msg,
                      size_t msg_len, const unsigned char *sig, size_t sig_len)
{
    /* §9.2 note 1: DigestInfo for SHA-256, the hash follows. */
    static const unsigned char digest_info[] = {
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    size_t k = v->n_len, t_len = sizeof(digest_info) + 32;
    unsigned char em[JWT_MAX_KEY_BYTES], want[JWT_MAX_KEY_BYTES];
    if (sig_len != k || k > sizeof(em) || k < t_len + 11)
        return 0;
    want[0] = 0x00;
    want[1] = 0x01;
    memset(want + 2, 0xff, k - t_len - 3);
    want[k - t_len - 1] = 0x00;
    memcpy(want + k - t_len, digest_info, sizeof(digest_info));
    if (sha256(v, msg, msg_len, want + k - 32) != 0)
        return 0;
    BN_CTX_start(v->bn_ctx);
    BIGNUM *s = BN_CTX_get(v->bn_ctx), *m = BN_CTX_get(v->bn_ctx);
    int ok = m && BN_bin2bn(sig, (int)sig_len, s) && BN_ucmp(s, v->bn_n) < 0 &&
             BN_mod_exp_mont(m, s, v->bn_e, v->bn_n, v->bn_ctx, v->mont) &&
             BN_bn2binpad(m, em, (int)k) == (int)k &&
             CRYPTO_memcmp(em, want, k) == 0;
    BN_CTX_end(v->bn_ctx);
    return ok;
}

enum result jwt_verifier_new(const char *pem, const char *issuer,
                             const char *audience, struct jwt_verifier **out,
                             struct error_info *err)
{
    if (!pem || !*pem)
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY is not set");
    struct jwt_verifier *v = xcalloc(1, sizeof(*v));
    if (read_key(pem, v) != 0) {
        jwt_verifier_free(v);
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY is not a PEM RSA public key "
                         "(PUBLIC KEY or RSA PUBLIC KEY)");
    }
    int bits = key_bits(v);
    if (bits < MIN_KEY_BITS || v->n_len > JWT_MAX_KEY_BYTES) {
        jwt_verifier_free(v);
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY is a %d-bit RSA key; RS256 needs "
                         "%d to %d bits",
                         bits, MIN_KEY_BITS, JWT_MAX_KEY_BYTES * 8);
    }
    /* RFC 8017 §3.1: e is odd and at least 3 (e = 1 would make every
     * encoded message its own signature). */
    if (!(v->e[v->e_len - 1] & 1) || (v->e_len == 1 && v->e[0] < 3)) {
        jwt_verifier_free(v);
        return error_set(err, RESULT_CONFIG, "InvalidConfig",
                         "JWT_PUBLIC_KEY has an invalid RSA exponent");
    }
    v->issuer = issuer && *issuer ? xstrdup(issuer) : NULL;
    v->audience = audience && *audience ? xstrdup(audience) : NULL;
    *out = v;
    return RESULT_OK;
}

void jwt_verifier_free(struct jwt_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; v->cache && i < JWT_CACHE_SLOTS; i++)
        free(v->cache[i].token);
    free(v->cache);
    EVP_MD_CTX_free(v->md_ctx);
    EVP_MD_free(v->sha256);
    BN_MONT_CTX_free(v->mont);
    BN_CTX_free(v->bn_ctx);
    BN_free(v->bn_n);
    BN_free(v->bn_e);
    free(v->n);
    free(v->e);
    free(v->issuer);
    free(v->audience);
    free(v);
}

static enum result reject(struct error_info *err, const char *reason,
                          const char *detail)
{
    return error_set(err, RESULT_INVALID_INPUT, reason, "%s", detail);
}

/* Decodes one base64url part as a JSON object. */
static cJSON *json_part(const char *p, size_t n)
{
    size_t len = 0;
    unsigned char *raw = base64_decode(p, n, BASE64_URL, &len);
    if (!raw)
        return NULL;
    /* cJSON keeps strings NUL-terminated: a "sub" of "admin\u0000x"
     * would silently become "admin". */
    if (json_text_has_nul((const char *)raw, len)) {
        free(raw);
        return NULL;
    }
    cJSON *o = json_arena_parse((char *)raw, len, 0);
    free(raw);
    if (!cJSON_IsObject(o)) {
        json_arena_delete(o);
        return NULL;
    }
    return o;
}

static enum result check_signature(struct jwt_verifier *v, const char *token,
                                   size_t signed_len, const char *sig64,
                                   size_t sig64_len, struct error_info *err)
{
    size_t sig_len = 0;
    unsigned char *sig = base64_decode(sig64, sig64_len, BASE64_URL, &sig_len);
    if (!sig)
        return reject(err, "malformed", "signature is not base64url");
    if (build_key(v) != 0) {
        free(sig);
        return reject(err, "no_key", "the RSA key could not be built");
    }
    int ok =
        rsa_verify(v, (const unsigned char *)token, signed_len, sig, sig_len);
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

static enum result read_times(const cJSON *c, struct token_times *t,
                              struct error_info *err)
{
    enum result r;
    if ((r = numeric_date(c, "exp", &t->has_exp, &t->exp, err)) ||
        (r = numeric_date(c, "nbf", &t->has_nbf, &t->nbf, err)) ||
        (r = numeric_date(c, "iat", &t->has_iat, &t->iat, err)))
        return r;
    return RESULT_OK;
}

static enum result check_times(const struct token_times *tt, int64_t now,
                               struct error_info *err)
{
    double t = (double)now;
    if (!tt->has_exp)
        return reject(err, "missing_exp", "exp is required");
    if (t > tt->exp + JWT_LEEWAY_SECONDS)
        return reject(err, "expired", "token expired");
    if (tt->has_nbf && t + JWT_LEEWAY_SECONDS < tt->nbf)
        return reject(err, "not_yet_valid", "nbf is in the future");
    if (tt->has_iat && tt->iat > t + JWT_LEEWAY_SECONDS)
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
                         "%s must be a string of 1-%zu bytes", name, size - 1);
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return RESULT_OK;
}

static enum result check_claims(const struct jwt_verifier *v, const cJSON *c,
                                int64_t now, struct jwt_claims *claims,
                                struct token_times *times,
                                struct error_info *err)
{
    enum result r = read_times(c, times, err);
    if (r == RESULT_OK)
        r = check_times(times, now, err);
    if (r != RESULT_OK)
        return r;
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
    if (v->issuer &&
        (!cJSON_IsString(iss) || strcmp(iss->valuestring, v->issuer) != 0))
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

/* The token's cache slot (FNV-1a of its bytes picks it). */
static struct cached_token *cache_slot(struct jwt_verifier *v,
                                       const char *token, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)token[i]) * 16777619u;
    if (!v->cache)
        v->cache = xcalloc(JWT_CACHE_SLOTS, sizeof(*v->cache));
    return &v->cache[h % JWT_CACHE_SLOTS];
}

static void cache_store(struct cached_token *slot, const char *token, size_t n,
                        const struct token_times *times,
                        const struct jwt_claims *claims)
{
    if (n > JWT_CACHE_MAX_TOKEN)
        return;
    if (!slot->token || slot->len < n)
        slot->token = xrealloc(slot->token, n);
    memcpy(slot->token, token, n);
    slot->len = n;
    slot->times = *times;
    slot->claims = *claims;
}

/* Verifies a token the cache does not know. */
static enum result verify_token(struct jwt_verifier *v, const char *token,
                                size_t n, const char *d1, const char *d2,
                                int64_t now, struct jwt_claims *claims,
                                struct token_times *times,
                                struct error_info *err)
{
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
    if (r == RESULT_OK && !(body = json_part(d1 + 1, (size_t)(d2 - d1 - 1))))
        r = reject(err, "malformed", "payload is not base64url JSON");
    if (r == RESULT_OK)
        r = check_claims(v, body, now, claims, times, err);
    json_arena_delete(header);
    json_arena_delete(body);
    return r;
}

enum result jwt_verify(struct jwt_verifier *v, const char *token, int64_t now,
                       struct jwt_claims *claims, struct error_info *err)
{
    if (!v)
        return reject(err, "no_key", "no JWT_PUBLIC_KEY configured");
    if (!token || !*token)
        return reject(err, "missing_token", "no token");
    size_t n = strlen(token);
    if (n > JWT_MAX_TOKEN_BYTES)
        return reject(err, "oversized", "token is too long");
    const char *d1 = memchr(token, '.', n);
    const char *d2 =
        d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
        return reject(err, "malformed", "a JWT has three parts");
    struct cached_token *slot = cache_slot(v, token, n);
    if (slot->token && slot->len == n && memcmp(slot->token, token, n) == 0) {
        enum result r = check_times(&slot->times, now, err);
        if (r == RESULT_OK)
            *claims = slot->claims;
        else
            slot->len = 0; /* expired: no longer a hit */
        return r;
    }
    struct token_times times;
    struct jwt_claims out;
    enum result r = verify_token(v, token, n, d1, d2, now, &out, &times, err);
    if (r != RESULT_OK)
        return r;
    *claims = out;
    cache_store(slot, token, n, &times, &out);
    return RESULT_OK;
}
