/*
 * locks.c: the lock calls of libkahuna against a real cluster, in both durabilities: every
 * rule of docs/locks.md (first token 0, the owner re-acquiring keeps its token and lease, a
 * busy lock for another owner, extend and unlock by the owner / another owner / nobody, the
 * next token after an expiry or a release), every field of kahuna_lock_info, waiting with
 * kahuna_lock_with_wait, invalid input named in the message, and threads contending for one
 * lock through one handle with at most one holder at a time. Every buffer is freed.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

static kahuna_client *client;
static char *err;

/* "<prefix>/locks/<durability>/<name>" in one of a few rotating buffers. */
static const char *resource(kahuna_durability d, const char *name) {
    static char buffers[8][512];
    static int next;
    char *b = buffers[next++ % 8];
    snprintf(b, sizeof buffers[0], "%s/locks/%s/%s", test_prefix(), d == KAHUNA_PERSISTENT ? "p" : "e", name);
    return b;
}

static const char *durability_name(kahuna_durability d) {
    return d == KAHUNA_PERSISTENT ? "persistent" : "ephemeral";
}

/* Milliseconds since the Unix epoch (the physical part of an HLC timestamp). */
static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The physical milliseconds of an HLC timestamp. */
static int64_t hlc_ms(uint64_t hlc) {
    return (int64_t)(hlc >> 16);
}

static kahuna_lock_result try_lock(kahuna_durability d, const char *r, const char *owner, int64_t ms) {
    kahuna_lock_result out;
    OK(kahuna_try_lock(client, r, BYTES(owner), ms, d, &out, &err));
    return out;
}

/* The live lock on `r`, which must be held by `owner`; the caller frees it. */
static kahuna_lock_info held_by(kahuna_durability d, const char *r, const char *owner) {
    kahuna_lock_info info;
    OK(kahuna_get_lock(client, r, d, &info, &err));
    if (!bytes_equal(info.owner, info.owner_len, owner)) {
        fprintf(stderr, "%s is held by \"%.*s\", expected \"%s\"\n", r, (int)info.owner_len, (const char *)info.owner,
                owner);
        exit(1);
    }
    return info;
}

/* `r` has no live lock: kahuna_get_lock says so, naming the resource, and zeroes `out`. */
static void check_free(kahuna_durability d, const char *r) {
    kahuna_lock_info info = {NULL, 0, 7, 7};
    FAILS(kahuna_get_lock(client, r, d, &info, &err), KAHUNA_LOCK_DOES_NOT_EXIST, r);
    CHECK(info.owner == NULL && info.owner_len == 0 && info.expires_at == 0 && info.fencing_token == 0);
    kahuna_lock_info_free(&info);
}

static void test_first_grant_has_token_0_and_get_lock_reports_it(kahuna_durability d) {
    const char *r = resource(d, "first");
    check_free(d, r);
    int64_t before = wall_ms();
    kahuna_lock_result l = try_lock(d, r, "w1", 10000);
    CHECK(l.locked);
    CHECK_EQ_I64(l.fencing_token, 0);

    kahuna_lock_info info = held_by(d, r, "w1");
    CHECK_EQ_I64(info.owner_len, 2);
    CHECK_EQ_I64(info.fencing_token, 0);
    int64_t lease_ms = hlc_ms(info.expires_at) - before;
    if (lease_ms < 9000 || lease_ms > 11000) {
        fprintf(stderr, "the lease ends %lld ms after the request, expected about 10000\n", (long long)lease_ms);
        exit(1);
    }
    kahuna_lock_info_free(&info);
    CHECK(info.owner == NULL && info.owner_len == 0);
    kahuna_lock_info_free(&info); /* a second free is harmless */

    /* Any bytes make an owner, NULs included. */
    const char *b = resource(d, "binary-owner");
    const uint8_t owner[] = {0, 'w', 0xff, 0};
    kahuna_lock_result out;
    OK(kahuna_try_lock(client, b, owner, sizeof owner, 10000, d, &out, &err));
    CHECK(out.locked);
    OK(kahuna_get_lock(client, b, d, &info, &err));
    CHECK(info.owner != NULL && info.owner_len == sizeof owner && memcmp(info.owner, owner, sizeof owner) == 0);
    kahuna_lock_info_free(&info);
    OK(kahuna_unlock(client, b, owner, sizeof owner, d, &err));
}

