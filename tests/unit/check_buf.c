/* Tests of the capped growable buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

START_TEST(append_and_cap)
{
    struct buf b;
    buf_init(&b, 10);
    ck_assert_str_eq(buf_str(&b), "");
    ck_assert_int_eq(buf_appends(&b, "hello"), RESULT_OK);
    ck_assert_int_eq(buf_appendf(&b, "%d", 1234), RESULT_OK);
    ck_assert_str_eq(buf_str(&b), "hello1234");
    ck_assert_int_eq(buf_appends(&b, "ab"), RESULT_TOO_LARGE);
    ck_assert_str_eq(buf_str(&b), "hello1234"); /* unchanged */
    ck_assert_int_eq(buf_appends(&b, "a"), RESULT_OK);
    ck_assert_uint_eq(b.len, 10);
    ck_assert_int_eq(buf_appendf(&b, "%s", "x"), RESULT_TOO_LARGE);
    char *s = buf_steal(&b);
    ck_assert_str_eq(s, "hello1234a");
    ck_assert_uint_eq(b.len, 0);
    free(s);
    buf_cleanup(&b);
}
END_TEST

START_TEST(grows_and_resets)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(buf_append(&b, "0123456789", 10), RESULT_OK);
    ck_assert_uint_eq(b.len, 100000);
    ck_assert_uint_eq(strlen(b.data), 100000);
    buf_reset(&b);
    ck_assert_str_eq(buf_str(&b), "");
    ck_assert_int_eq(buf_append(&b, "\0x", 2), RESULT_OK);
    ck_assert_uint_eq(b.len, 2);
    buf_cleanup(&b);
    buf_cleanup(&b); /* twice is fine */
}
END_TEST

START_TEST(huge_append_refused)
{
    struct buf b;
    buf_init(&b, 100);
    ck_assert_int_eq(buf_append(&b, "x", (size_t)-1), RESULT_TOO_LARGE);
    char *s = buf_steal(&b); /* empty buffer yields "" */
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* buf_append_strs(): the strings joined, all or nothing at the cap. */
START_TEST(append_strs)
{
    struct buf b;
    buf_init(&b, 12);
    ck_assert_int_eq(buf_append_strs(&b, "GET", " ", "/", NULL), RESULT_OK);
    ck_assert_str_eq(buf_str(&b), "GET /");
    ck_assert_int_eq(buf_append_strs(&b, NULL), RESULT_OK);
    ck_assert_int_eq(buf_append_strs(&b, "", "ab", "", NULL), RESULT_OK);
    ck_assert_str_eq(buf_str(&b), "GET /ab");
    /* 7 + 6 > 12: refused whole, the buffer as it was. */
    ck_assert_int_eq(buf_append_strs(&b, "abc", "def", NULL), RESULT_TOO_LARGE);
    ck_assert_str_eq(buf_str(&b), "GET /ab");
    ck_assert_uint_eq(b.len, 7);
    /* Exactly up to the cap. */
    ck_assert_int_eq(buf_append_strs(&b, "abc", "de", NULL), RESULT_OK);
    ck_assert_str_eq(buf_str(&b), "GET /ababcde");
    buf_cleanup(&b);
}
END_TEST

/* buf_reserve() allocates once and respects the cap; buf_move() hands
 * the bytes over without a copy, or refuses them past the target's cap. */
START_TEST(reserve_and_move)
{
    struct buf a, b;
    buf_init(&a, 100);
    buf_init(&b, 10);
    ck_assert_int_eq(buf_reserve(&a, 101), RESULT_TOO_LARGE);
    ck_assert_ptr_null(a.data);
    ck_assert_int_eq(buf_reserve(&a, 0), RESULT_OK);
    ck_assert_str_eq(buf_str(&a), ""); /* allocated, and still a string */
    ck_assert_int_eq(buf_reserve(&a, 90), RESULT_OK);
    size_t cap = a.cap;
    ck_assert_uint_ge(cap, 91);
    ck_assert_int_eq(buf_appends(&a, "twelve bytes"), RESULT_OK);
    ck_assert_uint_eq(a.cap, cap);
    ck_assert_int_eq(buf_appends(&b, "old"), RESULT_OK);
    ck_assert_int_eq(buf_move(&b, &a), RESULT_TOO_LARGE);
    ck_assert_str_eq(buf_str(&b), "old");
    ck_assert_str_eq(buf_str(&a), "twelve bytes");
    b.max_bytes = 12;
    const char *bytes = a.data;
    ck_assert_int_eq(buf_move(&b, &a), RESULT_OK);
    ck_assert_ptr_eq(b.data, bytes);
    ck_assert_str_eq(buf_str(&b), "twelve bytes");
    ck_assert_uint_eq(b.max_bytes, 12);
    ck_assert_uint_eq(a.len, 0);
    ck_assert_uint_eq(a.max_bytes, 100);
    ck_assert_str_eq(buf_str(&a), "");
    ck_assert_int_eq(buf_appends(&a, "again"), RESULT_OK);
    buf_cleanup(&a);
    buf_cleanup(&b);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *t = tcase_create("buf");
    tcase_add_test(t, append_and_cap);
    tcase_add_test(t, grows_and_resets);
    tcase_add_test(t, huge_append_refused);
    tcase_add_test(t, append_strs);
    tcase_add_test(t, reserve_and_move);
    suite_add_tcase(s, t);
    return s;
}
