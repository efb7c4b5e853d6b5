/* A development JWT (RS256) for `make run`, signed with a local key. */
#include "devtoken.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "service.h"
#include "xmalloc.h"

#define DEV_TOKEN_TTL_S (24 * 3600)

/* RFC 7515 §2: `o` printed, as base64url without padding; frees `o`.
 * Caller owns the result; free with free(). */
static char *b64url_json(cJSON *o)
{
    char *text = xjson_print(o);
    cJSON_Delete(o);
    char *out = base64_encode(text, strlen(text), BASE64_URL, NULL);
    free(text);
    return out;
}

static void add_string(cJSON *object, const char *name, const char *value)
{
    xjson_add(object, name, cJSON_CreateString(value));
}

/* RFC 7519 claims; RS256 = RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518). */
int devtoken_print(const char *key_path)
{
    FILE *f = fopen(key_path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!key) {
        service_log("cannot read a PEM private key from %s", key_path);
        return -1;
    }
    cJSON *h = xjson(cJSON_CreateObject()), *c = xjson(cJSON_CreateObject());
    add_string(h, "alg", "RS256");
    add_string(h, "typ", "JWT");
    int64_t now = clock_now_ms() / 1000;
    add_string(c, "sub", "dev-user");
    add_string(c, "tenant_id", "dev-tenant");
    xjson_add(c, "iat", cJSON_CreateNumber((double)now));
    xjson_add(c, "exp", cJSON_CreateNumber((double)(now + DEV_TOKEN_TTL_S)));
    const char *iss = getenv("JWT_ISSUER"), *aud = getenv("JWT_AUDIENCE");
    if (iss && *iss)
        add_string(c, "iss", iss);
    if (aud && *aud)
        add_string(c, "aud", aud);
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
        char *s = base64_encode(sig, sig_len, BASE64_URL, NULL);
        printf("%s.%s\n", input, s);
        free(s);
    } else {
        service_log("cannot sign with the key in %s (RSA expected)", key_path);
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    free(input);
    free(head);
    free(claims);
    return ok ? 0 : -1;
}