static void test_the_owner_reacquiring_keeps_its_token_and_lease(kahuna_durability d) {
    const char *r = resource(d, "reacquire");
    CHECK_EQ_I64(try_lock(d, r, "w1", 5000).fencing_token, 0);
    kahuna_lock_info first = held_by(d, r, "w1");
    pause_ms(50);
    kahuna_lock_result again = try_lock(d, r, "w1", 60000);
    CHECK(again.locked);
    CHECK_EQ_I64(again.fencing_token, 0);
    kahuna_lock_info second = held_by(d, r, "w1");
    CHECK(second.expires_at == first.expires_at); /* not extended */
    CHECK_EQ_I64(second.fencing_token, 0);
    kahuna_lock_info_free(&first);
    kahuna_lock_info_free(&second);
}

static void test_another_owner_is_refused_while_the_lease_is_live(kahuna_durability d) {
    const char *r = resource(d, "busy");
    CHECK(try_lock(d, r, "w1", 10000).locked);
    kahuna_lock_result busy = {true, 7};
    OK(kahuna_try_lock(client, r, BYTES("w2"), 10000, d, &busy, &err));
    CHECK(!busy.locked); /* a busy lock is a result, not an error */
    CHECK_EQ_I64(busy.fencing_token, 0);
    kahuna_lock_info info = held_by(d, r, "w1");
    kahuna_lock_info_free(&info);

    OK(kahuna_unlock(client, r, BYTES("w1"), d, &err));
    kahuna_lock_result next = try_lock(d, r, "w2", 10000);
    CHECK(next.locked);
    CHECK_EQ_I64(next.fencing_token, 1);
    /* The same owner after a release is a new holder too. */
    OK(kahuna_unlock(client, r, BYTES("w2"), d, &err));
    CHECK_EQ_I64(try_lock(d, r, "w2", 10000).fencing_token, 2);
}

static void test_extend_is_for_the_owner_and_keeps_the_token(kahuna_durability d) {
    const char *r = resource(d, "extend");
    int64_t token = 7;
    FAILS(kahuna_try_extend_lock(client, r, BYTES("w1"), 1000, d, &token, &err), KAHUNA_LOCK_DOES_NOT_EXIST, r);
    CHECK_EQ_I64(token, 0); /* zeroed on error */

    CHECK(try_lock(d, r, "w1", 3000).locked);
    kahuna_lock_info before = held_by(d, r, "w1");
    token = 7;
    OK(kahuna_try_extend_lock(client, r, BYTES("w1"), 30000, d, &token, &err));
    CHECK_EQ_I64(token, 0);
    kahuna_lock_info after = held_by(d, r, "w1");
    CHECK_EQ_I64(after.fencing_token, 0);
    CHECK(hlc_ms(after.expires_at) - hlc_ms(before.expires_at) >= 26000); /* about 30000 - 3000 */

    FAILS(kahuna_try_extend_lock(client, r, BYTES("w2"), 60000, d, &token, &err), KAHUNA_INVALID_OWNER,
          "locked by another owner");
    kahuna_lock_info unchanged = held_by(d, r, "w1");
    CHECK(unchanged.expires_at == after.expires_at && unchanged.fencing_token == 0);
    kahuna_lock_info_free(&before);
    kahuna_lock_info_free(&after);
    kahuna_lock_info_free(&unchanged);
}

