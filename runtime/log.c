/* Logging: one record per line on stdout, text or JSON (Lambda's formats). */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "clock.h"
#include "json_write.h"
#include "text.h"

#define LOG_MAX_BYTES (256 * 1024)

static struct {
    enum log_level min;
    int json;
    FILE *out;
    char request_id[128];
} state = {LOG_INFO, 0, NULL, ""};

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO",
                                          "WARN",  "ERROR", "FATAL"};

const char *log_level_str(enum log_level level)
{
    return level <= LOG_FATAL ? level_names[level] : "INFO";
}

/* getenv() returns char *, so calling it through a pointer to a function
 * returning const char * is undefined behaviour (C11 6.5.2.2p9); this
 * wrapper has exactly the type of the callback. */
static const char *env_get(const char *name)
{
    return getenv(name);
}

enum result log_init(const char *(*get)(const char *name),
                     struct error_info *err)
{
    if (!get)
        get = env_get;
    state.min = LOG_INFO;
    state.json = 0;
    const char *fmt = get("AWS_LAMBDA_LOG_FORMAT");
    if (fmt && *fmt) {
        if (strcasecmp(fmt, "JSON") == 0)
            state.json = 1;
        else if (strcasecmp(fmt, "Text") != 0)
            return error_set(err, RESULT_CONFIG, "InvalidConfig",
                             "AWS_LAMBDA_LOG_FORMAT must be Text or JSON, "
                             "not '%.64s'",
                             fmt);
    }
    const char *lvl = get("AWS_LAMBDA_LOG_LEVEL");
    if (lvl && *lvl) {
        enum log_level l;
        for (l = LOG_TRACE; l <= LOG_FATAL; l++)
            if (strcasecmp(lvl, level_names[l]) == 0)
                break;
        if (l > LOG_FATAL)
            return error_set(err, RESULT_CONFIG, "InvalidConfig",
                             "AWS_LAMBDA_LOG_LEVEL must be one of TRACE, "
                             "DEBUG, INFO, WARN, ERROR, FATAL, not '%.64s'",
                             lvl);
        state.min = l;
    }
    return RESULT_OK;
}

void log_set_stream(FILE *out)
{
    state.out = out;
}

void log_set_request_id(const char *request_id)
{
    text_join(state.request_id, sizeof(state.request_id),
              request_id ? request_id : "", (char *)NULL);
}

int log_enabled(enum log_level level)
{
    return level >= state.min;
}

