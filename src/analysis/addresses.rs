//! Client addresses as the analysis keys them: an address within its VPC. Addresses repeat
//! across VPCs (two VPCs of `10.0.0.0/16` each have a `10.0.1.5`, and one bucket may hold the
//! flow logs of both), never within one, so a NAT gateway's client is matched to the ENIs,
//! the task starts and the NAT-only timelines of its own VPC, not of another's. The VPC is
//! the records' `vpc-id` where the format has it, else the inventory's (for a NAT gateway);
//! where neither says, an address is matched by itself, as the logs can tell no better.

use std::net::IpAddr;

use smallvec::SmallVec;

use crate::account::{FxMap, Name};

/// The VPC of an ENI, a NAT gateway or a client, where known.
pub type Vpc = Option<Name>;

/// A client: its address and its VPC (ordered by address first).
pub type ClientKey = (IpAddr, Vpc);

/// Values by address, one for each VPC the address was seen in (almost always one).
pub struct ByAddress<T> {
    map: FxMap<IpAddr, SmallVec<[(Vpc, T); 1]>>,
}

impl<T> Default for ByAddress<T> {
    fn default() -> Self {
        ByAddress {
            map: FxMap::default(),
        }
    }
}

impl<T> ByAddress<T> {
    /// The value of `ip` in `vpc` exactly, made by `make` where there is none yet.
    pub fn entry(&mut self, ip: IpAddr, vpc: &Vpc, make: impl FnOnce() -> T) -> &mut T {
        let list = self.map.entry(ip).or_default();
        let i = match list.iter().position(|(v, _)| v == vpc) {
            Some(i) => i,
            None => {
                list.push((vpc.clone(), make()));
                list.len() - 1
            }
        };
        &mut list[i].1
    }

    /// The value of `ip` in `vpc` exactly.
    pub fn get(&self, ip: &IpAddr, vpc: Option<&str>) -> Option<&T> {
        let list = self.map.get(ip)?;
        list.iter().find(|(v, _)| v.as_deref() == vpc).map(|e| &e.1)
    }

    /// The value that stands for `ip` as seen in `vpc`, and the VPC it was noted under: its
    /// own; else that of the address noted in no known VPC (records without `vpc-id`); and
    /// where `vpc` is not known itself, the first noted (records that name no VPC are matched
    /// by address alone). Never the address of another known VPC.
    pub fn find(&self, ip: &IpAddr, vpc: Option<&str>) -> Option<(&Vpc, &T)> {
        let list = self.map.get(ip)?;
        let found = (list.iter().find(|(v, _)| v.as_deref() == vpc))
            .or_else(|| list.iter().find(|(v, _)| v.is_none()))
            .or_else(|| vpc.is_none().then(|| list.first()).flatten());
        found.map(|(v, t)| (v, t))
    }

    /// Whether `ip` as seen in `vpc` is noted ([`ByAddress::find`]).
    pub fn holds(&self, ip: &IpAddr, vpc: Option<&str>) -> bool {
        self.find(ip, vpc).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every address, its VPC and value (in no set order).
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &Vpc, &T)> {
        (self.map.iter()).flat_map(|(ip, list)| list.iter().map(move |(v, t)| (ip, v, t)))
    }

    /// Add `later`'s values: those of an address and VPC noted here already go to `join`.
    pub fn append(&mut self, later: ByAddress<T>, mut join: impl FnMut(&mut T, T)) {
        for (ip, list) in later.map {
            for (vpc, t) in list {
                let mut t = Some(t);
                let mine = self.entry(ip, &vpc, || t.take().expect("taken once"));
                if let Some(t) = t {
                    join(mine, t);
                }
            }
        }
    }

    /// The same addresses and VPCs, each value mapped by `f` (dropped where it gives none).
    pub fn filter_map<U>(&self, mut f: impl FnMut(&T) -> Option<U>) -> ByAddress<U> {
        let map = (self.map.iter())
            .filter_map(|(ip, list)| {
                let out: SmallVec<[(Vpc, U); 1]> = (list.iter())
                    .filter_map(|(v, t)| Some((v.clone(), f(t)?)))
                    .collect();
                (!out.is_empty()).then_some((*ip, out))
            })
            .collect();
        ByAddress { map }
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
