/*
 * failover.c: a loop of writes and reads that must keep working while the driver kills the
 * leader of the key's partition.
 *
 * Protocol with the driver (tests/tests/c_binding.rs): the program prints "iteration N" after
 * every iteration; the driver kills the leader mid-run, waits for more iterations, then writes
 * "stop" to stdin; the program checks the final state and prints "done iterations=N
 * slowest=Tms at=I unknown=U" (the slowest iteration is the one that waited for the election). Every call must succeed, with one documented exception: a write whose connection
 * broke while it was in flight (the killed leader had it) fails with KAHUNA_TIMEOUT, "outcome
 * unknown", and is never retried by the client. The program then reads the key to learn the
 * outcome, and writes again; the driver bounds how often that may happen.
 */
#include "check.h"

#include <poll.h>
#include <unistd.h>


static kahuna_client *client;
static char *err;

/* True once the driver wrote a line to stdin (or closed it). */
static int stop_requested(void) {
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

/* The value the key holds, as a number; -1 if it is absent. */
static long read_value(const char *k, int64_t *revision) {
    kahuna_get_result g;
    OK(kahuna_try_get(client, k, KAHUNA_PERSISTENT, &g, &err));
    char text[32] = {0};
    if (g.found) memcpy(text, g.value, g.value_len < 31 ? g.value_len : 31);
    *revision = g.revision;
    long value = g.found ? atol(text) : -1;
    kahuna_get_result_free(&g);
    return value;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    const char *k = argv[1];
    client = test_connect();
    long iterations = 0, unknown = 0;
    int64_t revision = -1;
    int64_t slowest = 0;
    long slowest_at = 0;
    while (!stop_requested()) {
        int64_t started = now_ms();
        char text[32];
        snprintf(text, sizeof text, "%ld", iterations);
        kahuna_set_result r;
        kahuna_status s = kahuna_try_set(client, k, BYTES(text), 0, 0, KAHUNA_PERSISTENT, &r, &err);
        if (s == KAHUNA_TIMEOUT && err != NULL && strstr(err, "outcome is unknown") != NULL) {
            printf("unknown outcome at iteration %ld: %s\n", iterations, err);
            kahuna_string_free(err);
            err = NULL;
            unknown++;
            int64_t seen_revision;
            long seen = read_value(k, &seen_revision);
            CHECK(seen == iterations || seen == iterations - 1);
            OK(kahuna_try_set(client, k, BYTES(text), 0, 0, KAHUNA_PERSISTENT, &r, &err));
        } else {
            OK(s);
        }
        CHECK(r.set);
        CHECK(r.revision > revision);
        revision = r.revision;

        int64_t read_revision;
        CHECK_EQ_I64(read_value(k, &read_revision), iterations);
        CHECK_EQ_I64(read_revision, revision);
        iterations++;
        if (now_ms() - started > slowest) {
            slowest = now_ms() - started;
            slowest_at = iterations;
        }
        printf("iteration %ld\n", iterations);
        fflush(stdout);
    }
    int64_t final_revision;
    CHECK_EQ_I64(read_value(k, &final_revision), iterations - 1);
    kahuna_client_free(client);
    printf("done iterations=%ld slowest=%lldms at=%ld unknown=%ld\n", iterations, (long long)slowest, slowest_at,
           unknown);
    return 0;
}
