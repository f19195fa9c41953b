/*
 * check.h: the few helpers the C tests of libkahuna share (no test framework needed).
 *
 * Every check that fails prints the file, the line and what failed, then exits with 1, so
 * the Rust driver (tests/tests/c_binding.rs) shows exactly which check broke. Calls that
 * take `char **err` are written with a local `char *err` in scope: OK() demands KAHUNA_OK
 * and no message, FAILS() demands a status and a message containing a fragment, and frees it.
 */
#ifndef KAHUNA_TEST_CHECK_H
#define KAHUNA_TEST_CHECK_H

/* Include this file first: it selects POSIX for clock_gettime, nanosleep and poll. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kahuna.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define CHECK_EQ_I64(actual, expected)                                                  \
    do {                                                                                \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                 \
        if (a_ != e_) {                                                                 \
            fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__,   \
                    #actual, a_, e_);                                                   \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* The call must return KAHUNA_OK and leave `err` NULL. */
#define OK(call)                                                                        \
    do {                                                                                \
        kahuna_status s_ = (call);                                                      \
        if (s_ != KAHUNA_OK) {                                                          \
            fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call,   \
                    kahuna_status_name(s_), err ? err : "(no message)");                \
            exit(1);                                                                    \
        }                                                                               \
        CHECK(err == NULL);                                                             \
    } while (0)

/* The call must return `status` with a message containing `fragment`; frees the message. */
#define FAILS(call, status, fragment)                                                   \
    do {                                                                                \
        kahuna_status s_ = (call);                                                      \
        if (s_ != (status) || err == NULL || strstr(err, (fragment)) == NULL) {         \
            fprintf(stderr, "%s:%d: %s returned %s (%s), expected %s with \"%s\"\n",    \
                    __FILE__, __LINE__, #call, kahuna_status_name(s_),                  \
                    err ? err : "no message", kahuna_status_name(status), (fragment));  \
            exit(1);                                                                    \
        }                                                                               \
        kahuna_string_free(err);                                                        \
        err = NULL;                                                                     \
    } while (0)

/* A string literal or C string as a (pointer, length) byte buffer. */
#define BYTES(s) (const uint8_t *)(s), strlen(s)

/* True when (value, len) holds exactly the C string `s`. */
static inline int bytes_equal(const uint8_t *value, size_t len, const char *s) {
    return value != NULL && len == strlen(s) && memcmp(value, s, len) == 0;
}

/* The cluster to talk to: $KAHUNA_ENDPOINTS, set by the driver. */
static inline const char *test_endpoints(void) {
    const char *e = getenv("KAHUNA_ENDPOINTS");
    if (e == NULL || *e == '\0') {
        fprintf(stderr, "KAHUNA_ENDPOINTS is not set\n");
        exit(2);
    }
    return e;
}

/* A prefix for this run's keys ($KAHUNA_TEST_PREFIX, default "c"), so runs never collide. */
static inline const char *test_prefix(void) {
    const char *p = getenv("KAHUNA_TEST_PREFIX");
    return p != NULL && *p != '\0' ? p : "c";
}

/* Milliseconds on the monotonic clock. */
static inline int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps `ms` milliseconds: only between polls of a condition that has its own deadline. */
static inline void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connects to the test cluster with the default options, or exits. */
static inline kahuna_client *test_connect(void) {
    kahuna_client *client = NULL;
    char *err = NULL;
    OK(kahuna_client_connect(test_endpoints(), NULL, &client, &err));
    CHECK(client != NULL);
    return client;
}

/*
 * Checks that no "kahuna-client-io" thread is left in this process.
 *
 * kahuna_client_free waits for the client's I/O thread to end, so right after it returns
 * every connection is closed and its memory freed (what the leak-checked test relies on).
 */
static inline void check_no_io_thread_left(void) {
    DIR *tasks = opendir("/proc/self/task");
    CHECK(tasks != NULL);
    struct dirent *t;
    while ((t = readdir(tasks)) != NULL) {
        char path[300], name[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", t->d_name);
        FILE *comm = fopen(path, "r");
        if (comm == NULL) continue;
        int found = fgets(name, sizeof name, comm) != NULL && strncmp(name, "kahuna-client", 13) == 0;
        fclose(comm);
        CHECK(!found);
    }
    closedir(tasks);
}
#endif
