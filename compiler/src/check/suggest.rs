//! Small helpers for wording: "did you mean" by edit distance, lists in prose, and the
//! UpperCamelCase of a stream name.

/// The candidate closest to `name`, if one is close enough to be a likely typo.
pub(crate) fn similar<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// The candidate one edit away from `name` (a letter added, dropped, changed, or two
/// neighbours swapped), if there is one: the threshold for words that may legitimately be
/// new, such as config keys.
pub(crate) fn one_edit_away<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .find(|c| *c != name && distance(name, c) == 1)
}

/// Edit distance between two strings, by characters: insertions, deletions,
/// substitutions and swaps of two neighbours (`wrod` → `word`) each cost 1.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// "`a`, `b` and `c`".
pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    match items.as_slice() {
        [] => "none".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `high_temp` → `HighTemp`: the enum variant of a stream.
pub(crate) fn upper_camel(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("word", "wrod"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("count", "cont"), 1);
        assert_eq!(similar("cont", ["count", "print"]), Some("count"));
        assert_eq!(similar("xyz", ["count", "print"]), None);
    }

    #[test]
    fn camel() {
        assert_eq!(upper_camel("alerts"), "Alerts");
        assert_eq!(upper_camel("high_temp"), "HighTemp");
        assert_eq!(upper_camel("_late"), "Late");
    }

    #[test]
    fn lists() {
        assert_eq!(list(["a"]), "`a`");
        assert_eq!(list(["a", "b", "c"]), "`a`, `b` and `c`");
    }
}
