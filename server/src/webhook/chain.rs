//! The order of pushes to one ref, told by the chain the providers send: every
//! push names the sha the ref pointed to `before` and the one it points to
//! `after`. Deliveries can arrive out of order (a provider's retry, the
//! network), so arrival order alone would let an older commit supersede a newer
//! one; the chain tells them apart.
//!
//! The rule: a recorded push Q *waits* for its `before` when no push recorded
//! before Q moved the ref there. A push P arriving now fills that gap when
//! `P.after == Q.before`: P is then older than Q, and older than every recorded
//! push that descends from Q (further back through recorded pushes, whichever
//! arrived first). A push that fills no gap (the next push in order, a force
//! push, a chain Slipway never saw) is not older than anything: the chain
//! cannot order it, and it deploys as it always did.
//!
//! Asking "did some recorded push start from P.after?" would be simpler but
//! wrong after a force push back: `x→y`, `y→x` (undo), `x→y` (redo) would call
//! the redo older than the undo, although the undo's `before` was explained by
//! the first push. Only a gap nobody recorded before Q is P's to fill.
//!
//! Commit timestamps are not used: they come from the committer's clock, and a
//! force push to an older commit is a deliberate rollback that must deploy.

use std::collections::{HashMap, VecDeque};

/// One recorded push of a ref: where it moved the ref from and to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link<'a> {
    /// The sha the ref pointed to before.
    pub before: &'a str,
    /// The sha it pointed to after.
    pub after: &'a str,
}

/// Whether `sha` can link two pushes: not empty (rows recorded before the
/// `before` was kept, payloads without one) and not all zeros (a created or
/// deleted ref has no commit on that side).
fn links(sha: &str) -> bool {
    !sha.is_empty() && !sha.bytes().all(|b| b == b'0')
}

/// The recorded pushes of one ref (`recorded`, in arrival order) that are newer
/// than a push to `after` arriving now, by the rule of this module: indices into
/// `recorded`, ascending. Empty when the chain does not order the new push
/// before any of them.
pub fn newer_than(recorded: &[Link<'_>], after: &str) -> Vec<usize> {
    if !links(after) {
        return Vec::new();
    }
    let mut by_after: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, link) in recorded.iter().enumerate() {
        by_after.entry(link.after).or_default().push(i);
    }
    // Who moved the ref to each push's `before`: the latest push recorded
    // before it, else the first recorded after it (a gap filled late), else
    // nobody yet (it waits).
    let parent: Vec<Option<usize>> = recorded
        .iter()
        .enumerate()
        .map(|(k, link)| {
            if !links(link.before) {
                return None;
            }
            let movers = by_after.get(link.before)?;
            movers
                .iter()
                .rev()
                .find(|&&i| i < k)
                .or_else(|| movers.iter().find(|&&i| i > k))
                .copied()
        })
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children.entry(*p).or_default().push(k);
        }
    }
    let mut seen = vec![false; recorded.len()];
    let mut queue: VecDeque<usize> = recorded
        .iter()
        .enumerate()
        .filter(|(k, link)| parent[*k].is_none() && link.before == after)
        .map(|(k, _)| k)
        .collect();
    // `seen` also ends cycles: pushes that moved a ref back and forth can be
    // each other's parents.
    while let Some(k) = queue.pop_front() {
        if std::mem::replace(&mut seen[k], true) {
            continue;
        }
        queue.extend(children.get(&k).into_iter().flatten().copied());
    }
    seen.iter()
        .enumerate()
        .filter_map(|(k, s)| s.then_some(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(pairs: &[(&'static str, &'static str)]) -> Vec<Link<'static>> {
        pairs
            .iter()
            .map(|&(before, after)| Link { before, after })
            .collect()
    }

    #[test]
    fn a_push_the_recorded_one_started_from_is_older() {
        assert_eq!(newer_than(&chain(&[("a1", "b1")]), "a1"), [0]);
    }

    #[test]
    fn the_next_push_in_order_is_not_older() {
        assert!(newer_than(&chain(&[("a0", "a1")]), "b1").is_empty());
    }

    #[test]
    fn a_push_is_older_than_everything_further_along_its_chain() {
        // c arrived first, then b (older than c), now a: older than both.
        let recorded = chain(&[("b1", "c1"), ("a1", "b1")]);
        assert_eq!(newer_than(&recorded, "a1"), [0, 1]);
        let in_order = chain(&[("a1", "b1"), ("b1", "c1"), ("c1", "d1")]);
        assert_eq!(newer_than(&in_order, "a1"), [0, 1, 2]);
    }

    #[test]
    fn a_force_push_or_an_unrelated_chain_is_not_ordered() {
        let recorded = chain(&[("a0", "a1"), ("a1", "b1")]);
        assert!(newer_than(&recorded, "f1").is_empty());
        let burst = chain(&[("base", "s1"), ("base", "s2"), ("base", "s3")]);
        assert!(newer_than(&burst, "s1").is_empty());
    }

    #[test]
    fn redoing_a_push_after_undoing_it_by_force_is_not_older() {
        // x→y, then y→x (undo): the undo's before was the first push's, so a
        // new x→y (redo) fills no gap.
        let recorded = chain(&[("x", "y"), ("y", "x")]);
        assert!(newer_than(&recorded, "y").is_empty());
        // A late copy of the push that moved the ref to x in the first place
        // is older than both.
        let late = chain(&[("x", "y"), ("y", "z")]);
        assert_eq!(newer_than(&late, "x"), [0, 1]);
    }

    #[test]
    fn a_ref_moved_back_and_forth_ends_the_walk() {
        // Each push's before is explained by another: they are each other's
        // parents, and no new push fills a gap among them.
        let recorded = chain(&[("y", "x"), ("x", "y"), ("y", "x")]);
        assert!(newer_than(&recorded, "y").is_empty());
        assert!(newer_than(&recorded, "x").is_empty());
        let recorded = chain(&[("q", "p"), ("p", "q"), ("n", "m")]);
        assert_eq!(newer_than(&recorded, "n"), [2]);
    }

    #[test]
    fn empty_and_zero_shas_link_nothing() {
        let zero = "0000000000000000000000000000000000000000";
        let recorded = chain(&[("", "a1"), (zero, "b1"), ("", "c1")]);
        assert!(newer_than(&recorded, "").is_empty());
        assert!(newer_than(&recorded, zero).is_empty());
    }
}
