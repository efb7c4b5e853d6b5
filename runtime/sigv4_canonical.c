/* SigV4's canonical request: URI, query string and headers. */
#include "sigv4_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

/*
 * IAM User Guide, "Create a signed AWS API request", step 1 ("Create a
 * canonical request"): everything here builds that text from the request
 * as it will be sent; runtime/sigv4.c hashes and signs it.
 */

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

/* Linear white space, including the CR LF of an obsolete line fold. */
static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

enum result sigv4_uri_encode(struct buf *out, const char *s, size_t len,
                             int keep_slash)
{
    static const char upper[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < len) {
        /* Copy a run of bytes that stay as they are in one append. */
        size_t run = i;
        while (run < len && (is_unreserved((unsigned char)s[run]) ||
                             (keep_slash && s[run] == '/')))
            run++;
        if (run > i && buf_append(out, s + i, run - i) != RESULT_OK)
            return RESULT_TOO_LARGE;
        if (run == len)
            break;
        unsigned char c = (unsigned char)s[run];
        char esc[3] = {'%', upper[c >> 4], upper[c & 15]};
        if (buf_append(out, esc, sizeof(esc)) != RESULT_OK)
            return RESULT_TOO_LARGE;
        i = run + 1;
    }
    return RESULT_OK;
}

/* One path segment: a borrowed slice of the caller's path. */
struct segment {
    const char *p;
    size_t len;
};

static int is_dot(const char *p, size_t len)
{
    return len == 1 && p[0] == '.';
}

static int is_dot_dot(const char *p, size_t len)
{
    return len == 2 && p[0] == '.' && p[1] == '.';
}

/*
 * RFC 3986 section 5.2.4 (remove_dot_segments), plus dropping empty
 * segments: "Create a canonical request" asks non-S3 services to sign the
 * normalized path, so "//a/./b/../c/" is signed as "/a/c/". A path that
 * ends in '/', "." or ".." keeps a trailing '/'.
 */
static enum result normalize_path(struct buf *out, const char *path)
{
    enum result r = RESULT_OK;
    size_t max = 1;
    for (const char *p = path; *p; p++)
        max += (*p == '/');
    struct segment *segs = xcalloc(max, sizeof(*segs));
    size_t count = 0;
    int trailing = 0;

    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len > 0)
            trailing =
                (*p == '/') || is_dot(start, len) || is_dot_dot(start, len);
        if (len == 0 || is_dot(start, len))
            continue;
        if (is_dot_dot(start, len)) {
            if (count > 0)
                count--;
            continue;
        }
        segs[count].p = start;
        segs[count].len = len;
        count++;
    }

    if ((r = buf_append(out, "/", 1)) != RESULT_OK)
        goto done;
    for (size_t i = 0; i < count; i++) {
        if ((r = buf_append(out, segs[i].p, segs[i].len)) != RESULT_OK)
            goto done;
        if ((i + 1 < count || trailing) &&
            (r = buf_append(out, "/", 1)) != RESULT_OK)
            goto done;
    }
done:
    free(segs);
    return r;
}

enum result sigv4_canonical_uri(struct buf *out, const char *path,
                                int normalize_path_flag, int double_encode_path)
{
    enum result r = RESULT_OK;
    struct buf norm;
    buf_init(&norm, SIGV4_CANONICAL_MAX_BYTES);

    if (!path || !*path)
        path = "/";
    if (normalize_path_flag) {
        if ((r = normalize_path(&norm, path)) != RESULT_OK)
            goto done;
        path = buf_str(&norm);
    }
    /*
     * The path is already URI-encoded as sent. Every service but S3 signs
     * it encoded once more ("Create a canonical request": "each path
     * segment must be URI-encoded twice"); S3 signs it as sent.
     */
    if (double_encode_path)
        r = sigv4_uri_encode(out, path, strlen(path), 1);
    else
        r = buf_appends(out, path);
done:
    buf_cleanup(&norm);
    return r;
}

/*
 * Appends s[0..len) percent-decoded and then URI-encoded, so that a query
 * sent as "%E1%88%B4" or as raw UTF-8 is signed the same way. A '%' that
 * does not start an escape is taken literally. '+' is a literal plus
 * (RFC 3986), signed as %2B.
 */
