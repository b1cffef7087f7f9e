/*
 * gen: a generation of the inbound configuration (see gen.h): built from
 * a loaded config, shared by reference between the listener and the
 * connections, freed with its last holder.  The loop thread only, so the
 * count needs no lock.
 *
 * Must not know sessions or sockets; SSL_CTX set-up itself is
 * common/tls.c's.
 */
#include <stdlib.h>

#include <openssl/ssl.h>

#include "config.h"
#include "gen.h"
#include "policy.h"
#include "tls.h"
#include "util.h"

/* A generation from cfg: policy and TLS context; NULL + err. */
struct inbound_gen *
gen_new(struct inbound_config *cfg, char *err, size_t errlen)
{
	struct inbound_gen *g = xcalloc(1, sizeof(*g));

	if (cfg->tls_certificate) {
		g->ssl_ctx = tls_server_ctx_new(cfg->tls_certificate, cfg->tls_key, err, errlen);
		if (g->ssl_ctx == NULL) {
			free(g);
			return NULL;
		}
	}
	g->cfg = cfg;
	g->policy = policy_new(cfg);
	g->refs = 1;
	return g;
}

/* One more holder of generation g. */
struct inbound_gen *
gen_ref(struct inbound_gen *g)
{
	g->refs++;
	return g;
}

/* One holder less; the last one frees policy, TLS context and config. */
void
gen_unref(struct inbound_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	policy_free(g->policy);
	if (g->ssl_ctx)
		SSL_CTX_free(g->ssl_ctx);
	config_free_inbound(g->cfg);
	free(g);
}
