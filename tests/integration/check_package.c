/* Tests of the packaged build: the zip, its check, TLS trust, arm64. */
#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app_fixture.h"
#include "fake_rapi.h"
#include "http.h"
#include "net_util.h"
#include "proc.h"
#include "test_jwt.h"

#define MAX_ENV 40

/* The repository root (make test sets STREAMER_ROOT), else the cwd. */
static const char *root(void)
{
    const char *r = getenv("STREAMER_ROOT");
    return r && *r ? r : ".";
}

/* Runs a shell command line; returns its exit status. */
static int run(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), fmt, a, b);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Unpacks build/<zip> into a new temporary folder, written to `dir`. */
static void unpack(const char *zip, char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/streamer-pkg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof(path), "%s/build/%s", root(), zip);
    ck_assert_msg(access(path, R_OK) == 0,
                  "%s missing: make test builds it (make package)", path);
    ck_assert_int_eq(run("unzip -q '%s' -d '%s'", path, dir), 0);
}

static void remove_tree(const char *dir)
{
    ck_assert_int_eq(run("rm -rf '%s'%s", dir, ""), 0);
}

/* The environment a packaged bootstrap gets: exactly these variables,
 * LD_LIBRARY_PATH empty, so only the zip's own lib/ can be used. */
struct env {
    char *vars[MAX_ENV + 1];
    char store[MAX_ENV][2048];
    int n;
};

static void env_add(struct env *e, const char *name, const char *value)
{
    ck_assert_int_lt(e->n, MAX_ENV);
    int len =
        snprintf(e->store[e->n], sizeof(e->store[e->n]), "%s=%s", name, value);
    ck_assert_int_lt(len, (int)sizeof(e->store[e->n]));
    e->vars[e->n] = e->store[e->n];
    e->vars[++e->n] = NULL;
}

static void env_from_fixture(struct env *e, const struct app_fixture *f,
                             const struct fake_rapi *rapi)
{
    memset(e, 0, sizeof(*e));
    for (int i = 0; i < f->count; i++)
        env_add(e, f->names[i], f->values[i]);
    env_add(e, "AWS_LAMBDA_RUNTIME_API", fake_rapi_address(rapi));
    env_add(e, "LD_LIBRARY_PATH", "");
    env_add(e, "AWS_LAMBDA_FUNCTION_NAME", "streamer-package-test");
    /* Pushes go to a closed loopback port, not to the sample events'
     * made-up API Gateway host (the tests have loopback only). */
    env_add(e, "WEBSOCKET_ENDPOINT", "http://127.0.0.1:9");
}

/* Reads deploy/events/<name> into a malloc'd string. */
static char *sample_event(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/deploy/events/%s", root(), name);
    char *body = proc_read_file(path);
    ck_assert_msg(body != NULL, "cannot read %s", path);
    return body;
}

/* `text` with every `from` replaced by `to`; caller frees. */
static char *replace(const char *text, const char *from, const char *to)
{
    size_t n = strlen(text) + 1, from_len = strlen(from), to_len = strlen(to);
    for (const char *p = strstr(text, from); p; p = strstr(p + 1, from))
        n += to_len;
    char *out = malloc(n), *w = out;
    ck_assert_ptr_nonnull(out);
    for (const char *p = text;;) {
        const char *hit = strstr(p, from);
        size_t k = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(w, p, k);
        w += k;
        if (!hit)
            break;
        memcpy(w, to, to_len);
        w += to_len;
        p = hit + from_len;
    }
    *w = '\0';
    return out;
}

static EVP_PKEY *jwt_key;

/* A valid RS256 token for the sample connection's user. */
static char *sample_token(void)
{
    long now = (long)time(NULL);
    char claims[256];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"user-1\",\"tenant_id\":\"tenant-1\",\"iat\":%ld,"
             "\"exp\":%ld}",
             now, now + 3600);
    return test_jwt_token(jwt_key, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                          claims);
}

