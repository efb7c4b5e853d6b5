/* RS256 tokens minted by the benchmark: one per $connect, or reused. */
#include "tokens.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xmalloc.h"

struct tokens {
    EVP_PKEY *key;
};

struct tokens *tokens_new(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!key) {
        fprintf(stderr, "bench: cannot read the JWT private key %s\n", path);
        return NULL;
    }
    struct tokens *t = xcalloc(1, sizeof(*t));
    t->key = key;
    return t;
}

void tokens_free(struct tokens *t)
{
    if (!t)
        return;
    EVP_PKEY_free(t->key);
    free(t);
}

/* base64url without padding (RFC 7515 §2) of `n` bytes, appended at `out`. */
static size_t b64url(const unsigned char *p, size_t n, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[k++] = a[v >> 18 & 63];
        out[k++] = a[v >> 12 & 63];
        if (i + 1 < n)
            out[k++] = a[v >> 6 & 63];
        if (i + 2 < n)
            out[k++] = a[v & 63];
    }
    out[k] = '\0';
    return k;
}

char *tokens_mint(struct tokens *t, const char *sub, const char *tenant,
                  long serial)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    char claims[512];
    long now = (long)time(NULL);
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"tenant_id\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"bench-%ld\"}",
             sub, tenant, now, now + 86400, serial);
    char *out = xmalloc(2048);
    size_t k = b64url((const unsigned char *)header, strlen(header), out);
    out[k++] = '.';
    k += b64url((const unsigned char *)claims, strlen(claims), out + k);
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md ||
        EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, t->key, NULL) !=
            1 ||
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)out, k) != 1) {
        fprintf(stderr, "bench: signing a token failed\n");
        abort();
    }
    EVP_MD_CTX_free(md);
    out[k++] = '.';
    b64url(sig, sig_len, out + k);
    return out;
}