/* A record is capped at LOG_MAX_BYTES; past that it is cut short. */
static void put(struct buf *b, const char *p, size_t n)
{
    if (buf_append(b, p, n) != RESULT_OK)
        return;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Appends as much of the `n` bytes as fits under the cap: a record over
 * it is cut short right there, as byte-by-byte appends would cut it. */
static void put_cut(struct buf *b, const char *p, size_t n)
{
    size_t room = b->max_bytes - b->len;
    put(b, p, n < room ? n : room);
}

/* Text values with spaces or quotes are quoted so a line stays parseable. */
static void append_text_value(struct buf *b, const char *v)
{
    if (!strpbrk(v, " \"=\t\n")) {
        puts_(b, v);
        return;
    }
    puts_(b, "\"");
    for (const char *p = v; *p; p++) {
        size_t n = strcspn(p, "\"\\\n");
        put_cut(b, p, n);
        p += n;
        if (*p == '\n') {
            puts_(b, "\\n");
        } else if (*p) {
            const char esc[2] = {'\\', *p};
            put_cut(b, esc, 2);
        } else {
            break;
        }
    }
    puts_(b, "\"");
}

enum result log_json_string(struct buf *b, const char *s)
{
    enum result r = buf_append(b, "\"", 1);
    const char *run = s ? s : "";
    const char *p = run;
    for (; r == RESULT_OK && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[6];
        size_t n = json_escape(c, esc);
        r = buf_append(b, run, (size_t)(p - run));
        if (r == RESULT_OK)
            r = buf_append(b, esc, n);
        run = p + 1;
    }
    if (r == RESULT_OK)
        r = buf_append(b, run, (size_t)(p - run));
    if (r == RESULT_OK)
        r = buf_append(b, "\"", 1);
    return r;
}

/* `,"key":"value"`, both escaped. */
static enum result json_member(struct buf *b, const char *key,
                               const char *value)
{
    enum result r = buf_append(b, ",", 1);
    if (r == RESULT_OK)
        r = log_json_string(b, key);
    if (r == RESULT_OK)
        r = buf_append(b, ":", 1);
    if (r == RESULT_OK)
        r = log_json_string(b, value);
    return r;
}

/* A JSON record, its members in the order Lambda's JSON logs (and the
 * cJSON tree this replaced) have them; RESULT_TOO_LARGE past b's cap. */
static enum result json_record(struct buf *b, const char *ts,
                               enum log_level level, const char *message,
                               va_list kv)
{
    enum result r =
        buf_append_strs(b, "{\"timestamp\":\"", ts, "\",\"level\":\"",
                        log_level_str(level), "\"", (const char *)NULL);
    if (r == RESULT_OK && state.request_id[0])
        r = json_member(b, "requestId", state.request_id);
    if (r == RESULT_OK && message)
        r = json_member(b, "message", message);
    for (const char *k; r == RESULT_OK && (k = va_arg(kv, const char *));)
        r = json_member(b, k, va_arg(kv, const char *));
    if (r == RESULT_OK)
        r = buf_append(b, "}", 1);
    return r;
}

static void emit(enum log_level level, const char *message, va_list kv)
{
    /* RFC 3339 UTC with milliseconds, as Lambda's JSON logs use. */
    char ts[CLOCK_RFC3339_SIZE];
    clock_rfc3339(clock_now_ms(), ts);
    struct buf line;
    buf_init(&line, LOG_MAX_BYTES);
    if (state.json) {
        /* A record over the cap is dropped whole (an empty line), as it
         * was when cJSON printed it. */
        if (json_record(&line, ts, level, message, kv) != RESULT_OK)
            buf_reset(&line);
    } else {
        /* Lambda's text format: timestamp, request id, level, message. */
        puts_(&line, ts);
        puts_(&line, "\t");
        puts_(&line, state.request_id[0] ? state.request_id : "-");
        puts_(&line, "\t");
        puts_(&line, log_level_str(level));
        puts_(&line, "\t");
        for (const char *p = message; *p; p++) {
            size_t n = strcspn(p, "\n");
            put_cut(&line, p, n); /* newlines become spaces */
            p += n;
            if (!*p)
                break;
            put_cut(&line, " ", 1);
        }
        const char *k;
        while ((k = va_arg(kv, const char *))) {
            const char *v = va_arg(kv, const char *);
            puts_(&line, " ");
            puts_(&line, k);
            puts_(&line, "=");
            append_text_value(&line, v ? v : "");
        }
    }
    put(&line, "\n", 1);
    FILE *out = state.out ? state.out : stdout;
    fwrite(line.data, 1, line.len, out);
    fflush(out);
    buf_cleanup(&line);
}

/* Calls emit() with an empty va_list of extra fields. */
static void emit_plain(enum log_level level, const char *message, ...)
{
    va_list ap;
    va_start(ap, message);
    emit(level, message, ap);
    va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    struct buf msg;
    buf_init(&msg, LOG_MAX_BYTES);
    va_list ap;
    va_start(ap, fmt);
    if (buf_vappendf(&msg, fmt, ap) != RESULT_OK)
        puts_(&msg, "(log message over the size cap)");
    va_end(ap);
    emit_plain(level, buf_str(&msg), (const char *)NULL);
    buf_cleanup(&msg);
}

void log_kv(enum log_level level, const char *message, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, message);
    emit(level, message, ap);
    va_end(ap);
}

void log_raw(const char *line)
{
    FILE *out = state.out ? state.out : stdout;
    fputs(line, out);
    fputc('\n', out);
    fflush(out);
}
