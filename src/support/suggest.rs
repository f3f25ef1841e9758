//! "Did you mean" hints for misspelt names.

/// Returns `, did you mean `x`?`-style text for the closest candidate, or an empty string.
pub(crate) fn hint<I, S>(input: &str, candidates: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    closest(input, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// The candidate closest to `input` by edit distance, if close enough to be a typo.
pub(crate) fn closest<I, S>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter_map(|c| {
            let d = distance(input, c.as_ref());
            (d <= limit && d > 0).then(|| (d, c.as_ref().to_owned()))
        })
        .min()
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for (i, cell) in d.iter_mut().step_by(width).enumerate() {
        *cell = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for (i, ca) in a.iter().enumerate() {
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let get = |i, j| d.get(at(i, j)).copied().unwrap_or(usize::MAX / 2);
            let mut best = (get(i, j + 1) + 1)
                .min(get(i + 1, j) + 1)
                .min(get(i, j) + cost);
            if i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca) {
                best = best.min(get(i - 1, j - 1) + 1);
            }
            if let Some(cell) = d.get_mut(at(i + 1, j + 1)) {
                *cell = best;
            }
        }
    }
    d.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        assert_eq!(distance("politie", "poltie"), 1);
        assert_eq!(distance("ggd", "gdg"), 1);
        assert_eq!(
            closest("drente/ggd", ["drenthe/ggd", "groningen/ggd"]).as_deref(),
            Some("drenthe/ggd")
        );
        assert_eq!(
            closest("helth", ["health", "case"]).as_deref(),
            Some("health")
        );
        assert_eq!(closest("zzzzzz", ["health", "case"]), None);
        assert_eq!(hint("x", ["y"]), " (did you mean `y`?)");
    }
}
