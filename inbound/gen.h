/*
 * gen: one generation of smtpgate-inbound's configuration, made at start-up
 * and again by each SIGHUP reload: the loaded config, the recipient policy
 * built from it and the STARTTLS server context.  Reference-counted: the
 * listener holds the current generation and each connection the one it
 * started with, so a reload changes new sessions only and the old
 * generation goes when its last session does.
 *
 * The TLS context is OpenSSL's SSL_CTX, named here by its struct tag (as
 * libevent's bufferevent_ssl.h does) so that this header and conn.h need
 * no OpenSSL header; only gen.c and conn_tls.c include one.
 */
#ifndef SMTPGATE_GEN_H
#define SMTPGATE_GEN_H

#include <stddef.h>

struct inbound_config;
struct policy;
struct ssl_ctx_st;		/* OpenSSL's SSL_CTX */

struct inbound_gen {
	unsigned refs;
	struct inbound_config *cfg;	/* owned */
	struct policy *policy;		/* owned */
	struct ssl_ctx_st *ssl_ctx;	/* owned; NULL: no STARTTLS */
};

/*
 * A generation from a loaded config (taken over on success): its policy
 * and, when a certificate is set, its TLS context; one reference.  NULL
 * with the reason in err (cfg then still the caller's).
 */
struct inbound_gen *gen_new(struct inbound_config *cfg, char *err, size_t errlen);

/* Take one more reference; returns g. */
struct inbound_gen *gen_ref(struct inbound_gen *g);

/* Drop one reference; the last frees the policy, TLS context and config.
 * NULL is ignored. */
void gen_unref(struct inbound_gen *g);

#endif
