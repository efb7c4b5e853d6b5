/* Checks and cuts on UTF-8 text (RFC 3629); strings joined without printf. */
#include "text.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "xmalloc.h"

size_t utf8_seq_len(const unsigned char *p, size_t left)
{
    if (left == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0)
        n = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        n = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            /* ASCII, most text here: eight bytes at a time while no
             * byte has its high bit set. */
            i++;
            for (uint64_t w; i + 8 <= n; i += 8) {
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
            }
            continue;
        }
        size_t k = utf8_seq_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

size_t utf8_prefix_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    while (n > 0 && s[n] && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

char *utf8_prefix(const char *s, size_t max)
{
    return xstrndup(s, utf8_prefix_len(s, max));
}

bool json_text_has_nul(const char *text, size_t len)
{
    if (memchr(text, '\0', len))
        return true;
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (text[i + 1] == 'u' && i + 6 <= len &&
            memcmp(text + i + 2, "0000", 4) == 0)
            return true;
        i++; /* the escaped character */
    }
    return false;
}

size_t text_join(char *dst, size_t size, ...)
{
    va_list ap;
    size_t total = 0;
    va_start(ap, size);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
        size_t n = strlen(s);
        if (total < size - 1) {
            size_t room = size - 1 - total;
            memcpy(dst + total, s, n < room ? n : room);
        }
        total += n;
    }
    va_end(ap);
    dst[total < size - 1 ? total : size - 1] = '\0';
    return total;
}

size_t text_u64(char out[21], unsigned long long v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

size_t text_i64(char out[21], long long v)
{
    /* The magnitude as unsigned: LLONG_MIN has no positive long long. */
    char digits[21];
    size_t neg = v < 0;
    size_t n = text_u64(digits, neg ? 0ULL - (unsigned long long)v
                                    : (unsigned long long)v);
    out[0] = '-';
    memcpy(out + neg, digits, n + 1);
    return n + neg;
}
