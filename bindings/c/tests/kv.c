/*
 * kv.c: every key/value operation of libkahuna and every field of its results, in both
 * durabilities, against a real cluster; every buffer the library returns is freed (the driver
 * also runs this program under valgrind).
 */
#include "check.h"

static kahuna_client *client;
static char *err;

/* "<prefix>/<durability>/<name>" in one of a few rotating buffers. */
static const char *key(kahuna_durability d, const char *name) {
    static char buffers[8][512];
    static int next;
    char *b = buffers[next++ % 8];
    snprintf(b, sizeof buffers[0], "%s/%s/%s", test_prefix(), d == KAHUNA_PERSISTENT ? "p" : "e", name);
    return b;
}

static kahuna_set_result set(kahuna_durability d, const char *k, const char *v, int64_t expires_ms, uint32_t flags) {
    kahuna_set_result r;
    OK(kahuna_try_set(client, k, BYTES(v), expires_ms, flags, d, &r, &err));
    return r;
}

static void test_set_get_and_revisions(kahuna_durability d) {
    const char *k = key(d, "basic");
    kahuna_set_result s = set(d, k, "one", 0, 0);
    CHECK(s.set);
    CHECK_EQ_I64(s.revision, 0);
    CHECK(s.last_modified > 0);

    kahuna_get_result g;
    OK(kahuna_try_get(client, k, d, &g, &err));
    CHECK(g.found);
    CHECK(bytes_equal(g.value, g.value_len, "one"));
    CHECK_EQ_I64(g.revision, 0);
    CHECK_EQ_I64(g.expires_at, 0);
    CHECK(g.last_modified == s.last_modified);
    kahuna_get_result_free(&g);
    CHECK(g.value == NULL && g.value_len == 0);
    kahuna_get_result_free(&g); /* a second free is harmless */

    kahuna_set_result s2 = set(d, k, "two", 0, 0);
    CHECK(s2.set);
    CHECK_EQ_I64(s2.revision, 1);
    CHECK(s2.last_modified > s.last_modified);

    OK(kahuna_try_get_revision(client, k, 0, d, &g, &err));
    CHECK(g.found && bytes_equal(g.value, g.value_len, "one"));
    CHECK_EQ_I64(g.revision, 0);
    kahuna_get_result_free(&g);
    OK(kahuna_try_get_revision(client, k, 5, d, &g, &err));
    CHECK(!g.found && g.value == NULL);
    kahuna_get_result_free(&g);

    /* As of the first write's timestamp: the first value; as of the second: the second. */
    OK(kahuna_try_get_as_of(client, k, s.last_modified, d, &g, &err));
    CHECK(g.found && bytes_equal(g.value, g.value_len, "one"));
    kahuna_get_result_free(&g);
    OK(kahuna_try_get_as_of(client, k, s2.last_modified, d, &g, &err));
    CHECK(g.found && bytes_equal(g.value, g.value_len, "two"));
    CHECK_EQ_I64(g.revision, 1);
    kahuna_get_result_free(&g);

    OK(kahuna_try_get(client, key(d, "never-written"), d, &g, &err));
    CHECK(!g.found && g.value == NULL && g.value_len == 0);
    CHECK_EQ_I64(g.revision, -1);
    kahuna_get_result_free(&g);
}

static void test_flags(kahuna_durability d) {
    const char *k = key(d, "flags");
    kahuna_set_result r = set(d, k, "x", 0, KAHUNA_SET_IF_EXISTS);
    CHECK(!r.set);
    CHECK_EQ_I64(r.revision, -1);
    CHECK_EQ_I64(r.last_modified, 0);
    r = set(d, k, "x", 0, KAHUNA_SET_IF_NOT_EXISTS);
    CHECK(r.set);
    CHECK_EQ_I64(r.revision, 0);
    r = set(d, k, "y", 0, KAHUNA_SET_IF_NOT_EXISTS);
    CHECK(!r.set);
    CHECK_EQ_I64(r.revision, 0);
    r = set(d, k, "y", 0, KAHUNA_SET_IF_EXISTS | KAHUNA_NO_REVISION);
    CHECK(r.set);
    CHECK_EQ_I64(r.revision, 1);

    /* NO_REVISION: the superseded revision 0 is not kept. */
    kahuna_get_result g;
    OK(kahuna_try_get_revision(client, k, 0, d, &g, &err));
    CHECK(!g.found);
    kahuna_get_result_free(&g);
}

