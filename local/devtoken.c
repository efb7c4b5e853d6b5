/* A development JWT (RS256) for `make run`, signed with a local key. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "xmalloc.h"

#define DEV_TOKEN_TTL_S (24 * 3600)

/* RFC 7515 §2: base64url without padding. Caller frees. */
static char *b64url(const unsigned char *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    char *w = out;
    for (const char *r = out; *r; r++) {
        if (*r == '=')
            break;
        *w++ = *r == '+' ? '-' : *r == '/' ? '_' : *r;
    }
    *w = '\0';
    return out;
}

static char *b64url_json(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        abort();
    char *out = b64url((const unsigned char *)text, strlen(text));
    free(text);
    return out;
}

/* RFC 7519 claims; RS256 = RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518). */
int devtoken_print(const char *key_path)
{
    FILE *f = fopen(key_path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!key) {
        gateway_log("cannot read a PEM private key from %s", key_path);
        return -1;
    }
    cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "alg", "RS256");
    cJSON_AddStringToObject(h, "typ", "JWT");
    int64_t now = gateway_now_ms() / 1000;
    cJSON_AddStringToObject(c, "sub", "dev-user");
    cJSON_AddStringToObject(c, "tenant_id", "dev-tenant");
    cJSON_AddNumberToObject(c, "iat", (double)now);
    cJSON_AddNumberToObject(c, "exp", (double)(now + DEV_TOKEN_TTL_S));
    const char *iss = getenv("JWT_ISSUER"), *aud = getenv("JWT_AUDIENCE");
    if (iss && *iss)
        cJSON_AddStringToObject(c, "iss", iss);
    if (aud && *aud)
        cJSON_AddStringToObject(c, "aud", aud);
    char *head = b64url_json(h), *claims = b64url_json(c);
    size_t n = strlen(head) + strlen(claims) + 2;
    char *input = xmalloc(n);
    snprintf(input, n, "%s.%s", head, claims);
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_PKEY_get_size(key) <= (int)sizeof(sig) &&
             EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input,
                            strlen(input)) == 1;
    if (ok) {
        char *s = b64url(sig, sig_len);
        printf("%s.%s\n", input, s);
        free(s);
    } else {
        gateway_log("cannot sign with the key in %s (RSA expected)", key_path);
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    free(input);
    free(head);
    free(claims);
    return ok ? 0 : -1;
}
