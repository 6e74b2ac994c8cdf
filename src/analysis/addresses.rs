//! Client addresses as the analysis keys them: an address within its VPC. Addresses repeat
//! across VPCs (two VPCs of `10.0.0.0/16` each have a `10.0.1.5`, and one bucket may hold the
//! flow logs of both), never within one, so a NAT gateway's client is matched to the ENIs,
//! the task starts and the NAT-only timelines of its own VPC, not of another's. The VPC is
//! the records' `vpc-id` where the format has it, else the inventory's (for a NAT gateway);
//! where neither says, an address is matched by itself, as the logs can tell no better.
//! A lookup costs a hash of the address and of the VPC's number, however many VPCs hold the
//! address.

use std::net::IpAddr;

use crate::account::{FxMap, Name};

/// The VPC of an ENI, a NAT gateway or a client, where known.
pub type Vpc = Option<Name>;

/// A client: its address and its VPC (ordered by address first).
pub type ClientKey = (IpAddr, Vpc);

/// Values by address, one for each VPC the address was noted in. Each VPC is a number here,
/// 0 for none; an address's first VPC and value sit in one map by address (nearly every
/// address is in one VPC: that map is all there is), any other VPC's in a second one by
/// address and number, so a lookup hashes an address, or an address and a number, however
/// many VPCs hold the address (a hostile log can name thousands).
pub struct ByAddress<T> {
    first: FxMap<IpAddr, (u32, T)>,
    others: FxMap<(IpAddr, u32), T>,
    /// The VPCs noted, numbered from 1.
    numbers: FxMap<Name, u32>,
    names: Vec<Name>,
}

impl<T> Default for ByAddress<T> {
    fn default() -> Self {
        ByAddress {
            first: FxMap::default(),
            others: FxMap::default(),
            numbers: FxMap::default(),
            names: Vec::new(),
        }
    }
}

impl<T> ByAddress<T> {
    /// The number of `vpc`, noted if new.
    fn number(&mut self, vpc: Option<&Name>) -> u32 {
        let Some(name) = vpc else { return 0 };
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        self.names.push(name.clone());
        let n = self.names.len() as u32;
        self.numbers.insert(name.clone(), n);
        n
    }

    /// The VPC of number `n`.
    fn vpc(&self, n: u32) -> Option<&Name> {
        n.checked_sub(1).and_then(|i| self.names.get(i as usize))
    }

    /// The number of `vpc` if it was noted (0 for none), `None` if it was not.
    fn known(&self, vpc: Option<&str>) -> Option<u32> {
        match vpc {
            None => Some(0),
            Some(v) => self.numbers.get(v).copied(),
        }
    }

    /// The value of `ip` in the VPC of number `n` (as [`ByAddress::find_number`] gives it).
    pub fn at(&self, ip: &IpAddr, n: u32) -> Option<&T> {
        match self.first.get(ip)? {
            (m, t) if *m == n => Some(t),
            _ => self.others.get(&(*ip, n)),
        }
    }

    /// The value of `ip` in the VPC of number `n`, made by `make` where there is none yet.
    fn at_mut(&mut self, ip: IpAddr, n: u32, make: impl FnOnce() -> T) -> &mut T {
        let first = match self.first.entry(ip) {
            std::collections::hash_map::Entry::Vacant(e) => return &mut e.insert((n, make())).1,
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        };
        match first.0 == n {
            true => &mut first.1,
            false => self.others.entry((ip, n)).or_insert_with(make),
        }
    }

    /// The value of `ip` in `vpc` exactly, made by `make` where there is none yet.
    pub fn entry(&mut self, ip: IpAddr, vpc: &Vpc, make: impl FnOnce() -> T) -> &mut T {
        let n = self.number(vpc.as_ref());
        self.at_mut(ip, n, make)
    }

    /// The value of `ip` in `vpc` exactly.
    #[cfg(test)]
    pub fn get(&self, ip: &IpAddr, vpc: Option<&str>) -> Option<&T> {
        self.at(ip, self.known(vpc)?)
    }

    /// The value that stands for `ip` as seen in `vpc`, and the VPC it was noted in: its own;
    /// else that of the address noted in no known VPC (records without `vpc-id`); and where
    /// `vpc` is not known itself, that of the first VPC it was noted in (records that name no
    /// VPC are matched by address alone). Never the address of another known VPC.
    pub fn find(&self, ip: &IpAddr, vpc: Option<&str>) -> Option<(Option<&Name>, &T)> {
        (self.find_number(ip, vpc)).map(|(n, t)| (self.vpc(n), t))
    }

