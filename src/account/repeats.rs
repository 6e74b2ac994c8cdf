//! Records given twice: a sample of the counted records' lines ([`crate::format::Fingerprint`]),
//! kept by the hash of the line and the flow log it comes from, so that a line read again
//! (two exports whose periods overlap, a file holding its records twice, a copy cut
//! differently from its original) is seen. AWS writes one record per flow, interface and
//! aggregation window, so within one flow log two equal lines of a layout that names the flow
//! are one record counted twice; records of two flow logs are left to
//! [`crate::overlap`].
//!
//! The sample is bounded: past [`MAX_KEPT`] lines the least sample level kept rises by one
//! and the lines below it are dropped. Merging keeps the union at the least level that fits,
//! which is the level one sample of all the records would have reached, so any split of the
//! input gives the same sample (a property test says so), and a line's copies, kept or
//! dropped together, are counted exactly.

use serde::{Deserialize, Serialize};

use super::FxMap;
use crate::format::{Fingerprint, MIN_SAMPLE_LEVEL};

/// The most sampled lines held: a month of records (about 100 M) is sampled one in 8,192,
/// enough to see an overlap of some 50,000 records. (14,336 lines is what the standard hash
/// map holds in 16,384 slots, about 0.5 MB; the slots of lines dropped as the level rises
/// may make it take 32,768 once.)
pub const MAX_KEPT: usize = if cfg!(test) { 64 } else { 14_336 };

/// What is known of one sampled line: its level, how many times it was read, the bytes of
/// its record, and the two first of the inputs holding it (by name; `NONE` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    level: u8,
    count: u32,
    bytes: u64,
    inputs: [u32; 2],
}

const NONE: u32 = u32::MAX;

/// The sample of counted lines, and the names of the inputs it met. Stored (in partial
/// files) as [`Stored`]: its lines in hash order, so that one sample is one text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Stored", try_from = "Stored")]
pub struct Repeats {
    /// The least level kept.
    level: u8,
    lines: FxMap<u64, Seen>,
    names: Vec<Box<str>>,
    ids: FxMap<Box<str>, u32>,
}

/// [`Repeats`] as stored: each line as `(hash, level, count, bytes, input, input)`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    level: u8,
    lines: Vec<(u64, u8, u32, u64, u32, u32)>,
    names: Vec<Box<str>>,
}

impl From<Repeats> for Stored {
    fn from(r: Repeats) -> Stored {
        let mut lines: Vec<_> = (r.lines.into_iter())
            .map(|(k, s)| (k, s.level, s.count, s.bytes, s.inputs[0], s.inputs[1]))
            .collect();
        lines.sort_unstable_by_key(|l| l.0);
        Stored {
            level: r.level,
            lines,
            names: r.names,
        }
    }
}

impl TryFrom<Stored> for Repeats {
    type Error = &'static str;
    fn try_from(s: Stored) -> Result<Repeats, &'static str> {
        let ids: FxMap<Box<str>, u32> = (s.names.iter().enumerate())
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let r = Repeats {
            level: s.level,
            lines: (s.lines.into_iter())
                .map(|(k, level, count, bytes, a, b)| {
                    let inputs = [a, b];
                    (
                        k,
                        Seen {
                            level,
                            count,
                            bytes,
                            inputs,
                        },
                    )
                })
                .collect(),
            ids,
            names: s.names,
        };
        match r.is_consistent() {
            true => Ok(r),
            false => Err("a sample of lines that does not hold together"),
        }
    }
}

impl Default for Repeats {
    fn default() -> Self {
        Repeats {
            level: MIN_SAMPLE_LEVEL,
            lines: FxMap::default(),
            names: Vec::new(),
            ids: FxMap::default(),
        }
    }
}

/// The salt of a flow log's lines in the sample: lines of two flow logs never meet.
pub fn salt(flow_log: &str) -> u64 {
    flow_log
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .rotate_left(29)
}

/// What the sample says: the lines read more than once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Sampled lines read more than once, and the copies read beyond the first of each.
    pub lines: u64,
    pub copies: u64,
    /// The bytes of those copies' records.
    pub copies_bytes: u64,
    /// One record in this many was sampled.
    pub rate: u64,
    /// Pairs of inputs holding a repeated line, with how many sampled lines they share,
    /// most shared first (an input named twice holds lines twice itself).
    pub pairs: Vec<(String, String, u64)>,
}

