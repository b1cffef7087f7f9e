/*
 * rewrite: the admin address map and sender masquerading for mail this
 * host originates (see rewrite.h for the rules), pure.
 *
 * Header fields are changed in place: an address is replaced where it is
 * written (display names, comments and folding kept); only when it cannot
 * be found as written (odd quoting) is the field written anew with just
 * the addresses.  Added fields go at the end of the header section.
 *
 * Must not know: files, the queue on disk, the log, SMTP sessions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrlist.h"
#include "rewrite.h"
#include "header.h"
#include "strbuf.h"
#include "util.h"

#define FOLD_AT	76	/* where an added field is folded */

/* A copy of s, or NULL when s is NULL or "". */
static char *
dup_set(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

/* A copy of cfg's settings (always a policy: local addresses need the
 * host name even when nothing is set). */
struct rewrite_policy *
rewrite_policy_new(const struct outbound_config *cfg)
{
	struct rewrite_policy *p = xcalloc(1, sizeof(*p));
	size_t i;

	p->hostname = xstrdup(cfg->hostname != NULL ? cfg->hostname : "");
	p->mailname = dup_set(cfg->mailname);
	p->nlocal_domains = cfg->nlocal_domains;
	p->local_domains = xcalloc(cfg->nlocal_domains + 1, sizeof(char *));
	for (i = 0; i < cfg->nlocal_domains; i++)
		p->local_domains[i] = xstrdup(cfg->local_domains[i]);
	p->admin_address = dup_set(cfg->admin_address);
	p->sender_domain = dup_set(cfg->sender_domain);
	if (p->sender_domain == NULL)
		p->sender_domain = dup_set(cfg->mailname);
	p->sender_address = dup_set(cfg->sender_address);
	return p;
}

/* Free a policy. */
void
rewrite_policy_free(struct rewrite_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nlocal_domains; i++)
		free(p->local_domains[i]);
	free(p->local_domains);
	free(p->hostname);
	free(p->mailname);
	free(p->admin_address);
	free(p->sender_domain);
	free(p->sender_address);
	free(p);
}

/* true when addr's domain is "localhost", host, mailname or one of locals. */
static bool
is_local_in(const char *host, const char *mailname, char *const *locals, size_t n,
    const char *addr)
{
	const char *at = strrchr(addr, '@'), *d;
	size_t i;

	if (at == NULL)
		return addr[0] != '\0';	/* a bare name */
	d = at + 1;
	if (strcasecmp(d, "localhost") == 0 || (host != NULL && strcasecmp(d, host) == 0) ||
	    (mailname != NULL && strcasecmp(d, mailname) == 0))
		return true;
	for (i = 0; i < n; i++)
		if (strcasecmp(d, locals[i]) == 0)
			return true;
	return false;
}

/* true when addr is an address of this host (see rewrite.h). */
bool
rewrite_is_local(const struct rewrite_policy *p, const char *addr)
{
	return is_local_in(p->hostname, p->mailname, p->local_domains, p->nlocal_domains, addr);
}

/* Where a notice to sender goes (see rewrite.h). */
const char *
rewrite_notice_recipient(const struct outbound_config *cfg, const char *sender)
{
	if (cfg->admin_address == NULL || cfg->admin_address[0] == '\0' || sender[0] == '\0' ||
	    !is_local_in(cfg->hostname, cfg->mailname, cfg->local_domains, cfg->nlocal_domains,
	    sender))
		return sender;
	return cfg->admin_address;
}

/* addr with sender_domain as its domain when it is local, else NULL. */
static char *
masquerade(const struct rewrite_policy *p, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t k = at != NULL ? (size_t)(at - addr) : strlen(addr);

	if (p->sender_domain == NULL || addr[0] == '\0' || !rewrite_is_local(p, addr))
		return NULL;
	if (at != NULL && strcasecmp(at + 1, p->sender_domain) == 0)
		return NULL;
	return xasprintf("%.*s@%s", (int)k, addr, p->sender_domain);
}

/* The new sender address, or NULL (see rewrite.h). */
char *
rewrite_sender(const struct rewrite_policy *p, bool untrusted, const char *addr)
{
	if (addr[0] == '\0')
		return NULL;	/* the null sender stays */
	if (untrusted && p->sender_address != NULL)
		return strcasecmp(addr, p->sender_address) == 0 ? NULL :
		    xstrdup(p->sender_address);
	return masquerade(p, addr);
}