    /// [`ByAddress::find`], the VPC by its number here (0 for none): a key that costs no
    /// name, for maps that follow this one.
    pub fn find_number(&self, ip: &IpAddr, vpc: Option<&str>) -> Option<(u32, &T)> {
        let at = |n: u32| self.at(ip, n).map(|t| (n, t));
        (self.known(vpc).and_then(at))
            .or_else(|| at(0))
            .or_else(|| match vpc {
                None => self.first.get(ip).map(|(n, t)| (*n, t)),
                Some(_) => None,
            })
    }

    /// Whether `ip` as seen in `vpc` is noted ([`ByAddress::find`]).
    pub fn holds(&self, ip: &IpAddr, vpc: Option<&str>) -> bool {
        self.find(ip, vpc).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }

    /// Every address, its VPC and value (in no set order).
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, Option<&Name>, &T)> {
        let first = (self.first.iter()).map(|(ip, (n, t))| (ip, self.vpc(*n), t));
        first.chain((self.others.iter()).map(|((ip, n), t)| (ip, self.vpc(*n), t)))
    }

    /// Every address, its VPC and value, taken (in no set order).
    pub fn into_clients(self) -> impl Iterator<Item = (ClientKey, T)> {
        let names = self.names;
        let vpc = move |n: u32| n.checked_sub(1).map(|i| names[i as usize].clone());
        let first = (self.first.into_iter()).map(|(ip, (n, t))| ((ip, n), t));
        (first.chain(self.others)).map(move |((ip, n), t)| ((ip, vpc(n)), t))
    }

    /// Add `later`'s values, noted after these: those of an address and VPC noted here
    /// already go to `join`.
    pub fn append(&mut self, later: ByAddress<T>, mut join: impl FnMut(&mut T, T)) {
        let ByAddress {
            first,
            others,
            names,
            ..
        } = later;
        let firsts = first.into_iter().map(|(ip, (n, t))| ((ip, n), t));
        // (the later firsts before the later others: an address new here keeps its first)
        for ((ip, n), t) in firsts.chain(others) {
            let mine = self.number(n.checked_sub(1).map(|i| &names[i as usize]));
            let mut t = Some(t);
            let here = self.at_mut(ip, mine, || t.take().expect("taken once"));
            if let Some(t) = t {
                join(here, t);
            }
        }
    }

    /// The same addresses and VPCs, each value mapped by `f` (dropped where it gives none;
    /// an address whose first VPC's value is dropped has the least numbered of the others
    /// first).
    pub fn filter_map<U>(&self, mut f: impl FnMut(&T) -> Option<U>) -> ByAddress<U> {
        let mut out = ByAddress {
            first: FxMap::default(),
            others: FxMap::default(),
            numbers: self.numbers.clone(),
            names: self.names.clone(),
        };
        out.first.reserve(self.first.len());
        for (ip, (n, t)) in &self.first {
            if let Some(u) = f(t) {
                out.first.insert(*ip, (*n, u));
            }
        }
        let mut others: Vec<(&(IpAddr, u32), &T)> = self.others.iter().collect();
        others.sort_unstable_by_key(|e| *e.0);
        for (&(ip, n), t) in others {
            if let Some(u) = f(t) {
                let mut u = Some(u);
                out.at_mut(ip, n, || u.take().expect("taken once"));
            }
        }
        out
    }
}