/* Tables in DynamoDB Local and a JWT key, the settings of a bootstrap. */
static void fixture_start(struct app_fixture *f)
{
    jwt_key = test_jwt_key();
    char *pem = test_jwt_pem(jwt_key, 0);
    app_fixture_init(f);
    app_fixture_set(f, "JWT_PUBLIC_KEY", pem);
    free(pem);
    app_fixture_start(f);
}

static void fixture_stop(struct app_fixture *f)
{
    app_fixture_stop(f);
    EVP_PKEY_free(jwt_key);
    jwt_key = NULL;
}

/* Serves the queued events to `argv` (the bootstrap, or qemu running
 * it) until the fake answers 500 for want of events; returns its exit
 * status, printing its output on failure. */
static int serve(char *const argv[], struct env *e, size_t want_posts,
                 struct fake_rapi *rapi)
{
    char out[] = "/tmp/streamer-pkg-out-XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pid_t pid = proc_spawn(argv, e->vars, out);
    ck_assert_int_gt(pid, 0);
    int status = proc_wait(pid, 120000);
    char *text = proc_read_file(out);
    unlink(out);
    if (fake_rapi_post_count(rapi) != want_posts)
        fprintf(stderr, "bootstrap output:\n%s\n", text ? text : "");
    free(text);
    return status;
}

/* The answer to one event: kind, and a check of the body. */
struct expect {
    const char *event;
    const char *kind;     /* "response" or "error" */
    const char *contains; /* a substring of the answer's body */
};

/* The five sample events in one warm process, as on Lambda: connect
 * verifies the token and saves the connection, the message is echoed, the
 * stream record (whose request is not in the table, so there is nothing
 * to claim) fails no item, the sweeper finds nothing stale, disconnect
 * deletes the connection. */
static const struct expect samples[] = {
    {"connect.json", "response", "\"statusCode\":200"},
    {"message.json", "response", "\\\"hello\\\":\\\"world\\\""},
    {"stream.json", "response", "{\"batchItemFailures\":[]}"},
    {"schedule.json", "response", "\"removed\":0"},
    {"disconnect.json", "response", "\"statusCode\":200"},
};
#define SAMPLE_COUNT (sizeof(samples) / sizeof(samples[0]))

START_TEST(sample_events_through_the_packaged_bootstrap)
{
    char dir[64];
    unpack("streamer.zip", dir, sizeof(dir));
    struct app_fixture f;
    fixture_start(&f);
    struct fake_rapi *rapi = fake_rapi_start();
    ck_assert_ptr_nonnull(rapi);
    char *token = sample_token();
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        char *raw = sample_event(samples[i].event);
        char *body = replace(raw, "REPLACE_WITH_A_JWT", token);
        struct fake_rapi_event ev = {.body = body};
        fake_rapi_push(rapi, &ev);
        free(body);
        free(raw);
    }
    free(token);

    struct env e;
    env_from_fixture(&e, &f, rapi);
    char boot[128];
    snprintf(boot, sizeof(boot), "%s/bootstrap", dir);
    char *argv[] = {boot, NULL};
    /* Exit status 1: the Runtime API's 500 once the events ran out. */
    ck_assert_int_eq(serve(argv, &e, SAMPLE_COUNT, rapi), 1);
    ck_assert_uint_eq(fake_rapi_post_count(rapi), SAMPLE_COUNT);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        const struct fake_rapi_post *p = fake_rapi_post_at(rapi, i);
        ck_assert_msg(strcmp(p->kind, samples[i].kind) == 0, "%s: %s %s",
                      samples[i].event, p->kind, p->body);
        ck_assert_msg(strstr(p->body, samples[i].contains) != NULL,
                      "%s: answer %s lacks %s", samples[i].event, p->body,
                      samples[i].contains);
    }
    fake_rapi_stop(rapi);
    fixture_stop(&f);
    remove_tree(dir);
}
END_TEST

