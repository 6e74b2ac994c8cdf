//! flowcost's own outputs, recognised by their first bytes: a report, a CSV table or a
//! partial result left among the flow logs (a monthly job writing its report into the folder
//! or prefix it reads) is skipped and named, where it would otherwise be read as hundreds of
//! malformed lines (and fail `--strict`). Only what flowcost writes is recognised, by
//! signatures taken from the writers themselves; any other text is read as flow logs and its
//! bad lines are reported as always. Pure: looks at bytes handed to it.

named_enum!(
    /// What kind of flowcost output an input is.
    #[derive(Hash)]
    OwnOutput {
        /// A partial result (`analyze --partial-out`), for `flowcost merge`.
        Partial = "partial",
        /// A JSON document (`--format json`, a report folder's `report.json`).
        Json = "json",
        /// A terminal table (`--format table`, the default).
        Table = "table",
        /// Markdown (`--format markdown`, a report folder's `report.md`).
        Markdown = "markdown",
        /// A CSV table (`--format csv`, a report folder's tables).
        Csv = "csv",
        /// A report folder's `report.html`.
        Html = "html",
    }
);

impl OwnOutput {
    /// For people: what the input is.
    pub fn describe(self) -> &'static str {
        match self {
            OwnOutput::Partial => "a partial result",
            OwnOutput::Json => "a JSON report",
            OwnOutput::Table => "a table report",
            OwnOutput::Markdown => "a Markdown report",
            OwnOutput::Csv => "a CSV table",
            OwnOutput::Html => "an HTML report",
        }
    }
}

/// How much of an input's start [`recognise`] needs: a human report's title may follow a
/// warning of a few lines (an incomplete run's kinds of failure, each with an example).
pub const HEAD: usize = 8 * 1024;

/// How every JSON document flowcost writes starts: its `schema` (the first key).
const SCHEMA_FAMILY: &str = "flowcost.";

// The signatures below are written as the writers write them (`csv`, `compare`, `monthly`,
// `text`, `html`); the integration test `own_outputs_among_logs_are_skipped` writes every
// output of every command and fails when one is not recognised.

/// The first columns of each CSV table flowcost writes: each writer starts its header line
/// with its constant, and [`recognise`] looks for them. The tables of bytes by class go on
/// with one `<class>_bytes` column a class, the first class's first ([`by_class_columns`]).
pub(crate) mod csv_head {
    /// `analyze --format csv`.
    pub(crate) const ANALYZE: &str = "section,key,class,metric,value";
    /// `compare --format csv`.
    pub(crate) const COMPARE: &str = "measure,before_per_day,after_per_day,";
    /// A report folder's `by-class.csv`.
    pub(crate) const BY_CLASS: &str = "class,upload_bytes,download_bytes,";
    /// A report folder's `inputs.csv`.
    pub(crate) const INPUTS: &str = "path,format,size_bytes,etag,";
    /// `by-day.csv`, then the class columns.
    pub(crate) const BY_DAY: &str = "day,";
    /// `by-subnet.csv`, then the class columns.
    pub(crate) const BY_SUBNET: &str = "subnet,";
    /// `top-clients.csv`, then the class columns.
    pub(crate) const TOP_CLIENTS: &str = "ip,eni,subnet,az,ecs_service,ecs_task,";
    /// `gateways.csv`, then the class columns.
    pub(crate) const GATEWAYS: &str = "eni,private_ips,az,subnet,";
    /// `history.csv`, then the class columns.
    pub(crate) const HISTORY: &str = "period,from,to,days,";
}

/// The CSV heads that are whole column names up to a comma.
const CSV_HEADS: [&str; 4] = [
    csv_head::ANALYZE,
    csv_head::COMPARE,
    csv_head::BY_CLASS,
    csv_head::INPUTS,
];

/// The CSV heads followed by the class columns.
const CSV_HEADS_BY_CLASS: [&str; 5] = [
    csv_head::BY_DAY,
    csv_head::BY_SUBNET,
    csv_head::TOP_CLIENTS,
    csv_head::GATEWAYS,
    csv_head::HISTORY,
];

