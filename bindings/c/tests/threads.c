/*
 * threads.c: one kahuna_client shared by many pthreads. Each thread writes and reads its own
 * keys and increments one shared counter with compare-revision-and-set; every call must
 * succeed, every read must see the thread's own last write, and no increment may be lost.
 */
#include "check.h"

#include <pthread.h>


#define THREADS 8
#define ROUNDS 40

static kahuna_client *client;

static void counter_key(char *buf, size_t size) {
    snprintf(buf, size, "%s/threads/counter", test_prefix());
}

/* Reads the counter (revision and decimal value); -1 / 0 when it does not exist yet. */
static long read_counter(int64_t *revision) {
    char k[256], text[32] = {0};
    char *err = NULL;
    counter_key(k, sizeof k);
    kahuna_get_result g;
    OK(kahuna_try_get(client, k, KAHUNA_PERSISTENT, &g, &err));
    *revision = g.found ? g.revision : -1;
    if (g.found) memcpy(text, g.value, g.value_len < 31 ? g.value_len : 31);
    kahuna_get_result_free(&g);
    return atol(text);
}

static void increment(void) {
    char k[256], text[32];
    char *err = NULL;
    counter_key(k, sizeof k);
    for (int attempt = 0; attempt < 10000; attempt++) {
        int64_t revision;
        long value = read_counter(&revision);
        snprintf(text, sizeof text, "%ld", value + 1);
        kahuna_set_result r;
        if (revision < 0)
            OK(kahuna_try_set(client, k, BYTES(text), 0, KAHUNA_SET_IF_NOT_EXISTS, KAHUNA_PERSISTENT, &r, &err));
        else
            OK(kahuna_try_compare_revision_and_set(client, k, BYTES(text), revision, 0, KAHUNA_PERSISTENT, &r, &err));
        if (r.set) return;
    }
    fprintf(stderr, "increment never won its compare-and-set\n");
    exit(1);
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    char k[256], v[64];
    char *err = NULL;
    for (int i = 0; i < ROUNDS; i++) {
        kahuna_durability d = i % 2 ? KAHUNA_EPHEMERAL : KAHUNA_PERSISTENT;
        snprintf(k, sizeof k, "%s/threads/%d/%d", test_prefix(), id, i % 4);
        snprintf(v, sizeof v, "thread %d round %d", id, i);
        kahuna_set_result r;
        OK(kahuna_try_set(client, k, BYTES(v), 0, 0, d, &r, &err));
        CHECK(r.set);
        kahuna_get_result g;
        OK(kahuna_try_get(client, k, d, &g, &err));
        CHECK(g.found && bytes_equal(g.value, g.value_len, v));
        CHECK(g.revision == r.revision);
        kahuna_get_result_free(&g);
        if (i % 4 == 0) increment();
    }
    snprintf(k, sizeof k, "%s/threads/%d", test_prefix(), id);
    kahuna_entries bucket;
    OK(kahuna_get_by_bucket(client, k, KAHUNA_PERSISTENT, &bucket, &err));
    CHECK_EQ_I64(bucket.len, 2); /* rounds 0, 2 (mod 4) were persistent */
    kahuna_entries_free(&bucket);
    return NULL;
}

int main(void) {
    client = test_connect();
    pthread_t threads[THREADS];
    for (intptr_t t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, worker, (void *)t) == 0);
    for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    int64_t revision;
    long total = read_counter(&revision);
    CHECK_EQ_I64(total, THREADS * ROUNDS / 4);
    CHECK_EQ_I64(revision, THREADS * ROUNDS / 4 - 1);
    kahuna_client_free(client);
    printf("threads: all passed (%ld increments)\n", total);
    return 0;
}
