/* Fuzz target: JWT verification (header, claims, signature encoding). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base64.h"
#include "fake_aws.h"
#include "jwt.h"

#define NOW 1800000000 /* within the seeds' exp */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Our own encoder (no padding): what a signer sends. Caller frees. */
static char *encode(const uint8_t *p, size_t n)
{
    char *out = malloc(n / 3 * 4 + 5), *o = out;
    fake_aws_require(out != NULL, "malloc");
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = b64url[v >> 18 & 63];
        *o++ = b64url[v >> 12 & 63];
        if (i + 1 < n)
            *o++ = b64url[v >> 6 & 63];
        if (i + 2 < n)
            *o++ = b64url[v & 63];
    }
    *o = '\0';
    return out;
}

/* "<h>.<c>.<RS256 signature>" over the two parts, with the fuzz key. */
static char *sign(const uint8_t *h, size_t hn, const uint8_t *c, size_t cn)
{
    char *eh = encode(h, hn), *ec = encode(c, cn);
    size_t n = strlen(eh) + strlen(ec) + 1;
    char *token = malloc(n + 400);
    fake_aws_require(token != NULL, "malloc");
    memcpy(token, eh, strlen(eh));
    token[strlen(eh)] = '.';
    memcpy(token + strlen(eh) + 1, ec, strlen(ec) + 1);
    free(eh);
    free(ec);
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    fake_aws_require(md &&
                         EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
                                            fake_aws_jwt_key()) == 1 &&
                         EVP_DigestSign(md, sig, &sig_len,
                                        (const unsigned char *)token, n) == 1,
                     "RS256 signing");
    EVP_MD_CTX_free(md);
    char *es = encode(sig, sig_len);
    token[n] = '.';
    memcpy(token + n + 1, es, strlen(es) + 1);
    free(es);
    return token;
}

static void verify(const char *token)
{
    struct app *a = fake_aws_app();
    struct jwt_claims c;
    memset(&c, 0x5a, sizeof(c));
    struct error_info err;
    error_clear(&err);
    enum result r = jwt_verify(a->jwt, token, NOW, &c, &err);
    if (r == RESULT_OK) {
        size_t sub = strnlen(c.sub, sizeof(c.sub));
        size_t tenant = strnlen(c.tenant_id, sizeof(c.tenant_id));
        fake_aws_require(sub > 0 && sub < sizeof(c.sub), "bad sub");
        fake_aws_require(tenant > 0 && tenant < sizeof(c.tenant_id),
                         "bad tenant_id");
    } else {
        fake_aws_require(r == RESULT_INVALID_INPUT && err.type[0],
                         "a refusal without a reason");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The first byte picks the mode:
 *  0: the rest is a token as a client sends it;
 *  1: the rest is header JSON, a NUL, claims JSON: encoded and signed by
 *     the key the verifier trusts, so the claim checks are reached;
 *  2: the rest replaces the signature of a valid token: only the one
 *     canonical encoding of the true signature may pass (RFC 4648 §3.5).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *good;
    if (size < 1 || size > 12000)
        return 0;
    uint8_t mode = data[0] % 3;
    data++, size--;
    if (mode == 0) {
        char *token = strndup((const char *)data, size);
        verify(token);
        free(token);
    } else if (mode == 1) {
        const uint8_t *nul = memchr(data, '\0', size);
        size_t hn = nul ? (size_t)(nul - data) : size;
        const uint8_t *c = nul ? nul + 1 : data + size;
        char *token = sign(data, hn, c, (size_t)(data + size - c));
        verify(token);
        free(token);
    } else {
        if (!good) {
            const char h[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
            const char c[] = "{\"sub\":\"u1\",\"tenant_id\":\"t1\","
                             "\"exp\":1900000000}";
            good = sign((const uint8_t *)h, strlen(h), (const uint8_t *)c,
                        strlen(c));
        }
        const char *dot = strrchr(good, '.');
        size_t keep = (size_t)(dot - good) + 1;
        char *token = malloc(keep + size + 1);
        fake_aws_require(token != NULL, "malloc");
        memcpy(token, good, keep);
        memcpy(token + keep, data, size);
        token[keep + size] = '\0';
        struct jwt_claims cl;
        struct error_info err;
        error_clear(&err);
        enum result r = jwt_verify(fake_aws_app()->jwt, token, NOW, &cl, &err);
        if (r == RESULT_OK)
            fake_aws_require(strcmp(token, good) == 0,
                             "a second encoding of a signature passed");
        free(token);
    }
    return 0;
}
