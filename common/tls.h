/*
 * tls: OpenSSL context set-up for both directions, with the same policy:
 * TLS 1.2 minimum, no compression, no renegotiation, OpenSSL's default
 * secure cipher list.  Server side (inbound STARTTLS) and client side
 * (outbound to smart hosts, host-name verification).  No I/O here: the
 * connection code wraps an SSL * in a libevent bufferevent.
 */
#ifndef SMTPGATE_TLS_H
#define SMTPGATE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

/* Server context from a PEM certificate chain and key; NULL + err. */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
    char *err, size_t errlen);

/*
 * Client context; CA certificates from ca_file, or the system default
 * store when NULL.  With verify, the handshake fails on a bad chain.
 */
SSL_CTX *tls_client_ctx_new(const char *ca_file, bool verify, char *err, size_t errlen);

/* New client SSL for host: SNI, and when verify, host-name checking. */
SSL *tls_client_ssl_new(SSL_CTX *ctx, const char *host, bool verify, char *err, size_t errlen);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" style summary of an established SSL. */
void tls_describe(const SSL *ssl, char *version, size_t versionlen,
    char *cipher, size_t cipherlen);

/* Drain OpenSSL's error queue into buf as one line ("" when empty). */
const char *tls_error_string(char *buf, size_t buflen);

#endif
