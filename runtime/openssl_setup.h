/* How Streamer starts OpenSSL: without the host's openssl.cnf, without
 * error strings. */
#ifndef STREAMER_OPENSSL_SETUP_H
#define STREAMER_OPENSSL_SETUP_H

/*
 * Starts OpenSSL's library once, before its first use (each module that
 * calls OpenSSL calls this first; later calls cost a pthread_once check):
 *  - no configuration file: the bootstrap links its own OpenSSL, built
 *    with only what it uses (deploy/build-openssl), and a host's
 *    openssl.cnf (Debian's, Amazon Linux's crypto policies) names
 *    providers and settings of another build. Unread, TLS behaves the
 *    same on every host: TLS 1.2 or 1.3, OpenSSL's default suites, peer
 *    verified (runtime/http.c). OPENSSL_CONF is ignored too.
 *  - no error strings: loading them builds a table of ~1,500 strings
 *    (about 1M instructions at the first event, 60 KB of heap kept for
 *    the process's life). An OpenSSL failure is reported by its packed
 *    code instead (openssl_error_text()), with a few common reasons
 *    spelled out; `openssl errstr <code>` spells out any.
 */
void openssl_setup(void);

/* As openssl_setup(), and libssl's part, before the first SSL_CTX. */
void openssl_setup_ssl(void);

/*
 * Why OpenSSL refused, for an error message: the packed code of the
 * queue's last error, "error:0A00010B (wrong version number)" for the
 * reasons a TLS connection meets most, "error:0A000410" for the rest
 * (`openssl errstr 0A000410`); `fallback` when the queue is empty.
 * Thread-local storage, overwritten by the thread's next call.
 */
const char *openssl_error_text(const char *fallback);

#endif
