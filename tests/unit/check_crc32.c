/* Tests of CRC-32 against published check values and a bitwise CRC. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "crc32.h"

/* The definition, one bit at a time: the reference the table must match. */
static uint32_t bitwise_crc32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t crc = 0xFFFFFFFFU;
    for (size_t i = 0; i < n; i++) {
        crc ^= s[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1U) ? (crc >> 1) ^ 0xEDB88320U : crc >> 1;
    }
    return ~crc;
}

struct vector {
    const char *name;
    const char *input;
    uint32_t crc;
};

/* The CRC catalogue's check value, and values zlib's crc32() gives. */
static const struct vector vectors[] = {
    {"empty", "", 0x00000000U},
    {"check value", "123456789", 0xCBF43926U},
    {"a", "a", 0xE8B7BE43U},
    {"abc", "abc", 0x352441C2U},
    {"fox", "The quick brown fox jumps over the lazy dog", 0x414FA339U},
    {"empty json", "{}", 0xA3A6BF43U},
};

START_TEST(known_values)
{
    const struct vector *v = &vectors[_i];
    uint32_t got = crc32_compute(v->input, strlen(v->input));
    ck_assert_msg(got == v->crc, "%s: got %08X want %08X", v->name,
                  (unsigned)got, (unsigned)v->crc);
}
END_TEST

/* One byte of each value touches each table entry once. */
START_TEST(every_table_entry)
{
    for (int i = 0; i < 256; i++) {
        unsigned char b = (unsigned char)i;
        ck_assert_uint_eq(crc32_compute(&b, 1), bitwise_crc32(&b, 1));
    }
}
END_TEST

START_TEST(incremental_equals_one_shot)
{
    unsigned char data[4099];
    uint32_t x = 2463534242U;
    for (size_t i = 0; i < sizeof(data); i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    uint32_t whole = crc32_compute(data, sizeof(data));
    ck_assert_uint_eq(whole, bitwise_crc32(data, sizeof(data)));
    for (size_t split = 0; split <= sizeof(data); split += 257) {
        uint32_t c = crc32_update(0, data, split);
        c = crc32_update(c, data + split, sizeof(data) - split);
        ck_assert_uint_eq(c, whole);
    }
    ck_assert_uint_eq(crc32_update(0, NULL, 0), 0);
    ck_assert_uint_eq(crc32_update(whole, NULL, 0), whole);
}
END_TEST

/* A body DynamoDB answers, with the x-amz-crc32 it sends (decimal). */
START_TEST(dynamodb_style_decimal)
{
    const char *body = "{\"Item\":{\"pk\":{\"S\":\"CONN#abc\"}}}";
    uint32_t crc = crc32_compute(body, strlen(body));
    ck_assert_uint_eq(crc, bitwise_crc32(body, strlen(body)));
    /* DynamoDB's answer to a write without ReturnValues is "{}", sent
     * with x-amz-crc32: 2745614147. */
    ck_assert_uint_eq(crc32_compute("{}", 2), 2745614147U);
    /* Flipping one bit changes the checksum. */
    char copy[64];
    strcpy(copy, body);
    copy[5] ^= 0x01;
    ck_assert_uint_ne(crc32_compute(copy, strlen(copy)), crc);
}
END_TEST

Suite *crc32_suite(void)
{
    Suite *s = suite_create("crc32");
    TCase *tc = tcase_create("crc32");
    tcase_add_loop_test(tc, known_values, 0,
                        (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_test(tc, every_table_entry);
    tcase_add_test(tc, incremental_equals_one_shot);
    tcase_add_test(tc, dynamodb_style_decimal);
    suite_add_tcase(s, tc);
    return s;
}
