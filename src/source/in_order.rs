//! Lookups by name in a list read in file order, made while walking another list in (mostly)
//! the same order: the two environments of a promotion usually list their components alike.

use std::cell::{Cell, OnceCell};

use rustc_hash::FxHashMap;

/// How many items after the last one found a lookup tries before it turns to the index.
const AHEAD: usize = 8;

/// An item of a list found by a name of its own (a component's name, an entry's id).
pub trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for String {
    fn key(&self) -> &str {
        self
    }
}

impl Keyed for &str {
    fn key(&self) -> &str {
        self
    }
}

/// Items of a list by a unique key: a lookup first tries the few items after the last one found,
/// and only the first miss builds the index (once). With unique keys both find the same item; the
/// inventories' are (`source::read` refuses a name twice, `plan` an id twice). The key is the
/// items' [`Keyed::key`]: read in line, not through a function pointer, on every lookup.
pub struct InOrder<'t, T> {
    items: &'t [T],
    next: Cell<usize>,
    /// Whether the last lookup found its item in step (else the window is one item).
    in_step: Cell<bool>,
    index: OnceCell<FxHashMap<&'t str, usize>>,
}

impl<'t, T: Keyed> InOrder<'t, T> {
    pub fn new(items: &'t [T]) -> Self {
        InOrder {
            items,
            next: Cell::new(0),
            in_step: Cell::new(true),
            index: OnceCell::new(),
        }
    }

    /// The item whose key is `key`.
    pub fn get(&self, key: &str) -> Option<&'t T> {
        self.position(key).and_then(|i| self.items.get(i))
    }

    /// The item at `i` of the list (a [`InOrder::position`] kept for later).
    pub fn at(&self, i: usize) -> Option<&'t T> {
        self.items.get(i)
    }

    /// Where in the list the item whose key is `key` is. Most lookups of a walk in step find
    /// the very next item: that test is made in line, the rest out of it.
    #[inline(always)]
    pub fn position(&self, key: &str) -> Option<usize> {
        let at = self.next.get();
        if let Some(next) = self.items.get(at)
            && same(next.key(), key)
        {
            self.next.set(at + 1);
            self.in_step.set(true);
            return Some(at);
        }
        self.beyond_next(at, key)
    }

    /// [`InOrder::position`] when the next item is not it.
    #[inline(never)]
    fn beyond_next(&self, at: usize, key: &str) -> Option<usize> {
        // A few items ahead: a walk that skips some (unchanged components) stays in step. Once
        // out of step, only the next item is tried until a lookup finds its item there again.
        let ahead = self.items.get(at..).unwrap_or_default();
        let window = if self.in_step.get() { AHEAD } else { 1 };
        if let Some(i) = ahead
            .iter()
            .take(window)
            .position(|item| same(item.key(), key))
        {
            self.next.set(at + i + 1);
            self.in_step.set(true);
            return Some(at + i);
        }
        self.by_index(key)
    }

    /// [`InOrder::position`] out of step: through the index, built on the first miss.
    #[cold]
    fn by_index(&self, key: &str) -> Option<usize> {
        self.in_step.set(false);
        let index = self.index.get_or_init(|| {
            let mut index =
                FxHashMap::with_capacity_and_hasher(self.items.len(), Default::default());
            for (i, item) in self.items.iter().enumerate() {
                // The first of equal keys, as the walk in order finds it.
                index.entry(item.key()).or_insert(i);
            }
            index
        });
        let &i = index.get(key)?;
        self.next.set(i + 1);
        Some(i)
    }

    /// Whether the index was built (a lookup left the order, or found nothing): until then,
    /// each item found was found after the one before it.
    pub fn indexed(&self) -> bool {
        self.index.get().is_some()
    }
}

/// `a == b`, with strings of up to 16 bytes (ids, names and versions mostly are) compared in
/// two overlapping word loads each instead of a call to `memcmp`: a plan compares every
/// component's id and version once or twice, and the calls were 3% of a 30,000-pin plan.
#[inline]
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0..4 => a == b,
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::{InOrder, same};
    use proptest::prelude::*;

    #[test]
    fn in_order_lookups_need_no_index() {
        let items: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let by = InOrder::new(&items);
        assert_eq!(by.get("a").map(String::as_str), Some("a"));
        // `b` skipped: still in step.
        assert_eq!(by.get("c").map(String::as_str), Some("c"));
        assert!(!by.indexed());
        // Back to `b`: the index is built once, and the walk goes on after `b`.
        assert_eq!(by.get("b").map(String::as_str), Some("b"));
        assert!(by.indexed());
        assert_eq!(by.get("c").map(String::as_str), Some("c"));
        assert_eq!(by.get("x"), None);
        // Further ahead than the window: the index.
        let many: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let far = InOrder::new(&many);
        assert_eq!(far.get("7").map(String::as_str), Some("7"));
        assert!(!far.indexed());
        assert_eq!(far.get("19").map(String::as_str), Some("19"));
        assert!(far.indexed());
        let fresh = InOrder::new(&items);
        for k in ["a", "b", "c"] {
            assert_eq!(fresh.get(k).map(String::as_str), Some(k));
        }
        assert!(!fresh.indexed());
    }

    #[test]
    fn same_is_equality_at_every_length() {
        // Each length up to past 16, equal and differing at the first, a middle and the last
        // byte (the word loads overlap in the middle).
        for n in 0..=20usize {
            let a: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert!(same(&a, &a.clone()), "{a}");
            for at in [0, n / 2, n.saturating_sub(1)]
                .into_iter()
                .filter(|&at| at < n)
            {
                let mut b = a.clone().into_bytes();
                b[at] = b'Z';
                let b = String::from_utf8(b).expect("ASCII");
                assert!(!same(&a, &b), "{a} {b}");
                assert!(!same(&b, &a), "{b} {a}");
            }
            assert!(!same(&a, &format!("{a}x")));
        }
    }

    proptest! {
        /// `same` is `==`, on any two strings and on a string and itself with one character
        /// changed (as often equal in length and in every word but one).
        #[test]
        fn same_is_eq(
            a in "[ab\u{e9}]{0,20}",
            b in "[ab\u{e9}]{0,20}",
            at in 0usize..20,
            to in "[abc]",
        ) {
            prop_assert_eq!(same(&a, &b), a == b);
            let mut near: Vec<char> = a.chars().collect();
            if let Some(c) = near.get_mut(at) {
                *c = to.chars().next().unwrap_or('c');
            }
            let near: String = near.into_iter().collect();
            prop_assert_eq!(same(&a, &near), a == near);
        }

        /// Any sequence of lookups finds what a map of the unique keys finds.
        #[test]
        fn finds_what_a_map_finds(
            keys in proptest::collection::hash_set("[a-e]{1,2}", 0..12),
            asks in proptest::collection::vec("[a-e]{1,2}", 0..24),
        ) {
            let items: Vec<String> = keys.into_iter().collect();
            let by = InOrder::new(&items);
            // The same lookups as positions, kept and read back later with `at`.
            let by_position = InOrder::new(&items);
            let mut kept = Vec::new();
            for ask in &asks {
                let want = items.iter().find(|k| *k == ask);
                prop_assert_eq!(by.get(ask), want);
                let at = by_position.position(ask);
                prop_assert_eq!(at, items.iter().position(|k| k == ask));
                kept.push((at, want));
            }
            for (at, want) in kept {
                prop_assert_eq!(at.and_then(|i| by_position.at(i)), want);
            }
        }
    }
}
