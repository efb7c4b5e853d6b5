/* Fuzz target: DynamoDB item validation and conversion on hostile JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "item.h"

/* A broken invariant is a bug: stop so libFuzzer keeps the input. */
static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_item: invariant broken: %s\n", what);
        abort();
    }
}

/* The bytes read as an item from the wire: validate, then convert back. */
static void as_item(const cJSON *json)
{
    struct error_info err = {0};
    cJSON *plain = NULL, *again = NULL;

    (void)item_size_bytes(json);
    (void)item_check_size(json, NULL, &err);
    if (item_validate(json, &err) != RESULT_OK) {
        require(item_to_json(json, &plain, &err) != RESULT_OK,
                "item_to_json accepted what item_validate refused");
        require(plain == NULL, "failed item_to_json wrote its output");
        return;
    }
    require(item_to_json(json, &plain, &err) == RESULT_OK,
            "item_to_json refused a valid item");
    char *text = cJSON_PrintUnformatted(plain);
    require(text != NULL, "converted item does not print");
    free(text);
    /* B and sets come back as S and L; everything must stay valid. */
    require(item_from_json(plain, &again, &err) == RESULT_OK,
            "item_from_json refused item_to_json's output");
    require(item_validate(again, &err) == RESULT_OK,
            "item_from_json made an invalid item");
    cJSON_Delete(plain);
    cJSON_Delete(again);
}

/* The bytes read as a client's plain JSON value. */
static void as_plain(const cJSON *json)
{
    struct error_info err = {0};
    cJSON *av = NULL, *plain = NULL, *item = NULL;

    if (item_av_from_json(json, "fuzz", &av, &err) == RESULT_OK) {
        require(item_av_validate(av, "fuzz", &err) == RESULT_OK,
                "item_av_from_json made an invalid AV");
        require(item_av_to_json(av, "fuzz", &plain, &err) == RESULT_OK,
                "item_av_to_json refused a made AV");
        (void)item_av_size_bytes(av);
    }
    if (item_from_json(json, &item, &err) == RESULT_OK)
        require(item_validate(item, &err) == RESULT_OK,
                "item_from_json made an invalid item");
    cJSON_Delete(av);
    cJSON_Delete(plain);
    cJSON_Delete(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *json = cJSON_ParseWithLength((const char *)data, size);
    if (!json)
        return 0;
    struct error_info err = {0};
    cJSON *av_plain = NULL;
    as_item(json);
    as_plain(json);
    if (item_av_to_json(json, NULL, &av_plain, &err) == RESULT_OK)
        cJSON_Delete(av_plain);
    cJSON_Delete(json);
    return 0;
}