static void test_unlock_is_for_the_owner(kahuna_durability d) {
    const char *r = resource(d, "unlock");
    FAILS(kahuna_unlock(client, r, BYTES("w1"), d, &err), KAHUNA_LOCK_DOES_NOT_EXIST, r);
    CHECK(try_lock(d, r, "w1", 10000).locked);
    FAILS(kahuna_unlock(client, r, BYTES("w2"), d, &err), KAHUNA_INVALID_OWNER, "locked by another owner");
    kahuna_lock_info info = held_by(d, r, "w1");
    kahuna_lock_info_free(&info);
    OK(kahuna_unlock(client, r, BYTES("w1"), d, &err));
    check_free(d, r);
    FAILS(kahuna_unlock(client, r, BYTES("w1"), d, &err), KAHUNA_LOCK_DOES_NOT_EXIST, r);
    /* err may be NULL: the status alone tells. */
    CHECK(kahuna_unlock(client, r, BYTES("w1"), d, NULL) == KAHUNA_LOCK_DOES_NOT_EXIST);
}

static void test_an_expired_lease_goes_to_the_next_owner_with_the_next_token(kahuna_durability d) {
    const char *r = resource(d, "expiry");
    CHECK_EQ_I64(try_lock(d, r, "w1", 800).fencing_token, 0);
    CHECK(!try_lock(d, r, "w2", 10000).locked);
    int64_t deadline = now_ms() + 5000;
    kahuna_lock_result l;
    while (!(l = try_lock(d, r, "w2", 10000)).locked) {
        CHECK(now_ms() < deadline);
        pause_ms(20);
    }
    CHECK_EQ_I64(l.fencing_token, 1);
    kahuna_lock_info info = held_by(d, r, "w2");
    CHECK_EQ_I64(info.fencing_token, 1);
    kahuna_lock_info_free(&info);
    int64_t token;
    FAILS(kahuna_try_extend_lock(client, r, BYTES("w1"), 10000, d, &token, &err), KAHUNA_INVALID_OWNER, r);
    FAILS(kahuna_unlock(client, r, BYTES("w1"), d, &err), KAHUNA_INVALID_OWNER, r);

    /* A lapsed lease nobody took: free for get_lock and extend; even its owner is a new holder. */
    const char *lapsed = resource(d, "lapsed");
    CHECK_EQ_I64(try_lock(d, lapsed, "w1", 200).fencing_token, 0);
    pause_ms(400);
    check_free(d, lapsed);
    FAILS(kahuna_try_extend_lock(client, lapsed, BYTES("w1"), 10000, d, &token, &err), KAHUNA_LOCK_DOES_NOT_EXIST,
          lapsed);
    kahuna_lock_result again = try_lock(d, lapsed, "w1", 10000);
    CHECK(again.locked);
    CHECK_EQ_I64(again.fencing_token, 1);
}

static void test_lock_with_wait(kahuna_durability d) {
    /* The holder's lease runs out after 500 ms; the waiter gets the lock then, with token 1. */
    const char *r = resource(d, "wait");
    CHECK_EQ_I64(try_lock(d, r, "holder", 500).fencing_token, 0);
    int64_t started = now_ms();
    kahuna_lock_result out = {false, 7};
    OK(kahuna_lock_with_wait(client, r, BYTES("waiter"), 10000, 5000, d, &out, &err));
    int64_t waited = now_ms() - started;
    CHECK(out.locked);
    CHECK_EQ_I64(out.fencing_token, 1);
    if (waited < 250 || waited > 3000) {
        fprintf(stderr, "lock_with_wait took %lld ms, expected about 500\n", (long long)waited);
        exit(1);
    }
    kahuna_lock_info info = held_by(d, r, "waiter");
    kahuna_lock_info_free(&info);

    /* While the lease is live the wait runs out: locked = false after wait_ms. */
    started = now_ms();
    OK(kahuna_lock_with_wait(client, r, BYTES("late"), 10000, 300, d, &out, &err));
    waited = now_ms() - started;
    CHECK(!out.locked);
    CHECK_EQ_I64(out.fencing_token, 0);
    CHECK(waited >= 300 && waited < 2000);
    /* wait_ms = 0 is one try. */
    started = now_ms();
    OK(kahuna_lock_with_wait(client, r, BYTES("late"), 10000, 0, d, &out, &err));
    CHECK(!out.locked && now_ms() - started < 1000);
    /* The holder itself gets its grant back at once. */
    OK(kahuna_lock_with_wait(client, r, BYTES("waiter"), 10000, 5000, d, &out, &err));
    CHECK(out.locked && out.fencing_token == 1);
    /* A release hands over at once, not at expiry. */
    OK(kahuna_unlock(client, r, BYTES("waiter"), d, &err));
    OK(kahuna_lock_with_wait(client, r, BYTES("late"), 10000, 0, d, &out, &err));
    CHECK(out.locked && out.fencing_token == 2);
}

