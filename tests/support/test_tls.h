/* A TLS HTTP/1.1 server on loopback for tests, with its own certificate. */
#ifndef STREAMER_TEST_TLS_H
#define STREAMER_TEST_TLS_H

/*
 * Starts a server on a free 127.0.0.1 port that answers every request
 * with 200 and `body` (copied), keep-alive, one connection at a time.
 * After `requests_per_connection` requests (0: no limit) on a connection
 * it closes that connection, idle, without a TLS close_notify, as a peer
 * that drops idle keep-alive connections does. Its certificate is a
 * fresh self-signed one for IP 127.0.0.1, written as PEM to the file
 * test_tls_ca_file() names. Returns NULL on failure. Caller owns the
 * result; free with test_tls_stop(), which also removes the file.
 */
struct test_tls *test_tls_start(int requests_per_connection, const char *body);
void test_tls_stop(struct test_tls *s);

int test_tls_port(const struct test_tls *s);

/* Sets the trust store of the next TLS context (runtime/http.c reads it):
 * AWS_CA_BUNDLE = `ca_file` and SSL_CERT_DIR = `ca_dir`, each unset when
 * NULL, and SSL_CERT_FILE unset; (NULL, NULL) restores the default. */
void test_tls_trust(const char *ca_file, const char *ca_dir);
/* The PEM file of the server's certificate: trust it to reach the server. */
const char *test_tls_ca_file(const struct test_tls *s);
/* Connections accepted and requests read (and answered, or being) so far. */
int test_tls_connections(struct test_tls *s);
int test_tls_requests(struct test_tls *s);
/* Connections whose handshake resumed an earlier session. */
int test_tls_resumed(struct test_tls *s);

#endif
