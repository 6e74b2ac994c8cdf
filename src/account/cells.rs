//! Bytes by (day, class, direction) of one ENI's records: a day's ten cells in one array,
//! the days in order, the first day inline. A record adds to its cell by indexing, not
//! hashing, and a task ENI's cells live inside its aggregate (no allocation, no pointer to
//! follow). Outside the account stage the cells read as `cell key → bytes` (see
//! [`super::cell`]), and they serialise as that map (the partial and spill formats).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use crate::classify::Class;

use super::Dir;

/// Cells of one day: five classes × two directions, indexed as the low byte of a cell key
/// (`class << 1 | dir`).
const PER_DAY: usize = 2 * Class::ALL.len();

#[derive(Clone, Debug, PartialEq, Eq)]
struct Day {
    day: u32,
    /// Which cells a record has added to (a record of 0 bytes makes a cell, as it makes a
    /// key of a map).
    present: u16,
    bytes: [u64; PER_DAY],
}

/// `cell key → bytes`, for the keys [`super::cell`] makes; see the module's doc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cells {
    /// In increasing order of day, none without a present cell.
    days: SmallVec<[Day; 1]>,
}

/// A key that [`super::cell`] cannot make: its class bits name no class, or its day is past `u32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignKey(pub u64);

impl Cells {
    /// Add `bytes` to the cell of `day`, `class` and `dir`.
    #[inline(always)]
    pub fn add(&mut self, day: u32, class: Class, dir: Dir, bytes: u64) {
        let i = (class as usize) << 1 | dir as usize;
        let d = if self.days.last().is_some_and(|d| d.day == day) {
            let last = self.days.len() - 1;
            &mut self.days.as_mut_slice()[last]
        } else {
            self.day_mut(day)
        };
        d.present |= 1 << i;
        d.bytes[i] += bytes;
    }

    /// The entry of `day`, made where it belongs in order if missing.
    #[cold]
    fn day_mut(&mut self, day: u32) -> &mut Day {
        let at = self.days.partition_point(|d| d.day < day);
        if self.days.get(at).is_none_or(|d| d.day != day) {
            let empty = Day {
                day,
                present: 0,
                bytes: [0; PER_DAY],
            };
            self.days.insert(at, empty);
        }
        &mut self.days[at]
    }

    /// Add `bytes` to the cell of key `key` (as made by [`super::cell`]); a key it cannot make
    /// is refused.
    pub fn add_key(&mut self, key: u64, bytes: u64) -> Result<(), ForeignKey> {
        *self.cell_mut(key)? += bytes;
        Ok(())
    }

    /// The cell of key `key`, made (present, 0 bytes) if missing; a key [`super::cell`]
    /// cannot make is refused.
    fn cell_mut(&mut self, key: u64) -> Result<&mut u64, ForeignKey> {
        let i = (key & 0xff) as usize;
        let (Ok(day), true) = (u32::try_from(key >> 8), i < PER_DAY) else {
            return Err(ForeignKey(key));
        };
        // (keys read back come in order: most are of the last day made)
        let d = if self.days.last().is_some_and(|d| d.day == day) {
            let last = self.days.len() - 1;
            &mut self.days.as_mut_slice()[last]
        } else {
            self.day_mut(day)
        };
        d.present |= 1 << i;
        Ok(&mut d.bytes[i])
    }

    /// Every cell a record made, `(key, bytes)`, in increasing order of key.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.days.iter().flat_map(|d| {
            (0..PER_DAY)
                .filter(move |i| d.present & 1 << i != 0)
                .map(move |i| (((d.day as u64) << 8) | i as u64, d.bytes[i]))
        })
    }

    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|c| c.1)
    }

    /// The days with a cell, in order.
    pub fn days(&self) -> impl Iterator<Item = u32> + '_ {
        self.days.iter().map(|d| d.day)
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The number of cells.
    pub fn len(&self) -> usize {
        self.days
            .iter()
            .map(|d| d.present.count_ones() as usize)
            .sum()
    }

    /// Add `o`'s cells to these. Associative and commutative.
    pub fn merge(&mut self, o: Cells) {
        if self.days.is_empty() {
            *self = o;
            return;
        }
        for od in o.days {
            let d = self.day_mut(od.day);
            d.present |= od.present;
            for (a, b) in d.bytes.iter_mut().zip(od.bytes) {
                *a += b;
            }
        }
    }
}

