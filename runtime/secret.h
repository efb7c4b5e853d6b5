/* Secrets in memory: copies that are wiped before they are freed. */
#ifndef STREAMER_SECRET_H
#define STREAMER_SECRET_H

/*
 * A copy of the secret `s` (NULL gives NULL). Caller owns the result;
 * free with secret_free(). Aborts when memory is exhausted.
 */
char *secret_dup(const char *s);

/*
 * Overwrites the NUL-terminated secret `s` with OPENSSL_cleanse(), which
 * the compiler may not drop as it may a memset() before free(), and frees
 * it. NULL is a no-op.
 */
void secret_free(char *s);

#endif
