//! Detectors of identifiers smuggled into fields that pass in plain form: a sender
//! (or a careless form) can put a BSN, an e-mail address, a phone number or an IBAN
//! into `case.sector` or `wmo.pgb_amount`, and an agreement that passes those fields
//! would let it cross. The gate removes such a value instead (reason
//! `identifier in a field that passes`). The detectors are specified in
//! `docs/agreement-format.md` ("Identifiers in fields that pass"); each errs on the side
//! of removing.

/// What kind of identifier a text holds, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identifier {
    /// Nine digits, optionally split by separators, passing the 11-proof.
    Bsn,
    /// `local@domain.tld`.
    Email,
    /// A Dutch phone number: `0` and nine digits, or `+31` / `0031` and nine digits.
    Phone,
    /// An IBAN whose check digits hold (mod 97).
    Iban,
}

/// The first kind of identifier found in `text`.
pub(crate) fn identifier_in(text: &str) -> Option<Identifier> {
    // One pass decides which detectors can find anything at all: most values (an
    // enumeration, a short id) have fewer than nine digits and no `@`.
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let at_sign = text.contains('@');
    if digits >= 9 && has_bsn_or_phone(text, Identifier::Bsn) {
        return Some(Identifier::Bsn);
    }
    if at_sign && has_email(text) {
        return Some(Identifier::Email);
    }
    // Before phone numbers: an IBAN's account digits can read as one.
    if digits >= 2 && text.len() >= 15 && has_iban(text) {
        return Some(Identifier::Iban);
    }
    if digits >= 10 && has_bsn_or_phone(text, Identifier::Phone) {
        return Some(Identifier::Phone);
    }
    None
}

/// Characters that may stand between the digit groups of one number, like
/// `9999.98.523`, `999 998 523`, `06-1234 5678` or `(050) 123 45 67`; `_` and `,`
/// too, so that `999_998_523` or `999,998,523` cannot slip a BSN past the detector.
fn is_separator(c: u8) -> bool {
    matches!(c, b' ' | b'.' | b'-' | b'(' | b')' | b'/' | b'_' | b',')
}

/// A run of digits within a chain, and whether a `+` stood right before it.
struct Group<'t> {
    digits: &'t str,
    plus: bool,
}

/// Chains of digit groups: groups joined by at most two separator characters. The
/// detectors try every contiguous run of groups in a chain, so a number is found
/// whatever stands around it.
fn chains(text: &str) -> Vec<Vec<Group<'_>>> {
    let bytes = text.as_bytes();
    let mut chains: Vec<Vec<Group<'_>>> = Vec::new();
    let mut current: Vec<Group<'_>> = Vec::new();
    let mut i = 0;
    let mut gap = 0usize;
    while i < bytes.len() {
        let c = bytes.get(i).copied().unwrap_or(0);
        if c.is_ascii_digit() {
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let plus = start > 0 && bytes.get(start - 1) == Some(&b'+');
            if (gap > 2 || plus) && !current.is_empty() {
                chains.push(std::mem::take(&mut current));
            }
            current.push(Group {
                digits: text.get(start..i).unwrap_or_default(),
                plus,
            });
            gap = 0;
            continue;
        }
        if is_separator(c) || c == b'+' {
            gap += 1;
        } else if !current.is_empty() {
            chains.push(std::mem::take(&mut current));
            gap = 0;
        }
        i += 1;
    }
    if !current.is_empty() {
        chains.push(current);
    }
    chains
}

fn has_bsn_or_phone(text: &str, kind: Identifier) -> bool {
    // At most 13 digits matter (`0031` and nine): they are gathered on the stack.
    const MOST: usize = 13;
    for chain in chains(text) {
        for start in 0..chain.len() {
            let mut digits = [0u8; MOST];
            let mut len = 0;
            let plus = chain.get(start).is_some_and(|g| g.plus);
            for group in chain.iter().skip(start) {
                // `+31 (0)6 ...`: the `(0)` after a country code is not dialled.
                let dropped = plus && digits.get(..len) == Some(b"31") && group.digits == "0";
                if !dropped {
                    let bytes = group.digits.as_bytes();
                    let Some(slot) = digits.get_mut(len..len + bytes.len()) else {
                        break;
                    };
                    slot.copy_from_slice(bytes);
                    len += bytes.len();
                }
                let gathered = digits.get(..len).unwrap_or_default();
                let found = match kind {
                    Identifier::Bsn => len == 9 && passes_eleven_proof(gathered),
                    _ => is_dutch_phone(gathered, plus),
                };
                if found {
                    return true;
                }
            }
        }
    }
    false
}

/// Nine ASCII digits whose weighted sum (9, 8, ..., 2, -1) is a non-zero multiple
/// of 11: the BSN's 11-proof, as `normalise_bsn` applies it.
fn passes_eleven_proof(digits: &[u8]) -> bool {
    let sum: i64 = digits
        .iter()
        .zip([9i64, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(d, w)| i64::from(d - b'0') * w)
        .sum();
    digits.len() == 9 && sum != 0 && sum % 11 == 0
}

/// `0` + nine digits (not starting with 0), or with the country code `31` after a
/// `+` or `00`.
fn is_dutch_phone(digits: &[u8], plus: bool) -> bool {
    let national = |rest: &[u8]| rest.len() == 9 && rest.first() != Some(&b'0');
    if plus {
        digits.strip_prefix(b"31").is_some_and(national)
    } else if let Some(rest) = digits.strip_prefix(b"0031") {
        national(rest)
    } else {
        digits.strip_prefix(b"0").is_some_and(national)
    }
}

fn has_email(text: &str) -> bool {
    let bytes = text.as_bytes();
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    for (at, _) in text.match_indices('@') {
        let before = bytes
            .get(..at)
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(|b| local(**b))
            .count();
        let host: &[u8] = bytes.get(at + 1..).unwrap_or_default();
        let host_len = host.iter().take_while(|b| domain(**b)).count();
        let host = host.get(..host_len).unwrap_or_default();
        let host = host.strip_suffix(b".").unwrap_or(host);
        let Some(dot) = host.iter().rposition(|b| *b == b'.') else {
            continue;
        };
        let tld = host.get(dot + 1..).unwrap_or_default();
        if before > 0 && dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
            return true;
        }
    }
    false
}

