//! Keys, buckets and the partition hash: the routing contract every client shares with the server.
//!
//! A key's **bucket** is the text before its last `/` (`services/auth` -> `services`); a key
//! without `/` is its own routing unit. The partition of a key is
//!
//! ```text
//! partition = jump_consistent_hash(xxh3_64(routing_unit_bytes, seed 0), partition_count)
//! routing_unit = bucket(key) if the key has a '/', else the whole key
//! ```
//!
//! so every key of a bucket lives in one partition and bucket reads are single-partition.
//! Jump consistent hashing (Lamping and Veach, 2014) keeps most keys in place if the partition
//! count ever grows. The test vectors below pin the function: changing it moves data between
//! partitions and breaks every client that routes by itself.

use xxhash_rust::xxh3::xxh3_64;

/// Longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 4096;
/// Prefix reserved for the system's own records.
pub const RESERVED_PREFIX: &str = "__kahuna:";

/// The bucket of a key: the text before its last `/`, or `None` for a key without `/`.
pub fn bucket_of(key: &str) -> Option<&str> {
    key.rfind('/').map(|i| &key[..i])
}

/// The text that decides a key's partition: its bucket, or the whole key without a `/`.
pub fn routing_unit(key: &str) -> &str {
    bucket_of(key).unwrap_or(key)
}

/// The partition (0-based) that stores `key` in a cluster of `partition_count` partitions.
pub fn partition_for_key(key: &str, partition_count: u32) -> u32 {
    partition_for_unit(routing_unit(key), partition_count)
}

/// The partition that stores every key of `bucket`.
pub fn partition_for_bucket(bucket: &str, partition_count: u32) -> u32 {
    partition_for_unit(bucket, partition_count)
}

fn partition_for_unit(unit: &str, partition_count: u32) -> u32 {
    assert!(partition_count > 0, "a cluster has at least one partition");
    jump_consistent_hash(xxh3_64(unit.as_bytes()), partition_count)
}

/// Jump consistent hash: maps `key` to one of `buckets` slots, moving only 1/n of the keys
/// when a slot is added.
pub fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// Why a key is not acceptable, as a message naming the argument.
pub fn validate_key(arg: &str, key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err(format!("{arg} must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("{arg} is {} bytes long; the limit is {MAX_KEY_BYTES} bytes", key.len()));
    }
    if key.starts_with(RESERVED_PREFIX) {
        return Err(format!("{arg} starts with the reserved prefix '{RESERVED_PREFIX}'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_text_before_the_last_slash() {
        assert_eq!(bucket_of("services/auth"), Some("services"));
        assert_eq!(bucket_of("a/b/c"), Some("a/b"));
        assert_eq!(bucket_of("plain"), None);
        assert_eq!(bucket_of("/lead"), Some(""));
        assert_eq!(routing_unit("plain"), "plain");
        assert_eq!(routing_unit("a/b/c"), "a/b");
    }

    #[test]
    fn keys_of_one_bucket_share_a_partition() {
        for n in [1, 3, 8, 64] {
            let p = partition_for_bucket("services", n);
            assert_eq!(partition_for_key("services/auth", n), p);
            assert_eq!(partition_for_key("services/billing", n), p);
            assert_eq!(partition_for_key("services", n), p);
        }
    }

    #[test]
    fn hash_is_pinned_by_vectors() {
        // Changing these values moves data between partitions: never update them casually.
        let vectors = [
            ("a", 1, 1),
            ("services/auth", 4, 1),
            ("users/42/profile", 0, 0),
            ("config", 6, 1),
            ("ünïcode/ключ", 2, 2),
        ];
        for (key, of8, of3) in vectors {
            assert_eq!(partition_for_key(key, 8), of8, "{key} of 8");
            assert_eq!(partition_for_key(key, 3), of3, "{key} of 3");
        }
        assert_eq!(jump_consistent_hash(0, 1), 0);
        assert_eq!(jump_consistent_hash(u64::MAX, 1), 0);
        // Reference values of the jump consistent hash paper's algorithm.
        assert_eq!(jump_consistent_hash(1, 2), 0);
        assert_eq!(jump_consistent_hash(256, 1024), 520);
        assert_eq!(jump_consistent_hash(0xdead_beef, 8), 5);
    }

    #[test]
    fn keys_spread_over_partitions() {
        let mut counts = [0u32; 8];
        for i in 0..8000 {
            counts[partition_for_key(&format!("key-{i}"), 8) as usize] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn growing_the_partition_count_moves_few_keys() {
        let moved = (0..10_000)
            .filter(|i| {
                let k = format!("k{i}");
                partition_for_key(&k, 8) != partition_for_key(&k, 9)
            })
            .count();
        assert!(moved < 1_500, "{moved} of 10000 moved");
    }

    #[test]
    fn key_validation_names_the_argument() {
        assert!(validate_key("key", "ok").is_ok());
        assert_eq!(validate_key("key", "").unwrap_err(), "key must not be empty");
        assert!(validate_key("key", &"x".repeat(4097)).unwrap_err().contains("4097 bytes"));
        assert!(validate_key("key", &"x".repeat(4096)).is_ok());
        assert!(validate_key("key", "__kahuna:x").unwrap_err().contains("reserved prefix"));
    }
}