static void test_the_durabilities_and_the_key_space_are_separate(void) {
    char r[512];
    snprintf(r, sizeof r, "%s/locks/shared", test_prefix());
    CHECK_EQ_I64(try_lock(KAHUNA_PERSISTENT, r, "p", 10000).fencing_token, 0);
    kahuna_lock_result e = try_lock(KAHUNA_EPHEMERAL, r, "e", 10000);
    CHECK(e.locked);
    CHECK_EQ_I64(e.fencing_token, 0);
    kahuna_lock_info p_info = held_by(KAHUNA_PERSISTENT, r, "p");
    kahuna_lock_info e_info = held_by(KAHUNA_EPHEMERAL, r, "e");
    kahuna_lock_info_free(&p_info);
    kahuna_lock_info_free(&e_info);
    kahuna_get_result g;
    OK(kahuna_try_get(client, r, KAHUNA_PERSISTENT, &g, &err));
    CHECK(!g.found); /* a lock is not a key */
    kahuna_get_result_free(&g);
}

static void test_invalid_input_names_the_argument(void) {
    const kahuna_durability P = KAHUNA_PERSISTENT;
    const char *r = resource(P, "invalid");
    kahuna_lock_result out = {true, 7};
    int64_t token = 7;
    kahuna_lock_info info = {NULL, 0, 7, 7};

    FAILS(kahuna_try_lock(NULL, r, BYTES("w"), 1000, P, &out, &err), KAHUNA_INVALID_INPUT, "client is NULL");
    CHECK(!out.locked && out.fencing_token == 0); /* zeroed on error */
    FAILS(kahuna_try_lock(client, NULL, BYTES("w"), 1000, P, &out, &err), KAHUNA_INVALID_INPUT, "resource is NULL");
    FAILS(kahuna_try_lock(client, "", BYTES("w"), 1000, P, &out, &err), KAHUNA_INVALID_INPUT,
          "resource must not be empty");
    FAILS(kahuna_try_lock(client, "bad\xff", BYTES("w"), 1000, P, &out, &err), KAHUNA_INVALID_INPUT,
          "resource is not valid UTF-8 (invalid byte at offset 3)");
    FAILS(kahuna_try_lock(client, "__kahuna:x", BYTES("w"), 1000, P, &out, &err), KAHUNA_INVALID_INPUT, "reserved");
    FAILS(kahuna_try_lock(client, r, NULL, 3, 1000, P, &out, &err), KAHUNA_INVALID_INPUT,
          "owner is NULL but owner_len is 3");
    FAILS(kahuna_try_lock(client, r, NULL, 0, 1000, P, &out, &err), KAHUNA_INVALID_INPUT, "owner must not be empty");
    FAILS(kahuna_try_lock(client, r, BYTES("w"), 0, P, &out, &err), KAHUNA_INVALID_INPUT,
          "expires_ms must be greater than 0, got 0");
    FAILS(kahuna_try_lock(client, r, BYTES("w"), -5, P, &out, &err), KAHUNA_INVALID_INPUT,
          "expires_ms must be greater than 0, got -5");
    FAILS(kahuna_try_lock(client, r, BYTES("w"), 1000, 2, &out, &err), KAHUNA_INVALID_INPUT,
          "durability must be KAHUNA_PERSISTENT (0) or KAHUNA_EPHEMERAL (1), got 2");
    FAILS(kahuna_try_lock(client, r, BYTES("w"), 1000, P, NULL, &err), KAHUNA_INVALID_INPUT, "out is NULL");
    /* An owner over the server's limit (1024 bytes) is refused by the server, named the same way. */
    uint8_t long_owner[1025];
    memset(long_owner, 'o', sizeof long_owner);
    FAILS(kahuna_try_lock(client, r, long_owner, sizeof long_owner, 1000, P, &out, &err), KAHUNA_INVALID_INPUT,
          "owner");

    FAILS(kahuna_lock_with_wait(client, r, BYTES("w"), 1000, -1, P, &out, &err), KAHUNA_INVALID_INPUT,
          "wait_ms must not be negative, got -1");
    FAILS(kahuna_lock_with_wait(client, NULL, BYTES("w"), 1000, 0, P, &out, &err), KAHUNA_INVALID_INPUT,
          "resource is NULL");
    FAILS(kahuna_lock_with_wait(client, r, NULL, 2, 1000, 0, P, &out, &err), KAHUNA_INVALID_INPUT,
          "owner is NULL but owner_len is 2");
    FAILS(kahuna_lock_with_wait(client, r, BYTES("w"), 0, 100, P, &out, &err), KAHUNA_INVALID_INPUT,
          "expires_ms must be greater than 0, got 0");

    FAILS(kahuna_try_extend_lock(client, NULL, BYTES("w"), 1000, P, &token, &err), KAHUNA_INVALID_INPUT,
          "resource is NULL");
    CHECK_EQ_I64(token, 0);
    FAILS(kahuna_try_extend_lock(client, "", BYTES("w"), 1000, P, &token, &err), KAHUNA_INVALID_INPUT,
          "resource must not be empty");
    FAILS(kahuna_try_extend_lock(client, r, NULL, 1, 1000, P, &token, &err), KAHUNA_INVALID_INPUT,
          "owner is NULL but owner_len is 1");
    FAILS(kahuna_try_extend_lock(client, r, BYTES(""), 1000, P, &token, &err), KAHUNA_INVALID_INPUT,
          "owner must not be empty");
    FAILS(kahuna_try_extend_lock(client, r, BYTES("w"), 0, P, &token, &err), KAHUNA_INVALID_INPUT,
          "expires_ms must be greater than 0, got 0");
    FAILS(kahuna_try_extend_lock(client, r, BYTES("w"), 1000, P, NULL, &err), KAHUNA_INVALID_INPUT, "out is NULL");

    FAILS(kahuna_unlock(NULL, r, BYTES("w"), P, &err), KAHUNA_INVALID_INPUT, "client is NULL");
    FAILS(kahuna_unlock(client, NULL, BYTES("w"), P, &err), KAHUNA_INVALID_INPUT, "resource is NULL");
    FAILS(kahuna_unlock(client, "", BYTES("w"), P, &err), KAHUNA_INVALID_INPUT, "resource must not be empty");
    FAILS(kahuna_unlock(client, r, NULL, 4, P, &err), KAHUNA_INVALID_INPUT, "owner is NULL but owner_len is 4");
    FAILS(kahuna_unlock(client, r, NULL, 0, P, &err), KAHUNA_INVALID_INPUT, "owner must not be empty");
    FAILS(kahuna_unlock(client, r, BYTES("w"), -1, &err), KAHUNA_INVALID_INPUT, "durability must be");

    FAILS(kahuna_get_lock(client, NULL, P, &info, &err), KAHUNA_INVALID_INPUT, "resource is NULL");
    CHECK(info.owner == NULL && info.expires_at == 0 && info.fencing_token == 0);
    FAILS(kahuna_get_lock(client, "", P, &info, &err), KAHUNA_INVALID_INPUT, "resource must not be empty");
    FAILS(kahuna_get_lock(client, "\xc3\x28", P, &info, &err), KAHUNA_INVALID_INPUT, "resource is not valid UTF-8");
    FAILS(kahuna_get_lock(client, r, P, NULL, &err), KAHUNA_INVALID_INPUT, "out is NULL");
    kahuna_lock_info_free(&info);
    kahuna_lock_info_free(NULL);

    /* Nothing was taken by any of these. */
    check_free(P, r);
}

