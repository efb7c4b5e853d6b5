/* base64 and base64url (RFC 4648): encoding, and strict decoding. */
#include "base64.h"

#include <pthread.h>
#include <stdlib.h>

#include "xmalloc.h"

/* The 6-bit value of `c` in `alphabet`, or -1. */
static int sextet(unsigned char c, enum base64_alphabet alphabet)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (alphabet == BASE64_URL ? '-' : '+'))
        return 62;
    if (c == (alphabet == BASE64_URL ? '_' : '/'))
        return 63;
    return -1;
}

/* sextet() as a table per alphabet, 0xFF for "not a digit", made once:
 * decoding then takes four characters a step. */
static unsigned char tables[2][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 256; c++) {
            int d = sextet((unsigned char)c, a ? BASE64_URL : BASE64_STD);
            tables[a][c] = d < 0 ? 0xFF : (unsigned char)d;
        }
}

static const unsigned char *sextets(enum base64_alphabet alphabet)
{
    pthread_once(&tables_once, make_tables);
    return tables[alphabet == BASE64_URL];
}

unsigned char *base64_decode(const char *in, size_t n,
                             enum base64_alphabet alphabet, size_t *out_len)
{
    size_t pad = 0;
    if (alphabet == BASE64_STD) {
        if (n % 4)
            return NULL;
        if (n && in[n - 1] == '=')
            pad = in[n - 2] == '=' ? 2 : 1;
    } else if (n % 4 == 1) {
        return NULL;
    }
    const unsigned char *t = sextets(alphabet);
    const unsigned char *p = (const unsigned char *)in;
    size_t m = n - pad; /* the digits */
    unsigned char *out = xmalloc(n / 4 * 3 + 3);
    size_t len = 0, i = 0;
    for (; i + 4 <= m; i += 4) {
        unsigned a = t[p[i]], b = t[p[i + 1]], c = t[p[i + 2]], d = t[p[i + 3]];
        if ((a | b | c | d) & 0x80) {
            free(out);
            return NULL;
        }
        unsigned long v = (unsigned long)a << 18 | (unsigned long)b << 12 |
                          (unsigned long)c << 6 | d;
        out[len++] = (unsigned char)(v >> 16);
        out[len++] = (unsigned char)(v >> 8);
        out[len++] = (unsigned char)v;
    }
    /* The last 2 or 3 digits: 1 or 2 bytes. */
    unsigned long acc = 0;
    int bits = 0;
    for (; i < m; i++) {
        unsigned d = t[p[i]];
        if (d & 0x80) {
            free(out);
            return NULL;
        }
        acc = (acc << 6 | d) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    /* RFC 4648 §3.5: the bits left over after the last whole byte are
     * zero in a canonical encoding. Refusing anything else gives every
     * byte string one encoding (one JWT signature, one cursor). */
    if (bits && (acc & ((1ul << bits) - 1))) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *out_len = len;
    return out;
}

char *base64_encode(const void *in, size_t n, enum base64_alphabet alphabet,
                    size_t *out_len)
{
    static const char STD[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char URL[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *digits = alphabet == BASE64_URL ? URL : STD;
    const unsigned char *p = in;
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t len = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned long v = (unsigned long)p[i] << 16 | p[i + 1] << 8 | p[i + 2];
        out[len++] = digits[v >> 18];
        out[len++] = digits[v >> 12 & 63];
        out[len++] = digits[v >> 6 & 63];
        out[len++] = digits[v & 63];
    }
    if (i < n) { /* one or two bytes left */
        unsigned long v = (unsigned long)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned long)p[i + 1] << 8;
        out[len++] = digits[v >> 18];
        out[len++] = digits[v >> 12 & 63];
        if (i + 1 < n)
            out[len++] = digits[v >> 6 & 63];
        else if (alphabet == BASE64_STD)
            out[len++] = '=';
        if (alphabet == BASE64_STD)
            out[len++] = '=';
    }
    out[len] = '\0';
    if (out_len)
        *out_len = len;
    return out;
}