/* Record a change (from and to copied). */
static void
note(struct rewrite_changes *ch, const char *what, const char *from, const char *to)
{
	ch->v = xrealloc(ch->v, (ch->n + 1) * sizeof(*ch->v));
	ch->v[ch->n].what = what;
	ch->v[ch->n].from = xstrdup(from);
	ch->v[ch->n].to = xstrdup(to);
	ch->n++;
}

/* Free the list of changes. */
void
rewrite_changes_free(struct rewrite_changes *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].from);
		free(c->v[i].to);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* Local recipients to the admin address, duplicates dropped (a hash set:
 * up to PICKUP_MAX_RCPTS of them); the originals of the mapped ones are
 * appended to orig (empty before). */
static void
map_recipients(const struct rewrite_policy *p, struct queue_entry *e,
    struct addrlist *orig, struct rewrite_changes *ch)
{
	struct addrset out = { { NULL, 0, 0 }, NULL, 0 }, mapped = { { NULL, 0, 0 }, NULL, 0 };
	const char *a;
	size_t i;

	if (p->admin_address == NULL)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		a = e->rcpts[i].addr;
		if (rewrite_is_local(p, a)) {
			note(ch, "rcpt", a, p->admin_address);
			addrset_add(&mapped, a);
			a = p->admin_address;
		}
		addrset_add(&out, a);
	}
	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i].addr);
	for (i = 0; i < out.list.n; i++) {
		e->rcpts[i].addr = out.list.addrs[i];
		e->rcpts[i].state = QUEUE_RCPT_PENDING;
	}
	e->nrcpts = out.list.n;
	free(out.list.addrs);
	free(out.slots);
	*orig = mapped.list;	/* the strings move to orig */
	free(mapped.slots);
}

/* true when c may be part of an address as written. */
static bool
addr_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    ((unsigned char)c >= 0x80) || strchr("!#$%&'*+/=?^_`{|}~.-@\"\\", c) != NULL;
}

/* Replace every whole occurrence of old in f (the value after col) by new;
 * false when there is none. */
static bool
replace_in(struct strbuf *f, size_t col, const char *old, const char *new)
{
	struct strbuf o = { NULL, 0, 0 };
	size_t k = strlen(old), i = 0, n = 0;

	while (i < f->len) {
		if (i >= col && i + k <= f->len && strncasecmp(f->p + i, old, k) == 0 &&
		    (i == 0 || !addr_char(f->p[i - 1])) &&
		    (i + k == f->len || !addr_char(f->p[i + k]))) {
			strbuf_str(&o, new);
			i += k;
			n++;
		} else
			strbuf_add(&o, f->p + i++, 1);
	}
	if (n > 0) {
		free(f->p);
		*f = o;
	} else
		free(o.p);
	return n > 0;
}

/* What the header pass found and must add. */
struct hdr_state {
	const struct rewrite_policy *p;
	bool untrusted;
	bool have_reply_to;
	char *reply_to;			/* the first From: address, before, if changed */
	struct rewrite_changes *ch;
};

/* Rewrite the addresses of one From:/Sender: field f (name of klen). */
static void
rewrite_field(struct hdr_state *hs, struct strbuf *f, size_t klen, bool from)
{
	struct addrlist l = { NULL, 0, 0 };
	struct strbuf re = { NULL, 0, 0 };
	char err[200], *nw;
	bool found = true, changed = false;
	size_t i;

	if (addrlist_parse(f->p + klen, f->len - klen, ADDRLIST_UTF8, &l, err, sizeof(err)) < 0) {
		addrlist_free(&l);	/* it may hold an array, empty */
		return;	/* left as it is: the smart host judges it */
	}
	strbuf_add(&re, f->p, klen);
	for (i = 0; i < l.n; i++) {
		nw = rewrite_sender(hs->p, hs->untrusted && from, l.addrs[i]);
		strbuf_printf(&re, "%s <%s>", i > 0 ? "," : "", nw != NULL ? nw : l.addrs[i]);
		if (nw == NULL)
			continue;
		note(hs->ch, from ? "from" : "sender_header", l.addrs[i], nw);
		if (from && hs->reply_to == NULL && hs->untrusted && hs->p->sender_address != NULL)
			hs->reply_to = xstrdup(l.addrs[i]);
		found &= replace_in(f, klen, l.addrs[i], nw);
		changed = true;
		free(nw);
	}
	if (changed && !found) {
		strbuf_str(&re, "\r\n");
		free(f->p);
		*f = re;
	} else
		free(re.p);
	addrlist_free(&l);
}

