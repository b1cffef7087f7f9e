/*
 * Unit tests for common/tls.c: context policy, key/certificate checks with
 * the file named in the error, and real in-memory handshakes (BIO pairs)
 * that exercise SNI and host-name verification.  Certificates are made
 * here with the OpenSSL API.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check_main.h"
#include "tls.h"

static char tdir[PATH_MAX];
static char cert_path[PATH_MAX + 32], key_path[PATH_MAX + 32];
static char other_key_path[PATH_MAX + 32], junk_path[PATH_MAX + 32];

/* Write a PEM key to path. */
static void
write_key(EVP_PKEY *k, const char *path)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

/* A self-signed certificate for localhost and 127.0.0.1. */
static X509 *
make_cert(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	return x;
}

static void
setup(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	X509 *x;
	FILE *f;

	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(k2);
	testdir_make(tdir, sizeof(tdir));
	snprintf(cert_path, sizeof(cert_path), "%s/server.crt", tdir);
	snprintf(key_path, sizeof(key_path), "%s/server.key", tdir);
	snprintf(other_key_path, sizeof(other_key_path), "%s/other.key", tdir);
	snprintf(junk_path, sizeof(junk_path), "%s/junk.pem", tdir);
	x = make_cert(k);
	f = fopen(cert_path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	write_key(k, key_path);
	write_key(k2, other_key_path);
	f = fopen(junk_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not PEM\n", f);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

static void
teardown(void)
{
	testdir_remove(tdir);
}

/* The server context loads and carries the shared policy. */
START_TEST(test_server_ctx_policy)
{
	char err[1024] = "";
	SSL_CTX *ctx = tls_server_ctx_new(cert_path, key_path, err, sizeof(err));

	ck_assert_msg(ctx != NULL, "%s", err);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_free(ctx);
}
END_TEST

/* A key that does not belong to the certificate names the key file. */
START_TEST(test_server_ctx_mismatched_key)
{
	char err[1024] = "";
	SSL_CTX *ctx = tls_server_ctx_new(cert_path, other_key_path, err, sizeof(err));

	ck_assert_ptr_null(ctx);
	ck_assert_msg(strstr(err, other_key_path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "mismatch") != NULL || strstr(err, "match") != NULL,
	    "%s", err);
}
END_TEST

/* Missing and unparsable files are named, with the reason. */
START_TEST(test_server_ctx_bad_files)
{
	char err[1024] = "", missing[PATH_MAX + 32];
	SSL_CTX *ctx;

	snprintf(missing, sizeof(missing), "%s/nope.crt", tdir);
	ctx = tls_server_ctx_new(missing, key_path, err, sizeof(err));
	ck_assert_ptr_null(ctx);
	ck_assert_ptr_nonnull(strstr(err, missing));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));

	ctx = tls_server_ctx_new(junk_path, key_path, err, sizeof(err));
	ck_assert_ptr_null(ctx);
	ck_assert_ptr_nonnull(strstr(err, junk_path));

	ctx = tls_server_ctx_new(cert_path, junk_path, err, sizeof(err));
	ck_assert_ptr_null(ctx);
	ck_assert_ptr_nonnull(strstr(err, junk_path));
	/* each error drained the queue */
	ck_assert_str_eq(tls_error_string(err, sizeof(err)), "");
}
END_TEST

/* Client contexts: CA file or system store, verify mode as asked. */
START_TEST(test_client_ctx)
{
	char err[1024] = "", missing[PATH_MAX + 32];
	SSL_CTX *ctx;

	ctx = tls_client_ctx_new(cert_path, true, err, sizeof(err));
	ck_assert_msg(ctx != NULL, "%s", err);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_free(ctx);
	ctx = tls_client_ctx_new(NULL, false, err, sizeof(err));
	ck_assert_msg(ctx != NULL, "%s", err);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	SSL_CTX_free(ctx);
	snprintf(missing, sizeof(missing), "%s/ca.pem", tdir);
	ck_assert_ptr_null(tls_client_ctx_new(missing, true, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, missing));
	ck_assert_ptr_null(tls_client_ctx_new(junk_path, true, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, junk_path));
}
END_TEST

/* SNI for names, none for IP literals. */
START_TEST(test_client_ssl_sni)
{
	char err[1024];
	SSL_CTX *ctx = tls_client_ctx_new(cert_path, true, err, sizeof(err));
	SSL *ssl;

	ck_assert_ptr_nonnull(ctx);
	ssl = tls_client_ssl_new(ctx, "relay.example.com", true, err, sizeof(err));
	ck_assert_ptr_nonnull(ssl);
	ck_assert_str_eq(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
	    "relay.example.com");
	SSL_free(ssl);
	ssl = tls_client_ssl_new(ctx, "127.0.0.1", true, err, sizeof(err));
	ck_assert_ptr_nonnull(ssl);
	ck_assert_ptr_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	SSL_free(ssl);
	ssl = tls_client_ssl_new(ctx, "[::1]", false, err, sizeof(err));
	ck_assert_ptr_nonnull(ssl);
	ck_assert_ptr_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}
END_TEST

/* Drive both ends of an in-memory handshake; 1 when both finished. */
static int
handshake(SSL *client, SSL *server)
{
	int i, cdone = 0, sdone = 0;

	for (i = 0; i < 100 && !(cdone && sdone); i++) {
		int rc;

		if (!cdone) {
			rc = SSL_do_handshake(client);
			if (rc == 1)
				cdone = 1;
			else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ)
				return 0;
		}
		if (!sdone) {
			rc = SSL_do_handshake(server);
			if (rc == 1)
				sdone = 1;
			else if (SSL_get_error(server, rc) != SSL_ERROR_WANT_READ)
				return 0;
		}
	}
	return cdone && sdone;
}

