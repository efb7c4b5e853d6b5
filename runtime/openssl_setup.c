/* How Streamer starts OpenSSL (see openssl_setup.h). */
#include "openssl_setup.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>

/* OPENSSL_init_crypto(3): a NO_ option taken first wins over the LOAD
 * one that later calls (OBJ_*, SSL_CTX_new, the first error) ask for. */
#define CRYPTO_OPTS \
    (OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS)

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void crypto_start(void)
{
    OPENSSL_init_crypto(CRYPTO_OPTS, NULL);
}

static void ssl_start(void)
{
    OPENSSL_init_ssl(CRYPTO_OPTS | OPENSSL_INIT_NO_LOAD_SSL_STRINGS, NULL);
}

void openssl_setup(void)
{
    pthread_once(&crypto_once, crypto_start);
}

void openssl_setup_ssl(void)
{
    openssl_setup();
    pthread_once(&ssl_once, ssl_start);
}

/* The reasons a connection to AWS, a proxy or a test server meets most
 * (OpenSSL's own words: ssl/ssl_err.c); the rest by code only. */
static const struct {
    int reason;
    const char *text;
} common[] = {
    {SSL_R_WRONG_VERSION_NUMBER, "wrong version number"},
    {SSL_R_UNEXPECTED_EOF_WHILE_READING, "unexpected eof while reading"},
    {SSL_R_CERTIFICATE_VERIFY_FAILED, "certificate verify failed"},
    {SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, "tlsv1 alert protocol version"},
    {SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, "sslv3 alert handshake failure"},
    {SSL_R_TLSV1_ALERT_INTERNAL_ERROR, "tlsv1 alert internal error"},
    {SSL_R_NO_PROTOCOLS_AVAILABLE, "no protocols available"},
    {SSL_R_PACKET_LENGTH_TOO_LONG, "packet length too long"},
};

const char *openssl_error_text(const char *fallback)
{
    static _Thread_local char text[64];
    unsigned long e = ERR_peek_last_error();
    if (!e)
        return fallback;
    const char *why = NULL;
    if (ERR_GET_LIB(e) == ERR_LIB_SSL)
        for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
            if (ERR_GET_REASON(e) == common[i].reason)
                why = common[i].text;
    if (why)
        snprintf(text, sizeof(text), "error:%08lX (%s)", e, why);
    else
        snprintf(text, sizeof(text), "error:%08lX", e);
    return text;
}
