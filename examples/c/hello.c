/*
 * hello.c: the C hello-world of Kahuna. Connects to the local cluster (KAHUNA_ENDPOINTS or
 * 127.0.0.1:7071-7073) and does a set, a get and a compare-and-set.
 *
 * Build (from the repository root, after cargo build --release):
 *   cc -I bindings/c/include examples/c/hello.c -L target/release -lkahuna \
 *      -Wl,-rpath,$PWD/target/release -o hello
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kahuna.h"

/* Prints what failed and why, frees the message, and returns the exit code 1. */
static int fail(const char *what, kahuna_status status, char *err) {
    fprintf(stderr, "%s failed: %s: %s\n", what, kahuna_status_name(status), err ? err : "");
    kahuna_string_free(err);
    return 1;
}

int main(void) {
    const char *endpoints = getenv("KAHUNA_ENDPOINTS");
    if (endpoints == NULL) endpoints = "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073";

    kahuna_client *client;
    char *err;
    kahuna_status s = kahuna_client_connect(endpoints, NULL, &client, &err);
    if (s != KAHUNA_OK) return fail("connect", s, err);

    const char *hello = "hello";
    kahuna_set_result set;
    s = kahuna_try_set(client, "config/greeting", (const uint8_t *)hello, strlen(hello), 0, 0, KAHUNA_PERSISTENT,
                       &set, &err);
    if (s != KAHUNA_OK) return fail("set", s, err);
    printf("set config/greeting -> revision %lld\n", (long long)set.revision);

    kahuna_get_result got;
    s = kahuna_try_get(client, "config/greeting", KAHUNA_PERSISTENT, &got, &err);
    if (s != KAHUNA_OK) return fail("get", s, err);
    printf("get config/greeting -> \"%.*s\" (revision %lld)\n", (int)got.value_len, (const char *)got.value,
           (long long)got.revision);

    const char *again = "hello again";
    kahuna_set_result cas;
    s = kahuna_try_compare_revision_and_set(client, "config/greeting", (const uint8_t *)again, strlen(again),
                                            got.revision, 0, KAHUNA_PERSISTENT, &cas, &err);
    kahuna_get_result_free(&got);
    if (s != KAHUNA_OK) return fail("compare-revision-and-set", s, err);
    printf("compare-revision-and-set -> set=%s revision %lld\n", cas.set ? "true" : "false",
           (long long)cas.revision);

    kahuna_client_free(client);
    return 0;
}
