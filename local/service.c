/* What the local gateway's parts share: log, ids, errors, waits, ports. */
#include "service.h"

#include <civetweb.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "xmalloc.h"

void service_log(const char *fmt, ...)
{
    char line[1200];
    int64_t now = clock_now_ms();
    time_t s = (time_t)(now / 1000);
    struct tm tm;
    localtime_r(&s, &tm);
    int n = snprintf(line, sizeof(line),
                     "%02d:%02d:%02d.%03d gateway: ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(now % 1000));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

void service_random_id(char *out, size_t n)
{
    unsigned char raw[48] = {0};
    if (n > sizeof(raw))
        n = sizeof(raw);
    if (RAND_bytes(raw, (int)n) != 1)
        service_log("RAND_bytes failed; ids are not random");
    size_t len;
    char *b64 = base64_encode(raw, n, BASE64_STD, &len);
    for (size_t i = 0; i < len; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    out[len] = '\0';
    free(b64);
}

void service_snippet(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < size; i++)
        out[i] = (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
    out[i] = '\0';
    if (s && s[i])
        snprintf(out + (i > 3 ? i - 3 : 0), 4, "...");
}

char *service_error_doc(const char *type, const char *fmt, ...)
{
    char msg[2000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *out = xmalloc(strlen(type) + 2 * strlen(msg) + 64);
    char *w =
        out + sprintf(out, "{\"errorType\":\"%s\",\"errorMessage\":\"", type);
    for (const char *p = msg; *p; p++) {
        if (*p == '"' || *p == '\\')
            *w++ = '\\';
        *w++ = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
    strcpy(w, "\"}");
    return out;
}

void service_abstime(int64_t epoch_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(epoch_ms / 1000);
    ts->tv_nsec = (long)(epoch_ms % 1000) * 1000000L;
}

struct mg_context *service_listen(const char **opts, void *data,
                                  const char *failure, int *port)
{
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    struct mg_context *ctx = mg_start(&cb, data, opts);
    struct mg_server_port sp;
    if (!ctx || mg_get_server_ports(ctx, 1, &sp) != 1) {
        service_log("%s", failure);
        if (ctx)
            mg_stop(ctx);
        return NULL;
    }
    *port = sp.port;
    return ctx;
}
