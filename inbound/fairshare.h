/*
 * fairshare: whose share a new connection counts against (pure).  Clients
 * are grouped by network -- the address masked to a configured prefix
 * (IPv4-mapped IPv6 counted as IPv4) -- so one network cannot take every
 * slot by using many addresses.  A client that a relay_hosts entry no
 * wider than that prefix names (e.g. "192.0.2.10/32") is a relay host in
 * front: it is counted apart, under its entry, with a larger share.
 */
#ifndef SMTPGATE_FAIRSHARE_H
#define SMTPGATE_FAIRSHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

#define FAIRSHARE_KEY_LEN 64	/* "relay 2001:db8:...:ffff/128" fits */

/* Prefix lengths used to group clients. */
struct fairshare_prefix {
	unsigned ipv4;		/* 1..32 */
	unsigned ipv6;		/* 1..128 */
};

/*
 * The key sa counts under, into key (FAIRSHARE_KEY_LEN bytes): "a.b.c.0/24"
 * or "2001:db8::/64", or "relay <entry>" when a relay_hosts entry of
 * nrelay no wider than the prefix holds sa.  Returns true for a relay
 * host.  An unknown family gets the key "unknown".
 */
bool fairshare_key(const struct sockaddr *sa, const struct fairshare_prefix *p,
    const struct config_cidr *relay, size_t nrelay, char *key, size_t keylen);

#endif