/* "Name: a, b, ..." folded before FOLD_AT, CRLF-ended. */
static void
add_list_field(struct strbuf *out, const char *name, const struct addrlist *l)
{
	size_t i, col = strlen(name) + 1;

	strbuf_printf(out, "%s:", name);
	for (i = 0; i < l->n; i++) {
		if (i > 0 && col + strlen(l->addrs[i]) + 3 > FOLD_AT) {
			strbuf_str(out, ",\r\n");
			col = 0;
		} else if (i > 0) {
			strbuf_str(out, ",");
			col++;
		}
		strbuf_printf(out, " %s", l->addrs[i]);
		col += strlen(l->addrs[i]) + 1;
	}
	strbuf_str(out, "\r\n");
}

/* The Reply-To: to add for the original From: address, if any: it with
 * sender_domain applied, when that is not local. */
static void
add_reply_to(const struct hdr_state *hs, struct strbuf *out)
{
	char *m;
	const char *a;

	if (hs->reply_to == NULL || hs->have_reply_to)
		return;
	m = masquerade(hs->p, hs->reply_to);
	a = m != NULL ? m : hs->reply_to;
	if (!rewrite_is_local(hs->p, a))
		strbuf_printf(out, "Reply-To: <%s>\r\n", a);
	free(m);
}

/* The header pass: From:/Sender: rewritten, fields added. */
static void
rewrite_header(struct hdr_state *hs, const char *msg, size_t hlen,
    const struct addrlist *orig, struct strbuf *out)
{
	struct strbuf f;
	size_t off = 0, fl, k;
	bool from;

	while (off < hlen) {
		fl = header_field_len(msg + off, hlen - off);
		hs->have_reply_to |= header_is(msg + off, fl, "Reply-To") != 0;
		from = (k = header_is(msg + off, fl, "From")) != 0;
		if (k == 0)
			k = header_is(msg + off, fl, "Sender");
		if (k == 0) {
			strbuf_add(out, msg + off, fl);
			off += fl;
			continue;
		}
		f.p = NULL, f.len = f.cap = 0;
		strbuf_add(&f, msg + off, fl);
		rewrite_field(hs, &f, k, from);
		strbuf_add(out, f.p, f.len);
		free(f.p);
		off += fl;
	}
	add_reply_to(hs, out);
	if (orig->n > 0)
		add_list_field(out, "X-Original-To", orig);
}

/* true when p changes nothing at all. */
static bool
policy_idle(const struct rewrite_policy *p)
{
	return p->admin_address == NULL && p->sender_domain == NULL &&
	    p->sender_address == NULL;
}

/* Apply the policy to a parsed message (see rewrite.h). */
void
rewrite_message(const struct rewrite_policy *p, bool untrusted, struct queue_entry *e,
    char **msg, size_t *len, struct rewrite_changes *ch)
{
	struct addrlist orig = { NULL, 0, 0 };
	struct hdr_state hs = { p, untrusted, false, NULL, ch };
	struct strbuf out = { NULL, 0, 0 };
	const char *sep;
	char *ns;
	size_t hlen;

	if (policy_idle(p))
		return;
	map_recipients(p, e, &orig, ch);
	if (e->nrcpts != 1 || p->admin_address == NULL ||
	    strcasecmp(e->rcpts[0].addr, p->admin_address) != 0)
		addrlist_free(&orig);	/* X-Original-To: only when all went to the admin */
	if ((ns = rewrite_sender(p, untrusted, e->sender)) != NULL) {
		note(ch, "sender", e->sender, ns);
		free(e->sender);
		e->sender = ns;
	}
	sep = memmem(*msg, *len, "\r\n\r\n", 4);
	hlen = sep != NULL ? (size_t)(sep - *msg) + 2 : *len;
	rewrite_header(&hs, *msg, hlen, &orig, &out);
	/* out.p is NULL for an empty header: no memcmp of a NULL (UBSan) */
	if (out.len != hlen || (hlen > 0 && memcmp(out.p, *msg, hlen) != 0)) {	/* the body once */
		strbuf_add(&out, *msg + hlen, *len - hlen);
		free(*msg);
		*msg = out.p;
		*len = out.len;
	} else
		free(out.p);
	free(hs.reply_to);
	addrlist_free(&orig);
}