START_TEST(deploy_check_passes_on_the_zip)
{
    char zip[512];
    snprintf(zip, sizeof(zip), "%s/build/streamer.zip", root());
    ck_assert_int_eq(run("'%s/deploy/check' '%s' >/dev/null", root(), zip), 0);
}
END_TEST

/* The Debian-linked dev build needs libcjson.so.1 and OpenSSL's shared
 * libraries, which no lib/ holds, and is not stripped: deploy/check must
 * refuse it. */
START_TEST(deploy_check_refuses_a_dev_build)
{
    char dir[] = "/tmp/streamer-pkg-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *dev = getenv("STREAMER_BOOTSTRAP");
    char src[512];
    snprintf(src, sizeof(src), "%s/%s", root(),
             dev && *dev ? dev : "build/release/bootstrap");
    ck_assert_int_eq(run("cp '%s' '%s/bootstrap'", src, dir), 0);
    ck_assert_int_eq(run("'%s/deploy/check' '%s' >/dev/null", root(), dir), 1);
    remove_tree(dir);
}
END_TEST

/* --- The hot text (deploy/hot-text.txt, deploy/deploy.mk) --------------- */

/* [start, end) of section `name` in `elf`, by readelf; 0 when found. */
static int section_range(const char *elf, const char *name, unsigned long *start,
                         unsigned long *end)
{
    char cmd[600], line[512];
    snprintf(cmd, sizeof(cmd), "readelf -SW '%s'", elf);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    int found = -1;
    while (fgets(line, sizeof(line), p)) {
        char sec[128], type[64];
        unsigned long addr, off, size;
        char *b = strchr(line, ']');
        if (b && sscanf(b + 1, " %127s %63s %lx %lx %lx", sec, type, &addr,
                        &off, &size) == 5 &&
            strcmp(sec, name) == 0) {
            *start = addr;
            *end = addr + size;
            found = 0;
        }
    }
    pclose(p);
    return found;
}

/* The addresses of the functions `fns[0..n)` in `elf` (0 for one it
 * lacks), from one run of `nm` (the cross one for arm64). */
static void symbols_at(const char *nm, const char *elf, const char *const *fns,
                       size_t n, unsigned long *at)
{
    char cmd[600], line[512];
    snprintf(cmd, sizeof(cmd), "%s '%s'", nm, elf);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    memset(at, 0, n * sizeof(*at));
    while (fgets(line, sizeof(line), p)) {
        unsigned long a;
        char kind, name[256];
        if (sscanf(line, "%lx %c %255s", &a, &kind, name) != 3 ||
            (kind != 'T' && kind != 't'))
            continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(name, fns[i]) == 0)
                at[i] = a;
    }
    pclose(p);
}

/* The functions every event runs are in .text.hot, which holds at most
 * 60% of the code: the cold rest (OpenSSL's unused algorithms, server
 * side, encoders) stays unmapped. Streamer's own are placed whole;
 * OpenSSL's and cJSON's only because deploy/hot-text.txt lists them.
 * `asm_fn` is an assembly function of that architecture's OpenSSL (its
 * object's whole .text is listed), or NULL. */
