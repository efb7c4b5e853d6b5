/* A TLS HTTP/1.1 server on loopback for tests, with its own certificate. */
#include "test_tls.h"

#include "net_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct test_tls {
    SSL_CTX *ctx;
    int listen_fd;
    int port;
    int per_connection;
    char *body;
    char ca_file[64];
    pthread_t thread;
    pthread_mutex_t lock;
    int stopping;
    int connections;
    int requests;
    int resumed;
};

/* A self-signed certificate for IP 127.0.0.1 that is its own CA. */
static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"basicConstraints", "critical,CA:TRUE"},
                             {"subjectAltName", "IP:127.0.0.1"}};
    for (size_t i = 0; i < 2; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (!e || !X509_add_ext(x, e, -1)) {
            X509_EXTENSION_free(e);
            X509_free(x);
            return NULL;
        }
        X509_EXTENSION_free(e);
    }
    if (X509_sign(x, key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* The key, the certificate, its PEM file and the SSL_CTX; 0 on success. */
static int make_ctx(struct test_tls *s)
{
    int rc = -1;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? self_signed(key) : NULL;
    snprintf(s->ca_file, sizeof(s->ca_file), "/tmp/streamer-tls-XXXXXX");
    int fd = cert ? mkstemp(s->ca_file) : -1;
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp || PEM_write_X509(fp, cert) != 1)
        goto done;
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (s->ctx && SSL_CTX_use_certificate(s->ctx, cert) == 1 &&
        SSL_CTX_use_PrivateKey(s->ctx, key) == 1)
        rc = 0;
done:
    if (fp)
        fclose(fp);
    else if (fd >= 0)
        close(fd);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* Reads one request (head and Content-Length body); 0 when one came. */
static int read_request(SSL *ssl)
{
    char head[8192];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len + 1 >= sizeof(head))
            return -1;
        int n = SSL_read(ssl, head + len, (int)(sizeof(head) - 1 - len));
        if (n <= 0)
            return -1;
        len += (size_t)n;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    size_t have = len - (size_t)(end + 4 - head), want = 0;
    for (char *p = strchr(head, '\n'); p && p < end; p = strchr(p + 1, '\n'))
        if (strncasecmp(p + 1, "Content-Length:", 15) == 0)
            want = strtoul(p + 16, NULL, 10);
    char sink[4096];
    while (have < want) {
        int n = SSL_read(ssl, sink, (int)sizeof(sink));
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
    return 0;
}

static int stopping(struct test_tls *s)
{
    pthread_mutex_lock(&s->lock);
    int stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

/* Waits for the next request's bytes; -1 when the server is stopping. */
static int wait_request(struct test_tls *s, SSL *ssl, int fd)
{
    while (!SSL_pending(ssl)) {
        if (stopping(s))
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) > 0)
            break;
    }
    return 0;
}

static void serve_connection(struct test_tls *s, int fd)
{
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        pthread_mutex_lock(&s->lock);
        s->resumed += SSL_session_reused(ssl);
        pthread_mutex_unlock(&s->lock);
        char reply[8192];
        int n = snprintf(reply, sizeof(reply),
                         "HTTP/1.1 200 OK\r\n"
                         "Content-Type: application/x-amz-json-1.0\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         strlen(s->body), s->body);
        int served = 0;
        while ((s->per_connection == 0 || served < s->per_connection) &&
               wait_request(s, ssl, fd) == 0 && read_request(ssl) == 0) {
            /* Counted before the answer goes: once a client has it,
             * the count includes it. */
            pthread_mutex_lock(&s->lock);
            s->requests++;
            pthread_mutex_unlock(&s->lock);
            if (SSL_write(ssl, reply, n) != n)
                break;
            served++;
        }
    }
    /* No SSL_shutdown: the connection just goes, as a dropped idle one. */
    SSL_free(ssl);
    close(fd);
}

static void *accept_loop(void *arg)
{
    struct test_tls *s = arg;
    while (!stopping(s)) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->lock);
        s->connections++;
        pthread_mutex_unlock(&s->lock);
        serve_connection(s, fd);
    }
    return NULL;
}

struct test_tls *test_tls_start(int requests_per_connection, const char *body)
{
    struct test_tls *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->listen_fd = -1;
    s->per_connection = requests_per_connection;
    s->body = strdup(body ? body : "");
    pthread_mutex_init(&s->lock, NULL);
    if (!s->body || make_ctx(s) != 0)
        goto fail;
    s->listen_fd = net_listen(8, &s->port);
    if (s->listen_fd < 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, accept_loop, s) != 0)
        goto fail;
    return s;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->ca_file[0])
        unlink(s->ca_file);
    SSL_CTX_free(s->ctx);
    free(s->body);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

void test_tls_stop(struct test_tls *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    unlink(s->ca_file);
    SSL_CTX_free(s->ctx);
    free(s->body);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void test_tls_trust(const char *ca_file, const char *ca_dir)
{
    unsetenv("AWS_CA_BUNDLE");
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
    if (ca_file)
        setenv("AWS_CA_BUNDLE", ca_file, 1);
    if (ca_dir)
        setenv("SSL_CERT_DIR", ca_dir, 1);
}

int test_tls_port(const struct test_tls *s)
{
    return s->port;
}

const char *test_tls_ca_file(const struct test_tls *s)
{
    return s->ca_file;
}

int test_tls_connections(struct test_tls *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->connections;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int test_tls_resumed(struct test_tls *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->resumed;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int test_tls_requests(struct test_tls *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}