/// Whether the clients of `keys` are of more than one VPC (their addresses alone then do not
/// name them).
pub fn several_vpcs<'k>(keys: impl Iterator<Item = &'k ClientKey>) -> bool {
    let mut first: Option<&Vpc> = None;
    for (_, v) in keys {
        match first {
            None => first = Some(v),
            Some(f) if f != v => return true,
            Some(_) => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpc(s: &str) -> Vpc {
        Some(Name::from(s))
    }

    #[test]
    fn an_address_is_found_in_its_own_vpc_never_in_another_known_one() {
        let ip: IpAddr = "10.0.1.5".parse().unwrap();
        let mut b: ByAddress<&str> = ByAddress::default();
        *b.entry(ip, &vpc("vpc-a"), || "") = "a";
        *b.entry(ip, &vpc("vpc-b"), || "") = "b";
        assert_eq!(b.find(&ip, Some("vpc-a")).map(|e| *e.1), Some("a"));
        assert_eq!(
            b.find(&ip, Some("vpc-b")).and_then(|e| e.0).map(|v| &**v),
            Some("vpc-b")
        );
        assert_eq!(b.find(&ip, Some("vpc-b")).map(|e| *e.1), Some("b"));
        assert_eq!(b.find(&ip, Some("vpc-c")), None, "another VPC's address");
        // a NAT gateway of no known VPC: matched by address, the first noted
        assert_eq!(b.find(&ip, None).map(|e| *e.1), Some("a"));
        // an ENI of no known VPC stands for the address in any VPC without its own
        *b.entry(ip, &None, || "") = "none";
        assert_eq!(b.find(&ip, Some("vpc-c")).map(|e| *e.1), Some("none"));
        assert_eq!(b.find(&ip, None).map(|e| *e.1), Some("none"));
        assert_eq!(b.find(&ip, Some("vpc-b")).map(|e| *e.1), Some("b"));
        assert_eq!(b.get(&ip, Some("vpc-c")), None, "exactly");
        assert!(!b.holds(&"10.0.1.6".parse().unwrap(), None));
    }

    #[test]
    fn appending_joins_the_same_address_in_the_same_vpc_only() {
        let ip: IpAddr = "10.0.1.5".parse().unwrap();
        let mut a: ByAddress<u64> = ByAddress::default();
        *a.entry(ip, &vpc("vpc-a"), || 0) += 1;
        let mut later: ByAddress<u64> = ByAddress::default();
        *later.entry(ip, &vpc("vpc-a"), || 0) += 2;
        *later.entry(ip, &vpc("vpc-b"), || 0) += 4;
        a.append(later, |x, y| *x += y);
        assert_eq!(a.get(&ip, Some("vpc-a")), Some(&3));
        assert_eq!(a.get(&ip, Some("vpc-b")), Some(&4));
        assert_eq!(a.iter().count(), 2);
        let odd = a.filter_map(|v| (v % 2 == 1).then_some(*v));
        assert_eq!(
            (odd.iter().count(), odd.get(&ip, Some("vpc-a"))),
            (1, Some(&3))
        );
    }

    /// An address in many VPCs (a hostile log's thousands of `vpc-id`s) is still found in
    /// each; the first noted stands for it in none; a filter that drops the first's value
    /// leaves the least numbered of the others first.
    #[test]
    fn an_address_in_many_vpcs_is_found_in_each() {
        let ip: IpAddr = "10.0.1.5".parse().unwrap();
        let mut b: ByAddress<u32> = ByAddress::default();
        for i in 0..10_000u32 {
            *b.entry(ip, &vpc(&format!("vpc-{i}")), || 0) += i;
        }
        assert!((0..10_000u32).all(|i| b.get(&ip, Some(&format!("vpc-{i}"))) == Some(&i)));
        assert_eq!(b.find(&ip, None).map(|e| *e.1), Some(0));
        let odd = b.filter_map(|&v| (v % 2 == 1).then_some(v));
        assert_eq!(odd.find(&ip, None).map(|e| *e.1), Some(1));
        assert_eq!(odd.get(&ip, Some("vpc-2")), None);
        // appended after: the address's first VPC stays the first noted
        let mut later: ByAddress<u32> = ByAddress::default();
        *later.entry(ip, &vpc("vpc-new"), || 0) = 7;
        *later.entry("10.0.1.6".parse().unwrap(), &vpc("vpc-new"), || 0) = 8;
        b.append(later, |x, y| *x += y);
        assert_eq!(b.find(&ip, None).map(|e| *e.1), Some(0));
        assert_eq!(b.get(&ip, Some("vpc-new")), Some(&7));
        let other = b.find(&"10.0.1.6".parse().unwrap(), None).unwrap();
        assert_eq!((other.0.map(|v| &**v), *other.1), (Some("vpc-new"), 8));
    }

    #[test]
    fn a_row_names_its_vpc_only_where_it_has_one() {
        let mut row = crate::analysis::ClientRow {
            ip: "10.0.1.5".into(),
            vpc: None,
            enis: vec![],
            subnet: None,
            az: None,
            ecs_service: None,
            ecs_task: None,
            classes: Default::default(),
            total: 0,
        };
        assert_eq!(row.name(), "10.0.1.5");
        row.vpc = Some("vpc-0feedbeefcafe0001".into());
        assert_eq!(row.name(), "10.0.1.5 in vpc-0feedbeefcafe0001");
    }

    #[test]
    fn clients_of_one_vpc_or_none_known_are_not_several() {
        let ip: IpAddr = "10.0.1.5".parse().unwrap();
        let k = |v: &str| (ip, vpc(v));
        assert!(!several_vpcs([k("vpc-a"), k("vpc-a")].iter()));
        assert!(!several_vpcs([(ip, None)].iter()));
        assert!(several_vpcs([k("vpc-a"), k("vpc-b")].iter()));
        assert!(several_vpcs([k("vpc-a"), (ip, None)].iter()));
    }
}
