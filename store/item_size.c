/* DynamoDB's size of items and AttributeValues. */
#include "item_int.h"

#include <string.h>

/* Padding characters at the end of base64 text of length `len`. */
static size_t b64_padding(const char *s, size_t len)
{
    if (len == 0 || s[len - 1] != '=')
        return 0;
    return len >= 2 && s[len - 2] == '=' ? 2 : 1;
}

/* Decoded length of base64 text (valid or not: then a rough figure). */
static size_t b64_decoded_len(const char *s)
{
    size_t len = strlen(s);
    if (len % 4)
        return len / 4 * 3;
    return len / 4 * 3 - b64_padding(s, len);
}

static size_t number_size(const char *text)
{
    struct item_number n;
    if (item_number_parse(text, &n) != ITEM_NUMBER_OK)
        return strlen(text) / 2 + 1;
    return (n.ndigits + 1) / 2 + 1;
}

/* One scalar of kind 'S', 'N' or 'B'; 0 when it is not a string. */
static size_t scalar_size(char kind, const cJSON *v)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return 0;
    if (kind == 'N')
        return number_size(v->valuestring);
    if (kind == 'B')
        return b64_decoded_len(v->valuestring);
    return strlen(v->valuestring);
}

size_t item_av_size_bytes(const cJSON *av)
{
    if (!cJSON_IsObject(av) || !av->child || !av->child->string)
        return 0;
    const cJSON *v = av->child;
    const char *type = v->string;
    size_t size = 0;

    if (!strcmp(type, "S") || !strcmp(type, "N") || !strcmp(type, "B"))
        return scalar_size(type[0], v);
    if (!strcmp(type, "BOOL") || !strcmp(type, "NULL"))
        return 1;
    if (!strcmp(type, "SS") || !strcmp(type, "NS") || !strcmp(type, "BS")) {
        for (const cJSON *e = v->child; e; e = e->next)
            size += scalar_size(type[0], e);
        return size;
    }
    if (!strcmp(type, "M") || !strcmp(type, "L")) {
        size = 3;
        for (const cJSON *c = v->child; c; c = c->next) {
            size += 1 + item_av_size_bytes(c);
            if (type[0] == 'M' && c->string)
                size += strlen(c->string);
        }
    }
    return size;
}

/* The size of one attribute: its name's bytes plus its value's size. */
static size_t attribute_size(const cJSON *a)
{
    return (a->string ? strlen(a->string) : 0) + item_av_size_bytes(a);
}

size_t item_size_bytes(const cJSON *item)
{
    size_t size = 0;
    if (!cJSON_IsObject(item))
        return 0;
    for (const cJSON *a = item->child; a; a = a->next)
        size += attribute_size(a);
    return size;
}

enum result item_check_size(const cJSON *item, const char *field,
                            struct error_info *err)
{
    size_t total = 0, largest = 0;
    const char *largest_name = "item";

    if (!cJSON_IsObject(item))
        return RESULT_OK;
    for (const cJSON *a = item->child; a; a = a->next) {
        size_t size = attribute_size(a);
        total += size;
        if (size > largest && a->string) {
            largest = size;
            largest_name = a->string;
        }
    }
    if (total <= ITEM_MAX_SIZE_BYTES)
        return RESULT_OK;
    return error_field(err, field ? field : largest_name,
                       "the item is %zu bytes, over DynamoDB's item size "
                       "limit of %d bytes (400 KB); its largest attribute, "
                       "'%.64s', is %zu bytes",
                       total, ITEM_MAX_SIZE_BYTES, largest_name, largest);
}
