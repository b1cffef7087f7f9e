/*
 * tls: OpenSSL 3 context set-up with one policy for both directions:
 * TLS 1.2 minimum, no compression, no renegotiation, OpenSSL's default
 * secure ciphers.  Server contexts check that key and certificate match;
 * client SSLs carry SNI and the expected peer name.
 *
 * It does no I/O and knows nothing about SMTP or libevent: the connection
 * code wraps the SSL * in a bufferevent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* Drain OpenSSL's error queue into buf as one line. */
const char *
tls_error_string(char *buf, size_t buflen)
{
	char one[256];
	unsigned long e;
	size_t used = 0;

	if (buflen == 0)
		return buf;
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof(one));
		if (used < buflen)
			used += (size_t)snprintf(buf + used, buflen - used, "%s%s",
			    used > 0 ? "; " : "", one);
	}
	return buf;
}

/* Fill err with "what: <OpenSSL errors>" (or just what). */
static void
tls_err(char *err, size_t errlen, const char *what)
{
	char ssl[512];

	tls_error_string(ssl, sizeof(ssl));
	if (ssl[0] != '\0')
		snprintf(err, errlen, "%s: %s", what, ssl);
	else
		snprintf(err, errlen, "%s", what);
}

/* Check that path can be opened for reading, to report errno plainly. */
static int
tls_readable(const char *path, const char *what, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	(void)close(fd);
	return 0;
}

/* The policy shared by both directions. */
static SSL_CTX *
tls_ctx_base(const SSL_METHOD *method, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (ctx == NULL) {
		tls_err(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		tls_err(err, errlen, "cannot set minimum TLS version 1.2");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

/* Load chain and key into ctx and check they belong together. */
static int
tls_load_pair(SSL_CTX *ctx, const char *cert_file, const char *key_file,
    char *err, size_t errlen)
{
	char what[1024];

	if (tls_readable(cert_file, "certificate", err, errlen) < 0 ||
	    tls_readable(key_file, "key", err, errlen) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(what, sizeof(what), "certificate %s: cannot load PEM chain",
		    cert_file);
		tls_err(err, errlen, what);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(what, sizeof(what), "key %s: cannot load PEM private key "
		    "(or it does not match certificate %s)", key_file, cert_file);
		tls_err(err, errlen, what);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(what, sizeof(what), "key %s does not match certificate %s",
		    key_file, cert_file);
		tls_err(err, errlen, what);
		return -1;
	}
	return 0;
}

/* Server context from a PEM chain and key (see tls.h). */
SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file, char *err,
    size_t errlen)
{
	static const unsigned char sid[] = "smtpgate";
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = tls_ctx_base(TLS_server_method(), err, errlen);
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	(void)SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (tls_load_pair(ctx, cert_file, key_file, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Client context with CA file or the system store (see tls.h). */
SSL_CTX *
tls_client_ctx_new(const char *ca_file, bool verify, char *err, size_t errlen)
{
	char what[1024];
	SSL_CTX *ctx;
	int ok;

	ERR_clear_error();
	ctx = tls_ctx_base(TLS_client_method(), err, errlen);
	if (ctx == NULL)
		return NULL;
	if (ca_file != NULL && tls_readable(ca_file, "CA file", err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		snprintf(what, sizeof(what), "CA file %s: cannot load certificates",
		    ca_file != NULL ? ca_file : "(system default store)");
		tls_err(err, errlen, what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
}

/* Copy host without IPv6 brackets; 1 when it is an IP literal. */
static int
tls_host_literal(const char *host, char *out, size_t outsz)
{
	unsigned char addr[16];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		snprintf(out, outsz, "%.*s", (int)(n - 2), host + 1);
	else
		snprintf(out, outsz, "%s", host);
	return inet_pton(AF_INET, out, addr) == 1 || inet_pton(AF_INET6, out, addr) == 1;
}

/* Set the name (or address) the peer certificate must carry. */
static int
tls_expect_peer(SSL *ssl, const char *name, int literal)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (literal)
		return X509_VERIFY_PARAM_set1_ip_asc(param, name);
	return SSL_set1_host(ssl, name);
}

/* New client SSL for host: SNI and, with verify, name checking (see tls.h). */
SSL *
tls_client_ssl_new(SSL_CTX *ctx, const char *host, bool verify, char *err,
    size_t errlen)
{
	char name[256], what[512];
	int literal;
	SSL *ssl;

	ERR_clear_error();
	ssl = SSL_new(ctx);
	if (ssl == NULL) {
		tls_err(err, errlen, "SSL_new");
		return NULL;
	}
	literal = tls_host_literal(host, name, sizeof(name));
	/* RFC 6066: no IP literals in server_name */
	if (!literal && SSL_set_tlsext_host_name(ssl, name) != 1) {
		snprintf(what, sizeof(what), "%s: cannot set SNI", host);
		goto fail;
	}
	if (verify && tls_expect_peer(ssl, name, literal) != 1) {
		snprintf(what, sizeof(what), "%s: cannot set expected peer name", host);
		goto fail;
	}
	SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ssl;
fail:
	tls_err(err, errlen, what);
	SSL_free(ssl);
	return NULL;
}

/* Protocol version and cipher of an established SSL. */
void
tls_describe(const SSL *ssl, char *version, size_t versionlen, char *cipher,
    size_t cipherlen)
{
	const char *c = SSL_get_cipher_name(ssl);

	if (version != NULL && versionlen > 0)
		snprintf(version, versionlen, "%s", SSL_get_version(ssl));
	if (cipher != NULL && cipherlen > 0)
		snprintf(cipher, cipherlen, "%s", c != NULL ? c : "none");
}
