/*
 * addrlist: the addresses in an RFC 5322 address header field body
 * (To:, Cc:, Bcc:, From:, Sender:, Return-Path:), pure.  Handles display
 * names, quoted strings, comments (nested), groups ("undisclosed-recipients:;"
 * and "team: a@x, b@y;"), folded lines, angle-addr and bare addr-spec.  Each
 * address is checked with smtp_addr_parse_path() and returned as
 * "local@domain" (source routes dropped, domain case kept).
 */
#ifndef SMTPGATE_ADDRLIST_H
#define SMTPGATE_ADDRLIST_H

#include <stdbool.h>
#include <stddef.h>

#define ADDRLIST_ALLOW_NULL 0x01	/* "<>" is fine (Return-Path:); gives "" */
#define ADDRLIST_UTF8       0x02	/* allow UTF-8 addresses (RFC 6531) */

struct addrlist {
	char **addrs;		/* malloc'd strings */
	size_t n, cap;
};

/*
 * Parse the field body value[0..len) (after "Name:", folding CRLFs
 * included) and append its addresses to l.  0, or -1 with err naming the
 * bad address; on error nothing is appended.  An empty list is fine.
 */
int addrlist_parse(const char *value, size_t len, unsigned flags,
    struct addrlist *l, char *err, size_t errlen);

/*
 * The lenient split the injector uses on its command line and, with -t,
 * on To:/Cc:/Bcc: ("App <a@x>, b@y (B), grp: c@z;", also unqualified
 * "root"): the bare address texts of value[0..len), unchecked, appended
 * to l in order; display names, comments, group names and white space
 * dropped, quoted strings kept with their quotes, "<>" gives none.  The
 * caller checks each (submit_addr_normalize).
 */
void addrlist_split(const char *value, size_t len, struct addrlist *l);

/* Append a copy of addr to l unless an equal address (domain compared
 * without case) is there already; true when appended. */
bool addrlist_add_unique(struct addrlist *l, const char *addr);

/* Free the strings and the array; l is empty again. */
void addrlist_free(struct addrlist *l);

/*
 * A set of addresses kept in the order added, with a hash index, for long
 * lists (the injector's recipients, up to its configured maximum): equal
 * as addrlist_add_unique() says (local part exact, domain without case).
 * A zeroed struct is an empty set; list.addrs[0..list.n) are the members.
 */
struct addrset {
	struct addrlist list;
	size_t *slots;		/* open hash of index + 1 (0 = empty) */
	size_t nslots;		/* a power of two, or 0 */
};

/* Add a copy of addr unless it is a member; true when added. */
bool addrset_add(struct addrset *s, const char *addr);
/* Is addr a member? */
bool addrset_has(const struct addrset *s, const char *addr);
/* Free the members and the index; s is empty again. */
void addrset_free(struct addrset *s);

#endif