/* ---- threads contending for one lock ---- */

#define THREADS 4
#define ROUNDS 5

static const char *contended;
static kahuna_durability contended_durability;
static atomic_int holders;
static atomic_int overlaps;
static pthread_mutex_t tokens_mutex = PTHREAD_MUTEX_INITIALIZER;
static int64_t tokens[THREADS * ROUNDS];
static int token_count;

static void *contender(void *arg) {
    char owner[32];
    char *err = NULL; /* this thread's own message */
    snprintf(owner, sizeof owner, "thread-%d", (int)(intptr_t)arg);
    for (int i = 0; i < ROUNDS; i++) {
        kahuna_lock_result l;
        OK(kahuna_lock_with_wait(client, contended, BYTES(owner), 10000, 30000, contended_durability, &l, &err));
        CHECK(l.locked);
        if (atomic_fetch_add(&holders, 1) != 0) atomic_fetch_add(&overlaps, 1);
        pthread_mutex_lock(&tokens_mutex);
        tokens[token_count++] = l.fencing_token;
        pthread_mutex_unlock(&tokens_mutex);
        pause_ms(5);
        atomic_fetch_sub(&holders, 1);
        OK(kahuna_unlock(client, contended, BYTES(owner), contended_durability, &err));
    }
    return NULL;
}