impl Serialize for Cells {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(&k, &v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Cells {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cells, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cells;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of cell keys to bytes")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Cells, A::Error> {
                let mut cells = Cells::default();
                while let Some((k, v)) = m.next_entry::<u64, u64>()? {
                    // a key repeated in a map written by hand: its last value, as a map
                    // keeps it
                    *cells.cell_mut(k).map_err(|ForeignKey(k)| {
                        serde::de::Error::custom(format_args!("a cell of an unknown class: {k:#x}"))
                    })? = v;
                }
                Ok(cells)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{cell, uncell, FxMap};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn any_cells() -> impl Strategy<Value = Vec<(u32, usize, bool, u64)>> {
        // few days (repeats likely), NO_DAY among them, zero-byte records now and then
        let day = prop_oneof![0u32..4, Just(20_000u32), Just(u32::MAX)];
        proptest::collection::vec((day, 0usize..5, any::<bool>(), 0u64..3), 0..40)
    }

    fn build(adds: &[(u32, usize, bool, u64)]) -> (Cells, BTreeMap<u64, u64>) {
        let mut cells = Cells::default();
        let mut model = BTreeMap::new();
        for &(day, class, up, bytes) in adds {
            let (class, dir) = (Class::ALL[class], [Dir::Download, Dir::Upload][up as usize]);
            cells.add(day, class, dir, bytes);
            *model.entry(cell(day, class, dir)).or_insert(0) += bytes;
        }
        (cells, model)
    }

    proptest! {
        #[test]
        fn cells_hold_what_a_map_of_keys_holds(adds in any_cells()) {
            let (cells, model) = build(&adds);
            let got: Vec<(u64, u64)> = cells.iter().collect();
            prop_assert_eq!(&got, &model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
            prop_assert_eq!(cells.len(), model.len());
            prop_assert_eq!(cells.is_empty(), model.is_empty());
            let days: Vec<u32> = cells.days().collect();
            let mut want: Vec<u32> = model.keys().map(|k| uncell(*k).0).collect();
            want.dedup();
            prop_assert_eq!(days, want);
        }

        #[test]
        fn merging_is_adding_in_any_order(
            a in any_cells(), b in any_cells(), c in any_cells()
        ) {
            let all = [a.clone(), b.clone(), c.clone()].concat();
            let (whole, _) = build(&all);
            let (mut x, _) = build(&a);
            let (mut y, _) = build(&b);
            let (z, _) = build(&c);
            y.merge(z.clone());
            x.merge(y);
            prop_assert_eq!(&x, &whole);
            let (mut z2, _) = build(&c);
            let (a2, _) = build(&a);
            z2.merge(a2);
            let (b2, _) = build(&b);
            z2.merge(b2);
            prop_assert_eq!(&z2, &whole);
        }

        #[test]
        fn they_serialise_as_the_map_of_keys(adds in any_cells()) {
            // the partial and spill formats: a map of cell keys, read back equal, and the
            // same bytes as the map of keys would be read as the same cells
            let (cells, model) = build(&adds);
            let bytes = postcard::to_allocvec(&cells).unwrap();
            prop_assert_eq!(&postcard::from_bytes::<Cells>(&bytes).unwrap(), &cells);
            let as_map: FxMap<u64, u64> = model.into_iter().collect();
            let map_bytes = postcard::to_allocvec(&as_map).unwrap();
            prop_assert_eq!(&postcard::from_bytes::<Cells>(&map_bytes).unwrap(), &cells);
            let back: FxMap<u64, u64> = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(back, as_map);
        }
    }

    #[test]
    fn keys_no_cell_makes_are_refused() {
        let mut c = Cells::default();
        assert_eq!(c.add_key(0x7e, 1), Err(ForeignKey(0x7e)));
        assert_eq!(c.add_key(0x0a, 1), Err(ForeignKey(0x0a)));
        assert_eq!(c.add_key(1 << 40, 1), Err(ForeignKey(1 << 40)));
        assert!(c.is_empty());
        let bad: FxMap<u64, u64> = [(0x0au64, 5u64)].into_iter().collect();
        let bytes = postcard::to_allocvec(&bad).unwrap();
        assert!(postcard::from_bytes::<Cells>(&bytes).is_err());
        // the last key a class can make, and the last day
        c.add_key(cell(u32::MAX, Class::Internet, Dir::Download), 7)
            .unwrap();
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [(cell(u32::MAX, Class::Internet, Dir::Download), 7)]
        );
    }

    #[test]
    fn a_record_of_no_bytes_makes_its_cell() {
        let mut c = Cells::default();
        c.add(3, Class::S3, Dir::Upload, 0);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [(cell(3, Class::S3, Dir::Upload), 0)]
        );
        assert!(!c.is_empty());
    }
}
