//! Key encoding shared by the layers above: partition prefixes and order-preserving escaping.
//!
//! User keys are arbitrary UTF-8 and may contain `0x00`, so a user key embedded in a composite
//! key is escaped (`00` -> `00 FF`) and terminated by `00 00`. Escaping preserves byte order and
//! the prefix property: the escaped form of a prefix of `k` is a prefix of the escaped form of
//! `k` (without the terminator), so prefix scans over escaped keys work.

/// The 4-byte big-endian prefix of every key of `partition`.
pub fn partition_prefix(partition: u32) -> [u8; 4] {
    partition.to_be_bytes()
}

/// `prefix` followed by `rest`.
pub fn prefixed(partition: u32, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + rest.len());
    k.extend_from_slice(&partition_prefix(partition));
    k.extend_from_slice(rest);
    k
}

/// The range `[start, end)` holding every key of `partition`.
pub fn partition_range(partition: u32) -> (Vec<u8>, Vec<u8>) {
    let start = partition_prefix(partition).to_vec();
    let end = match partition.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    };
    (start, end)
}

/// Appends the escaped form of `key` (without terminator) to `out`.
pub fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
}

/// Appends the escaped and terminated form of `key` to `out`.
pub fn escape_terminated_into(out: &mut Vec<u8>, key: &[u8]) {
    escape_into(out, key);
    out.extend_from_slice(&[0, 0]);
}

/// Decodes an escaped, terminated key at the start of `bytes`; returns the key and the rest.
pub fn unescape_terminated(bytes: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut key = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0 {
            match bytes.get(i + 1)? {
                0 => return Some((key, &bytes[i + 2..])),
                0xff => {
                    key.push(0);
                    i += 2;
                    continue;
                }
                _ => return None,
            }
        }
        key.push(b);
        i += 1;
    }
    None
}

/// The smallest key greater than every key starting with `prefix` (None: no upper bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(k: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        escape_terminated_into(&mut v, k);
        v
    }

    #[test]
    fn escaping_round_trips_and_keeps_order() {
        let keys: Vec<&[u8]> = vec![b"", b"\0", b"\0\0", b"\0a", b"a", b"a\0", b"a\0b", b"ab", b"b", b"\xff"];
        for w in keys.windows(2) {
            assert!(esc(w[0]) < esc(w[1]), "{:?} < {:?}", w[0], w[1]);
        }
        for k in keys {
            let mut e = esc(k);
            e.extend_from_slice(b"tail");
            let (back, rest) = unescape_terminated(&e).unwrap();
            assert_eq!(back, k);
            assert_eq!(rest, b"tail");
        }
        assert_eq!(unescape_terminated(b"abc"), None);
        assert_eq!(unescape_terminated(b"a\0\x01"), None);
    }

    #[test]
    fn escaped_prefix_is_a_prefix() {
        let mut p = Vec::new();
        escape_into(&mut p, b"a\0");
        assert!(esc(b"a\0b").starts_with(&p));
        assert!(esc(b"a\0").starts_with(&p));
        assert!(!esc(b"a").starts_with(&p));
    }

    #[test]
    fn ranges_and_prefix_ends() {
        assert_eq!(partition_range(1), (vec![0, 0, 0, 1], vec![0, 0, 0, 2]));
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefixed(2, b"x"), vec![0, 0, 0, 2, b'x']);
    }
}
