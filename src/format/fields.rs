//! The flow-log field vocabulary: every field name AWS has published for VPC flow logs
//! (versions 2 to 11) and transit-gateway flow logs, and the handful the engine reads.

/// Fields the engine reads. Every other known or unknown field is carried as `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    VpcId,
    SubnetId,
    PktSrcAddr,
    PktDstAddr,
    Region,
    AzId,
    PktSrcAwsService,
    PktDstAwsService,
    FlowDirection,
    TrafficPath,
    EcsClusterName,
    EcsServiceName,
    EcsTaskId,
    /// The ports and protocol: read only from Parquet inputs whose names carry no flow-log id
    /// ([`FLOW_PORTS`]), where they name a record's flow; text reads them from its tokens.
    SrcPort,
    DstPort,
    Protocol,
    /// A field the engine does not need (known or not): tolerated and skipped.
    Other,
}

/// The default (version 2) format, used for text files without a header line.
pub const DEFAULT_V2: &str =
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// Every field name AWS documents for VPC flow logs v2..v11 and transit gateway flow logs, in
/// AWS's order (the generator relies on it: v2 is the first 14, v5 the first 29, v7 the first
/// 39). Used to recognise header lines; unknown names are still accepted in a header that
/// starts with a known one.
pub const KNOWN_NAMES: &[&str] = &[
    // v2
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    // v3
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    // v4
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    // v5
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    // v7 (ECS)
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    // v8..v11
    "reject-reason",
    "resource-id",
    "encryption-status",
    "instance-tag",
    "instance-tag-2",
    "interface-tag",
    "interface-tag-2",
    "asg-tag",
    "asg-tag-2",
    "interface-type",
    "next-hop-interface-id",
    "next-hop-subnet-id",
    "next-hop-az-id",
    "next-hop-vpc-id",
    "next-hop-interface-type",
    // transit gateway flow logs
    "resource-type",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

/// Normalise a name as written in a header, a `--fields` list or a Parquet column:
/// lower case, `_` → `-`, `${...}` stripped.
pub fn normalise(name: &str) -> String {
    let n = name.trim();
    let n = n
        .strip_prefix("${")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(n);
    n.to_ascii_lowercase().replace('_', "-")
}

/// Map a normalised name to the engine's field.
pub fn field_of(name: &str) -> Field {
    match name {
        "version" => Field::Version,
        "account-id" => Field::AccountId,
        "interface-id" => Field::InterfaceId,
        "srcaddr" => Field::SrcAddr,
        "dstaddr" => Field::DstAddr,
        "packets" => Field::Packets,
        "bytes" => Field::Bytes,
        "start" => Field::Start,
        "end" => Field::End,
        "action" => Field::Action,
        "log-status" => Field::LogStatus,
        "vpc-id" => Field::VpcId,
        "subnet-id" => Field::SubnetId,
        "pkt-srcaddr" => Field::PktSrcAddr,
        "pkt-dstaddr" => Field::PktDstAddr,
        "region" => Field::Region,
        "az-id" => Field::AzId,
        "pkt-src-aws-service" => Field::PktSrcAwsService,
        "pkt-dst-aws-service" => Field::PktDstAwsService,
        "flow-direction" => Field::FlowDirection,
        "traffic-path" => Field::TrafficPath,
        "ecs-cluster-name" => Field::EcsClusterName,
        "ecs-service-name" => Field::EcsServiceName,
        "ecs-task-id" => Field::EcsTaskId,
        "srcport" => Field::SrcPort,
        "dstport" => Field::DstPort,
        "protocol" => Field::Protocol,
        _ => Field::Other,
    }
}

/// Whether `name` (already normalised) is a documented flow-log field.
pub fn is_known(name: &str) -> bool {
    KNOWN_NAMES.contains(&name)
}

/// Parse a `--fields` value: an AWS format string (`${version} ${srcaddr} ...`) or a plain
/// list separated by spaces or commas. Returns the normalised names.
pub fn parse_field_list(spec: &str) -> Vec<String> {
    spec.split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(normalise)
        .collect()
}

/// A set of fields: those a consumer reads. The others are skipped unparsed, as unknown fields
/// are (so a value there is never an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSet(u32);

impl FieldSet {
    /// Every field the decoders know.
    pub const ALL: FieldSet = FieldSet(u32::MAX);

    pub const fn of(fields: &[Field]) -> FieldSet {
        FieldSet(0).with(fields)
    }

    /// These fields and `fields`.
    pub const fn with(self, fields: &[Field]) -> FieldSet {
        let mut bits = self.0;
        let mut i = 0;
        while i < fields.len() {
            bits |= 1 << fields[i] as u32;
            i += 1;
        }
        FieldSet(bits)
    }

    /// No field.
    pub const NONE: FieldSet = FieldSet(0);

    #[inline(always)]
    pub fn contains(self, f: Field) -> bool {
        self.0 & (1 << f as u32) != 0
    }

    pub fn insert(&mut self, f: Field) {
        self.0 |= 1 << f as u32;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The fields the engine's rules use (ACCOUNTING.md §2–§5). `account-id`, `packets`,
/// `flow-direction` and the `pkt-*-aws-service` labels are not among them: skipping them saves
/// their parsing, and for Parquet their column chunks are not even read.
pub const ENGINE_FIELDS: FieldSet = FieldSet::of(&[
    Field::InterfaceId,
    Field::SrcAddr,
    Field::DstAddr,
    Field::Bytes,
    Field::Start,
    Field::End,
    Field::Action,
    Field::LogStatus,
    Field::VpcId,
    Field::SubnetId,
    Field::PktSrcAddr,
    Field::PktDstAddr,
    Field::Region,
    Field::AzId,
    Field::TrafficPath,
    Field::EcsClusterName,
    Field::EcsServiceName,
    Field::EcsTaskId,
]);

/// The fields that, with the ENI and the addresses, name a record's flow: a Parquet reader
/// reads their columns only for a sink that samples flows ([`crate::format::text::Sink::flows`]);
/// the engine's layouts leave them out ([`ENGINE_FIELDS`]), so text skips their tokens.
pub const FLOW_PORTS: FieldSet = FieldSet::of(&[Field::SrcPort, Field::DstPort, Field::Protocol]);

/// Whether `fields` hold the three of [`FLOW_PORTS`].
pub fn reads_flow_ports(fields: impl Iterator<Item = Field>) -> bool {
    let mut read = FieldSet::NONE;
    fields.for_each(|f| read.insert(f));
    read.0 & FLOW_PORTS.0 == FLOW_PORTS.0
}

/// The column layout of one input: which field sits at each position, of those in `keep`
/// (the rest read as `Other`). A header met mid-stream keeps the projection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub names: Vec<String>,
    pub fields: Vec<Field>,
    pub keep: FieldSet,
    /// The positions of the fields read (neither `Other` nor `version`), in order: what a
    /// line's parse visits, so the fields it skips cost nothing.
    read: Vec<(u32, Field)>,
    /// The same positions by field ([`Layout::position`]), where each read field has one.
    by_field: Option<[u16; FIELDS]>,
    /// Whether a line names its flow: the ENI, both ends with their ports, the protocol and
    /// the window's start ([`Layout::names_flows`]).
    names_flows: bool,
    /// Where the fields naming a flow across windows are ([`Layout::flow_key`]).
    flow_key: Option<[u16; 6]>,
}

/// The fields that together name one record of a flow log: AWS writes one record per flow
/// (its 5-tuple) per interface per aggregation window, so two lines of one flow log that agree
/// on these are the same record twice. (`interface-id` to `protocol` in [`KNOWN_NAMES`],
/// then `start`.)
fn flow_names() -> impl Iterator<Item = &'static str> {
    KNOWN_NAMES[2..8].iter().copied().chain(["start"])
}

/// How many [`Field`]s there are.
pub const FIELDS: usize = Field::Other as usize + 1;

impl Layout {
    pub fn new(names: Vec<String>) -> Self {
        let fields = names.iter().map(|n| field_of(n)).collect();
        Layout {
            names,
            fields,
            keep: FieldSet::ALL,
            read: Vec::new(),
            by_field: None,
            names_flows: false,
            flow_key: None,
        }
        .indexed()
    }
    /// The same layout reading only the fields in `keep`.
    pub fn projected(mut self, keep: FieldSet) -> Self {
        for f in &mut self.fields {
            if !keep.contains(*f) {
                *f = Field::Other;
            }
        }
        self.keep = keep;
        self.indexed()
    }
    fn indexed(mut self) -> Self {
        self.read = (self.fields.iter().enumerate())
            .filter(|(_, f)| !matches!(f, Field::Other | Field::Version))
            .map(|(i, f)| (i as u32, *f))
            .collect();
        let mut by_field = [u16::MAX; FIELDS];
        let mut once = true;
        for &(i, f) in &self.read {
            once &= by_field[f as usize] == u16::MAX && i < u16::MAX as u32;
            by_field[f as usize] = i as u16;
        }
        self.by_field = once.then_some(by_field);
        self.names_flows = flow_names().all(|f| self.names.iter().any(|n| n == f));
        let position = |f: &str| self.names.iter().position(|n| n == f);
        let key: Option<Vec<u16>> = (KNOWN_NAMES[2..8].iter())
            .map(|f| position(f).and_then(|i| u16::try_from(i).ok()))
            .collect();
        self.flow_key = key
            .and_then(|k| k.try_into().ok())
            .filter(|_| self.names_flows);
        self
    }
    /// The positions of `interface-id`, `srcaddr`, `dstaddr`, `srcport`, `dstport` and
    /// `protocol`, where the layout names its flows ([`Layout::names_flows`]): what one
    /// flow's records share from one aggregation window to the next (each a window of its
    /// own, in one flow log).
    pub fn flow_key(&self) -> Option<&[u16; 6]> {
        self.flow_key.as_ref()
    }
    /// Whether each line of this layout names its flow ([`flow_names`]), so that two equal
    /// lines of one flow log are one record given twice (a custom format without the ports,
    /// say, writes equal lines for two flows).
    pub fn names_flows(&self) -> bool {
        self.names_flows
    }
    /// The fields a line's parse reads, with their positions, in order.
    pub fn read(&self) -> &[(u32, Field)] {
        &self.read
    }
    /// Where each field is read, by field (`u16::MAX` for one not read); `None` when a read
    /// field has two positions, whose reading then needs the line's order.
    pub fn by_field(&self) -> Option<&[u16; FIELDS]> {
        self.by_field.as_ref()
    }
    pub fn default_v2() -> Self {
        Layout::new(parse_field_list(DEFAULT_V2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_names_the_flow_with_the_five_tuple_the_interface_and_the_start() {
        let flow = "interface-id srcaddr dstaddr srcport dstport protocol start";
        assert_eq!(flow_names().collect::<Vec<_>>().join(" "), flow);
        let v2 = Layout::default_v2();
        assert!(v2.names_flows());
        // without any one of them, two flows may write one line
        for gone in flow.split(' ') {
            let names = v2.names.iter().filter(|n| *n != gone).cloned().collect();
            assert!(!Layout::new(names).names_flows(), "{gone}");
        }
    }

    #[test]
    fn format_string_and_plain_lists_agree() {
        let a = parse_field_list("${version} ${account-id} ${interface-id}");
        let b = parse_field_list("version,account_id  interface-id");
        assert_eq!(a, b);
        assert_eq!(a, vec!["version", "account-id", "interface-id"]);
    }

    #[test]
    fn known_names_cover_the_default_format() {
        for n in parse_field_list(DEFAULT_V2) {
            assert!(is_known(&n), "{n}");
        }
        assert_eq!(field_of("pkt-dstaddr"), Field::PktDstAddr);
        assert_eq!(field_of("next-hop-vpc-id"), Field::Other);
    }
}
