/*
 * fairshare: network keys for the per-network connection cap (see
 * fairshare.h).
 *
 * Must not know sockets beyond their addresses, or any counting.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "fairshare.h"
#include "util.h"

/* Clear every bit of addr (len bytes) past the first prefix bits. */
static void
fairshare_mask(unsigned char *addr, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 :
		    prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;

		addr[i] &= (unsigned char)(0xff00u >> keep);
	}
}

/* The family and raw address of sa (v4-mapped IPv6 as IPv4); 0 if neither. */
static int
fairshare_addr(const struct sockaddr *sa, unsigned char addr[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(addr, &a6->s6_addr[12], 4);
			return AF_INET;
		}
		memcpy(addr, a6, 16);
		return AF_INET6;
	}
	return 0;
}

/* The first relay_hosts entry at least as narrow as prefix that holds sa,
 * or NULL. */
static const struct config_cidr *
fairshare_relay(const struct sockaddr *sa, int fam, unsigned prefix,
    const struct config_cidr *relay, size_t nrelay)
{
	for (size_t i = 0; i < nrelay; i++) {
		if (relay[i].family != fam || relay[i].prefix < prefix ||
		    !config_cidr_match(&relay[i], sa))
			continue;
		return &relay[i];
	}
	return NULL;
}

/* The counting key of sa; true for a relay host (see fairshare.h). */
bool
fairshare_key(const struct sockaddr *sa, const struct fairshare_prefix *p,
    const struct config_cidr *relay, size_t nrelay, char *key, size_t keylen)
{
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN];
	int fam = fairshare_addr(sa, addr);
	unsigned prefix = fam == AF_INET ? p->ipv4 : p->ipv6;
	const struct config_cidr *r;

	if (fam == 0) {
		util_strlcpy(key, "unknown", keylen);
		return false;
	}
	if ((r = fairshare_relay(sa, fam, prefix, relay, nrelay)) != NULL) {
		inet_ntop(fam, r->addr, text, sizeof(text));	/* "relay <entry>" */
		snprintf(key, keylen, "relay %s/%u", text, r->prefix);
		return true;
	}
	fairshare_mask(addr, fam == AF_INET ? 4 : 16, prefix);
	inet_ntop(fam, addr, text, sizeof(text));
	snprintf(key, keylen, "%s/%u", text, prefix);
	return false;
}
