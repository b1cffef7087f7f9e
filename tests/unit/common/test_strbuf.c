/*
 * Unit tests of common/strbuf.c: appending bytes, strings and formatted
 * text of any length, given whole and one byte at a time (same result),
 * NUL bytes kept, reset keeping the memory, free leaving an empty buffer.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "strbuf.h"

/* A text given whole and one byte at a time ends up the same. */
START_TEST(whole_and_bytewise)
{
	static const char text[] = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
	struct strbuf a = { 0 }, b = { 0 };

	strbuf_add(&a, text, sizeof(text) - 1);
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		strbuf_add(&b, text + i, 1);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_str_eq(a.p, text);
	ck_assert_str_eq(b.p, text);
	ck_assert_uint_ge(b.cap, b.len + 1);
	strbuf_free(&a);
	strbuf_free(&b);
	ck_assert_ptr_null(a.p);
	ck_assert_uint_eq(a.len + a.cap, 0);
}
END_TEST

/* Formatted text longer than any first guess; NUL bytes are kept. */
START_TEST(printf_and_nul)
{
	struct strbuf b = { 0 };
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_str(&b, "id=");
	strbuf_printf(&b, "%s|%d", big, 42);
	ck_assert_uint_eq(b.len, 3 + 4999 + 3);
	ck_assert_str_eq(b.p + b.len - 3, "|42");
	strbuf_add(&b, "\0z", 2);
	ck_assert_uint_eq(b.len, 3 + 4999 + 5);
	ck_assert_int_eq(b.p[b.len - 2], '\0');
	ck_assert_int_eq(b.p[b.len], '\0');
	strbuf_free(&b);
}
END_TEST

/* Reset empties the text but keeps the memory; an empty add is fine. */
START_TEST(reset)
{
	struct strbuf b = { 0 };
	size_t cap;

	strbuf_reset(&b);		/* nothing allocated yet */
	ck_assert_ptr_null(b.p);
	strbuf_str(&b, "250 ok\r\n");
	cap = b.cap;
	strbuf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.p, "");
	ck_assert_uint_eq(b.cap, cap);
	strbuf_add(&b, "", 0);
	ck_assert_str_eq(b.p, "");
	strbuf_free(&b);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("strbuf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, whole_and_bytewise);
	tcase_add_test(tc, printf_and_nul);
	tcase_add_test(tc, reset);
	suite_add_tcase(s, tc);
	return s;
}
