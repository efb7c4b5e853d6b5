/* Tests of RS256 JWT verification with keys made in the test. */
#include <check.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "test_jwt.h"

/* Every token is checked at this instant (2027-01-15T08:00:00Z). */
#define NOW 1800000000
#define ISSUER "https://auth.example.com/"
#define AUDIENCE "streamer-api"

#define HDR "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define WHO "\"sub\":\"user-1\",\"tenant_id\":\"tenant-a\""
/* exp an hour ahead of NOW. */
#define EXP "\"exp\":1800003600"
#define GOOD "{" WHO "," EXP ",\"iat\":1800000000}"
/* The same claims for someone else, to graft onto a signed token. */
#define FORGED "{\"sub\":\"admin\",\"tenant_id\":\"tenant-a\"," EXP "}"

/* base64url of HDR, and of {WHO, EXP} (computed once, by hand). */
#define HDR64 "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
#define CLAIMS64                                                               \
    "eyJzdWIiOiJ1c2VyLTEiLCJ0ZW5hbnRfaWQiOiJ0ZW5hbnQtYSIsImV4cCI6MTgwMDAwMzYw" \
    "MH0"

/* Made once per run in the parent (an unchecked fixture), shared by the
 * forked tests. */
static EVP_PKEY *key, *other_key;
static char *pkix_pem, *pkcs1_pem;
static struct jwt_verifier *plain, *strict;

static void keys_setup(void)
{
    key = test_jwt_key();
    other_key = test_jwt_key();
    pkix_pem = test_jwt_pem(key, 0);
    pkcs1_pem = test_jwt_pem(key, 1);
    struct error_info err;
    ck_assert_int_eq(jwt_verifier_new(pkix_pem, NULL, NULL, &plain, &err),
                     RESULT_OK);
    ck_assert_int_eq(
        jwt_verifier_new(pkix_pem, ISSUER, AUDIENCE, &strict, &err), RESULT_OK);
}

static void keys_teardown(void)
{
    jwt_verifier_free(plain);
    jwt_verifier_free(strict);
    free(pkix_pem);
    free(pkcs1_pem);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
}

/* How a row's token is made from its `header` and `claims`. */
enum how {
    SIGNED,      /* JSON parts, signed RS256 by the key */
    OTHER_KEY,   /* JSON parts, signed RS256 by another key */
    UNSIGNED,    /* JSON parts and an empty signature ("h.c.") */
    HS256_PKIX,  /* JSON parts, HMAC-SHA256 keyed with the PKIX PEM text */
    HS256_PKCS1, /* the same keyed with the PKCS#1 PEM text */
    GRAFTED,     /* signed, then the claims part swapped for FORGED */
    BAD_SIG,     /* signed, then one signature character changed */
    SEGMENTS,    /* `header` and `claims` are encoded parts, signed RS256 */
    RAW,         /* `header` is the whole token */
};

struct row {
    const char *name;
    enum how how;
    const char *header;
    const char *claims;
    int strict;       /* use the verifier with ISSUER and AUDIENCE */
    const char *want; /* NULL: accepted; else the reason in err.type */
};