static void test_compare_and_set(kahuna_durability d) {
    const char *k = key(d, "cas");
    set(d, k, "v1", 0, 0);
    kahuna_set_result r;
    OK(kahuna_try_compare_value_and_set(client, k, BYTES("v2"), BYTES("wrong"), 0, d, &r, &err));
    CHECK(!r.set);
    CHECK_EQ_I64(r.revision, 0);
    OK(kahuna_try_compare_value_and_set(client, k, BYTES("v2"), BYTES("v1"), 0, d, &r, &err));
    CHECK(r.set);
    CHECK_EQ_I64(r.revision, 1);

    OK(kahuna_try_compare_revision_and_set(client, k, BYTES("v3"), 0, 0, d, &r, &err));
    CHECK(!r.set);
    CHECK_EQ_I64(r.revision, 1);
    OK(kahuna_try_compare_revision_and_set(client, k, BYTES("v3"), 1, 0, d, &r, &err));
    CHECK(r.set);
    CHECK_EQ_I64(r.revision, 2);

    /* Comparing with the revision of a key that does not exist fails without an error. */
    OK(kahuna_try_compare_revision_and_set(client, key(d, "cas-missing"), BYTES("v"), 0, 0, d, &r, &err));
    CHECK(!r.set);
    CHECK_EQ_I64(r.revision, -1);
}

static void test_exists_delete_extend(kahuna_durability d) {
    const char *k = key(d, "life");
    kahuna_exists_result e;
    OK(kahuna_try_exists(client, k, d, &e, &err));
    CHECK(!e.exists);
    CHECK_EQ_I64(e.revision, -1);

    set(d, k, "a", 60000, 0);
    set(d, k, "b", 60000, 0);
    OK(kahuna_try_exists(client, k, d, &e, &err));
    CHECK(e.exists);
    CHECK_EQ_I64(e.revision, 1);

    kahuna_get_result before, after;
    OK(kahuna_try_get(client, k, d, &before, &err));
    CHECK(before.expires_at > before.last_modified);
    kahuna_extend_result x;
    OK(kahuna_try_extend(client, k, 600000, d, &x, &err));
    CHECK(x.extended);
    CHECK_EQ_I64(x.revision, 1);
    OK(kahuna_try_get(client, k, d, &after, &err));
    CHECK(after.expires_at > before.expires_at);
    CHECK_EQ_I64(after.revision, 1);
    kahuna_get_result_free(&before);
    kahuna_get_result_free(&after);

    kahuna_delete_result del;
    OK(kahuna_try_delete(client, k, d, &del, &err));
    CHECK(del.deleted);
    CHECK_EQ_I64(del.revision, 1);
    OK(kahuna_try_delete(client, k, d, &del, &err));
    CHECK(!del.deleted);
    OK(kahuna_try_exists(client, k, d, &e, &err));
    CHECK(!e.exists);
    OK(kahuna_try_extend(client, k, 1000, d, &x, &err));
    CHECK(!x.extended);

    /* A set after a delete continues the revision counter. */
    kahuna_set_result r = set(d, k, "c", 0, 0);
    CHECK_EQ_I64(r.revision, 2);
}

static void test_expiry(kahuna_durability d) {
    const char *k = key(d, "expiring");
    set(d, k, "soon gone", 300, 0);
    int64_t deadline = now_ms() + 10000;
    for (;;) {
        kahuna_exists_result e;
        OK(kahuna_try_exists(client, k, d, &e, &err));
        if (!e.exists) break;
        CHECK(now_ms() < deadline);
        pause_ms(25);
    }
    kahuna_get_result g;
    OK(kahuna_try_get(client, k, d, &g, &err));
    CHECK(!g.found);
    kahuna_get_result_free(&g);
}