static enum result append_reencoded(struct buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len &&
            hex_value((unsigned char)s[i + 1]) >= 0 &&
            hex_value((unsigned char)s[i + 2]) >= 0) {
            c = (unsigned char)(hex_value((unsigned char)s[i + 1]) * 16 +
                                hex_value((unsigned char)s[i + 2]));
            i += 2;
        }
        char byte = (char)c;
        if (sigv4_uri_encode(out, &byte, 1, 0) != RESULT_OK)
            return RESULT_TOO_LARGE;
    }
    return RESULT_OK;
}

/* One query parameter, encoded as "name=value"; name_len excludes '='. */
struct param {
    char *pair;
    size_t name_len;
};

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->pair, y->pair, n);
    if (c != 0)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return strcmp(x->pair + x->name_len, y->pair + y->name_len);
}

/* Splits `query` on '&' into encoded parameters; empty pieces are dropped. */
static enum result parse_query(const char *query, struct param *params,
                               size_t *count)
{
    enum result r = RESULT_OK;
    struct buf pair;
    buf_init(&pair, SIGV4_CANONICAL_MAX_BYTES);
    const char *p = query;
    *count = 0;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *name_end = eq ? eq : end;
            buf_reset(&pair);
            if ((r = append_reencoded(&pair, p, (size_t)(name_end - p))) !=
                RESULT_OK)
                goto done;
            size_t name_len = pair.len;
            if ((r = buf_append(&pair, "=", 1)) != RESULT_OK)
                goto done;
            if (eq && (r = append_reencoded(
                           &pair, eq + 1, (size_t)(end - eq - 1))) != RESULT_OK)
                goto done;
            params[*count].name_len = name_len;
            params[*count].pair = buf_steal(&pair);
            (*count)++;
        }
        p = *end ? end + 1 : end;
    }
done:
    buf_cleanup(&pair);
    return r;
}

enum result sigv4_canonical_query(struct buf *out, const char *query)
{
    enum result r = RESULT_OK;
    struct param *params = NULL;
    size_t count = 0;

    if (!query || !*query)
        return RESULT_OK;
    size_t max = 1;
    for (const char *p = query; *p; p++)
        max += (*p == '&');
    params = xcalloc(max, sizeof(*params));
    if ((r = parse_query(query, params, &count)) != RESULT_OK)
        goto done;
    /* "Create a canonical request": sort the parameters by name, then by
     * value, comparing the encoded bytes. */
    qsort(params, count, sizeof(*params), param_cmp);
    for (size_t i = 0; i < count; i++) {
        if ((i > 0 && (r = buf_append(out, "&", 1)) != RESULT_OK) ||
            (r = buf_appends(out, params[i].pair)) != RESULT_OK)
            goto done;
    }
done:
    for (size_t i = 0; i < max; i++)
        free(params[i].pair);
    free(params);
    return r;
}

/* One header to sign: lower-cased name, trimmed value, original order. */
struct header {
    char *name;
    char *value;
    size_t order;
};

static int header_cmp(const void *a, const void *b)
{
    const struct header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    /* Keep the request's order among repeated names (a stable sort). */
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* A field name is an HTTP token: visible ASCII but no ':' (RFC 9110). */
static char *lower_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 0x7f || c == ':')
            return NULL;
    }
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++)
        out[i] = ascii_lower(name[i]);
    return out;
}

/*
 * "Create a canonical request": trim leading and trailing spaces and turn
 * each run of spaces into one. A folded (multi-line) value unfolds the
 * same way, as RFC 9112 section 5.2 allows.
 */
static char *trim_all(const char *value)
{
    const char *v = value ? value : "";
    char *out = xmalloc(strlen(v) + 1);
    size_t n = 0;
    int pending_space = 0;
    for (; *v; v++) {
        if (is_blank((unsigned char)*v)) {
            pending_space = (n > 0);
            continue;
        }
        if (pending_space)
            out[n++] = ' ';
        pending_space = 0;
        out[n++] = *v;
    }
    out[n] = '\0';
    return out;
}