static const struct row rows[] = {
    /* Accepted. */
    {"valid", SIGNED, HDR, GOOD, 0, NULL},
    {"valid without typ", SIGNED, "{\"alg\":\"RS256\"}", GOOD, 0, NULL},
    {"valid with kid", SIGNED, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", GOOD, 0,
     NULL},
    {"exp 30 s past, within leeway", SIGNED, HDR,
     "{" WHO ",\"exp\":1799999970}", 0, NULL},
    {"exp exactly 60 s past", SIGNED, HDR, "{" WHO ",\"exp\":1799999940}", 0,
     NULL},
    {"exp fractional", SIGNED, HDR, "{" WHO ",\"exp\":1800003600.5}", 0, NULL},
    {"nbf past", SIGNED, HDR, "{" WHO "," EXP ",\"nbf\":1799990000}", 0, NULL},
    {"nbf 30 s ahead, within leeway", SIGNED, HDR,
     "{" WHO "," EXP ",\"nbf\":1800000030}", 0, NULL},
    {"iat 30 s ahead, within leeway", SIGNED, HDR,
     "{" WHO "," EXP ",\"iat\":1800000030}", 0, NULL},
    {"iss and aud ignored when not configured", SIGNED, HDR,
     "{" WHO "," EXP ",\"iss\":\"anyone\",\"aud\":\"anything\"}", 0, NULL},
    {"iss and aud string match", SIGNED, HDR,
     "{" WHO "," EXP ",\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\"}", 1,
     NULL},
    {"aud array containing ours", SIGNED, HDR,
     "{" WHO "," EXP ",\"iss\":\"" ISSUER "\",\"aud\":[\"other\",\"" AUDIENCE
     "\"]}",
     1, NULL},
    {"extra claims", SIGNED, HDR,
     "{" WHO "," EXP ",\"roles\":[\"a\"],\"n\":{\"x\":1}}", 0, NULL},

    /* Time. */
    {"expired an hour ago", SIGNED, HDR, "{" WHO ",\"exp\":1799996400}", 0,
     "expired"},
    {"expired 61 s ago", SIGNED, HDR, "{" WHO ",\"exp\":1799999939}", 0,
     "expired"},
    {"missing exp", SIGNED, HDR, "{" WHO ",\"iat\":1800000000}", 0,
     "missing_exp"},
    {"exp a string", SIGNED, HDR, "{" WHO ",\"exp\":\"1800003600\"}", 0,
     "malformed"},
    {"exp null", SIGNED, HDR, "{" WHO ",\"exp\":null}", 0, "malformed"},
    {"nbf 120 s ahead", SIGNED, HDR, "{" WHO "," EXP ",\"nbf\":1800000120}", 0,
     "not_yet_valid"},
    {"nbf a string", SIGNED, HDR, "{" WHO "," EXP ",\"nbf\":\"soon\"}", 0,
     "malformed"},
    {"iat 120 s ahead", SIGNED, HDR, "{" WHO "," EXP ",\"iat\":1800000120}", 0,
     "iat_in_future"},

    /* Signature and algorithm. */
    {"wrong key", OTHER_KEY, HDR, GOOD, 0, "bad_signature"},
    {"alg none, no signature", UNSIGNED, "{\"alg\":\"none\",\"typ\":\"JWT\"}",
     GOOD, 0, "bad_alg"},
    {"alg none, RS256 signature", SIGNED, "{\"alg\":\"none\"}", GOOD, 0,
     "bad_alg"},
    {"alg RS256, no signature", UNSIGNED, HDR, GOOD, 0, "bad_signature"},
    {"HS256 keyed with the PKIX PEM", HS256_PKIX,
     "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD, 0, "bad_alg"},
    {"HS256 keyed with the PKCS#1 PEM", HS256_PKCS1,
     "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD, 0, "bad_alg"},
    {"HMAC with the PEM, claiming RS256", HS256_PKIX, HDR, GOOD, 0,
     "bad_signature"},
    {"alg lower case", SIGNED, "{\"alg\":\"rs256\"}", GOOD, 0, "bad_alg"},
    {"alg RS512", SIGNED, "{\"alg\":\"RS512\"}", GOOD, 0, "bad_alg"},
    {"alg PS256", SIGNED, "{\"alg\":\"PS256\"}", GOOD, 0, "bad_alg"},
    {"alg missing", SIGNED, "{\"typ\":\"JWT\"}", GOOD, 0, "bad_alg"},
    {"alg an array", SIGNED, "{\"alg\":[\"RS256\"]}", GOOD, 0, "bad_alg"},
    {"crit header", SIGNED, "{\"alg\":\"RS256\",\"crit\":[\"exp\"]}", GOOD, 0,
     "bad_header"},
    {"tampered payload", GRAFTED, HDR, GOOD, 0, "bad_signature"},
    {"tampered signature", BAD_SIG, HDR, GOOD, 0, "bad_signature"},

    /* Claims. */
    {"missing sub", SIGNED, HDR, "{\"tenant_id\":\"tenant-a\"," EXP "}", 0,
     "missing_claim"},
    {"empty sub", SIGNED, HDR,
     "{\"sub\":\"\",\"tenant_id\":\"tenant-a\"," EXP "}", 0, "missing_claim"},
    {"sub a number", SIGNED, HDR,
     "{\"sub\":42,\"tenant_id\":\"tenant-a\"," EXP "}", 0, "missing_claim"},
    {"missing tenant_id", SIGNED, HDR, "{\"sub\":\"user-1\"," EXP "}", 0,
     "missing_claim"},
    {"tenant_id null", SIGNED, HDR,
     "{\"sub\":\"user-1\",\"tenant_id\":null," EXP "}", 0, "missing_claim"},
    {"iss wrong", SIGNED, HDR,
     "{" WHO "," EXP
     ",\"iss\":\"https://evil.example.com/\",\"aud\":\"" AUDIENCE "\"}",
     1, "bad_issuer"},
    {"iss missing", SIGNED, HDR, "{" WHO "," EXP ",\"aud\":\"" AUDIENCE "\"}",
     1, "bad_issuer"},
    {"aud wrong", SIGNED, HDR,
     "{" WHO "," EXP ",\"iss\":\"" ISSUER "\",\"aud\":\"other\"}", 1,
     "bad_audience"},
    {"aud array without ours", SIGNED, HDR,
     "{" WHO "," EXP ",\"iss\":\"" ISSUER "\",\"aud\":[\"a\",\"b\"]}", 1,
     "bad_audience"},
    {"aud missing", SIGNED, HDR, "{" WHO "," EXP ",\"iss\":\"" ISSUER "\"}", 1,
     "bad_audience"},
    {"sub cut short by \\u0000", SIGNED, HDR,
     "{\"sub\":\"admin\\u0000x\",\"tenant_id\":\"tenant-a\"," EXP "}", 0,
     "malformed"},
    {"tenant_id cut short by \\u0000", SIGNED, HDR,
     "{\"sub\":\"user-1\",\"tenant_id\":\"tenant-a\\u0000b\"," EXP "}", 0,
     "malformed"},
    {"raw NUL in the claims", SEGMENTS, HDR64,
     "eyJzdWIiOiJhAGIiLCJ0ZW5hbnRfaWQiOiJ0In0", 0, "malformed"},
    {"claims not an object", SIGNED, HDR, "[1,2]", 0, "malformed"},
    {"claims not JSON", SIGNED, HDR, "not json", 0, "malformed"},

    /* Encoding and shape. */
    {"claims in standard base64 (+)", SEGMENTS, HDR64,
     "ey+zdWIiOiJ1c2VyLTEiLCJ0ZW5hbnRfaWQiOiJ0ZW5hbnQtYSIsImV4cCI6MTgwMDAwMzY"
     "wMH0",
     0, "malformed"},
    {"claims with padding", SEGMENTS, HDR64, CLAIMS64 "=", 0, "malformed"},
    {"claims with a space", SEGMENTS, HDR64, "eyJzdWIi OiJ1", 0, "malformed"},
    {"claims of impossible length", SEGMENTS, HDR64, "eyJzd", 0, "malformed"},
    {"claims segment empty", SEGMENTS, HDR64, "", 0, "malformed"},
    {"signed encoded parts (control)", SEGMENTS, HDR64, CLAIMS64, 0, NULL},
    {"header not base64url", RAW, "!!!." CLAIMS64 ".c2ln", NULL, 0,
     "malformed"},
    {"header not JSON", RAW, "bm90IGpzb24." CLAIMS64 ".c2ln", NULL, 0,
     "malformed"},
    {"header a JSON string", RAW, "IlJTMjU2Ig." CLAIMS64 ".c2ln", NULL, 0,
     "malformed"},
    {"header empty", RAW, "." CLAIMS64 ".c2ln", NULL, 0, "malformed"},
    {"signature not base64url", RAW, HDR64 "." CLAIMS64 ".c2l*", NULL, 0,
     "malformed"},
    {"empty token", RAW, "", NULL, 0, "missing_token"},
    {"one segment", RAW, HDR64, NULL, 0, "malformed"},
    {"two segments", RAW, HDR64 "." CLAIMS64, NULL, 0, "malformed"},
    {"four segments", RAW, HDR64 "." CLAIMS64 ".c2ln.c2ln", NULL, 0,
     "malformed"},
    {"only dots", RAW, "..", NULL, 0, "malformed"},
};

/* Builds the token a row describes. Caller frees. */
static char *make_token(const struct row *r)
{
    if (r->how == RAW)
        return strdup(r->header);
    if (r->how == SEGMENTS) {
        char *input = test_jwt_join(r->header, r->claims);
        char *sig = test_jwt_rs256(key, input);
        char *token = test_jwt_join(input, sig);
        free(input);
        free(sig);
        return token;
    }
    char *h = test_jwt_b64url(r->header, strlen(r->header));
    char *c = test_jwt_b64url(r->claims, strlen(r->claims));
    char *input = test_jwt_join(h, c);
    char *sig = NULL;
    switch (r->how) {
    case OTHER_KEY:
        sig = test_jwt_rs256(other_key, input);
        break;
    case UNSIGNED:
        sig = strdup("");
        break;
    case HS256_PKIX:
        sig = test_jwt_hs256(pkix_pem, input);
        break;
    case HS256_PKCS1:
        sig = test_jwt_hs256(pkcs1_pem, input);
        break;
    default:
        sig = test_jwt_rs256(key, input);
        break;
    }
    if (r->how == BAD_SIG) /* a middle character carries only real bits */
        sig[strlen(sig) / 2] = sig[strlen(sig) / 2] == 'A' ? 'B' : 'A';
    if (r->how == GRAFTED) {
        free(c);
        c = test_jwt_b64url(FORGED, strlen(FORGED));
    }
    char *hc = test_jwt_join(h, c);
    char *token = test_jwt_join(hc, sig);
    free(h);
    free(c);
    free(hc);
    free(input);
    free(sig);
    return token;
}

START_TEST(table)
{
    const struct row *r = &rows[_i];
    char *token = make_token(r);
    struct jwt_claims claims;
    memset(&claims, 'X', sizeof(claims));
    struct error_info err;
    error_clear(&err);
    enum result got =
        jwt_verify(r->strict ? strict : plain, token, NOW, &claims, &err);
    if (!r->want) {
        ck_assert_msg(got == RESULT_OK, "%s: refused: %s (%s)", r->name,
                      err.type, err.message);
        ck_assert_str_eq(claims.sub, r->how == GRAFTED ? "admin" : "user-1");
        ck_assert_str_eq(claims.tenant_id, "tenant-a");
    } else {
        ck_assert_msg(got == RESULT_INVALID_INPUT,
                      "%s: got %s, want invalid input (%s)", r->name,
                      result_str(got), r->want);
        ck_assert_msg(strcmp(err.type, r->want) == 0,
                      "%s: reason %s (%s), want %s", r->name, err.type,
                      err.message, r->want);
        ck_assert_msg(err.message[0] != '\0', "%s: no detail", r->name);
        /* A refused token yields no identity, and leaves nothing on
         * OpenSSL's error queue, which this thread's TLS shares. */
        ck_assert_msg(ERR_peek_error() == 0, "%s: OpenSSL error queued",
                      r->name);
        ck_assert_int_eq(claims.sub[0], 'X');
        ck_assert_int_eq(claims.tenant_id[0], 'X');
    }
    free(token);
}
END_TEST

/* A claims object of `sub` and the given sub, signed. Caller frees. */
static char *token_for_sub(const char *sub)
{
    char claims[512];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"tenant_id\":\"t\"," EXP "}", sub);
    return test_jwt_token(key, HDR, claims);
}

START_TEST(claim_lengths)
{
    char sub[130];
    memset(sub, 'u', 128);
    sub[128] = '\0';
    char *token = token_for_sub(sub);
    struct jwt_claims claims;
    struct error_info err;
    ck_assert_int_eq(jwt_verify(plain, token, NOW, &claims, &err), RESULT_OK);
    ck_assert_str_eq(claims.sub, sub);
    ck_assert_str_eq(claims.tenant_id, "t");
    free(token);

    sub[128] = 'u';
    sub[129] = '\0';
    token = token_for_sub(sub);
    error_clear(&err);
    ck_assert_int_eq(jwt_verify(plain, token, NOW, &claims, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "missing_claim");
    free(token);
}
END_TEST

/* A cached token is the same verdict, and its times still count. */
START_TEST(cache_hits_recheck_times)
{
    struct error_info err;
    struct jwt_verifier *v = NULL;
    ck_assert_int_eq(jwt_verifier_new(pkix_pem, NULL, NULL, &v, &err),
                     RESULT_OK);
    char *token = token_for_sub("cached");
    struct jwt_claims c;
    for (int i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        ck_assert_int_eq(jwt_verify(v, token, NOW, &c, &err), RESULT_OK);
        ck_assert_str_eq(c.sub, "cached");
        ck_assert_str_eq(c.tenant_id, "t");
    }
    /* exp is NOW + 3600; the leeway is 60 s. */
    error_clear(&err);
    ck_assert_int_eq(jwt_verify(v, token, NOW + 3661, &c, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "expired");
    ck_assert_int_eq(jwt_verify(v, token, NOW, &c, &err), RESULT_OK);
    /* The same header and claims with another signature: never a hit. */
    char *dot = strrchr(token, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    error_clear(&err);
    ck_assert_int_eq(jwt_verify(v, token, NOW, &c, &err), RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "bad_signature");
    free(token);
    jwt_verifier_free(v);
}
END_TEST

/* More tokens than the cache has slots: each still verifies as itself. */
START_TEST(cache_is_bounded)
{
    struct error_info err;
    struct jwt_verifier *v = NULL;
    ck_assert_int_eq(jwt_verifier_new(pkix_pem, NULL, NULL, &v, &err),
                     RESULT_OK);
    enum { N = 300 };
    char **tokens = calloc(N, sizeof(char *));
    for (int i = 0; i < N; i++) {
        char sub[32];
        snprintf(sub, sizeof(sub), "user-%d", i);
        tokens[i] = token_for_sub(sub);
    }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            struct jwt_claims c;
            char sub[32];
            snprintf(sub, sizeof(sub), "user-%d", i);
            ck_assert_int_eq(jwt_verify(v, tokens[i], NOW, &c, &err),
                             RESULT_OK);
            ck_assert_str_eq(c.sub, sub);
        }
    for (int i = 0; i < N; i++)
        free(tokens[i]);
    free(tokens);
    jwt_verifier_free(v);
}
END_TEST

START_TEST(escaped_backslash_is_not_nul)
{
    /* "a\\u0000" is a backslash and five characters, not a NUL. */
    char *token = test_jwt_token(
        key, HDR, "{\"sub\":\"a\\\\u0000\",\"tenant_id\":\"t\"," EXP "}");
    struct jwt_claims claims;
    struct error_info err;
    ck_assert_int_eq(jwt_verify(plain, token, NOW, &claims, &err), RESULT_OK);
    ck_assert_str_eq(claims.sub, "a\\u0000");
    free(token);
}
END_TEST

/* The token for claims GOOD plus a "pad" claim of `n` bytes, and the
 * length it will have once signed (a 2048-bit signature is 342 chars). */
static char *padded_claims(size_t n)
{
    char *claims = malloc(n + 128);
    ck_assert_ptr_nonnull(claims);
    int len = snprintf(claims, 128, "{" WHO "," EXP ",\"pad\":\"");
    memset(claims + len, 'p', n);
    strcpy(claims + len + n, "\"}");
    return claims;
}

static size_t signed_length(const char *claims)
{
    return (sizeof(HDR64) - 1) + 1 + (strlen(claims) * 4 + 2) / 3 + 1 + 342;
}

START_TEST(size_limit)
{
    /* The largest token within JWT_MAX_TOKEN_BYTES verifies; one a few
     * bytes longer is refused before any parsing, signature or not. */
    size_t n = 5000;
    char *claims = padded_claims(n);
    while (signed_length(claims) <= JWT_MAX_TOKEN_BYTES) {
        free(claims);
        claims = padded_claims(++n);
    }
    char *over = test_jwt_token(key, HDR, claims);
    free(claims);
    claims = padded_claims(n - 1);
    char *fits = test_jwt_token(key, HDR, claims);
    free(claims);
    ck_assert_uint_le(strlen(fits), JWT_MAX_TOKEN_BYTES);
    ck_assert_uint_ge(strlen(fits), JWT_MAX_TOKEN_BYTES - 2);
    ck_assert_uint_gt(strlen(over), JWT_MAX_TOKEN_BYTES);

    struct jwt_claims c;
    struct error_info err;
    ck_assert_int_eq(jwt_verify(plain, fits, NOW, &c, &err), RESULT_OK);
    error_clear(&err);
    ck_assert_int_eq(jwt_verify(plain, over, NOW, &c, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "oversized");

    /* A megabyte of anything is refused the same way. */
    size_t big = 1 << 20;
    char *junk = malloc(big + 1);
    ck_assert_ptr_nonnull(junk);
    memset(junk, 'a', big);
    junk[big] = '\0';
    error_clear(&err);
    ck_assert_int_eq(jwt_verify(plain, junk, NOW, &c, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "oversized");
    free(junk);
    free(fits);
    free(over);
}
END_TEST

START_TEST(no_token_or_key)
{
    struct jwt_claims c;
    struct error_info err;
    ck_assert_int_eq(jwt_verify(plain, NULL, NOW, &c, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "missing_token");
    char *token = test_jwt_token(key, HDR, GOOD);
    error_clear(&err);
    ck_assert_int_eq(jwt_verify(NULL, token, NOW, &c, &err),
                     RESULT_INVALID_INPUT);
    ck_assert_str_eq(err.type, "no_key");
    free(token);
}
END_TEST

/* RFC 4648 §3.5: an RS256 signature (256 bytes) is 342 base64url
 * characters whose last one carries 2 bits of the signature and 4 zero
 * bits. Setting one of those 4 bits decodes to the same signature; the
 * token must still be refused, so that a token has one encoding. */
START_TEST(signature_has_one_encoding)
{
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "abcdefghijklmnopqrstuvwxyz0123456789-_";
    char *token = test_jwt_token(key, HDR, GOOD);
    struct jwt_claims c;
    struct error_info err;
    ck_assert_int_eq(jwt_verify(plain, token, NOW, &c, &err), RESULT_OK);
    size_t n = strlen(token);
    ck_assert_uint_eq(n - (size_t)(strrchr(token, '.') - token) - 1, 342);
    int v = (int)(strchr(alphabet, token[n - 1]) - alphabet);
    ck_assert_int_eq(v % 16, 0);
    for (int junk = 1; junk < 16; junk++) {
        token[n - 1] = alphabet[v | junk];
        error_clear(&err);
        ck_assert_msg(jwt_verify(plain, token, NOW, &c, &err) ==
                          RESULT_INVALID_INPUT,
                      "signature ending '%c' accepted", token[n - 1]);
    }
    free(token);
}
END_TEST

START_TEST(both_pem_forms)
{
    ck_assert_ptr_nonnull(strstr(pkix_pem, "-----BEGIN PUBLIC KEY-----"));
    ck_assert_ptr_nonnull(strstr(pkcs1_pem, "-----BEGIN RSA PUBLIC KEY-----"));
    char *token = test_jwt_token(key, HDR, GOOD);
    char *foreign = test_jwt_token(other_key, HDR, GOOD);
    const char *pems[] = {pkix_pem, pkcs1_pem};
    for (int i = 0; i < 2; i++) {
        struct jwt_verifier *v = NULL;
        struct error_info err;
        ck_assert_int_eq(jwt_verifier_new(pems[i], ISSUER, NULL, &v, &err),
                         RESULT_OK);
        struct jwt_claims c;
        /* The issuer is configured here, and GOOD has none. */
        ck_assert_int_eq(jwt_verify(v, token, NOW, &c, &err),
                         RESULT_INVALID_INPUT);
        ck_assert_str_eq(err.type, "bad_issuer");
        jwt_verifier_free(v);
        ck_assert_int_eq(jwt_verifier_new(pems[i], "", "", &v, &err),
                         RESULT_OK);
        ck_assert_int_eq(jwt_verify(v, token, NOW, &c, &err), RESULT_OK);
        ck_assert_str_eq(c.sub, "user-1");
        ck_assert_int_eq(jwt_verify(v, foreign, NOW, &c, &err),
                         RESULT_INVALID_INPUT);
        ck_assert_str_eq(err.type, "bad_signature");
        jwt_verifier_free(v);
    }
    free(token);
    free(foreign);
    jwt_verifier_free(NULL);
}
END_TEST

/* The public PEM of a key that is not RSA (P-256), or of an RSA key too
 * short for RS256 (RFC 7518 §3.3), in the given form. Caller frees. */
static char *other_pem(int rsa_bits, int pkcs1)
{
    EVP_PKEY *k =
        rsa_bits ? EVP_RSA_gen((unsigned)rsa_bits) : EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    char *pem = test_jwt_pem(k, pkcs1);
    EVP_PKEY_free(k);
    return pem;
}

/* The private key as PEM: a secret, never a JWT_PUBLIC_KEY. */
static char *private_pem(void)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(bio);
    ck_assert_int_eq(
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *pem = strndup(data, (size_t)n);
    BIO_free(bio);
    return pem;
}

START_TEST(bad_pem)
{
    char *ec = other_pem(0, 0);
    char *short_pkix = other_pem(1024, 0);
    char *short_pkcs1 = other_pem(1024, 1);
    char *secret = private_pem();
    char *truncated = strdup(pkix_pem);
    truncated[strlen(truncated) / 2] = '\0';
    char *corrupt = strdup(pkix_pem);
    /* Flip a byte inside the DER: still base64, no longer a key. */
    char *body = corrupt + strlen("-----BEGIN PUBLIC KEY-----\n") + 10;
    *body = *body == 'A' ? 'B' : 'A';
    body[1] = body[1] == '/' ? '+' : '/';
    const char *bad[] = {
        NULL,
        "",
        "not a pem at all",
        "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
        "-----BEGIN RSA PUBLIC KEY-----\n!!!!\n-----END RSA PUBLIC KEY-----\n",
        truncated,
        corrupt,
        ec,
        short_pkix,
        short_pkcs1,
        secret,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jwt_verifier *marker = (struct jwt_verifier *)&bad;
        struct jwt_verifier *v = marker;
        struct error_info err;
        error_clear(&err);
        enum result r = jwt_verifier_new(bad[i], NULL, NULL, &v, &err);
        ck_assert_msg(r == RESULT_CONFIG, "bad PEM %zu: got %s", i,
                      result_str(r));
        ck_assert_msg(v == marker, "bad PEM %zu: *out was touched", i);
        ck_assert_ptr_nonnull(strstr(err.message, "JWT_PUBLIC_KEY"));
        ck_assert_msg(ERR_peek_error() == 0,
                      "bad PEM %zu: OpenSSL error "
                      "queued",
                      i);
    }
    free(ec);
    free(short_pkix);
    free(short_pkcs1);
    free(secret);
    free(truncated);
    free(corrupt);
}
END_TEST

Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *t = tcase_create("verify");
    tcase_set_timeout(t, 60);
    tcase_add_unchecked_fixture(t, keys_setup, keys_teardown);
    tcase_add_loop_test(t, table, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(t, claim_lengths);
    tcase_add_test(t, cache_hits_recheck_times);
    tcase_add_test(t, cache_is_bounded);
    tcase_add_test(t, escaped_backslash_is_not_nul);
    tcase_add_test(t, size_limit);
    tcase_add_test(t, no_token_or_key);
    tcase_add_test(t, signature_has_one_encoding);
    tcase_add_test(t, both_pem_forms);
    tcase_add_test(t, bad_pem);
    suite_add_tcase(s, t);
    return s;
}