static void test_values(kahuna_durability d) {
    /* Empty values are values; binary values keep their NULs; keys may be any UTF-8. */
    kahuna_set_result r;
    kahuna_get_result g;
    const char *k = key(d, "empty");
    OK(kahuna_try_set(client, k, NULL, 0, 0, 0, d, &r, &err));
    OK(kahuna_try_get(client, k, d, &g, &err));
    CHECK(g.found && g.value != NULL && g.value_len == 0);
    kahuna_get_result_free(&g);

    const uint8_t binary[] = {0, 1, 2, 0, 255};
    k = key(d, "bin\xc3\xa4r/\xe9\x8d\xb5");
    OK(kahuna_try_set(client, k, binary, sizeof binary, 0, 0, d, &r, &err));
    OK(kahuna_try_get(client, k, d, &g, &err));
    CHECK(g.found && g.value_len == sizeof binary && memcmp(g.value, binary, sizeof binary) == 0);

    /* The caller may take a buffer out of a result and free it later with kahuna_bytes_free. */
    uint8_t *taken = g.value;
    size_t taken_len = g.value_len;
    g.value = NULL;
    kahuna_get_result_free(&g);
    CHECK(taken[4] == 255);
    kahuna_bytes_free(taken, taken_len);
}

static void test_bucket_and_scan(kahuna_durability d) {
    const char *names[] = {"scan/b/1", "scan/b/2", "scan/b/3", "scan/b/deeper/4", "scan/c/5", "scan/c/6", "scan/c/7"};
    for (size_t i = 0; i < 7; i++) set(d, key(d, names[i]), names[i], 0, 0);

    kahuna_entries bucket;
    OK(kahuna_get_by_bucket(client, key(d, "scan/b"), d, &bucket, &err));
    CHECK_EQ_I64(bucket.len, 3);
    for (size_t i = 0; i < 3; i++) {
        kahuna_entry *e = &bucket.items[i];
        CHECK(strcmp(e->key, key(d, names[i])) == 0);
        CHECK(e->key_len == strlen(e->key));
        CHECK(bytes_equal(e->value, e->value_len, names[i]));
        CHECK_EQ_I64(e->revision, 0);
        CHECK(e->last_modified > 0);
        CHECK_EQ_I64(e->expires_at, 0);
    }
    kahuna_entries_free(&bucket);
    CHECK(bucket.items == NULL && bucket.len == 0);
    kahuna_entries_free(&bucket);

    OK(kahuna_get_by_bucket(client, key(d, "scan/none"), d, &bucket, &err));
    CHECK_EQ_I64(bucket.len, 0);
    kahuna_entries_free(&bucket);

    /* Pages of two across partitions, in key order, all at the snapshot of the first. */
    const char *prefix = key(d, "scan/");
    size_t seen = 0;
    uint64_t snapshot = 0;
    uint8_t *cursor = NULL;
    size_t cursor_len = 0;
    int pages = 0;
    do {
        kahuna_scan_page page;
        OK(kahuna_scan_by_prefix(client, prefix, 2, cursor, cursor_len, d, &page, &err));
        kahuna_bytes_free(cursor, cursor_len);
        CHECK(page.entries.len <= 2);
        if (pages == 0) snapshot = page.snapshot;
        CHECK(page.snapshot == snapshot && snapshot > 0);
        for (size_t i = 0; i < page.entries.len; i++, seen++) {
            CHECK(seen < 7);
            CHECK(strcmp(page.entries.items[i].key, key(d, names[seen])) == 0);
        }
        /* Keep the cursor for the next page; the page's own free then skips it. */
        cursor = page.cursor;
        cursor_len = page.cursor_len;
        page.cursor = NULL;
        kahuna_scan_page_free(&page);
        pages++;
        CHECK(pages < 20);
    } while (cursor != NULL);
    CHECK_EQ_I64(seen, 7);
    CHECK(pages >= 4);

    kahuna_entries all;
    OK(kahuna_scan_all_by_prefix(client, prefix, d, &all, &err));
    CHECK_EQ_I64(all.len, 7);
    CHECK(strcmp(all.items[6].key, key(d, names[6])) == 0);
    kahuna_entries_free(&all);
}

