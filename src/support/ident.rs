//! Identifiers: which texts are names of the policy vocabulary, key ids or plain
//! record keys, and how a text that might carry personal data or a secret is shown
//! instead. Every check is an allow-list of ASCII bytes with a length bound.

/// A name: lowercase letters, digits and `-` (rule ids, kinds, provinces).
pub(crate) const NAME_PATTERN: &str = "^[a-z0-9-]+$";

/// An organisation id, `<province>/<name>`.
pub(crate) const ORGANISATION_PATTERN: &str = "^[a-z0-9-]+/[a-z0-9-]+$";

/// A calendar day as authors write it (`format: date` checks the day exists).
pub(crate) const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// An RFC 3339 moment (`format: date-time` checks it exists).
pub(crate) const DATE_TIME_PATTERN: &str =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$";

/// Whether `text` has at least `min` and at most `max` bytes, each one `allowed`.
fn made_of(text: &str, min: usize, max: usize, allowed: impl Fn(u8) -> bool) -> bool {
    (min..=max).contains(&text.len()) && text.bytes().all(allowed)
}

/// A name as [`NAME_PATTERN`] has it.
pub(crate) fn is_name(text: &str) -> bool {
    made_of(text, 1, usize::MAX, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
    })
}

/// A key id: 1 to 64 ASCII letters, digits, `-` and `_`.
pub(crate) fn is_key_id(text: &str) -> bool {
    made_of(text, 1, 64, |b| {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
    })
}

/// A record key shown in reports: a short identifier (letters, digits, `_-.[]`).
/// Any other key may be personal data.
pub(crate) fn is_plain_key(text: &str) -> bool {
    made_of(text, 1, 64, |b| {
        b.is_ascii_alphanumeric() || b"_-.[]".contains(&b)
    })
}

/// A caller-given organisation or purpose id as a refused transfer logs it: kept
/// only when it looks like one (even personal data typed into the wrong field could
/// be there).
pub(crate) fn loggable_name(text: &str) -> &str {
    let plain = made_of(text, 1, 64, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/'
    });
    if plain {
        text
    } else {
        "<not an identifier>"
    }
}

/// A name read from a key file (a domain, a key id, a member), as an error shows
/// it: never anything that could be a secret (a long run of hex digits).
pub(crate) fn printable_key_file_name(text: &str) -> &str {
    let identifier = made_of(text, 0, 64, |b| {
        b.is_ascii_alphanumeric() || b"-_/.".contains(&b)
    });
    let longest_hex_run = text
        .split(|c: char| !c.is_ascii_hexdigit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if !identifier {
        "<unprintable>"
    } else if longest_hex_run >= 32 {
        "<not shown: it could be a secret>"
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        assert!(is_name("drenthe") && is_name("a-1") && !is_name("") && !is_name("A"));
        assert!(is_key_id("k_1-A") && !is_key_id("") && !is_key_id(&"k".repeat(65)));
        assert!(is_plain_key("subject.bsn") && is_plain_key("x[]") && !is_plain_key("Jan Jansen"));
    }

    #[test]
    fn caller_given_names_are_kept_only_when_they_are_identifiers() {
        assert_eq!(loggable_name("drenthe/ggd"), "drenthe/ggd");
        assert_eq!(loggable_name("Jan Jansen"), "<not an identifier>");
        assert_eq!(loggable_name("a\u{2028}b"), "<not an identifier>");
        assert_eq!(loggable_name(""), "<not an identifier>");
    }

    #[test]
    fn key_file_names_never_show_a_secret() {
        assert_eq!(
            printable_key_file_name("groningen/mensenhandel"),
            "groningen/mensenhandel"
        );
        assert_eq!(
            printable_key_file_name(&"ab".repeat(16)),
            "<not shown: it could be a secret>"
        );
        assert_eq!(printable_key_file_name("a b"), "<unprintable>");
    }
}