static void check_hot_text(const char *arch, const char *nm, const char *asm_fn)
{
    char elf[512];
    snprintf(elf, sizeof(elf), "%s/build/package-obj/%s-static/bootstrap",
             root(), arch);
    ck_assert_msg(access(elf, R_OK) == 0, "%s missing (make package)", elf);
    unsigned long hot0, hot1, text0, text1;
    ck_assert_msg(section_range(elf, ".text.hot", &hot0, &hot1) == 0,
                  "%s has no .text.hot (deploy/deploy.mk links with "
                  "deploy/hot-text.txt)", elf);
    ck_assert_int_eq(section_range(elf, ".text", &text0, &text1), 0);
    unsigned long hot = hot1 - hot0, cold = text1 - text0;
    ck_assert_msg(hot > 100000 && hot * 10 <= (hot + cold) * 6,
                  "%s: .text.hot %lu bytes, .text %lu", arch, hot, cold);
    const char *fns[] = {
        /* Streamer's */
        "main", "loop_run", "dispatch_handle", "connect_handle", "jwt_verify",
        "json_parse", "xjson_print", "sigv4_sign", "http1_perform",
        "http1_step", "fanout_send", "ddb_put_item",
        /* the list's: RS256, SHA-256, TLS records, cJSON */
        "BN_mod_exp_mont", "EVP_DigestUpdate", "EVP_DigestFinal_ex",
        "SSL_read_ex", "SSL_write_ex", "ssl3_read_bytes", "ssl3_write_bytes",
        "SSL_do_handshake", "cJSON_Delete",
        asm_fn ? asm_fn : "main"};
    size_t n = sizeof(fns) / sizeof(fns[0]);
    unsigned long at[sizeof(fns) / sizeof(fns[0])];
    symbols_at(nm, elf, fns, n, at);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(at[i] != 0, "%s: no %s", arch, fns[i]);
        ck_assert_msg(at[i] >= hot0 && at[i] < hot1,
                      "%s: %s at %#lx is not in .text.hot [%#lx, %#lx): "
                      "run scripts/hot-text",
                      arch, fns[i], at[i], hot0, hot1);
    }
}

START_TEST(event_code_is_grouped_in_text_hot)
{
    check_hot_text("x86_64", "nm", "sha256_block_data_order");
}
END_TEST

/* The list is made on x86_64; the C functions it names are arm64's too
 * (its assembly objects have other names and stay in .text). */
START_TEST(event_code_is_grouped_in_text_hot_arm64)
{
    check_hot_text("arm64", "aarch64-linux-gnu-nm", NULL);
}
END_TEST

/* --- TLS trust through runtime/http.c ---------------------------------- */

static EVP_PKEY *ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    return k;
}

/* A certificate for `cn`, signed by `issuer_key` as `issuer` (NULL: self
 * signed CA). The leaf gets subjectAltName IP:127.0.0.1. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key)
{
    static long serial = 1;
    X509 *x = X509_new();
    ck_assert_ptr_nonnull(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", issuer ? "critical,CA:FALSE" : "critical,CA:TRUE"},
        {"keyUsage",
         issuer ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign"},
        {"subjectAltName", issuer ? "IP:127.0.0.1" : NULL},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (!exts[i][1])
            continue;
        X509_EXTENSION *ext =
            X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        ck_assert_ptr_nonnull(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()),
                     0);
    return x;
}

static void write_pem(const char *path, X509 *cert)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(PEM_write_X509(fp, cert), 1);
    fclose(fp);
}

/* A TLS server on 127.0.0.1 that answers one connection with 200 "ok". */
struct tls_server {
    SSL_CTX *ctx;
    int listen_fd;
    int port;
    pthread_t thread;
};

static void *tls_serve_one(void *arg)
{
    struct tls_server *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        char req[4096];
        size_t len = 0;
        int n;
        while (len < sizeof(req) - 1 &&
               (n = SSL_read(ssl, req + len, (int)(sizeof(req) - 1 - len))) >
                   0) {
            len += (size_t)n;
            req[len] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                            "Connection: close\r\n\r\nok";
        SSL_write(ssl, resp, (int)sizeof(resp) - 1);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    return NULL;
}

static void tls_server_start(struct tls_server *s, X509 *cert, EVP_PKEY *key)
{
    memset(s, 0, sizeof(*s));
    s->ctx = SSL_CTX_new(TLS_server_method());
    ck_assert_ptr_nonnull(s->ctx);
    ck_assert_int_eq(SSL_CTX_use_certificate(s->ctx, cert), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
    s->listen_fd = net_listen(4, &s->port);
    ck_assert_int_ge(s->listen_fd, 0);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, tls_serve_one, s), 0);
}

