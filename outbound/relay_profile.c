/*
 * relay_profile: the snapshot of the configuration that connections use
 * (relay.h): smart hosts with their TLS client contexts and AUTH
 * passwords (read from auth_password_file, wiped when freed), the HELO
 * name and the timeouts; refcounted so a reload never pulls it from under
 * a running connection.
 *
 * It must not know about connections or the queue.  Passwords are never
 * logged.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "relay_int.h"
#include "tls.h"
#include "util.h"


/* Fill one relay_host from its configuration section. */
static int
relay_host_init(struct relay_host *h, const struct outbound_smarthost *sh,
    char *err, size_t errlen)
{
	char e[512];

	h->name = xstrdup(sh->name);
	h->host = xstrdup(sh->host);
	h->port = sh->port;
	h->tls = sh->tls;
	h->verify = sh->tls_verify;
	if (sh->tls != SMARTHOST_TLS_NONE) {
		h->ctx = tls_client_ctx_new(sh->ca_file, sh->tls_verify, e, sizeof(e));
		if (h->ctx == NULL) {
			snprintf(err, errlen, "smarthost %s: %s", sh->name, e);
			return -1;
		}
	}
	if (sh->auth_user != NULL) {
		h->auth_user = xstrdup(sh->auth_user);
		if (config_read_secret(sh->auth_password_file, &h->password,
		    e, sizeof(e)) == -1) {
			snprintf(err, errlen, "smarthost %s: auth_password_file: %s",
			    sh->name, e);
			return -1;
		}
	}
	return 0;
}

/* Free one relay_host, wiping the password. */
static void
relay_host_free(struct relay_host *h)
{
	free(h->name);
	free(h->host);
	free(h->auth_user);
	if (h->password != NULL) {
		explicit_bzero(h->password, strlen(h->password));
		free(h->password);
	}
	if (h->ctx != NULL)
		SSL_CTX_free(h->ctx);
}

/* Snapshot the configuration for new connections. */
struct relay_profile *
relay_profile_new(const struct outbound_config *cfg, char *err, size_t errlen)
{
	struct relay_profile *p;
	size_t i;

	p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->helo = xstrdup(cfg->hostname);
	p->per_conn = cfg->messages_per_connection ? cfg->messages_per_connection : 1;
	p->t_connect = cfg->timeout_connect;
	p->t_greeting = cfg->timeout_greeting;
	p->t_command = cfg->timeout_command;
	p->t_data_init = cfg->timeout_data_init;
	p->t_data_block = cfg->timeout_data_block;
	p->t_data_end = cfg->timeout_data_end;
	p->t_idle = cfg->timeout_idle ? cfg->timeout_idle : RELAY_IDLE_SECS;
	p->hosts = xcalloc(cfg->nsmarthosts, sizeof(*p->hosts));
	p->nhosts = cfg->nsmarthosts;
	for (i = 0; i < cfg->nsmarthosts; i++) {
		if (relay_host_init(&p->hosts[i], &cfg->smarthosts[i], err, errlen) == -1) {
			relay_profile_unref(p);
			return NULL;
		}
	}
	return p;
}

/* Drop a reference; the last one frees. */
void
relay_profile_unref(struct relay_profile *p)
{
	size_t i;

	if (p == NULL || --p->refs > 0)
		return;
	for (i = 0; i < p->nhosts; i++)
		relay_host_free(&p->hosts[i]);
	free(p->hosts);
	free(p->helo);
	free(p);
}
