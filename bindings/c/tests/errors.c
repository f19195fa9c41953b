/*
 * errors.c: how failures reach C. Every kind of invalid input is KAHUNA_INVALID_INPUT with a
 * message naming the argument, and zeroes the out struct; the server's own validation maps
 * the same way; an endpoint nobody listens on is KAHUNA_UNAVAILABLE once the timeout passed.
 */
#include "check.h"

static kahuna_client *client;
static char *err;

#define P KAHUNA_PERSISTENT

static void test_null_pointers_are_named(void) {
    kahuna_set_result r = {true, 7, 7};
    FAILS(kahuna_try_set(NULL, "k", BYTES("v"), 0, 0, P, &r, &err), KAHUNA_INVALID_INPUT, "client is NULL");
    CHECK(!r.set && r.revision == 0 && r.last_modified == 0); /* zeroed on error */
    FAILS(kahuna_try_set(client, NULL, BYTES("v"), 0, 0, P, &r, &err), KAHUNA_INVALID_INPUT, "key is NULL");
    FAILS(kahuna_try_set(client, "k", NULL, 3, 0, 0, P, &r, &err), KAHUNA_INVALID_INPUT,
          "value is NULL but value_len is 3");
    FAILS(kahuna_try_set(client, "k", BYTES("v"), 0, 0, P, NULL, &err), KAHUNA_INVALID_INPUT, "out is NULL");
    FAILS(kahuna_try_compare_value_and_set(client, "k", BYTES("v"), NULL, 2, 0, P, &r, &err),
          KAHUNA_INVALID_INPUT, "compare_value is NULL");

    kahuna_get_result g;
    FAILS(kahuna_try_get(client, NULL, P, &g, &err), KAHUNA_INVALID_INPUT, "key is NULL");
    CHECK(!g.found && g.value == NULL);
    kahuna_entries entries;
    FAILS(kahuna_get_by_bucket(client, NULL, P, &entries, &err), KAHUNA_INVALID_INPUT, "bucket is NULL");
    CHECK(entries.items == NULL && entries.len == 0);
    kahuna_scan_page page;
    FAILS(kahuna_scan_by_prefix(client, NULL, 0, NULL, 0, P, &page, &err), KAHUNA_INVALID_INPUT, "prefix is NULL");
    FAILS(kahuna_scan_by_prefix(client, "p", 0, NULL, 4, P, &page, &err), KAHUNA_INVALID_INPUT,
          "cursor is NULL but cursor_len is 4");
    FAILS(kahuna_scan_all_by_prefix(client, NULL, P, &entries, &err), KAHUNA_INVALID_INPUT, "prefix is NULL");
    kahuna_topology t;
    FAILS(kahuna_get_topology(NULL, &t, &err), KAHUNA_INVALID_INPUT, "client is NULL");
    CHECK(t.nodes == NULL);
    kahuna_topology_free(&t);
}

static void test_bad_keys(void) {
    kahuna_set_result r;
    kahuna_get_result g;
    kahuna_exists_result e;
    FAILS(kahuna_try_set(client, "bad\xff", BYTES("v"), 0, 0, P, &r, &err), KAHUNA_INVALID_INPUT,
          "key is not valid UTF-8 (invalid byte at offset 3)");
    FAILS(kahuna_try_get(client, "\xc3\x28", P, &g, &err), KAHUNA_INVALID_INPUT, "key is not valid UTF-8");
    FAILS(kahuna_get_by_bucket(client, "\xe2\x82", P, &(kahuna_entries){0}, &err), KAHUNA_INVALID_INPUT,
          "bucket is not valid UTF-8");
    FAILS(kahuna_try_exists(client, "", P, &e, &err), KAHUNA_INVALID_INPUT, "key must not be empty");
    FAILS(kahuna_try_set(client, "__kahuna:mine", BYTES("v"), 0, 0, P, &r, &err), KAHUNA_INVALID_INPUT, "reserved");

    char *long_key = malloc(4098);
    memset(long_key, 'k', 4097);
    long_key[4097] = '\0';
    FAILS(kahuna_try_delete(client, long_key, P, &(kahuna_delete_result){0}, &err), KAHUNA_INVALID_INPUT, "key");
    FAILS(kahuna_get_by_bucket(client, long_key, P, &(kahuna_entries){0}, &err), KAHUNA_INVALID_INPUT, "bucket");
    free(long_key);
}