static void test_durabilities_are_separate_keyspaces(void) {
    char k[256];
    snprintf(k, sizeof k, "%s/shared-name", test_prefix());
    kahuna_set_result r;
    OK(kahuna_try_set(client, k, BYTES("ephemeral"), 0, 0, KAHUNA_EPHEMERAL, &r, &err));
    kahuna_get_result g;
    OK(kahuna_try_get(client, k, KAHUNA_PERSISTENT, &g, &err));
    CHECK(!g.found);
    kahuna_get_result_free(&g);
    OK(kahuna_try_get(client, k, KAHUNA_EPHEMERAL, &g, &err));
    CHECK(g.found && bytes_equal(g.value, g.value_len, "ephemeral"));
    kahuna_get_result_free(&g);
}

static void test_topology(void) {
    kahuna_topology t;
    OK(kahuna_get_topology(client, &t, &err));
    CHECK(t.cluster_id != 0);
    CHECK(t.cluster_name != NULL && strlen(t.cluster_name) > 0);
    CHECK_EQ_I64(t.partition_count, 8);
    CHECK_EQ_I64(t.node_count, 3);
    for (uint32_t p = 0; p < t.partition_count; p++) {
        int known = 0;
        for (size_t n = 0; n < t.node_count; n++) known |= t.nodes[n].id == t.partitions[p].leader;
        CHECK(known);
        CHECK(t.partitions[p].term > 0);
    }
    for (size_t n = 0; n < t.node_count; n++) CHECK(strncmp(t.nodes[n].address, "127.0.0.1:", 10) == 0);
    CHECK(t.answered_by >= 1);
    kahuna_topology_free(&t);
    CHECK(t.nodes == NULL && t.partitions == NULL && t.cluster_name == NULL);
    kahuna_topology_free(&t);
}

static void test_names(void) {
    CHECK(strcmp(kahuna_status_name(KAHUNA_OK), "Ok") == 0);
    CHECK(strcmp(kahuna_status_name(KAHUNA_MUST_RETRY), "MustRetry") == 0);
    CHECK(strcmp(kahuna_status_name(42), "Unknown") == 0);
    CHECK(strlen(kahuna_version()) > 0);
    kahuna_options o = kahuna_options_default();
    CHECK_EQ_I64(o.timeout_ms, 10000);
}

#define RUN(call)                                                         \
    do {                                                                  \
        call;                                                             \
        printf("ok %s%s\n", #call, strstr(#call, "(d)") ? durability : ""); \
        fflush(stdout);                                                   \
    } while (0)

int main(void) {
    client = test_connect();
    kahuna_durability both[] = {KAHUNA_PERSISTENT, KAHUNA_EPHEMERAL};
    for (int i = 0; i < 2; i++) {
        kahuna_durability d = both[i];
        const char *durability = d == KAHUNA_PERSISTENT ? " persistent" : " ephemeral";
        RUN(test_set_get_and_revisions(d));
        RUN(test_flags(d));
        RUN(test_compare_and_set(d));
        RUN(test_exists_delete_extend(d));
        RUN(test_expiry(d));
        RUN(test_values(d));
        RUN(test_bucket_and_scan(d));
    }
    const char *durability = "";
    RUN(test_durabilities_are_separate_keyspaces());
    RUN(test_topology());
    RUN(test_names());
    kahuna_client_free(client);
    check_no_io_thread_left();
    printf("kv: all passed\n");
    return 0;
}
