/*
 * Unit tests of common/base64.c: the RFC 4648 section 10 vectors, every
 * byte value, and 2,000 random inputs compared with OpenSSL's encoder
 * (which the gateways no longer need for this; the test keeps it as the
 * reference).
 */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "base64.h"

static const struct {
	const char *in, *want;
} vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	{ "\0user\0secret", "AHVzZXIAc2VjcmV0" },
};

/* RFC 4648's test vectors (the last one an AUTH PLAIN blob). */
START_TEST(rfc4648)
{
	char out[64];
	size_t n = _i == 7 ? 12 : strlen(vectors[_i].in);

	ck_assert_uint_eq(base64_encode((const unsigned char *)vectors[_i].in, n, out),
	    BASE64_LEN(n));
	ck_assert_str_eq(out, vectors[_i].want);
}
END_TEST

/* The same text as OpenSSL's EVP_EncodeBlock, all byte values included. */
START_TEST(like_openssl)
{
	unsigned char in[300], want[BASE64_LEN(300) + 1];
	char out[BASE64_LEN(300) + 1];

	srand(20);
	for (int round = 0; round < 2000; round++) {
		size_t n = round == 0 ? 256 : (size_t)(rand() % 300);

		for (size_t i = 0; i < n; i++)
			in[i] = round == 0 ? (unsigned char)i : (unsigned char)rand();
		EVP_EncodeBlock(want, in, (int)n);
		base64_encode(in, n, out);
		ck_assert_str_eq(out, (const char *)want);
	}
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, rfc4648, 0, (int)(sizeof(vectors) / sizeof(vectors[0])));
	tcase_add_test(tc, like_openssl);
	suite_add_tcase(s, tc);
	return s;
}
