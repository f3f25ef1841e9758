//! Small tools every layer uses: the strict JSON reader, diagnostics, limits,
//! identifier checks, "did you mean" hints and calendar time. Nothing here knows
//! about agreements, records or the audit log.

pub(crate) mod diag;
pub(crate) mod hex;
pub(crate) mod ident;
pub(crate) mod json;
pub(crate) mod limits;
pub(crate) mod suggest;
pub(crate) mod time;

/// Every string of up to `max_len` characters over `alphabet`, shortest first: the
/// tests that hold a schema pattern equal to the loader's own check try them all.
#[cfg(test)]
pub(crate) fn strings_over(alphabet: &[char], max_len: usize) -> Vec<String> {
    let mut strings = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..max_len {
        frontier = frontier
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        strings.extend(frontier.iter().cloned());
    }
    strings
}
