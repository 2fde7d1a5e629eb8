//! Session ids as the real CLIs mint them: random UUIDs (Claude) and time-ordered UUIDv7 (Codex).

use std::io::Read;

fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() {
        // Not random, but distinct per process and moment, which is all a test needs.
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128;
        let mixed = nanos ^ ((std::process::id() as u128) << 64);
        bytes = mixed.to_le_bytes();
    }
    bytes
}

fn format(bytes: [u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A random (version 4) UUID.
pub fn uuid_v4() -> String {
    let mut bytes = random_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    format(bytes)
}

/// A version 7 UUID: the first 48 bits are the Unix time in milliseconds.
pub fn uuid_v7(unix_ms: i64) -> String {
    let mut bytes = random_bytes();
    bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    format(bytes)
}

/// `8-4-4-4-12` hex digits.
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_uuids_of_their_version() {
        let v4 = uuid_v4();
        assert!(is_uuid(&v4) && v4.as_bytes()[14] == b'4', "{v4}");
        let v7 = uuid_v7(0x0196_1234_5678);
        assert!(v7.starts_with("01961234-5678-7"), "{v7}");
        assert_ne!(uuid_v4(), uuid_v4());
    }
}
