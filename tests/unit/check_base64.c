/* Strict base64 / base64url decoding: RFC 4648 §10 vectors and refusals. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

/* RFC 4648 §10 test vectors. */
static const struct {
    const char *text, *bytes;
} vectors[] = {
    {"", ""},
    {"Zg==", "f"},
    {"Zm8=", "fo"},
    {"Zm9v", "foo"},
    {"Zm9vYg==", "foob"},
    {"Zm9vYmE=", "fooba"},
    {"Zm9vYmFy", "foobar"},
};

START_TEST(rfc4648_vectors)
{
    size_t len = 99;
    unsigned char *out = base64_decode(
        vectors[_i].text, strlen(vectors[_i].text), BASE64_STD, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, strlen(vectors[_i].bytes));
    ck_assert_mem_eq(out, vectors[_i].bytes, len);
    ck_assert_int_eq(out[len], 0);
    free(out);
    /* The same bytes in base64url: the padding dropped. */
    size_t n = strcspn(vectors[_i].text, "=");
    out = base64_decode(vectors[_i].text, n, BASE64_URL, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, strlen(vectors[_i].bytes));
    ck_assert_mem_eq(out, vectors[_i].bytes, len);
    free(out);
}
END_TEST

START_TEST(alphabets_differ)
{
    size_t len = 0;
    unsigned char *out = base64_decode("+/8=", 4, BASE64_STD, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(out[0], 0xfb);
    ck_assert_int_eq(out[1], 0xff);
    free(out);
    out = base64_decode("-_8", 3, BASE64_URL, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(out[0], 0xfb);
    ck_assert_int_eq(out[1], 0xff);
    free(out);
    ck_assert_ptr_null(base64_decode("-_8=", 4, BASE64_STD, &len));
    ck_assert_ptr_null(base64_decode("+/8", 3, BASE64_URL, &len));
}
END_TEST

static const struct {
    const char *text;
    enum base64_alphabet alphabet;
} refused[] = {
    {"Zg=", BASE64_STD},        /* not a multiple of 4 */
    {"Zm9", BASE64_STD},        /* unpadded */
    {"Z=g=", BASE64_STD},       /* '=' inside */
    {"====", BASE64_STD},       /* padding only */
    {" Zg==", BASE64_STD},      /* a blank */
    {"Zm9v\nYmFy", BASE64_STD}, /* a line break */
    {"Zm9v*mFy", BASE64_STD},   /* not in the alphabet */
    {"Zg==", BASE64_URL},       /* padding in base64url */
    {"Zm9vY", BASE64_URL},      /* length 1 mod 4 */
    {"Zm9v+mFy", BASE64_URL},   /* the standard alphabet's '+' */
};

START_TEST(strictness)
{
    size_t len = 7;
    unsigned char *out = base64_decode(
        refused[_i].text, strlen(refused[_i].text), refused[_i].alphabet, &len);
    ck_assert_msg(out == NULL, "\"%s\" was accepted", refused[_i].text);
    ck_assert_uint_eq(len, 7); /* untouched */
}
END_TEST

Suite *base64_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("decode");
    tcase_add_loop_test(tc, rfc4648_vectors, 0,
                        (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_test(tc, alphabets_differ);
    tcase_add_loop_test(tc, strictness, 0,
                        (int)(sizeof(refused) / sizeof(refused[0])));
    suite_add_tcase(s, tc);
    return s;
}