impl Repeats {
    /// The id of the input named `name`, for [`Repeats::note`].
    pub fn input(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// Note a counted record's fingerprint (`salt`: its flow log's), read from input `input`.
    #[inline]
    pub fn note(&mut self, fp: Fingerprint, salt: u64, bytes: u64, input: u32) {
        let seen = Seen {
            level: fp.level,
            count: 1,
            bytes,
            inputs: [input, NONE],
        };
        self.add(fp.hash ^ salt, seen, |i| i);
    }

    /// Add what is known of the line `key` (its inputs' ids mapped by `id`), making room
    /// first where it is new to the sample and the sample is full: the least level kept rises
    /// until the line fits or falls below it. The map never holds more than [`MAX_KEPT`]
    /// lines, so it does not grow past its room for them.
    #[inline]
    fn add(&mut self, key: u64, s: Seen, id: impl Fn(u32) -> u32) {
        if s.level < self.level {
            return;
        }
        if self.lines.len() >= MAX_KEPT && !self.lines.contains_key(&key) {
            self.make_room(s.level);
            if s.level < self.level {
                return;
            }
        }
        let names = &self.names;
        let mine = self.lines.entry(key).or_insert(Seen {
            count: 0,
            inputs: [NONE; 2],
            ..s
        });
        mine.count = mine.count.saturating_add(s.count);
        for i in s.inputs.into_iter().filter(|&i| i != NONE) {
            keep_first_two(&mut mine.inputs, id(i), names);
        }
    }

    /// Raise the level until a new line of `level` fits (or falls below it).
    #[cold]
    fn make_room(&mut self, level: u8) {
        while self.lines.len() + usize::from(level >= self.level) > MAX_KEPT {
            self.level += 1;
            let least = self.level;
            self.lines.retain(|_, s| s.level >= least);
        }
    }

    /// Fold `o` in (associative and commutative).
    pub fn merge(&mut self, o: Repeats) {
        let map: Vec<u32> = o.names.iter().map(|n| self.input(n)).collect();
        if o.level > self.level {
            self.level = o.level;
            let least = self.level;
            self.lines.retain(|_, s| s.level >= least);
        }
        for (k, s) in o.lines {
            self.add(k, s, |i| map[i as usize]);
        }
    }

    /// The lines read more than once, and where.
    pub fn found(&self) -> Found {
        let mut f = Found {
            rate: 1u64 << self.level.min(63),
            ..Found::default()
        };
        let mut pairs: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        for s in self.lines.values().filter(|s| s.count > 1) {
            let extra = u64::from(s.count - 1);
            f.lines += 1;
            f.copies += extra;
            f.copies_bytes = f.copies_bytes.saturating_add(extra.saturating_mul(s.bytes));
            let [a, b] = s.inputs.map(|i| &*self.names[i as usize]);
            *pairs.entry((a, b)).or_default() += 1;
        }
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        f.pairs = (pairs.into_iter().take(3))
            .map(|((a, b), n)| (a.to_string(), b.to_string(), n))
            .collect();
        f
    }

    /// Whether every sampled line and input name is consistent (a sample read back from a
    /// file: input ids inside the names, one id a name, levels at or above the sample's).
    fn is_consistent(&self) -> bool {
        let n = self.names.len() as u32;
        self.ids.len() == self.names.len()
            && self.lines.len() <= MAX_KEPT
            && self.level >= MIN_SAMPLE_LEVEL
            && self.level < 64
            && self.lines.values().all(|s| {
                s.level >= self.level
                    && s.count >= 1
                    && s.inputs[0] < n
                    && (s.inputs[1] < n || (s.inputs[1] == NONE && s.count == 1))
            })
    }
}

/// Keep in `two` the two first of its inputs and `input` by name (a multiset: an input may
/// be there twice), so that which inputs a line names does not depend on the order read.
fn keep_first_two(two: &mut [u32; 2], input: u32, names: &[Box<str>]) {
    let before = |b: u32| b == NONE || names[input as usize] < names[b as usize];
    if before(two[0]) {
        two[1] = two[0];
        two[0] = input;
    } else if before(two[1]) {
        two[1] = input;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(hash: u64, level: u8) -> Fingerprint {
        Fingerprint { hash, level }
    }

    /// Note each line of `reads` (`(hash, level, input name)`) into one sample.
    fn sample(reads: &[(u64, u8, &str)]) -> Repeats {
        let mut r = Repeats::default();
        for &(h, l, name) in reads {
            let id = r.input(name);
            r.note(fp(h, l), 0, h % 1000, id);
        }
        r
    }

    #[test]
    fn a_line_read_twice_is_found_with_its_inputs() {
        let l = MIN_SAMPLE_LEVEL;
        let r = sample(&[
            (1, l, "b"),
            (2, l, "b"),
            (3, l + 3, "b"),
            (2, l, "a"),
            (3, l + 3, "c"),
            (3, l + 3, "c"),
            (4, l - 1, "a"), // below the sample
            (4, l - 1, "a"),
        ]);
        let f = r.found();
        assert_eq!((f.lines, f.copies, f.rate), (2, 3, 1 << l));
        assert_eq!(f.copies_bytes, 2 + 2 * 3);
        assert_eq!(
            f.pairs,
            vec![("a".into(), "b".into(), 1), ("b".into(), "c".into(), 1)]
        );
        assert!(r.is_consistent());
    }

    #[test]
    fn lines_of_two_flow_logs_never_meet() {
        let mut r = Repeats::default();
        let id = r.input("x");
        let l = MIN_SAMPLE_LEVEL;
        r.note(fp(7, l), salt("fl-a"), 1, id);
        r.note(fp(7, l), salt("fl-b"), 1, id);
        r.note(fp(7, l), salt(""), 1, id);
        assert_eq!(r.found().lines, 0);
        r.note(fp(7, l), salt("fl-b"), 1, id);
        assert_eq!(r.found().pairs, vec![("x".into(), "x".into(), 1)]);
    }

    #[test]
    fn the_sample_stays_bounded_and_its_copies_exact() {
        // every line twice, far more lines than the sample holds
        let reads: Vec<(u64, u8, &str)> = (0..2000u64)
            .flat_map(|h| {
                let level = MIN_SAMPLE_LEVEL + (h.trailing_zeros() as u8).min(20);
                [(h, level, "a"), (h, level, "b")]
            })
            .collect();
        let r = sample(&reads);
        assert!(r.lines.len() <= MAX_KEPT);
        let f = r.found();
        assert!(f.rate > 1 << MIN_SAMPLE_LEVEL);
        // each line kept was kept with both of its copies
        assert_eq!(f.lines, f.copies);
        assert_eq!(f.lines, r.lines.len() as u64);
        assert_eq!(f.pairs, vec![("a".into(), "b".into(), f.lines)]);
    }

    proptest! {
        /// Any split of the reads, merged in any grouping, gives the sample one reader of all
        /// of them gives (what is found, and the inputs named).
        #[test]
        fn merged_parts_are_one_sample(
            reads in prop::collection::vec((0u64..150, 0u8..1, 0usize..4), 0..400),
            cuts in prop::collection::vec(0usize..400, 0..5),
            reverse in any::<bool>(),
        ) {
            let names = ["d", "a", "c", "b"];
            let reads: Vec<(u64, u8, &str)> = reads
                .into_iter()
                // one level a line, as a record's is
                .map(|(h, _, n)| (h, MIN_SAMPLE_LEVEL + (h % 7) as u8, names[n]))
                .collect();
            let whole = sample(&reads);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(reads.len())).collect();
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([reads.len()]) {
                parts.push(sample(&reads[from..c]));
                from = c;
            }
            if reverse {
                parts.reverse();
            }
            let merged = parts.into_iter().reduce(|mut a, b| { a.merge(b); a }).unwrap();
            prop_assert_eq!(merged.level, whole.level);
            prop_assert_eq!(merged.found(), whole.found());
            prop_assert!(merged.is_consistent());
            // stored and read back whole
            let text = serde_json::to_string(&merged).unwrap();
            let back: Repeats = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &merged);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
    }

    #[test]
    fn a_stored_sample_that_does_not_hold_together_is_refused() {
        for bad in [
            r#"{"level":7,"lines":[[1,7,2,0,0,1]],"names":["a"]}"#, // no second input
            r#"{"level":7,"lines":[[1,6,1,0,0,4294967295]],"names":["a"]}"#, // below the level
            r#"{"level":7,"lines":[[1,7,2,0,0,0]],"names":["a","a"]}"#, // a name twice
            r#"{"level":2,"lines":[],"names":[]}"#,
            r#"{"level":64,"lines":[],"names":[]}"#,
        ] {
            assert!(serde_json::from_str::<Repeats>(bad).is_err(), "{bad}");
        }
        let good = r#"{"level":7,"lines":[[1,7,2,0,0,0]],"names":["a"]}"#;
        assert_eq!(
            serde_json::from_str::<Repeats>(good)
                .unwrap()
                .found()
                .copies,
            1
        );
    }
}