/* Handshake a client SSL for `host` against our server; result of handshake(). */
static int
connect_as(const char *host, bool verify, char *version, char *cipher)
{
	char err[1024];
	SSL_CTX *sctx = tls_server_ctx_new(cert_path, key_path, err, sizeof(err));
	SSL_CTX *cctx = tls_client_ctx_new(cert_path, verify, err, sizeof(err));
	BIO *cb = NULL, *sb = NULL;
	SSL *c, *s;
	int ok;

	ck_assert_ptr_nonnull(sctx);
	ck_assert_ptr_nonnull(cctx);
	c = tls_client_ssl_new(cctx, host, verify, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	s = SSL_new(sctx);
	ck_assert_int_eq(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	ok = handshake(c, s);
	if (ok)
		tls_describe(c, version, 64, cipher, 128);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	ERR_clear_error();
	return ok;
}

/* The name in the certificate is accepted, by name and by address. */
START_TEST(test_handshake_verified)
{
	char version[64] = "", cipher[128] = "";

	ck_assert(connect_as("localhost", true, version, cipher));
	ck_assert(strcmp(version, "TLSv1.3") == 0 || strcmp(version, "TLSv1.2") == 0);
	ck_assert_str_ne(cipher, "");
	ck_assert(connect_as("127.0.0.1", true, version, cipher));
}
END_TEST

/* Another name fails verification; without verify it is accepted. */
START_TEST(test_handshake_wrong_name)
{
	char version[64], cipher[128];

	ck_assert(!connect_as("mail.example.org", true, version, cipher));
	ck_assert(!connect_as("127.0.0.2", true, version, cipher));
	ck_assert(connect_as("mail.example.org", false, version, cipher));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("ctx");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_server_ctx_policy);
	tcase_add_test(tc, test_server_ctx_mismatched_key);
	tcase_add_test(tc, test_server_ctx_bad_files);
	tcase_add_test(tc, test_client_ctx);
	tcase_add_test(tc, test_client_ssl_sni);
	tcase_add_test(tc, test_handshake_verified);
	tcase_add_test(tc, test_handshake_wrong_name);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