static void test_bad_numbers_and_flags(void) {
    kahuna_set_result r;
    kahuna_get_result g;
    FAILS(kahuna_try_set(client, "k", BYTES("v"), -5, 0, P, &r, &err), KAHUNA_INVALID_INPUT,
          "expires_ms must not be negative, got -5");
    FAILS(kahuna_try_compare_revision_and_set(client, "k", BYTES("v"), 0, -1, P, &r, &err), KAHUNA_INVALID_INPUT,
          "expires_ms");
    FAILS(kahuna_try_extend(client, "k", 0, P, &(kahuna_extend_result){0}, &err), KAHUNA_INVALID_INPUT,
          "expires_ms must be greater than 0");
    FAILS(kahuna_try_set(client, "k", BYTES("v"), 0, 0x100, P, &r, &err), KAHUNA_INVALID_INPUT,
          "flags has unknown bits 0x100");
    FAILS(kahuna_try_set(client, "k", BYTES("v"), 0, KAHUNA_SET_IF_EXISTS | KAHUNA_SET_IF_NOT_EXISTS, P, &r, &err),
          KAHUNA_INVALID_INPUT, "if_exists");
    FAILS(kahuna_try_set(client, "k", BYTES("v"), 0, 16, P, &r, &err), KAHUNA_INVALID_INPUT, "compare");
    FAILS(kahuna_try_get(client, "k", 7, &g, &err), KAHUNA_INVALID_INPUT,
          "durability must be KAHUNA_PERSISTENT (0) or KAHUNA_EPHEMERAL (1), got 7");
    FAILS(kahuna_try_get(client, "k", -1, &g, &err), KAHUNA_INVALID_INPUT, "durability");
    FAILS(kahuna_try_get_revision(client, "k", -2, P, &g, &err), KAHUNA_INVALID_INPUT, "revision");
    FAILS(kahuna_try_get_as_of(client, "k", 0, P, &g, &err), KAHUNA_INVALID_INPUT, "timestamp");
}

static void test_server_side_validation_maps_the_same_way(void) {
    /* 17 MiB is over the server's 16 MiB limit; only the server knows its limit. */
    size_t len = 17u << 20;
    uint8_t *big = calloc(len, 1);
    kahuna_set_result r;
    FAILS(kahuna_try_set(client, "errors/big", big, len, 0, 0, P, &r, &err), KAHUNA_INVALID_INPUT, "value");
    free(big);
    /* A timestamp far in the future cannot be read as of. */
    kahuna_get_result g;
    FAILS(kahuna_try_get_as_of(client, "errors/future", UINT64_MAX >> 1, P, &g, &err), KAHUNA_INVALID_INPUT, "");
}

static void test_err_may_be_null(void) {
    kahuna_set_result r;
    CHECK(kahuna_try_set(client, NULL, BYTES("v"), 0, 0, P, &r, NULL) == KAHUNA_INVALID_INPUT);
    CHECK(kahuna_try_set(client, "errors/ok", BYTES("v"), 0, 0, P, &r, NULL) == KAHUNA_OK);
    /* A message left from before is replaced by NULL on success. */
    err = (char *)"stale";
    OK(kahuna_try_set(client, "errors/ok", BYTES("v"), 0, 0, P, &r, &err));
}

static void test_bad_endpoints(void) {
    kahuna_client *c = (kahuna_client *)&c;
    FAILS(kahuna_client_connect(NULL, NULL, &c, &err), KAHUNA_INVALID_INPUT, "endpoints is NULL");
    CHECK(c == NULL);
    FAILS(kahuna_client_connect("", NULL, &c, &err), KAHUNA_INVALID_INPUT, "at least one host:port");
    FAILS(kahuna_client_connect("localhost", NULL, &c, &err), KAHUNA_INVALID_INPUT, "host:port");
    FAILS(kahuna_client_connect("127.0.0.1:1", NULL, NULL, &err), KAHUNA_INVALID_INPUT, "out is NULL");
    kahuna_options zero_means_default = {0};
    FAILS(kahuna_client_connect("h:99999", &zero_means_default, &c, &err), KAHUNA_INVALID_INPUT, "endpoints[0]");
}

static void test_unknown_endpoint_is_unavailable_after_the_timeout(void) {
    kahuna_options options = kahuna_options_default();
    options.timeout_ms = 1500;
    options.connect_timeout_ms = 200;
    kahuna_client *c = NULL;
    int64_t started = now_ms();
    FAILS(kahuna_client_connect("127.0.0.1:1, 127.0.0.1:2", &options, &c, &err), KAHUNA_UNAVAILABLE, "127.0.0.1:2");
    int64_t elapsed = now_ms() - started;
    /* Retries go on until less than one backoff pause (<= 500 ms) is left. */
    CHECK(elapsed >= 900 && elapsed < 5000);
    CHECK(c == NULL);
}

int main(void) {
    client = test_connect();
    test_null_pointers_are_named();
    printf("ok null pointers\n");
    test_bad_keys();
    printf("ok bad keys\n");
    test_bad_numbers_and_flags();
    printf("ok bad numbers and flags\n");
    test_server_side_validation_maps_the_same_way();
    printf("ok server-side validation\n");
    test_err_may_be_null();
    printf("ok err may be NULL\n");
    test_bad_endpoints();
    printf("ok bad endpoints\n");
    test_unknown_endpoint_is_unavailable_after_the_timeout();
    printf("ok unknown endpoint\n");
    kahuna_client_free(client);
    kahuna_client_free(NULL);
    printf("errors: all passed\n");
    return 0;
}
