"""Connects to the local cluster (KAHUNA_ENDPOINTS or 127.0.0.1:7071-7073) and does a set, a
get and a compare-and-set.

    python3 -m pip install ./bindings/python
    python3 examples/python/hello.py
"""

import os

import kahuna

endpoints = os.environ.get("KAHUNA_ENDPOINTS", "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073")

with kahuna.Client(endpoints.split(","), timeout=10.0) as client:
    s = client.try_set("config/greeting", "hello")
    print(f"set config/greeting -> revision {s.revision}")

    got = client.try_get("config/greeting")
    print(f"get config/greeting -> {got.value.decode()!r} (revision {got.revision})")

    cas = client.try_compare_revision_and_set("config/greeting", "hello again", got.revision)
    print(f"compare-revision-and-set -> set={cas.set} revision {cas.revision}")

    stale = client.try_compare_revision_and_set("config/greeting", "too late", got.revision)
    print(f"compare-revision-and-set with the old revision -> set={stale.set} revision {stale.revision}")

    try:
        client.try_set("", "no key")
    except kahuna.InvalidInputError as e:
        print(f"empty key -> {type(e).__name__} (code {e.code.name}): {e}")
