/* base64 / base64url: RFC 4648 §10 vectors, round trips and refusals. */
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
    /* RFC 4648 §3.5: non-zero bits after the last byte. "Zg" is the
     * canonical "f"; "Zh".."Zv" decode to the same byte with junk bits. */
    {"Zh==", BASE64_STD},
    {"Zv==", BASE64_STD},
    {"Zm9=", BASE64_STD}, /* "Zm8=" is "fo" */
    {"Zm/=", BASE64_STD},
    {"Zh", BASE64_URL},
    {"Zm9vYh", BASE64_URL},
    {"Zm9", BASE64_URL},
    {"Zm_", BASE64_URL},
    {"AB", BASE64_URL}, /* 0x00 with the low bits 0001 */
    {"AAB", BASE64_URL},
};

/* Each last character that leaves zero bits over is accepted: the check
 * refuses exactly the non-canonical ones. */
START_TEST(canonical_last_characters)
{
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "abcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 64; i++) {
        char two[3] = {'Q', alphabet[i], 0},
             three[4] = {'Q', 'Q', alphabet[i], 0};
        size_t len = 0;
        unsigned char *out = base64_decode(two, 2, BASE64_URL, &len);
        ck_assert_msg((out != NULL) == (i % 16 == 0), "\"%s\"", two);
        free(out);
        out = base64_decode(three, 3, BASE64_URL, &len);
        ck_assert_msg((out != NULL) == (i % 4 == 0), "\"%s\"", three);
        free(out);
    }
}
END_TEST

START_TEST(strictness)
{
    size_t len = 7;
    unsigned char *out = base64_decode(
        refused[_i].text, strlen(refused[_i].text), refused[_i].alphabet, &len);
    ck_assert_msg(out == NULL, "\"%s\" was accepted", refused[_i].text);
    ck_assert_uint_eq(len, 7); /* untouched */
}
END_TEST

START_TEST(encode_vectors)
{
    const char *bytes = vectors[_i].bytes;
    size_t len = 99;
    char *text = base64_encode(bytes, strlen(bytes), BASE64_STD, &len);
    ck_assert_str_eq(text, vectors[_i].text);
    ck_assert_uint_eq(len, strlen(text));
    free(text);
    /* base64url: the same characters here, without the padding. */
    text = base64_encode(bytes, strlen(bytes), BASE64_URL, NULL);
    ck_assert_uint_eq(strlen(text), strcspn(vectors[_i].text, "="));
    ck_assert_mem_eq(text, vectors[_i].text, strlen(text));
    free(text);
}
END_TEST

/* Every byte value, every length mod 3: encode then decode gives the
 * bytes back, and the alphabets differ only in '+' '/' versus '-' '_'. */
START_TEST(encode_round_trip)
{
    unsigned char bytes[258];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(bytes); n++) {
        for (int a = 0; a < 2; a++) {
            enum base64_alphabet alpha = a ? BASE64_URL : BASE64_STD;
            size_t tlen, blen;
            char *text = base64_encode(bytes, n, alpha, &tlen);
            ck_assert(strcspn(text, a ? "+/=" : "-_") == tlen);
            unsigned char *back = base64_decode(text, tlen, alpha, &blen);
            ck_assert_ptr_nonnull(back);
            ck_assert_uint_eq(blen, n);
            ck_assert(n == 0 || memcmp(back, bytes, n) == 0);
            free(back);
            free(text);
        }
    }
}
END_TEST

/* A character outside the alphabet is refused wherever it stands: in a
 * whole group of four or in the last digits. */
START_TEST(bad_digit_anywhere)
{
    unsigned char bytes[40];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(i * 11 + 5);
    const char bad[] = {'!', '=', '.', ' ', '\n', (char)0xC3, '\0'};
    for (int a = 0; a < 2; a++) {
        enum base64_alphabet alpha = a ? BASE64_URL : BASE64_STD;
        size_t tlen, blen;
        char *text = base64_encode(bytes, sizeof(bytes) - 1, alpha, &tlen);
        for (size_t at = 0; at < tlen; at++)
            for (size_t k = 0; k < sizeof(bad); k++) {
                char was = text[at];
                text[at] = bad[k];
                if (!(alpha == BASE64_STD && bad[k] == '=' && at >= tlen - 2)) {
                    unsigned char *out =
                        base64_decode(text, tlen, alpha, &blen);
                    ck_assert_msg(out == NULL, "'%c' at %zu", bad[k], at);
                }
                text[at] = (char)(a ? '+' : '-'); /* the other alphabet's */
                ck_assert_ptr_null(base64_decode(text, tlen, alpha, &blen));
                text[at] = was;
            }
        free(text);
    }
}
END_TEST

Suite *base64_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("decode");
    tcase_add_loop_test(tc, rfc4648_vectors, 0,
                        (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_test(tc, alphabets_differ);
    tcase_add_test(tc, canonical_last_characters);
    tcase_add_loop_test(tc, strictness, 0,
                        (int)(sizeof(refused) / sizeof(refused[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("encode");
    tcase_add_loop_test(tc, encode_vectors, 0,
                        (int)(sizeof(vectors) / sizeof(vectors[0])));
    tcase_add_test(tc, encode_round_trip);
    tcase_add_test(tc, bad_digit_anywhere);
    suite_add_tcase(s, tc);
    return s;
}