/* Headers the signer sets itself; the caller's copies are not signed. */
static int is_managed(const char *lname)
{
    return strcmp(lname, "x-amz-date") == 0 ||
           strcmp(lname, "x-amz-security-token") == 0 ||
           strcmp(lname, "authorization") == 0;
}

static void add_header(struct header *h, size_t *count, const char *lname,
                       const char *value)
{
    h[*count].name = xstrdup(lname);
    h[*count].value = trim_all(value);
    h[*count].order = *count;
    (*count)++;
}

/*
 * Collects the headers to sign into `h` (room for header_count + 2).
 * RESULT_INVALID_INPUT on a malformed name or a missing host.
 */
static enum result collect_headers(struct header *h, size_t *count,
                                   const struct sigv4_request *req,
                                   const char *amz_date,
                                   const char *session_token)
{
    int have_host = 0;
    *count = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        char *lname = lower_name(req->headers[i].name);
        if (!lname)
            return RESULT_INVALID_INPUT;
        if (!is_managed(lname)) {
            have_host |= strcmp(lname, "host") == 0;
            h[*count].name = lname;
            h[*count].value = trim_all(req->headers[i].value);
            h[*count].order = *count;
            (*count)++;
        } else {
            free(lname);
        }
    }
    if (!have_host)
        return RESULT_INVALID_INPUT;
    add_header(h, count, "x-amz-date", amz_date);
    if (session_token && *session_token)
        add_header(h, count, "x-amz-security-token", session_token);
    return RESULT_OK;
}

/*
 * Appends "name:value\n" per distinct name, repeated names joined with ','
 * in request order, and the names joined with ';' to `signed_headers`.
 */
static enum result append_headers(struct buf *out, struct buf *signed_headers,
                                  const struct header *h, size_t count)
{
    enum result r = RESULT_OK;
    for (size_t i = 0; i < count && r == RESULT_OK; i++) {
        int repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
        if (repeat) {
            r = buf_append_strs(out, ",", h[i].value, NULL);
            continue;
        }
        if (i > 0 && (r = buf_append(out, "\n", 1)) != RESULT_OK)
            break;
        if ((r = buf_append_strs(out, h[i].name, ":", h[i].value, NULL)) !=
            RESULT_OK)
            break;
        r = buf_append_strs(signed_headers, i > 0 ? ";" : "", h[i].name, NULL);
    }
    if (r == RESULT_OK && count > 0)
        r = buf_append(out, "\n", 1);
    return r;
}

enum result sigv4_canonical_request(struct buf *out, struct buf *signed_headers,
                                    const struct sigv4_params *params,
                                    const struct sigv4_request *req,
                                    const char *amz_date,
                                    const char *session_token,
                                    const char *payload_sha256)
{
    enum result r = RESULT_OK;
    size_t count = 0;
    struct header *h = xcalloc(req->header_count + 2, sizeof(*h));

    if (!req->method || !*req->method) {
        r = RESULT_INVALID_INPUT;
        goto done;
    }
    if ((r = collect_headers(h, &count, req, amz_date, session_token)) !=
        RESULT_OK)
        goto done;
    qsort(h, count, sizeof(*h), header_cmp);

    /* Method \n URI \n query \n headers \n signed headers \n payload hash
     * (IAM User Guide, "Create a canonical request"). */
    if ((r = buf_append_strs(out, req->method, "\n", NULL)) != RESULT_OK ||
        (r = sigv4_canonical_uri(out, req->path, params->normalize_path,
                                 params->double_encode_path)) != RESULT_OK ||
        (r = buf_append(out, "\n", 1)) != RESULT_OK ||
        (r = sigv4_canonical_query(out, req->query)) != RESULT_OK ||
        (r = buf_append(out, "\n", 1)) != RESULT_OK ||
        (r = append_headers(out, signed_headers, h, count)) != RESULT_OK ||
        (r = buf_append_strs(out, "\n", buf_str(signed_headers), "\n",
                             payload_sha256, NULL)) != RESULT_OK)
        goto done;
done:
    for (size_t i = 0; i < req->header_count + 2; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    return r;
}