/// The class columns of a CSV table of bytes by class: `s3_bytes,dynamodb_bytes,…`.
pub(crate) fn by_class_columns() -> String {
    (crate::classify::Class::ALL.iter())
        .map(|c| format!("{}_bytes", c.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The title of `analyze`'s table and Markdown reports (the writers use it too).
pub(crate) const ANALYZE_TITLE: &str = "flowcost: NAT gateway traffic and gateway-endpoint savings";
/// The title of `compare`'s table and Markdown reports.
pub(crate) const COMPARE_TITLE: &str = "flowcost: before and after";

/// The titles a table or Markdown report is recognised by (a line of its own).
const TITLES: [&str; 2] = [ANALYZE_TITLE, COMPARE_TITLE];

/// The start of a report folder's Markdown title.
pub(crate) const REPORT_TITLE: &str = "NAT gateway traffic report: ";

/// What a report folder's HTML page names as its generator, up to the version.
pub(crate) const GENERATOR: &str = "<meta name=\"generator\" content=\"flowcost ";

/// Which of flowcost's outputs `head` (the first bytes of an input, up to [`HEAD`]) starts,
/// if any.
pub fn recognise(head: &[u8]) -> Option<OwnOutput> {
    if head.starts_with(crate::partial::FAMILY.as_bytes()) {
        return Some(OwnOutput::Partial);
    }
    if is_json(head) {
        return Some(OwnOutput::Json);
    }
    if head.starts_with(b"<!DOCTYPE html>")
        && memchr::memmem::find(head, GENERATOR.as_bytes()).is_some()
    {
        return Some(OwnOutput::Html);
    }
    if head.split(|&b| b == b'\n').next().is_some_and(is_csv_head) {
        return Some(OwnOutput::Csv);
    }
    // a title as the first whole line but for the warnings a report may open with
    let whole = match memchr::memrchr(b'\n', head) {
        Some(end) => &head[..end],
        None => return None,
    };
    for line in whole.split(|&b| b == b'\n') {
        if let Some(kind) = title(line) {
            return Some(kind);
        }
        if !is_warning(line) {
            return None;
        }
    }
    None
}

/// A line of the warnings a human report may open with (records read twice, a split
/// period, an incomplete run's, nothing counted, no time logged, no accepted traffic, or a
/// comparison's sides counted differently or overlapping), or a blank line after them, as a
/// table or Markdown writes them.
fn is_warning(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"> ").unwrap_or(line);
    let line = line.strip_prefix(b"**").unwrap_or(line);
    line.is_empty()
        || line == b">"
        || line.starts_with(b"INCOMPLETE: ")
        || line.starts_with(b"REPEATED RECORDS: ")
        || line.starts_with(b"SPLIT PERIOD: ")
        || line.starts_with(b"OVERLAPPING LOGS: ")
        || line.starts_with(b"COUNTED DIFFERENTLY: ")
        || line.starts_with(b"NOTHING COUNTED: ")
        || line.starts_with(b"NO LOGGED TIME: ")
        || line.starts_with(b"NO ACCEPTED TRAFFIC: ")
        || line.starts_with(b"  ")
}

/// `{`, then `"schema"` naming a flowcost document, whitespace anywhere between (as pretty
/// or compact output, or `jq`'s, writes it).
fn is_json(head: &[u8]) -> bool {
    let mut rest = head;
    for token in [
        &b"{"[..],
        b"\"schema\"",
        b":",
        b"\"",
        SCHEMA_FAMILY.as_bytes(),
    ] {
        if token != SCHEMA_FAMILY.as_bytes() {
            rest = rest.trim_ascii_start();
        }
        match rest.strip_prefix(token) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

/// A header line of one of flowcost's CSV tables: one of [`CSV_HEADS`] starts it (or one of
/// [`CSV_HEADS_BY_CLASS`] and the first class column), and it is
/// names alone (lowercase letters, digits, `_`, `-`), comma-separated.
fn is_csv_head(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first_class = format!("{}_bytes,", crate::classify::Class::ALL[0].as_str());
    let by_class = |h: &&str| {
        (line.strip_prefix(h.as_bytes()))
            .is_some_and(|rest| rest.starts_with(first_class.as_bytes()))
    };
    (CSV_HEADS.iter().any(|h| line.starts_with(h.as_bytes()))
        || CSV_HEADS_BY_CLASS.iter().any(by_class))
        && line.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b',')
        })
}

/// A line that is a report's title, as a table (the title alone) or Markdown (`# ` before it).
fn title(line: &[u8]) -> Option<OwnOutput> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (kind, text) = match line.strip_prefix(b"# ") {
        Some(t) => (OwnOutput::Markdown, t),
        None => (OwnOutput::Table, line),
    };
    if TITLES.iter().any(|t| text == t.as_bytes()) {
        return Some(kind);
    }
    (kind == OwnOutput::Markdown && text.starts_with(REPORT_TITLE.as_bytes()))
        .then_some(OwnOutput::Markdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let cases: [(&str, Option<OwnOutput>); 21] = [
            ("flowcost.partial/2\n{\"a\":1}", Some(OwnOutput::Partial)),
            ("flowcost.partial/11\n", Some(OwnOutput::Partial)),
            (
                "{\n  \"schema\": \"flowcost.analyze/1\",\n",
                Some(OwnOutput::Json),
            ),
            ("{\"schema\":\"flowcost.report/1\"}", Some(OwnOutput::Json)),
            ("{\"schema\":\"other/1\"}", None),
            ("{\"message\":\"2 123 eni-1 ...\"}", None),
            (
                "INCOMPLETE: 1 of 2 inputs\n  io: 1 input(s), e.g. x\n\nflowcost: before and after\n",
                Some(OwnOutput::Table),
            ),
            (
                "SPLIT PERIOD: the records fall\n  2026-09-01T00:00:00Z .. x\n\nflowcost: NAT gateway traffic and gateway-endpoint savings\n",
                Some(OwnOutput::Table),
            ),
            (
                "OVERLAPPING LOGS: both sides hold\n\nflowcost: before and after\n",
                Some(OwnOutput::Table),
            ),
            (
                "> **OVERLAPPING LOGS: both sides hold**\n\n# flowcost: before and after\n",
                Some(OwnOutput::Markdown),
            ),
            (
                "COUNTED DIFFERENTLY: the before side\nOVERLAPPING LOGS: both\n\nflowcost: before and after\n",
                Some(OwnOutput::Table),
            ),
            (
                "# flowcost: NAT gateway traffic and gateway-endpoint savings\r\n",
                Some(OwnOutput::Markdown),
            ),
            ("# NAT gateway traffic report: 2026-09\n", Some(OwnOutput::Markdown)),
            // a title only as a whole line: a cut-off head does not guess
            ("flowcost: before and after", None),
            // nor after a line that is not a warning
            ("2 1 eni-1\nflowcost: before and after\n", None),
            (
                "> **NOTHING COUNTED: of 3 lines**\n\n# flowcost: before and after\n",
                Some(OwnOutput::Markdown),
            ),
            (
                "NOTHING COUNTED: of 3 lines\n\nNO LOGGED TIME: the logs cover\n\nflowcost: NAT gateway traffic and gateway-endpoint savings\n",
                Some(OwnOutput::Table),
            ),
            ("section,key,class,metric,value\r\ntotal,all", Some(OwnOutput::Csv)),
            // another tool's CSV with a head like ours is not taken for ours
            ("class,upload_bytes,\"x y\"\n", None),
            ("version account-id interface-id srcaddr\n2 1 eni-1 10.0.0.1\n", None),
            ("", None),
        ];
        for (head, want) in cases {
            assert_eq!(recognise(head.as_bytes()), want, "{head:?}");
        }
    }

    #[test]
    fn names_are_those_of_the_json() {
        use OwnOutput::*;
        for k in [Partial, Json, Table, Markdown, Csv, Html] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// Any bytes are looked at without a panic, and whatever follows a flow log's first
        /// line (a header or a record), the input is not taken for flowcost's.
        #[test]
        fn a_flow_log_is_never_taken_for_an_own_output(
            rest in proptest::collection::vec(any::<u8>(), 0..HEAD),
            signature in 0usize..6,
            first in prop_oneof![
                Just("version account-id interface-id srcaddr dstaddr\n"),
                Just("2 123456789012 eni-1 10.0.0.1 52.216.8.1 1 2 6 1 100 1788220800 1788220860 ACCEPT OK\n"),
                Just("{\"timestamp\":1,\"message\":\"2 1 eni-1 ...\"}\n"),
            ],
        ) {
            let signatures = [
                "flowcost.partial/2\n",
                "{\"schema\": \"flowcost.analyze/1\"",
                "<!DOCTYPE html>\n<meta name=\"generator\" content=\"flowcost 1\">",
                "section,key,class,metric,value\n",
                "flowcost: before and after\n",
                "",
            ];
            let mut head = first.as_bytes().to_vec();
            head.extend_from_slice(signatures[signature].as_bytes());
            head.extend_from_slice(&rest);
            head.truncate(HEAD);
            prop_assert_eq!(recognise(&head), None);
            let _ = recognise(&rest);
        }
    }
}