static int compare_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_threads_contending_for_one_lock_never_hold_it_together(kahuna_durability d) {
    contended = resource(d, "contended");
    contended_durability = d;
    atomic_store(&holders, 0);
    atomic_store(&overlaps, 0);
    token_count = 0;
    pthread_t threads[THREADS];
    for (intptr_t t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, contender, (void *)t) == 0);
    for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    CHECK_EQ_I64(atomic_load(&overlaps), 0);
    CHECK_EQ_I64(token_count, THREADS * ROUNDS);
    /* Every grant went to a new holder after a release: the tokens are exactly 0, 1, 2, ... */
    qsort(tokens, THREADS * ROUNDS, sizeof tokens[0], compare_i64);
    for (int i = 0; i < THREADS * ROUNDS; i++) CHECK_EQ_I64(tokens[i], i);
    check_free(d, contended);
}

#define RUN(test, d)                                                   \
    do {                                                               \
        test(d);                                                       \
        printf("ok %s(d) %s\n", #test, durability_name(d));            \
        fflush(stdout);                                                \
    } while (0)

int main(void) {
    client = test_connect();
    const kahuna_durability both[] = {KAHUNA_PERSISTENT, KAHUNA_EPHEMERAL};
    for (int i = 0; i < 2; i++) {
        kahuna_durability d = both[i];
        RUN(test_first_grant_has_token_0_and_get_lock_reports_it, d);
        RUN(test_the_owner_reacquiring_keeps_its_token_and_lease, d);
        RUN(test_another_owner_is_refused_while_the_lease_is_live, d);
        RUN(test_extend_is_for_the_owner_and_keeps_the_token, d);
        RUN(test_unlock_is_for_the_owner, d);
        RUN(test_an_expired_lease_goes_to_the_next_owner_with_the_next_token, d);
        RUN(test_lock_with_wait, d);
        RUN(test_threads_contending_for_one_lock_never_hold_it_together, d);
    }
    test_the_durabilities_and_the_key_space_are_separate();
    printf("ok test_the_durabilities_and_the_key_space_are_separate\n");
    test_invalid_input_names_the_argument();
    printf("ok test_invalid_input_names_the_argument\n");
    kahuna_client_free(client);
    check_no_io_thread_left();
    printf("locks: all passed\n");
    return 0;
}