static void tls_server_stop(struct tls_server *s)
{
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    SSL_CTX_free(s->ctx);
}

/* One GET through runtime/http.c; returns the result, status in *status. */
static enum result https_get(int port, long *status)
{
    struct http_client *c = http_client_new();
    ck_assert_ptr_nonnull(c);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
    struct http_request req = {
        .method = "GET", .url = url, .timeout_ms = 10000};
    struct http_response resp;
    http_response_init(&resp, 1024);
    struct error_info err;
    memset(&err, 0, sizeof(err));
    enum result r = http_perform(c, &req, &resp, &err);
    *status = resp.status;
    if (r == RESULT_OK)
        ck_assert_str_eq(buf_str(&resp.body), "ok");
    http_response_cleanup(&resp);
    http_client_free(c);
    return r;
}

/* A test CA in a hashed folder (the <subject hash>.0 link `openssl rehash`
 * makes), a server certificate it signed, and one signed by a CA that is
 * in no folder. */
struct pki {
    char dir[64];
    char ca_file[128];
    EVP_PKEY *ca_key, *rogue_key, *leaf_key;
    X509 *ca, *rogue, *leaf, *rogue_leaf;
};

static void pki_make(struct pki *p)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/streamer-ca-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->dir));
    p->ca_key = ec_key();
    p->rogue_key = ec_key();
    p->leaf_key = ec_key();
    p->ca = make_cert("Streamer Test CA", p->ca_key, NULL, NULL);
    p->rogue = make_cert("Untrusted CA", p->rogue_key, NULL, NULL);
    p->leaf = make_cert("127.0.0.1", p->leaf_key, p->ca, p->ca_key);
    p->rogue_leaf = make_cert("127.0.0.1", p->leaf_key, p->rogue, p->rogue_key);
    char hashed[160];
    snprintf(hashed, sizeof(hashed), "%s/%08lx.0", p->dir,
             X509_subject_name_hash(p->ca));
    write_pem(hashed, p->ca);
    snprintf(p->ca_file, sizeof(p->ca_file), "%s.pem", p->dir);
    write_pem(p->ca_file, p->ca);
}

static void pki_free(struct pki *p)
{
    X509_free(p->ca);
    X509_free(p->rogue);
    X509_free(p->leaf);
    X509_free(p->rogue_leaf);
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->rogue_key);
    EVP_PKEY_free(p->leaf_key);
    unlink(p->ca_file);
    remove_tree(p->dir);
}

static void trust_env_clear(void)
{
    unsetenv("AWS_CA_BUNDLE");
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
}

START_TEST(https_trusts_the_ca_in_ssl_cert_dir)
{
    struct pki p;
    pki_make(&p);
    trust_env_clear();
    setenv("SSL_CERT_DIR", p.dir, 1);
    struct tls_server s;
    tls_server_start(&s, p.leaf, p.leaf_key);
    long status = 0;
    enum result r = https_get(s.port, &status);
    tls_server_stop(&s);
    ck_assert_msg(r == RESULT_OK, "HTTPS to the test CA's server: %s",
                  result_str(r));
    ck_assert_int_eq(status, 200);
    trust_env_clear();
    pki_free(&p);
}
END_TEST

START_TEST(https_refuses_an_untrusted_ca)
{
    struct pki p;
    pki_make(&p);
    trust_env_clear();
    setenv("SSL_CERT_DIR", p.dir, 1);
    struct tls_server s;
    tls_server_start(&s, p.rogue_leaf, p.leaf_key);
    long status = 0;
    enum result r = https_get(s.port, &status);
    tls_server_stop(&s);
    ck_assert_int_eq(r, RESULT_TRANSPORT);
    ck_assert_int_eq(status, 0);
    trust_env_clear();
    pki_free(&p);
}
END_TEST

