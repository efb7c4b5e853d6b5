/* Unit tests for SigV4: the AWS suite, each stage, the key cache, curl. */
#include <check.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "sigv4.h"
#include "sigv4_int.h"
#include "test_http.h"

#define MAX_CASES 256
#define MAX_HEADERS 64
#define BUF_MAX (1024 * 1024)

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256                                                           \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- the AWS SigV4 test suite ------------------------------------------ */

/*
 * The suite's folders, found when the suite is built (before Check forks),
 * so each folder is one loop iteration and a failure names its folder.
 */
static char suite_dir[PATH_MAX];
static char case_names[MAX_CASES][256];
static int case_count;

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Fills suite_dir: $SIGV4_SUITE, else $STREAMER_ROOT/../shared/...;
 * returns 0 when the folder does not exist. */
static int find_suite(void)
{
    const char *dir = getenv("SIGV4_SUITE");
    const char *root = getenv("STREAMER_ROOT");
    if (dir && *dir)
        snprintf(suite_dir, sizeof(suite_dir), "%s", dir);
    else
        snprintf(suite_dir, sizeof(suite_dir), "%s/../shared/vectors/sigv4",
                 root && *root ? root : ".");
    DIR *d = opendir(suite_dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && case_count < MAX_CASES) {
        char path[PATH_MAX + 300];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/context.json", suite_dir,
                 e->d_name);
        if (stat(path, &st) != 0 || strlen(e->d_name) >= 256)
            continue;
        snprintf(case_names[case_count++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(case_names, (size_t)case_count, sizeof(case_names[0]), name_cmp);
    return 1;
}

/* Returns the file's bytes (NUL-terminated, caller frees) or NULL. */
static char *slurp(const char *case_name, const char *file, size_t *len)
{
    char path[PATH_MAX + 600];
    snprintf(path, sizeof(path), "%s/%s/%s", suite_dir, case_name, file);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *data = malloc(cap);
    ck_assert_ptr_nonnull(data);
    while ((got = fread(data + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            data = realloc(data, cap);
            ck_assert_ptr_nonnull(data);
        }
    }
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

/* Expected outputs end without a newline; tolerate one added by an editor. */
static char *slurp_expected(const char *case_name, const char *file)
{
    size_t n = 0;
    char *s = slurp(case_name, file, &n);
    while (s && n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* One folder's request and context, borrowing from `text` and `json`. */
struct vector {
    char *text; /* request.txt, cut in place */
    cJSON *json;
    struct sigv4_credentials creds;
    struct sigv4_params params;
    struct sigv4_header headers[MAX_HEADERS + 1];
    struct sigv4_request req;
    int sign_body;
    int omit_session_token;
    char payload_sha256[65];
};

static int json_bool(const cJSON *obj, const char *name, int fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static time_t parse_iso8601(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
                     &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return (time_t)-1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/*
 * context.json: credentials (access_key_id, secret_access_key, token),
 * region, service, timestamp, and the flags
 *  - normalize: normalize the path (else sign it as written);
 *  - sign_body: also sign x-amz-content-sha256, the payload's hash; the
 *    signer signs it as any header, so the test adds it to the request;
 *  - omit_session_token: the token is sent but not signed, i.e. added
 *    after signing; the test signs without it;
 *  - double_uri_encode (absent in this suite; aws-c-auth's default is on
 *    for every service but s3, which we follow).
 * expiration_in_seconds only applies to presigned (query-signed) URLs,
 * which Streamer does not make; the query-*.txt files are not checked.
 */
static void parse_context(struct vector *v, const char *name, const char *js)
{
    v->json = cJSON_Parse(js);
    ck_assert_msg(v->json != NULL, "%s: context.json does not parse", name);
    const cJSON *creds =
        cJSON_GetObjectItemCaseSensitive(v->json, "credentials");
    v->creds.access_key_id = json_str(creds, "access_key_id");
    v->creds.secret_access_key = json_str(creds, "secret_access_key");
    v->creds.session_token = json_str(creds, "token");
    v->params.region = json_str(v->json, "region");
    v->params.service = json_str(v->json, "service");
    v->params.now = parse_iso8601(json_str(v->json, "timestamp"));
    ck_assert_msg(v->creds.access_key_id && v->creds.secret_access_key &&
                      v->params.region && v->params.service &&
                      v->params.now != (time_t)-1,
                  "%s: context.json lacks a field", name);
    v->params.normalize_path = json_bool(v->json, "normalize", 1);
    v->sign_body = json_bool(v->json, "sign_body", 0);
    v->omit_session_token = json_bool(v->json, "omit_session_token", 0);
    v->params.double_encode_path = json_bool(
        v->json, "double_uri_encode", strcmp(v->params.service, "s3") != 0);
}

/* Cuts one line off `*p` in place; strips a CR before the LF. */
static char *next_line(char **p)
{
    char *line = *p;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = line + strlen(line);
    }
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r')
        line[n - 1] = '\0';
    return line;
}

/*
 * request.txt: "METHOD target HTTP/1.1", then "Name:value" lines (a line
 * starting with a blank continues the previous value, an obsolete line
 * fold that is kept raw for the signer to unfold), then an optional blank
 * line and the body. The target may contain spaces (get-space-*), so the
 * method ends at the first space and the target at the last.
 */
static void parse_request(struct vector *v, const char *name)
{
    char *p = v->text;
    char *line = next_line(&p);
    char *sp1 = strchr(line, ' ');
    char *sp2 = strrchr(line, ' ');
    ck_assert_msg(sp1 && sp2 > sp1, "%s: bad request line", name);
    *sp1 = '\0';
    *sp2 = '\0';
    v->req.method = line;
    v->req.path = sp1 + 1;
    char *q = strchr(sp1 + 1, '?');
    if (q) {
        *q = '\0';
        v->req.query = q + 1;
    }

    size_t count = 0;
    while (*p && *p != '\n' && !(p[0] == '\r' && p[1] == '\n')) {
        char *start = p;
        char *end = strchr(p, '\n');
        while (end && (end[1] == ' ' || end[1] == '\t'))
            end = strchr(end + 1, '\n');
        if (end) {
            *end = '\0';
            p = end + 1;
        } else {
            p = start + strlen(start);
        }
        char *colon = strchr(start, ':');
        ck_assert_msg(colon && count < MAX_HEADERS, "%s: bad header '%s'", name,
                      start);
        *colon = '\0';
        v->headers[count].name = start;
        v->headers[count].value = colon + 1;
        count++;
    }
    if (*p == '\r')
        p++;
    if (*p == '\n')
        p++;
    v->req.payload = p;
    v->req.payload_len = strlen(p);
    ck_assert_int_eq(
        sigv4_sha256_hex(v->payload_sha256, v->req.payload, v->req.payload_len),
        RESULT_OK);
    if (v->sign_body) {
        v->headers[count].name = "x-amz-content-sha256";
        v->headers[count].value = v->payload_sha256;
        count++;
    }
    v->req.headers = v->headers;
    v->req.header_count = count;
    if (v->omit_session_token)
        v->creds.session_token = NULL;
}

/* The Authorization value in header-signed-request.txt. */
static char *expected_authorization(const char *name)
{
    char *signed_req = slurp(name, "header-signed-request.txt", NULL);
    ck_assert_msg(signed_req != NULL, "%s: no header-signed-request.txt", name);
    char *line = strstr(signed_req, "\nAuthorization:");
    ck_assert_msg(line != NULL, "%s: no Authorization line", name);
    line += strlen("\nAuthorization:");
    while (*line == ' ')
        line++;
    char *out = strndup(line, strcspn(line, "\r\n"));
    free(signed_req);
    return out;
}

START_TEST(test_vector)
{
    const char *name = case_names[_i];
    struct vector v;
    memset(&v, 0, sizeof(v));

    char *expect_canonical =
        slurp_expected(name, "header-canonical-request.txt");
    if (!expect_canonical) {
        /* A presigned-URL-only case has no header-*.txt: Streamer signs
         * headers only, so such a case does not apply. Say so loudly. */
        printf("sigv4 vector %s: no header-signing files; query signing "
               "is not implemented, case not applicable\n",
               name);
        return;
    }
    char *expect_sts = slurp_expected(name, "header-string-to-sign.txt");
    char *expect_sig = slurp_expected(name, "header-signature.txt");
    char *expect_auth = expected_authorization(name);
    char *context = slurp(name, "context.json", NULL);
    v.text = slurp(name, "request.txt", NULL);
    ck_assert_msg(expect_sts && expect_sig && context && v.text,
                  "%s: a file is missing", name);
    parse_context(&v, name, context);
    parse_request(&v, name);

    /* Stage 1: the canonical request. */
    char amz_date[17];
    ck_assert_int_eq(sigv4_amz_date(amz_date, v.params.now), RESULT_OK);
    struct buf canonical, signed_headers, sts;
    buf_init(&canonical, BUF_MAX);
    buf_init(&signed_headers, BUF_MAX);
    buf_init(&sts, BUF_MAX);
    ck_assert_int_eq(sigv4_canonical_request(
                         &canonical, &signed_headers, &v.params, &v.req,
                         amz_date, v.creds.session_token, v.payload_sha256),
                     RESULT_OK);
    ck_assert_msg(strcmp(buf_str(&canonical), expect_canonical) == 0,
                  "%s: canonical request\n--- got\n%s\n--- want\n%s", name,
                  buf_str(&canonical), expect_canonical);

    /* Stage 2: the string to sign, from the expected canonical request so
     * that this stage is checked on its own. */
    char scope[128];
    snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request", amz_date,
             v.params.region, v.params.service);
    ck_assert_int_eq(sigv4_string_to_sign(&sts, amz_date, scope,
                                          expect_canonical,
                                          strlen(expect_canonical)),
                     RESULT_OK);
    ck_assert_msg(strcmp(buf_str(&sts), expect_sts) == 0,
                  "%s: string to sign\n--- got\n%s\n--- want\n%s", name,
                  buf_str(&sts), expect_sts);

    /* Stage 3: the signature, from the expected string to sign. */
    unsigned char key[32];
    char signature[65], date[9];
    snprintf(date, sizeof(date), "%.8s", amz_date);
    ck_assert_int_eq(sigv4_derive_key(key, v.creds.secret_access_key, date,
                                      v.params.region, v.params.service),
                     RESULT_OK);
    ck_assert_int_eq(
        sigv4_signature(signature, key, expect_sts, strlen(expect_sts)),
        RESULT_OK);
    ck_assert_msg(strcmp(signature, expect_sig) == 0,
                  "%s: signature %s, want %s", name, signature, expect_sig);

    /* Stage 4: the whole of sigv4_sign(), checked by its Authorization. */
    struct sigv4_signer signer;
    struct sigv4_output out;
    sigv4_signer_init(&signer);
    ck_assert_int_eq(sigv4_sign(&signer, &v.creds, &v.params, &v.req, &out),
                     RESULT_OK);
    ck_assert_msg(strcmp(out.authorization, expect_auth) == 0,
                  "%s: Authorization\n got %s\nwant %s", name,
                  out.authorization, expect_auth);
    ck_assert_str_eq(out.amz_date, amz_date);
    ck_assert_str_eq(out.payload_sha256, v.payload_sha256);
    sigv4_signer_cleanup(&signer);

    buf_cleanup(&canonical);
    buf_cleanup(&signed_headers);
    buf_cleanup(&sts);
    cJSON_Delete(v.json);
    free(v.text);
    free(context);
    free(expect_canonical);
    free(expect_sts);
    free(expect_sig);
    free(expect_auth);
}
END_TEST

START_TEST(test_vectors_absent)
{
    const char *ci = getenv("CI");
    printf("sigv4: test suite folder %s is absent; the AWS vectors are "
           "skipped\n",
           suite_dir);
    ck_assert_msg(!(ci && strcmp(ci, "true") == 0),
                  "CI=true and the SigV4 test suite is missing at %s",
                  suite_dir);
}
END_TEST

START_TEST(test_vectors_empty)
{
    ck_abort_msg("the SigV4 test suite at %s has no cases", suite_dir);
}
END_TEST

/* ---- stages: URI encoding, canonical URI and query ---------------------- */

struct encode_row {
    const char *in;
    size_t len;
    int keep_slash;
    const char *want;
};

static const struct encode_row encode_rows[] = {
    {"", 0, 0, ""},
    {"-._~AZaz09", 10, 0, "-._~AZaz09"},
    {"a b", 3, 0, "a%20b"},
    {"a/b", 3, 1, "a/b"},
    {"a/b", 3, 0, "a%2Fb"},
    {"%", 1, 0, "%25"},
    {"+*=&?#", 6, 0, "%2B%2A%3D%26%3F%23"},
    {"\xc3\xa9", 2, 0, "%C3%A9"},
    {"\0x", 2, 0, "%00x"},
    {"\xff", 1, 1, "%FF"},
};

START_TEST(test_uri_encode)
{
    const struct encode_row *row = &encode_rows[_i];
    struct buf b;
    buf_init(&b, 1024);
    ck_assert_int_eq(sigv4_uri_encode(&b, row->in, row->len, row->keep_slash),
                     RESULT_OK);
    ck_assert_msg(strcmp(buf_str(&b), row->want) == 0, "row %d: got %s want %s",
                  _i, buf_str(&b), row->want);
    buf_cleanup(&b);
}
END_TEST

START_TEST(test_uri_encode_cap)
{
    struct buf b;
    buf_init(&b, 4);
    ck_assert_int_eq(sigv4_uri_encode(&b, "a b", 3, 0), RESULT_TOO_LARGE);
    buf_cleanup(&b);
}
END_TEST

struct uri_row {
    const char *path;
    int normalize;
    int double_encode;
    const char *want;
};

static const struct uri_row uri_rows[] = {
    {NULL, 1, 1, "/"},
    {"", 0, 0, "/"},
    {"/", 1, 1, "/"},
    {"/a/b/../c", 1, 1, "/a/c"},
    {"/a/b/..", 1, 1, "/a/"},
    {"/a/./b/", 1, 1, "/a/b/"},
    {"/../a", 1, 1, "/a"},
    {"a/b", 1, 1, "/a/b"},
    {"//a//b//", 1, 1, "/a/b/"},
    {"//a//", 0, 1, "//a//"},
    {"/a/../../..", 1, 1, "/"},
    {"/..a/b.", 1, 1, "/..a/b."},
    /* The API Gateway Management API: the path as sent is encoded once
     * more, so '%' becomes %25. */
    {"/prod/%40connections/abc%3D", 1, 1, "/prod/%2540connections/abc%253D"},
    {"/prod/%40connections/abc%3D", 1, 0, "/prod/%40connections/abc%3D"},
    {"/a b/\xe1\x88\xb4", 0, 1, "/a%20b/%E1%88%B4"},
};

START_TEST(test_canonical_uri)
{
    const struct uri_row *row = &uri_rows[_i];
    struct buf b;
    buf_init(&b, 1024);
    ck_assert_int_eq(
        sigv4_canonical_uri(&b, row->path, row->normalize, row->double_encode),
        RESULT_OK);
    ck_assert_msg(strcmp(buf_str(&b), row->want) == 0,
                  "row %d (%s): got %s want %s", _i,
                  row->path ? row->path : "NULL", buf_str(&b), row->want);
    buf_cleanup(&b);
}
END_TEST

struct query_row {
    const char *query;
    const char *want;
};

static const struct query_row query_rows[] = {
    {NULL, ""},
    {"", ""},
    {"b=2&a=1", "a=1&b=2"},
    {"a=2&a=1", "a=1&a=2"},
    {"a", "a="},
    {"a=", "a="},
    {"a=1&&b=2&", "a=1&b=2"},
    {"k=a b", "k=a%20b"},
    {"k=%7e%7E", "k=~~"},
    {"k=%2f", "k=%2F"},
    {"k=a+b", "k=a%2Bb"},
    {"k=%zz&k2=%", "k=%25zz&k2=%25"},
    {"k=a=b", "k=a%3Db"},
    {"Param-3=V3&Param=V2", "Param=V2&Param-3=V3"},
    {"b=1&B=1", "B=1&b=1"},
    {"%E1%88%B4=x&\xe1\x88\xb4=y", "%E1%88%B4=x&%E1%88%B4=y"},
};

START_TEST(test_canonical_query)
{
    const struct query_row *row = &query_rows[_i];
    struct buf b;
    buf_init(&b, 1024);
    ck_assert_int_eq(sigv4_canonical_query(&b, row->query), RESULT_OK);
    ck_assert_msg(strcmp(buf_str(&b), row->want) == 0,
                  "row %d (%s): got %s want %s", _i,
                  row->query ? row->query : "NULL", buf_str(&b), row->want);
    buf_cleanup(&b);
}
END_TEST

/* ---- stages: canonical headers ------------------------------------------ */

struct header_row {
    const char *name;
    struct sigv4_header headers[6];
    size_t count;
    enum result want_result;
    const char *want_headers; /* the canonical header block */
    const char *want_signed;
};

#define DATE_LINE "x-amz-date:20150830T123600Z\n"

static const struct header_row header_rows[] = {
    {"trim and collapse",
     {{"Host", "h"}, {"X-A", "  a \t  b  "}, {"x-b", "\"q   q\""}},
     3,
     RESULT_OK,
     "host:h\nx-a:a b\n" DATE_LINE "x-b:\"q q\"\n",
     "host;x-a;x-amz-date;x-b"},
    {"repeats joined in request order",
     {{"X-M", "2"}, {"host", "h"}, {"x-m", "1"}, {"X-m", " 3 "}},
     4,
     RESULT_OK,
     "host:h\nx-amz-date:20150830T123600Z\nx-m:2,1,3\n",
     "host;x-amz-date;x-m"},
    {"folded value",
     {{"host", "h"}, {"x-f", "a\r\n  b\n\tc"}},
     2,
     RESULT_OK,
     "host:h\n" DATE_LINE "x-f:a b c\n",
     "host;x-amz-date;x-f"},
    {"empty value",
     {{"host", "h"}, {"X-E", ""}, {"x-n", NULL}},
     3,
     RESULT_OK,
     "host:h\n" DATE_LINE "x-e:\nx-n:\n",
     "host;x-amz-date;x-e;x-n"},
    {"signer-owned headers replaced",
     {{"host", "h"},
      {"X-Amz-Date", "19990101T000000Z"},
      {"Authorization", "x"},
      {"X-Amz-Security-Token", "stale"}},
     4,
     RESULT_OK,
     "host:h\n" DATE_LINE,
     "host;x-amz-date"},
    {"missing host", {{"x-a", "1"}}, 1, RESULT_INVALID_INPUT, NULL, NULL},
    {"name with a space",
     {{"host", "h"}, {"Bad Name", "1"}},
     2,
     RESULT_INVALID_INPUT,
     NULL,
     NULL},
    {"name with a colon",
     {{"host", "h"}, {"a:b", "1"}},
     2,
     RESULT_INVALID_INPUT,
     NULL,
     NULL},
    {"empty name",
     {{"host", "h"}, {"", "1"}},
     2,
     RESULT_INVALID_INPUT,
     NULL,
     NULL},
};

START_TEST(test_canonical_headers)
{
    const struct header_row *row = &header_rows[_i];
    struct sigv4_params params = {.region = "us-east-1",
                                  .service = "service",
                                  .normalize_path = 1,
                                  .double_encode_path = 1};
    struct sigv4_request req = {.method = "GET",
                                .path = "/",
                                .headers = row->headers,
                                .header_count = row->count};
    struct buf out, signed_headers;
    buf_init(&out, BUF_MAX);
    buf_init(&signed_headers, BUF_MAX);
    enum result r =
        sigv4_canonical_request(&out, &signed_headers, &params, &req,
                                "20150830T123600Z", NULL, EMPTY_SHA256);
    ck_assert_msg(r == row->want_result, "%s: result %s", row->name,
                  result_str(r));
    if (r == RESULT_OK) {
        char want[1024];
        snprintf(want, sizeof(want), "GET\n/\n\n%s\n%s\n%s", row->want_headers,
                 row->want_signed, EMPTY_SHA256);
        ck_assert_msg(strcmp(buf_str(&out), want) == 0,
                      "%s:\n--- got\n%s\n--- want\n%s", row->name,
                      buf_str(&out), want);
        ck_assert_str_eq(buf_str(&signed_headers), row->want_signed);
    }
    buf_cleanup(&out);
    buf_cleanup(&signed_headers);
}
END_TEST

/* A POST to the Management API: the canonical URI is double-encoded. */
START_TEST(test_execute_api_double_encoding)
{
    struct sigv4_header headers[] = {
        {"Host", "abc123.execute-api.us-east-1.amazonaws.com"}};
    struct sigv4_params params = {.region = "us-east-1",
                                  .service = "execute-api",
                                  .now = 1440938160,
                                  .normalize_path = 1,
                                  .double_encode_path = 1};
    struct sigv4_request req = {.method = "POST",
                                .path = "/prod/%40connections/abc%3D",
                                .headers = headers,
                                .header_count = 1,
                                .payload = "hi",
                                .payload_len = 2};
    struct buf out, signed_headers;
    buf_init(&out, BUF_MAX);
    buf_init(&signed_headers, BUF_MAX);
    ck_assert_int_eq(sigv4_canonical_request(&out, &signed_headers, &params,
                                             &req, "20150830T123600Z", NULL,
                                             EMPTY_SHA256),
                     RESULT_OK);
    static const char want[] = "POST\n/prod/%2540connections/abc%253D\n\n";
    ck_assert_msg(strncmp(buf_str(&out), want, strlen(want)) == 0, "got %s",
                  buf_str(&out));
    buf_cleanup(&out);
    buf_cleanup(&signed_headers);
}
END_TEST

/* ---- stages: key derivation and signature ------------------------------- */

/* IAM User Guide, "Examples of how to derive a signing key for SigV4". */
START_TEST(test_derive_key_known_answer)
{
    unsigned char key[32];
    char hex[65];
    static const char want[] =
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d";
    ck_assert_int_eq(
        sigv4_derive_key(key, SECRET, "20120215", "us-east-1", "iam"),
        RESULT_OK);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    ck_assert_str_eq(hex, want);
}
END_TEST

START_TEST(test_amz_date)
{
    char d[17];
    ck_assert_int_eq(sigv4_amz_date(d, 0), RESULT_OK);
    ck_assert_str_eq(d, "19700101T000000Z");
    ck_assert_int_eq(sigv4_amz_date(d, 1440938160), RESULT_OK);
    ck_assert_str_eq(d, "20150830T123600Z");
    /* Every field's carry: the last second of a leap year. */
    ck_assert_int_eq(sigv4_amz_date(d, 4007836799), RESULT_OK);
    ck_assert_str_eq(d, "20961231T235959Z");
    ck_assert_int_eq(sigv4_amz_date(d, 951825600), RESULT_OK);
    ck_assert_str_eq(d, "20000229T120000Z");
    ck_assert_int_eq(sigv4_amz_date(d, 253402300799), RESULT_OK);
    ck_assert_str_eq(d, "99991231T235959Z");
    /* No room for a fifth year digit, nor a time before 1970. */
    ck_assert_int_eq(sigv4_amz_date(d, 253402300800), RESULT_INVALID_INPUT);
    ck_assert_int_eq(sigv4_amz_date(d, -1), RESULT_INVALID_INPUT);
}
END_TEST

/* ---- sigv4_sign(): inputs, outputs, the key cache ----------------------- */

static const struct sigv4_header vanilla_headers[] = {
    {"Host", "example.amazonaws.com"}};

static struct sigv4_request vanilla_request(void)
{
    struct sigv4_request req = {.method = "GET",
                                .path = "/",
                                .headers = vanilla_headers,
                                .header_count = 1};
    return req;
}

static struct sigv4_params vanilla_params(void)
{
    struct sigv4_params p = {.region = "us-east-1",
                             .service = "service",
                             .now = 1440938160, /* 2015-08-30T12:36:00Z */
                             .normalize_path = 1,
                             .double_encode_path = 1};
    return p;
}

/* get-vanilla from the AWS suite, so this holds without the folder. */
START_TEST(test_sign_vanilla)
{
    struct sigv4_credentials creds = {AKID, SECRET, NULL};
    struct sigv4_params params = vanilla_params();
    struct sigv4_request req = vanilla_request();
    struct sigv4_signer s;
    struct sigv4_output out;
    sigv4_signer_init(&s);
    ck_assert_int_eq(sigv4_sign(&s, &creds, &params, &req, &out), RESULT_OK);
    ck_assert_str_eq(out.authorization,
                     "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/"
                     "us-east-1/service/aws4_request, SignedHeaders=host;"
                     "x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e"
                     "8372ff2a2260956d9b8aae1d763fbf31");
    ck_assert_str_eq(out.amz_date, "20150830T123600Z");
    ck_assert_str_eq(out.payload_sha256, EMPTY_SHA256);
    sigv4_signer_cleanup(&s);
}
END_TEST

START_TEST(test_sign_payload_hash_header)
{
    static const char hash[] =
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
    const struct sigv4_header headers[] = {vanilla_headers[0],
                                           {"X-Amz-Content-Sha256", hash}};
    struct sigv4_credentials creds = {AKID, SECRET, ""};
    struct sigv4_params params = vanilla_params();
    struct sigv4_request req = vanilla_request();
    struct sigv4_signer s;
    struct sigv4_output out;
    req.headers = headers;
    req.header_count = 2;
    req.payload = "Param1=value1";
    req.payload_len = 13;
    sigv4_signer_init(&s);
    ck_assert_int_eq(sigv4_sign(&s, &creds, &params, &req, &out), RESULT_OK);
    ck_assert_str_eq(out.payload_sha256, hash);
    ck_assert_ptr_nonnull(strstr(out.authorization,
                                 "SignedHeaders=host;x-amz-content-sha256;"
                                 "x-amz-date, "));
    sigv4_signer_cleanup(&s);
}
END_TEST

struct bad_input_row {
    const char *name;
    struct sigv4_credentials creds;
    const char *region;
    const char *service;
    const char *method;
    enum result want;
};

static const struct bad_input_row bad_input_rows[] = {
    {"no key id", {NULL, SECRET, NULL}, "r", "s", "GET", RESULT_INVALID_INPUT},
    {"empty key id", {"", SECRET, NULL}, "r", "s", "GET", RESULT_INVALID_INPUT},
    {"no secret", {AKID, NULL, NULL}, "r", "s", "GET", RESULT_INVALID_INPUT},
    {"empty secret", {AKID, "", NULL}, "r", "s", "GET", RESULT_INVALID_INPUT},
    {"no region", {AKID, SECRET, NULL}, NULL, "s", "GET", RESULT_INVALID_INPUT},
    {"empty service",
     {AKID, SECRET, NULL},
     "r",
     "",
     "GET",
     RESULT_INVALID_INPUT},
    {"region with slash",
     {AKID, SECRET, NULL},
     "us/east",
     "s",
     "GET",
     RESULT_INVALID_INPUT},
    {"no method", {AKID, SECRET, NULL}, "r", "s", NULL, RESULT_INVALID_INPUT},
};

START_TEST(test_sign_bad_input)
{
    const struct bad_input_row *row = &bad_input_rows[_i];
    struct sigv4_params params = vanilla_params();
    struct sigv4_request req = vanilla_request();
    struct sigv4_signer s;
    struct sigv4_output out, before;
    params.region = row->region;
    params.service = row->service;
    req.method = row->method;
    memset(&out, 'Z', sizeof(out));
    before = out;
    sigv4_signer_init(&s);
    enum result r = sigv4_sign(&s, &row->creds, &params, &req, &out);
    ck_assert_msg(r == row->want, "%s: %s", row->name, result_str(r));
    ck_assert_msg(memcmp(&out, &before, sizeof(out)) == 0,
                  "%s: out was touched", row->name);
    ck_assert_int_eq(s.key_valid, 0);
    sigv4_signer_cleanup(&s);
}
END_TEST

START_TEST(test_sign_authorization_too_large)
{
    enum { N = 60 };
    static char names[N][48];
    struct sigv4_header headers[N + 1];
    struct sigv4_credentials creds = {AKID, SECRET, NULL};
    struct sigv4_params params = vanilla_params();
    struct sigv4_request req = vanilla_request();
    struct sigv4_signer s;
    struct sigv4_output out;
    headers[0] = vanilla_headers[0];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "x-a-rather-long-name-%02d", i);
        headers[i + 1].name = names[i];
        headers[i + 1].value = "v";
    }
    req.headers = headers;
    req.header_count = N + 1;
    sigv4_signer_init(&s);
    ck_assert_int_eq(sigv4_sign(&s, &creds, &params, &req, &out),
                     RESULT_TOO_LARGE);
    sigv4_signer_cleanup(&s);
}
END_TEST

/* One signing in the cache sequence and whether it must derive a key. */
struct cache_step {
    time_t now;
    const char *region;
    const char *service;
    const char *secret;
    unsigned long want_derivations;
};

static const struct cache_step cache_steps[] = {
    {1440938160, "us-east-1", "dynamodb", SECRET, 1},
    {1440938160 + 60, "us-east-1", "dynamodb", SECRET, 1}, /* same day */
    {1440979199, "us-east-1", "dynamodb", SECRET, 1},      /* 23:59:59 */
    {1440979200, "us-east-1", "dynamodb", SECRET, 2},      /* next day */
    {1440979201, "eu-west-1", "dynamodb", SECRET, 3},      /* region */
    {1440979202, "eu-west-1", "execute-api", SECRET, 4},   /* service */
    {1440979203, "eu-west-1", "execute-api", "other", 5},  /* secret */
    {1440979204, "eu-west-1", "execute-api", "other", 5},  /* reused */
};

START_TEST(test_signing_key_cache)
{
    struct sigv4_signer s;
    sigv4_signer_init(&s);
    ck_assert_int_eq(s.key_valid, 0);
    for (size_t i = 0; i < sizeof(cache_steps) / sizeof(cache_steps[0]); i++) {
        const struct cache_step *st = &cache_steps[i];
        struct sigv4_credentials creds = {AKID, st->secret, NULL};
        struct sigv4_params params = vanilla_params();
        struct sigv4_request req = vanilla_request();
        struct sigv4_output cached, fresh;
        struct sigv4_signer f;
        params.now = st->now;
        params.region = st->region;
        params.service = st->service;
        ck_assert_int_eq(sigv4_sign(&s, &creds, &params, &req, &cached),
                         RESULT_OK);
        ck_assert_msg(s.key_derivations == st->want_derivations,
                      "step %zu: %lu derivations, want %lu", i,
                      s.key_derivations, st->want_derivations);
        ck_assert_int_eq(s.key_valid, 1);
        ck_assert_str_eq(s.key_region, st->region);
        ck_assert_str_eq(s.key_service, st->service);
        ck_assert_int_eq(strncmp(s.key_date, cached.amz_date, 8), 0);

        /* A cached key signs exactly as a freshly derived one. */
        sigv4_signer_init(&f);
        ck_assert_int_eq(sigv4_sign(&f, &creds, &params, &req, &fresh),
                         RESULT_OK);
        ck_assert_str_eq(cached.authorization, fresh.authorization);
        sigv4_signer_cleanup(&f);
    }
    sigv4_signer_cleanup(&s);
    static const unsigned char zero[32];
    ck_assert_int_eq(s.key_valid, 0);
    ck_assert_int_eq(memcmp(s.key, zero, sizeof(zero)), 0);
}
END_TEST

/* ---- cross-check with libcurl's CURLOPT_AWS_SIGV4 ----------------------- */

/* The first request the test server saw, copied off its thread. */
struct capture {
    pthread_mutex_t lock;
    int got;
    char *target;
    char *body;
    size_t body_len;
    size_t count;
    char *names[MAX_HEADERS];
    char *values[MAX_HEADERS];
};

static void capture_handler(void *ctx, const struct test_http_request *req,
                            struct test_http_reply *reply)
{
    struct capture *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (!c->got) {
        c->got = 1;
        c->target = strdup(req->target);
        c->body = malloc(req->body_len + 1);
        memcpy(c->body, req->body, req->body_len + 1);
        c->body_len = req->body_len;
        for (size_t i = 0; i < req->header_count && i < MAX_HEADERS; i++) {
            c->names[i] = strdup(req->headers[i].name);
            c->values[i] = strdup(req->headers[i].value);
            c->count++;
        }
    }
    pthread_mutex_unlock(&c->lock);
    reply->status = 200;
    test_http_reply_body(reply, "{}");
}

static void capture_free(struct capture *c)
{
    free(c->target);
    free(c->body);
    for (size_t i = 0; i < c->count; i++) {
        free(c->names[i]);
        free(c->values[i]);
    }
    pthread_mutex_destroy(&c->lock);
}

static const char *captured(const struct capture *c, const char *name)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcasecmp(c->names[i], name) == 0)
            return c->values[i];
    return NULL;
}

struct curl_row {
    const char *name;
    const char *region;
    const char *service;
    const char *path;
    const char *body;
    const char *extra_headers[4];
    const char *token; /* sent as X-Amz-Security-Token when set */
};

static const struct curl_row curl_rows[] = {
    {"dynamodb GetItem",
     "us-east-1",
     "dynamodb",
     "/",
     "{\"TableName\":\"streamer_connections\",\"Key\":{\"pk\":{\"S\":\"CONN#"
     "a\"},\"sk\":{\"S\":\"METADATA\"}}}",
     {"Content-Type: application/x-amz-json-1.0",
      "X-Amz-Target: DynamoDB_20120810.GetItem"},
     NULL},
    {"dynamodb with session token",
     "eu-west-1",
     "dynamodb",
     "/",
     "{}",
     {"Content-Type: application/x-amz-json-1.0",
      "X-Amz-Target: DynamoDB_20120810.ListTables"},
     "FwoGZXIvYXdzEXAMPLETOKEN/+="},
    {"empty body, extra header",
     "ap-southeast-2",
     "dynamodb",
     "/",
     "",
     {"Content-Type: application/x-amz-json-1.0", "X-Custom: a b"},
     NULL},
};

/* Parses curl's x-amz-date back into seconds since the epoch. */
static time_t parse_amz_date(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon,
                     &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return (time_t)-1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/* Drops the response body (the test looks at the request only). */
static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* Lets curl sign a POST to a loopback server; returns curl's result. */
static CURLcode curl_send(const struct curl_row *row, const char *base_url)
{
    char url[256], userpwd[128], provider[128], token_header[256];
    struct curl_slist *headers = NULL;
    CURLcode rc = CURLE_FAILED_INIT;
    CURL *curl = curl_easy_init();
    if (!curl)
        return rc;
    snprintf(url, sizeof(url), "%s%s", base_url, row->path);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", AKID, SECRET);
    snprintf(provider, sizeof(provider), "aws:amz:%s:%s", row->region,
             row->service);
    for (size_t i = 0; i < 4 && row->extra_headers[i]; i++)
        headers = curl_slist_append(headers, row->extra_headers[i]);
    if (row->token) {
        snprintf(token_header, sizeof(token_header), "X-Amz-Security-Token: %s",
                 row->token);
        headers = curl_slist_append(headers, token_header);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, row->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(row->body));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, provider);
    curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd);
    rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

START_TEST(test_curl_cross_check)
{
    const struct curl_row *row = &curl_rows[_i];
    struct capture cap;
    memset(&cap, 0, sizeof(cap));
    pthread_mutex_init(&cap.lock, NULL);

    /* Everything that needs the server happens before any assertion, so
     * the server is stopped on every path. */
    struct test_http *srv = test_http_start(capture_handler, &cap);
    CURLcode rc = CURLE_FAILED_INIT;
    if (srv) {
        rc = curl_send(row, test_http_url(srv));
        test_http_stop(srv);
    }
    ck_assert_msg(srv != NULL, "%s: test server did not start", row->name);
    ck_assert_msg(rc == CURLE_OK, "%s: curl: %s", row->name,
                  curl_easy_strerror(rc));
    ck_assert_msg(cap.got, "%s: the server saw no request", row->name);

    const char *curl_auth = captured(&cap, "Authorization");
    const char *amz_date = captured(&cap, "X-Amz-Date");
    ck_assert_msg(curl_auth && amz_date, "%s: curl did not sign", row->name);

    /* curl decides which headers it signs: sign exactly those, with the
     * values the server received. x-amz-date is the signer's own. */
    const char *sh = strstr(curl_auth, "SignedHeaders=");
    ck_assert_ptr_nonnull(sh);
    sh += strlen("SignedHeaders=");
    char names[1024];
    snprintf(names, sizeof(names), "%.*s", (int)strcspn(sh, ", "), sh);
    struct sigv4_header headers[MAX_HEADERS];
    size_t count = 0;
    char *save = NULL;
    for (char *n = strtok_r(names, ";", &save); n;
         n = strtok_r(NULL, ";", &save)) {
        if (strcmp(n, "x-amz-date") == 0)
            continue;
        for (size_t i = 0; i < cap.count && count < MAX_HEADERS; i++)
            if (strcasecmp(cap.names[i], n) == 0) {
                headers[count].name = cap.names[i];
                headers[count].value = cap.values[i];
                count++;
            }
    }

    char path[256];
    snprintf(path, sizeof(path), "%.*s", (int)strcspn(cap.target, "?"),
             cap.target);
    const char *q = strchr(cap.target, '?');
    struct sigv4_credentials creds = {AKID, SECRET, row->token};
    struct sigv4_params params = {.region = row->region,
                                  .service = row->service,
                                  .now = parse_amz_date(amz_date),
                                  .normalize_path = 1,
                                  .double_encode_path = 1};
    struct sigv4_request req = {.method = "POST",
                                .path = path,
                                .query = q ? q + 1 : NULL,
                                .headers = headers,
                                .header_count = count,
                                .payload = cap.body,
                                .payload_len = cap.body_len};
    struct sigv4_signer s;
    struct sigv4_output out;
    sigv4_signer_init(&s);
    ck_assert_int_ne(params.now, (time_t)-1);
    ck_assert_int_eq(sigv4_sign(&s, &creds, &params, &req, &out), RESULT_OK);
    ck_assert_msg(strcmp(out.authorization, curl_auth) == 0,
                  "%s:\n ours %s\ncurl's %s", row->name, out.authorization,
                  curl_auth);
    ck_assert_str_eq(out.amz_date, amz_date);
    sigv4_signer_cleanup(&s);
    capture_free(&cap);
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *sigv4_suite(void)
{
    Suite *s = suite_create("sigv4");

    TCase *tc = tcase_create("aws_suite");
    if (!find_suite())
        tcase_add_test(tc, test_vectors_absent);
    else if (case_count == 0)
        tcase_add_test(tc, test_vectors_empty);
    else
        tcase_add_loop_test(tc, test_vector, 0, case_count);
    suite_add_tcase(s, tc);

    tc = tcase_create("encoding");
    tcase_add_loop_test(tc, test_uri_encode, 0, ROWS(encode_rows));
    tcase_add_test(tc, test_uri_encode_cap);
    tcase_add_loop_test(tc, test_canonical_uri, 0, ROWS(uri_rows));
    tcase_add_loop_test(tc, test_canonical_query, 0, ROWS(query_rows));
    tcase_add_test(tc, test_execute_api_double_encoding);
    suite_add_tcase(s, tc);

    tc = tcase_create("headers");
    tcase_add_loop_test(tc, test_canonical_headers, 0, ROWS(header_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_add_test(tc, test_derive_key_known_answer);
    tcase_add_test(tc, test_amz_date);
    tcase_add_test(tc, test_signing_key_cache);
    suite_add_tcase(s, tc);

    tc = tcase_create("sign");
    tcase_add_test(tc, test_sign_vanilla);
    tcase_add_test(tc, test_sign_payload_hash_header);
    tcase_add_loop_test(tc, test_sign_bad_input, 0, ROWS(bad_input_rows));
    tcase_add_test(tc, test_sign_authorization_too_large);
    suite_add_tcase(s, tc);

    tc = tcase_create("curl");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_curl_cross_check, 0, ROWS(curl_rows));
    suite_add_tcase(s, tc);

    return s;
}
