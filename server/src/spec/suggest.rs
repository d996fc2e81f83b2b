//! "did you mean" for misspelt field names.

/// The candidate closest to `word`, when one is close enough to be a likely typo.
///
/// Spelling variants (`min_replicas`, `MinReplicas`, `min-replicas`) match
/// exactly after normalising; otherwise an edit distance of at most a third of
/// the word (and at least 2) counts.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normal = normalise(word);
    let limit = (word.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if normalise(candidate) == normal {
            return Some(candidate);
        }
        let distance = levenshtein(&word.to_lowercase(), &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn normalise(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Edit distance between two strings, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_letter_typo_finds_the_field() {
        assert_eq!(closest("replcas", ["replicas", "ports"]), Some("replicas"));
    }

    #[test]
    fn snake_case_finds_the_camel_case_field() {
        assert_eq!(
            closest("min_replicas", ["maxReplicas", "minReplicas"]),
            Some("minReplicas")
        );
    }

    #[test]
    fn an_unrelated_word_finds_nothing() {
        assert_eq!(closest("banana", ["replicas", "ports"]), None);
    }
}
