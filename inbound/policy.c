/*
 * policy: the inbound gateway's two pure lookups, built from the config.
 * Who may connect (relay_hosts, matched with config_cidr_match) and which
 * mailbox receives an address: exact addresses in one open-addressing hash
 * table, "@domain" catch-alls in a second, the domains served (those of
 * every address) in a third; all keyed lower-cased.  The order of a
 * lookup (issue 19): the address as given (quotes dropped where they
 * change nothing), postmaster, the address without its extension
 * (recipient_delimiter), then the domain's catch-all.  The
 * policy copies what it needs, so the config may be freed after a reload.
 * It knows nothing about sessions, sockets or the spool.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "smtp_addr.h"
#include "util.h"

/* One slot: key NULL means empty (nothing is ever removed). */
struct slot {
	char *key;
	int idx;
};

/* Open addressing with linear probing; size is a power of two. */
struct map {
	struct slot *slots;
	size_t size;
};

struct policy {
	struct config_cidr *relay;
	size_t nrelay;
	char **names;
	size_t nnames;
	struct map exact;	/* "local@domain" -> mailbox */
	struct map domains;	/* "@domain" -> mailbox */
	struct map served;	/* "@domain" of every address -> 0 */
	char *delims;		/* recipient_delimiter; "" = off */
	int postmaster;		/* the postmaster's mailbox */
};

/* Room for n keys at most half full. */
static void
map_init(struct map *m, size_t n)
{
	size_t size = 8;

	while (size < n * 2)
		size *= 2;
	m->slots = xcalloc(size, sizeof(*m->slots));
	m->size = size;
}

/* The slot holding key, or the empty slot where it would go. */
static struct slot *
map_probe(const struct map *m, const char *key)
{
	size_t i = (size_t)util_hash_str(key) & (m->size - 1);

	while (m->slots[i].key != NULL && strcmp(m->slots[i].key, key) != 0)
		i = (i + 1) & (m->size - 1);
	return &m->slots[i];
}

/* Add key -> idx (lower-cased); the first claim of a key wins. */
static void
map_add(struct map *m, const char *key, int idx)
{
	char *k = util_lowercase(xstrdup(key));
	struct slot *sl = map_probe(m, k);

	if (sl->key != NULL) {
		free(k);
		return;
	}
	sl->key = k;
	sl->idx = idx;
}

/* The index stored under an already lower-cased key, or -1. */
static int
map_get(const struct map *m, const char *key)
{
	const struct slot *sl = map_probe(m, key);

	return sl->key != NULL ? sl->idx : -1;
}

/* Free every key and the slots. */
static void
map_free(struct map *m)
{
	size_t i;

	for (i = 0; i < m->size; i++)
		free(m->slots[i].key);
	free(m->slots);
}

/* Count exact addresses and catch-alls in the config. */
static void
count_addresses(const struct inbound_config *cfg, size_t *nexact, size_t *ndom)
{
	size_t i, j;

	*nexact = *ndom = 0;
	for (i = 0; i < cfg->nmailboxes; i++)
		for (j = 0; j < cfg->mailboxes[i].naddresses; j++) {
			if (cfg->mailboxes[i].addresses[j][0] == '@')
				(*ndom)++;
			else
				(*nexact)++;
		}
}

/* Fill both maps and copy the mailbox names. */
static void
load_mailboxes(struct policy *p, const struct inbound_config *cfg)
{
	size_t i, j, nexact, ndom;

	count_addresses(cfg, &nexact, &ndom);
	map_init(&p->exact, nexact);
	map_init(&p->domains, ndom);
	map_init(&p->served, nexact + ndom);
	p->names = xcalloc(cfg->nmailboxes + 1, sizeof(*p->names));
	p->nnames = cfg->nmailboxes;
	for (i = 0; i < cfg->nmailboxes; i++) {
		const struct inbound_mailbox *mb = &cfg->mailboxes[i];

		p->names[i] = xstrdup(mb->name);
		for (j = 0; j < mb->naddresses; j++) {
			map_add(mb->addresses[j][0] == '@' ? &p->domains : &p->exact,
			    mb->addresses[j], (int)i);
			map_add(&p->served, strchr(mb->addresses[j], '@'), 0);
		}
	}
}

/* Build the lookups from a loaded config. */
struct policy *
policy_new(const struct inbound_config *cfg)
{
	struct policy *p = xcalloc(1, sizeof(*p));

	p->nrelay = cfg->nrelay_hosts;
	p->relay = xcalloc(p->nrelay + 1, sizeof(*p->relay));
	if (p->nrelay > 0)
		memcpy(p->relay, cfg->relay_hosts, p->nrelay * sizeof(*p->relay));
	load_mailboxes(p, cfg);
	p->delims = xstrdup(cfg->recipient_delimiter != NULL ? cfg->recipient_delimiter : "");
	p->postmaster = (int)cfg->postmaster;
	return p;
}

/* Free the policy and everything it copied. */
void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	map_free(&p->exact);
	map_free(&p->domains);
	map_free(&p->served);
	free(p->delims);
	for (i = 0; i < p->nnames; i++)
		free(p->names[i]);
	free(p->names);
	free(p->relay);
	free(p);
}

/* true when relay_hosts is empty or sa lies in one of its entries. */
bool
policy_client_allowed(const struct policy *p, const struct sockaddr *sa)
{
	size_t i;

	if (p->nrelay == 0)
		return true;
	for (i = 0; i < p->nrelay; i++)
		if (config_cidr_match(&p->relay[i], sa))
			return true;
	return false;
}

/* key ("local@domain", lower-cased, local part llen bytes): its exact
 * entry, else the postmaster's mailbox for postmaster@ a served domain. */
static int
lookup_local(const struct policy *p, const char *key, size_t llen)
{
	int idx = map_get(&p->exact, key);

	if (idx >= 0)
		return idx;
	if (llen == 10 && strncmp(key, "postmaster", 10) == 0 &&
	    map_get(&p->served, key + llen) >= 0)
		return p->postmaster;
	return -1;
}

/* The mailbox for addr: see the order at the top of this file. */
int
policy_lookup(const struct policy *p, const char *addr)
{
	char key[SMTP_ADDR_MAX + 2], base[SMTP_ADDR_MAX + 2];
	const char *dom;
	size_t llen, blen;
	int idx;

	if (strlen(addr) > SMTP_ADDR_MAX)
		return -1;
	smtp_addr_unquote(addr, key, sizeof(key));
	util_lowercase(key);
	if (strcmp(key, "postmaster") == 0)
		return p->nnames > 0 ? p->postmaster : -1;
	dom = strrchr(key, '@');
	if (dom == NULL)
		return -1;
	llen = (size_t)(dom - key);
	if ((idx = lookup_local(p, key, llen)) >= 0)
		return idx;
	blen = smtp_addr_ext_base(key, llen, p->delims);
	if (blen < llen) {
		memcpy(base, key, blen);
		util_strlcpy(base + blen, dom, sizeof(base) - blen);
		if ((idx = lookup_local(p, base, blen)) >= 0)
			return idx;
	}
	return map_get(&p->domains, dom);
}

/* The Maildir name of mailbox idx, or NULL. */
const char *
policy_mailbox_name(const struct policy *p, int idx)
{
	if (idx < 0 || (size_t)idx >= p->nnames)
		return NULL;
	return p->names[idx];
}

/* How many mailboxes there are. */
size_t
policy_mailbox_count(const struct policy *p)
{
	return p->nnames;
}