/// IBANs are 15 to 34 letters and digits (often written in groups of four): two
/// letters, two check digits, then the account; valid when the number formed by the
/// rest followed by the first four characters, letters counted A=10 ... Z=35, leaves
/// 1 modulo 97.
fn has_iban(text: &str) -> bool {
    // Alphanumeric tokens, in order, with whether a single space joins each to the next.
    let mut tokens: Vec<(&str, bool)> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
                i += 1;
            }
            let joined = bytes.get(i) == Some(&b' ')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric);
            tokens.push((text.get(start..i).unwrap_or_default(), joined));
        } else {
            i += 1;
        }
    }
    for (start, (token, _)) in tokens.iter().enumerate() {
        let head = token.as_bytes();
        let starts_like_iban = head.len() >= 4
            && head.iter().take(2).all(u8::is_ascii_alphabetic)
            && head.iter().skip(2).take(2).all(u8::is_ascii_digit);
        if !starts_like_iban {
            continue;
        }
        let mut candidate = String::new();
        for (piece, joined) in tokens.iter().skip(start) {
            candidate.push_str(piece);
            if candidate.len() > 34 {
                break;
            }
            if candidate.len() >= 15 && iban_checks(&candidate) {
                return true;
            }
            if !joined {
                break;
            }
        }
    }
    false
}

fn iban_checks(candidate: &str) -> bool {
    let (head, rest) = candidate.split_at(4.min(candidate.len()));
    let mut remainder: u32 = 0;
    for c in rest.chars().chain(head.chars()) {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudonym::normalise_bsn;

    #[test]
    fn the_eleven_proof_is_that_of_normalise_bsn() {
        for n in (0..300_000u64).map(|i| 999_000_000 + i * 37 % 1_000_000) {
            let text = format!("{n:09}");
            assert_eq!(
                passes_eleven_proof(text.as_bytes()),
                normalise_bsn(&text).is_ok(),
                "{text}"
            );
        }
        assert!(!passes_eleven_proof(b"000000000"));
    }

    #[test]
    fn bsns_are_found_with_and_without_separators_and_only_when_valid() {
        for text in [
            "999998523",
            "BSN 999998523 Jan Jansen HIV+",
            "9999.98.523",
            "999 998 523",
            "prostitution/999-998-523",
            // A sender spreading the digits to slip past the detector.
            "999_998_523",
            "999,998,523",
            "9 9 9 9 9 8 5 2 3",
            "ref (999) 998-523",
            "999998523.0",
        ] {
            assert_eq!(identifier_in(text), Some(Identifier::Bsn), "{text}");
        }
        for text in [
            "999998620",  // fails the 11-proof
            "000000000",  // weighted sum 0
            "12345678",   // eight digits
            "2025123456", // ten digits
            "PL0100-2025123456",
            "zvh-dr-2025-0012",
            "debt of EUR 30,000",
            "1990-07-15",
            "meat-processing",
        ] {
            assert_eq!(identifier_in(text), None, "{text}");
        }
    }

    #[test]
    fn e_mail_addresses_are_found() {
        assert_eq!(
            identifier_in("j.jansen@example.org"),
            Some(Identifier::Email)
        );
        assert_eq!(
            identifier_in("mail: a+b@mail.example.nl."),
            Some(Identifier::Email)
        );
        for text in [
            "@example.org",
            "a@b",
            "a@b.c",
            "user@localhost",
            "price @ 5.00",
        ] {
            assert_eq!(identifier_in(text), None, "{text}");
        }
    }

    #[test]
    fn dutch_phone_numbers_are_found_in_their_usual_spellings() {
        for text in [
            "0612345678",
            "06-12345678",
            "06 1234 5678",
            "050-123 45 67",
            "(050) 1234567",
            "+31 6 12345678",
            "+31 (0)6 1234 5678",
            "0031612345678",
            "call 06-0000 1142 today",
        ] {
            assert_eq!(identifier_in(text), Some(Identifier::Phone), "{text}");
        }
        for text in [
            "061234567",
            "1612345678",
            "+32 6 12345678",
            "0012345678",
            "2025-03-02",
        ] {
            assert_eq!(identifier_in(text), None, "{text}");
        }
    }

    #[test]
    fn ibans_are_found_when_their_check_digits_hold() {
        for text in [
            "NL91ABNA0417164300",
            "NL91 ABNA 0417 1643 00",
            "paid to nl91abna0417164300 monthly",
            "DE89370400440532013000",
        ] {
            assert_eq!(identifier_in(text), Some(Identifier::Iban), "{text}");
        }
        // A wrong check digit makes no IBAN. (This account number reads as no phone
        // number either; the one of `NL92ABNA0417164300` would, and is removed as one.)
        for text in [
            "GB00WEST12345698765432",
            "NL91ABNA",
            "AB12 short",
            "PL0100-2025123456",
        ] {
            assert_eq!(identifier_in(text), None, "{text}");
        }
    }
}
