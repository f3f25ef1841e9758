//! Lowercase hex, the one spelling of digests, ids and secrets in this crate.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Spells up to 32 bytes in `text`; returns the digits written. Digests are 32
/// bytes, so they are spelt on the stack and appended with one copy.
fn spell<'t>(chunk: &[u8], text: &'t mut [u8; 64]) -> &'t [u8] {
    for (pair, b) in text.chunks_exact_mut(2).zip(chunk) {
        if let [hi, lo] = pair {
            *hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            *lo = DIGITS.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
        }
    }
    text.get(..2 * chunk.len()).unwrap_or_default()
}

/// Appends lowercase hex of `bytes` to `out`.
pub(crate) fn push_hex_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut text = [0u8; 64];
    for chunk in bytes.chunks(32) {
        out.extend_from_slice(spell(chunk, &mut text));
    }
}

/// Appends lowercase hex of `bytes` to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    let mut text = [0u8; 64];
    for chunk in bytes.chunks(32) {
        // Hex digits are ASCII.
        out.push_str(std::str::from_utf8(spell(chunk, &mut text)).unwrap_or_default());
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// Which hex digits a decoder takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    /// `0-9a-f` only: one spelling per value, as digests in the audit log.
    Lower,
    /// Either case, as secrets typed into a key file.
    Any,
}

fn nibble(c: u8, case: Case) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' if case == Case::Any => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `text` into `out`, which must be exactly half its length; `None` (with
/// `out` partly written) for any other length or a character that is no hex digit.
pub(crate) fn decode_into(text: &str, out: &mut [u8], case: Case) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let (hi, lo) = (pair.first()?, pair.get(1)?);
        *byte = nibble(*hi, case)? << 4 | nibble(*lo, case)?;
    }
    Some(())
}

/// Decodes 64 lowercase hex digits.
pub(crate) fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    decode_into(text, &mut out, Case::Lower)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_the_string_and_byte_versions_agree() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in [0, 1, 31, 32, 33, 64, 100, 256] {
            let mut out = b"x".to_vec();
            push_hex_bytes(&mut out, &bytes[..len]);
            let text = hex(&bytes[..len]);
            assert_eq!(String::from_utf8(out).unwrap(), format!("x{text}"));
            assert!(!text.bytes().any(|b| b.is_ascii_uppercase()));
            let mut back = vec![0u8; len];
            assert_eq!(decode_into(&text, &mut back, Case::Lower), Some(()));
            assert_eq!(back, &bytes[..len]);
        }
    }

    #[test]
    fn decoding_takes_upper_case_only_when_asked() {
        let mut out = [0u8; 2];
        assert_eq!(decode_into("ABcd", &mut out, Case::Lower), None);
        assert_eq!(decode_into("ABcd", &mut out, Case::Any), Some(()));
        assert_eq!(out, [0xab, 0xcd]);
        assert_eq!(decode_into("abc", &mut out, Case::Any), None);
        assert_eq!(decode_into("abcg", &mut out, Case::Any), None);
        assert_eq!(decode_hex32(&"0".repeat(63)), None);
        assert_eq!(decode_hex32(&"f".repeat(64)), Some([0xff; 32]));
    }
}
