//! Counts by name (event types, hosts, frame kinds), bumped once or twice per event: a
//! hash index over the names, because a sorted map compares the name with several keys per
//! lookup, each comparison a call to wasm's byte-at-a-time memcmp. Sorted only for output.

/// Distinct names kept: a stream cannot grow the summary without bound.
const MAX_DISTINCT: usize = 10_000;

/// Where names beyond [`MAX_DISTINCT`] are counted.
const OTHERS: &str = "(others)";

#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Names and counts, in order of first appearance.
    names: Vec<(String, u64)>,
    /// Open addressing, a power of two long (or empty): an index into `names` plus one, or
    /// 0 for a free slot.
    slots: Vec<u32>,
}

impl Tally {
    /// Counts `name`, or [`OTHERS`] once [`MAX_DISTINCT`] names are held.
    pub fn count(&mut self, name: &str) {
        if let Some(i) = self.find(name) {
            self.names[i].1 += 1;
            return;
        }
        if self.names.len() < MAX_DISTINCT {
            self.insert(name);
            return;
        }
        match self.find(OTHERS) {
            Some(i) => self.names[i].1 += 1,
            None => self.insert(OTHERS),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.names.iter().map(|(_, n)| n).sum()
    }

    /// Names and counts in byte order of the names.
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.names.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    fn find(&self, name: &str) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut at = hash(name.as_bytes()) as usize & mask;
        loop {
            let i = (*self.slots.get(at)? as usize).checked_sub(1)?;
            if same(self.names.get(i)?.0.as_bytes(), name.as_bytes()) {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds `name` (not held yet) with a count of one.
    fn insert(&mut self, name: &str) {
        self.names.push((name.to_string(), 1));
        // At most half full, so probes stay short and a free slot always exists.
        if self.names.len() * 2 > self.slots.len() {
            self.slots = vec![0; (self.names.len() * 2).next_power_of_two().max(16)];
            for i in 0..self.names.len() {
                self.place(i);
            }
        } else {
            self.place(self.names.len() - 1);
        }
    }

    fn place(&mut self, i: usize) {
        let mask = self.slots.len() - 1;
        let mut at = hash(self.names[i].0.as_bytes()) as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = i as u32 + 1;
    }
}

/// Equal when they hold the same counts, whatever the order names came in.
impl PartialEq for Tally {
    fn eq(&self, other: &Tally) -> bool {
        self.sorted() == other.sorted()
    }
}

impl std::ops::Index<&str> for Tally {
    type Output = u64;

    fn index(&self, name: &str) -> &u64 {
        match self.find(name) {
            Some(i) => &self.names[i].1,
            None => &0,
        }
    }
}

/// Eight bytes at a time, multiply and rotate: names are short, and wasm has fast 64-bit
/// multiplies (and no SIMD for anything fancier).
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = (h ^ word(chunk)).wrapping_mul(K).rotate_left(29);
    }
    let h = (h ^ tail(chunks.remainder())).wrapping_mul(K);
    h ^ (h >> 32)
}

/// Equal bytes, compared a word at a time inline (wasm's memcmp is a call and a byte loop).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    x.by_ref().zip(y.by_ref()).all(|(p, q)| word(p) == word(q)) && tail(x.remainder()) == tail(y.remainder())
}

#[inline(always)]
fn word(eight: &[u8]) -> u64 {
    eight.try_into().map_or(0, u64::from_le_bytes)
}

/// Up to seven bytes as a word.
#[inline(always)]
fn tail(bytes: &[u8]) -> u64 {
    bytes.iter().enumerate().fold(0, |w, (k, &b)| w | u64::from(b) << (8 * k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// What it replaced: a sorted map, `(others)` once 10,000 names are held.
    fn reference(names: &[String]) -> Vec<(String, u64)> {
        let mut map: BTreeMap<String, u64> = BTreeMap::new();
        for name in names {
            if let Some(n) = map.get_mut(name) {
                *n += 1;
                continue;
            }
            let key = if map.len() < MAX_DISTINCT { name.as_str() } else { OTHERS };
            *map.entry(key.to_string()).or_default() += 1;
        }
        map.into_iter().collect()
    }

    #[test]
    fn counts_as_a_sorted_map_would_up_to_the_bound_and_past_it() {
        let mut names: Vec<String> = Vec::new();
        for i in 0..30_000u64 {
            let n = i.wrapping_mul(2_654_435_761) % 13_000;
            names.push(match n % 5 {
                0 => format!("runner_on_ok{n}"),
                1 => format!("h{n}"),
                2 => "x".repeat(n as usize % 40),
                3 => format!("d\u{e9}ploy\u{e9} {n} \u{1f680}"),
                _ => OTHERS.to_string(),
            });
        }
        let mut tally = Tally::default();
        for name in &names {
            tally.count(name);
        }
        let expected = reference(&names);
        let got: Vec<(String, u64)> = tally.sorted().into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        assert_eq!(got, expected);
        assert_eq!(tally.len(), expected.len());
        assert_eq!(tally.total(), names.len() as u64);
        assert_eq!(tally[OTHERS], expected.iter().find(|(k, _)| k == OTHERS).map_or(0, |(_, n)| *n));
        assert_eq!(tally["never seen"], 0);
    }

    #[test]
    fn equal_counts_are_equal_whatever_the_order() {
        let (mut a, mut b) = (Tally::default(), Tally::default());
        for name in ["a", "b", "a", ""] {
            a.count(name);
        }
        for name in ["", "a", "b", "a"] {
            b.count(name);
        }
        assert_eq!(a, b);
        b.count("b");
        assert_ne!(a, b);
    }
}
