/* Secrets in memory: copies that are wiped before they are freed. */
#include "secret.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "xmalloc.h"

char *secret_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void secret_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}