/* AWS_CA_BUNDLE names a file instead, as for the AWS SDKs. */
START_TEST(https_trusts_aws_ca_bundle)
{
    struct pki p;
    pki_make(&p);
    trust_env_clear();
    setenv("AWS_CA_BUNDLE", p.ca_file, 1);
    struct tls_server s;
    tls_server_start(&s, p.leaf, p.leaf_key);
    long status = 0;
    enum result r = https_get(s.port, &status);
    tls_server_stop(&s);
    ck_assert_msg(r == RESULT_OK, "HTTPS with AWS_CA_BUNDLE: %s",
                  result_str(r));
    trust_env_clear();
    pki_free(&p);
}
END_TEST

/* --- arm64 under qemu-user ---------------------------------------------- */

START_TEST(arm64_bootstrap_under_qemu)
{
    const char *qemu = "/usr/bin/qemu-aarch64";
    ck_assert_msg(access(qemu, X_OK) == 0,
                  "%s missing (Debian package qemu-user; scripts/deps)", qemu);
    char dir[64];
    unpack("streamer-arm64.zip", dir, sizeof(dir));
    struct app_fixture f;
    fixture_start(&f);
    struct fake_rapi *rapi = fake_rapi_start();
    ck_assert_ptr_nonnull(rapi);
    char *token = sample_token();
    const char *names[] = {"connect.json", "message.json"};
    for (size_t i = 0; i < 2; i++) {
        char *raw = sample_event(names[i]);
        char *body = replace(raw, "REPLACE_WITH_A_JWT", token);
        struct fake_rapi_event ev = {.body = body};
        fake_rapi_push(rapi, &ev);
        free(body);
        free(raw);
    }
    free(token);
    struct env e;
    env_from_fixture(&e, &f, rapi);
    char boot[128];
    snprintf(boot, sizeof(boot), "%s/bootstrap", dir);
    /* -L: the arm64 loader and glibc of Debian's cross libc
     * (libc6-arm64-cross), as provided.al2023 supplies its own. */
    char opt_l[] = "-L", sysroot[] = "/usr/aarch64-linux-gnu";
    char *argv[] = {(char *)qemu, opt_l, sysroot, boot, NULL};
    ck_assert_int_eq(serve(argv, &e, 2, rapi), 1);
    ck_assert_uint_eq(fake_rapi_post_count(rapi), 2);
    const struct fake_rapi_post *p = fake_rapi_post_at(rapi, 1);
    ck_assert_str_eq(p->kind, "response");
    ck_assert_msg(strstr(p->body, "\\\"hello\\\":\\\"world\\\"") != NULL, "%s",
                  p->body);
    fake_rapi_stop(rapi);
    fixture_stop(&f);
    remove_tree(dir);
}
END_TEST

Suite *package_suite(void)
{
    Suite *s = suite_create("package");
    TCase *t = tcase_create("zip");
    tcase_set_timeout(t, 180);
    tcase_add_test(t, sample_events_through_the_packaged_bootstrap);
    tcase_add_test(t, deploy_check_passes_on_the_zip);
    tcase_add_test(t, deploy_check_refuses_a_dev_build);
    tcase_add_test(t, event_code_is_grouped_in_text_hot);
    tcase_add_test(t, event_code_is_grouped_in_text_hot_arm64);
    suite_add_tcase(s, t);
    TCase *tls = tcase_create("tls");
    tcase_set_timeout(tls, 60);
    tcase_add_test(tls, https_trusts_the_ca_in_ssl_cert_dir);
    tcase_add_test(tls, https_refuses_an_untrusted_ca);
    tcase_add_test(tls, https_trusts_aws_ca_bundle);
    suite_add_tcase(s, tls);
    TCase *arm = tcase_create("arm64");
    tcase_set_timeout(arm, 300);
    tcase_add_test(arm, arm64_bootstrap_under_qemu);
    suite_add_tcase(s, arm);
    return s;
}
