//! Bad input: malformed lines, truncated gzip, broken Parquet, garbage. Each is counted and
//! located, the rest of the input still counts, and `--strict` turns it into exit code 4.

use std::io::Write;

use crate::support::{analyze_json, analyze_json_code, bin, files_under, run, spec, stderr, world};
use flowcost::generate::{Encoding, FieldSet};
use flowcost::source::FailureKind;

/// The peak RSS a run of the real binary reported (`FLOWCOST_PRINT_PEAK_RSS`), in kB.
fn peak_rss_kb(o: &std::process::Output) -> u64 {
    let err = stderr(o);
    err.lines()
        .find_map(|l| l.strip_prefix("flowcost: VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM line: {err}"))
}

#[test]
fn one_endless_line_is_one_malformed_line_in_bounded_memory() {
    // a 1 GiB line inside a 1 MB gzip file, between two good records, then /dev/zero-like
    // text with no newline at all on standard input
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("long.log.gz");
    let ok = "2 1 eni-nat 10.0.0.10 52.216.8.1 1 2 6 1 100 1788220800 1788220860 ACCEPT OK\n";
    {
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&f).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(ok.as_bytes()).unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..1024 {
            gz.write_all(&block).unwrap();
        }
        gz.write_all(b"\n").unwrap();
        gz.write_all(ok.as_bytes()).unwrap();
        gz.finish().unwrap();
    }
    // the real binary, reporting its own peak memory
    let measured = || {
        let mut c = bin();
        c.args(["analyze", "-q", "--format", "json"])
            .args(["--nat-eni", "eni-nat", "--region", "us-east-1"])
            .env("FLOWCOST_PRINT_PEAK_RSS", "1");
        c
    };
    let o = measured().arg(&f).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let q = &r.analysis.quality;
    assert_eq!(
        (q.lines.lines, q.lines.counted, q.lines.malformed),
        (3, 2, 1)
    );
    let bad = &q.files[0].malformed_examples[0];
    assert_eq!(bad.line, 2);
    assert!(
        bad.reason.contains("line longer than 65536 bytes"),
        "{}",
        bad.reason
    );
    assert_eq!(r.analysis.total, 200);
    let kb = peak_rss_kb(&o);
    assert!(kb < 200 * 1024, "peak RSS {kb} kB for a 1 GiB line");

    // standard input that never has a newline: 512 MiB of zeros, read in bounded memory
    let mut child = measured()
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..512 {
            if stdin.write_all(&zeros).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let r: flowcost::report::Report =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    assert_eq!(r.analysis.quality.lines.malformed, 1);
    let kb = peak_rss_kb(&o);
    assert!(
        kb < 200 * 1024,
        "peak RSS {kb} kB for 512 MiB without a newline"
    );
}

#[test]
fn truncated_gzip_and_broken_parquet_are_reported_and_the_rest_counts() {
    let w = world(&spec(21, FieldSet::V5), &[Encoding::Gz, Encoding::Parquet]);
    for enc in [Encoding::Gz, Encoding::Parquet] {
        let root = w.dir.path().join(enc.dir());
        let files = files_under(&root);
        let victim = &files[files.len() / 2];
        let data = std::fs::read(victim).unwrap();
        std::fs::write(victim, &data[..data.len() / 2]).unwrap();
        let (r, code) = analyze_json_code(&[root.to_str().unwrap()]);
        assert_eq!(code, Some(7), "written, marked incomplete");
        let q = &r.analysis.quality;
        assert_eq!(q.files_with_errors, 1, "{}", enc.dir());
        assert!(!q.complete);
        let inc = q.incomplete.as_ref().unwrap();
        assert_eq!((inc.inputs, inc.of_inputs), (1, files.len() as u64));
        let kind = match enc {
            Encoding::Gz => FailureKind::CutShort,
            _ => FailureKind::Corrupt,
        };
        assert_eq!(inc.by_kind[0].kind, kind);
        let bad = q.files.iter().find(|f| f.error.is_some()).unwrap();
        assert_eq!(bad.path, victim.display().to_string());
        assert!(q
            .notes
            .iter()
            .any(|n| n.contains("could not be read to the end")));
        assert_eq!(q.files.len(), files.len(), "every other file was read");
        assert!(r.analysis.total > 0 && r.analysis.total <= w.truth.nat_total);
        assert!(!q.reconciled, "lines reconcile, inputs do not");
        assert_eq!(q.lines.accounted(), q.lines.lines);
        let o = run(&["analyze", "-q", root.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(7));
        assert!(crate::support::stdout(&o).starts_with("INCOMPLETE: 1 of "));
        assert!(stderr(&o).contains("INCOMPLETE: 1 of "), "{}", stderr(&o));
        let o = run(&["analyze", "-q", "--strict", root.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains(&victim.display().to_string()));
    }
}

/// A tar archive holding one file, `name` with `body` (a header of 512 bytes, the body padded
/// to 512, two empty blocks), as `tar` writes it.
fn tar_of(name: &str, body: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
    h[156] = b'0';
    h[257..265].copy_from_slice(b"ustar\x0000");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut t = h.to_vec();
    t.extend_from_slice(body);
    t.resize(t.len().div_ceil(512) * 512 + 1024, 0);
    t
}

#[test]
fn archives_are_named_not_read_as_lines() {
    // a world's gzip files, with its first file also inside a .zip (a ZIP header, then the
    // file stored), a .tar.gz and a .tar.bz2 (bzip2's first bytes) beside them
    let w = world(&spec(23, FieldSet::V5), &[Encoding::Gz]);
    let root = w.dir.path().join(Encoding::Gz.dir());
    let files = files_under(&root);
    let alone = analyze_json(&[root.to_str().unwrap()]);
    let first = std::fs::read(&files[0]).unwrap();
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&first[..]), &mut text).unwrap();
    let zip = [&b"PK\x03\x04\x14\0\0\0\0\0"[..], &text[..]].concat();
    let mut tgz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    tgz.write_all(&tar_of("first.log", &text)).unwrap();
    let tgz = tgz.finish().unwrap();
    let bz2 = [&b"BZh91AY&SY"[..], &[0x55u8; 64][..]].concat();
    let extra = tempfile::tempdir().unwrap();
    let mut named = Vec::new();
    for (name, body) in [
        ("logs.zip", &zip),
        ("logs.tar.gz", &tgz),
        ("logs.tar.bz2", &bz2),
    ] {
        std::fs::write(root.join(name), body).unwrap();
        let p = extra.path().join(name);
        std::fs::write(&p, body).unwrap();
        named.push(p);
    }
    // inside the folder: the .zip and .tar.bz2 are not read, by name, and a note says so;
    // the .tar.gz is read (it ends in .gz) and refused by its content: the run is incomplete
    let (r, code) = analyze_json_code(&[root.to_str().unwrap()]);
    assert_eq!(code, Some(7));
    assert_eq!(r.analysis.total, alone.analysis.total);
    let q = &r.analysis.quality;
    assert_eq!(
        q.lines, alone.analysis.quality.lines,
        "no line of an archive read"
    );
    assert!(
        q.notes
            .iter()
            .any(|n| n.starts_with("2 archive(s) inside the folders were not read")),
        "{:?}",
        q.notes
    );
    let bad = q.files.iter().find(|f| f.error.is_some()).unwrap();
    assert!(bad.path.ends_with("logs.tar.gz"));
    let why = bad.error.as_deref().unwrap();
    assert!(
        why.contains("a tar archive, which flowcost does not read"),
        "{why}"
    );
    // the first file's text saved as UTF-16 (by an editor or a spreadsheet): its lines were
    // each malformed for their field count beside the others' counted, exit 0
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(
            String::from_utf8_lossy(&text)
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    let p = extra.path().join("first-utf16.log");
    std::fs::write(&p, utf16).unwrap();
    named.push(p);
    // named on the command line, each is a failed input saying what it is
    let nats = w.truth.nat_enis.join(",");
    for (p, kind) in named.iter().zip([
        "a ZIP archive",
        "a tar archive",
        "bzip2-compressed data",
        "UTF-16 text (little-endian), which flowcost does not read: convert it to UTF-8",
    ]) {
        let (p, one) = (p.to_str().unwrap(), files[0].to_str().unwrap());
        let (r, code) = analyze_json_code(&["--nat-eni", &nats, p, one]);
        assert_eq!(code, Some(7));
        let f = r
            .analysis
            .quality
            .files
            .iter()
            .find(|f| f.error.is_some())
            .unwrap();
        assert_eq!(f.failure, Some(FailureKind::Corrupt));
        assert!(f.error.as_ref().unwrap().contains(kind), "{:?}", f.error);
        assert_eq!(f.counts.lines, 0);
    }
}

#[test]
fn a_tar_gz_inflated_as_a_stream_is_refused_by_its_first_header() {
    // a .tar.gz over 16 MiB (inflated as it is read, not whole), or any piped in, was read as
    // lines: its records counted but for those its headers cut, or none, with exit 0
    let w = world(&spec(27, FieldSet::V5), &[Encoding::Gz]);
    let root = w.dir.path().join(Encoding::Gz.dir());
    let files = files_under(&root);
    let mut text = Vec::new();
    let gz = std::fs::read(&files[0]).unwrap();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    let mut big = text.clone();
    for k in 1.. {
        if big.len() as u64 > flowcost::source::WHOLE_GZIP_MAX + (1 << 20) {
            break;
        }
        big.extend(crate::support::copy_of_records(&text, k));
    }
    let tgz = |body: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(&tar_of("logs.log", body)).unwrap();
        gz.finish().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let large = dir.path().join("logs.tar.gz");
    std::fs::write(&large, tgz(&big)).unwrap();
    assert!(std::fs::metadata(&large).unwrap().len() > flowcost::source::WHOLE_GZIP_MAX);
    let nats = w.truth.nat_enis.join(",");
    let one = files[0].to_str().unwrap();
    let alone = analyze_json(&["--nat-eni", &nats, one]);
    let (r, code) = analyze_json_code(&["--nat-eni", &nats, large.to_str().unwrap(), one]);
    assert_eq!(code, Some(7));
    let q = &r.analysis.quality;
    let bad = q.files.iter().find(|f| f.error.is_some()).unwrap();
    assert_eq!(bad.failure, Some(FailureKind::Corrupt));
    assert!(
        bad.error.as_ref().unwrap().contains("a tar archive"),
        "{:?}",
        bad.error
    );
    assert_eq!(bad.counts, Default::default());
    assert_eq!(q.lines, alone.analysis.quality.lines);
    // on standard input, small or large: the same
    let small = dir.path().join("small.tar.gz");
    std::fs::write(&small, tgz(&text)).unwrap();
    for body in [&small, &large] {
        let o = bin()
            .args(["analyze", "-q", "--format", "json", "--region", "us-east-1"])
            .args(["--nat-eni", &nats, "-"])
            .stdin(std::fs::File::open(body).unwrap())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
        let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
        let f = &r.analysis.quality.files[0];
        assert!(
            f.error.as_ref().unwrap().contains("a tar archive"),
            "{:?}",
            f.error
        );
        assert_eq!(f.counts.lines, 0);
    }
}

/// A v5 world in `encoding`, the folder of its files, its analysis as written, and the file in
/// the middle of the folder, for a test to damage.
fn one_file_to_damage(
    seed: u64,
    encoding: Encoding,
) -> (
    crate::support::GenWorld,
    std::path::PathBuf,
    flowcost::report::Report,
    std::path::PathBuf,
) {
    let w = world(&spec(seed, FieldSet::V5), &[encoding]);
    let root = w.dir.path().join(encoding.dir());
    let (clean, code) = analyze_json_code(&[root.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let files = files_under(&root);
    let victim = files[files.len() / 2].clone();
    (w, root, clean, victim)
}

#[test]
fn a_gzip_file_that_fails_its_check_counts_none_of_its_records() {
    // the data intact, only the check in the trailer damaged: such a file cannot be told from
    // one damaged anywhere (a changed digit decodes as well as the right one), so none of its
    // records count and the figures stay a lower bound, as an incomplete run's must
    let (_w, root, clean, victim) = one_file_to_damage(22, Encoding::Gz);
    let root_arg = root.to_str().unwrap();
    let victim = &victim;
    let mut data = std::fs::read(victim).unwrap();
    let n = data.len();
    data[n - 6] ^= 1;
    std::fs::write(victim, &data).unwrap();
    let (r, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(7), "written, marked incomplete");
    let q = &r.analysis.quality;
    let bad = q.files.iter().find(|f| f.error.is_some()).unwrap();
    assert_eq!(bad.path, victim.display().to_string());
    assert_eq!(bad.failure, Some(FailureKind::Corrupt));
    let error = bad.error.as_deref().unwrap();
    assert!(
        error.contains("none of its records were counted"),
        "{error}"
    );
    let said = "gzip stream stopped before its first line: the gzip member at byte 0 is damaged";
    assert!(error.starts_with(said), "{error}");
    assert_eq!(bad.counts.lines, 0, "{error}");
    let was = (clean.analysis.quality.files.iter())
        .find(|f| f.path == bad.path)
        .unwrap();
    assert!(was.counts.lines > 0);
    let lines = &clean.analysis.quality.lines;
    assert_eq!(q.lines.lines, lines.lines - was.counts.lines);
    assert!(r.analysis.total <= clean.analysis.total);
}

/// Write at `path` a gzip file of `text`'s first line, then copies of the lines after it
/// ([`crate::support::copy_of_records`]), in stored blocks: larger than the inputs read whole, so that it is inflated as it is read.
fn streamed_gzip(path: &std::path::Path, text: &[u8]) {
    let cut = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (first, rest) = text.split_at(cut);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::none(),
    );
    gz.write_all(first).unwrap();
    let mut written = first.len() as u64;
    for k in 0.. {
        if written > flowcost::source::WHOLE_GZIP_MAX + (1 << 20) {
            break;
        }
        let copy = crate::support::copy_of_records(rest, k);
        gz.write_all(&copy).unwrap();
        written += copy.len() as u64;
    }
    gz.finish().unwrap();
}

#[test]
fn a_streamed_gzip_input_that_fails_its_check_counts_none_of_its_records() {
    // gzip over 16 MiB, or on standard input, is inflated as it is read: a member's check
    // comes after its records were decoded, so they are dropped when it fails, whether the
    // file is read in one piece, split among workers, or piped in
    let (w, root, _, victim) = one_file_to_damage(24, Encoding::Text);
    let text = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    let root_arg = root.to_str().unwrap();
    let (without, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(0));
    let big = root.join("big.log.gz");
    streamed_gzip(&big, &text);
    let (intact, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(0));
    let counted = |r: &flowcost::report::Report| r.analysis.quality.lines.counted;
    assert!(counted(&intact) > counted(&without) + 50_000);
    let big_lines = (intact.analysis.quality.files.iter())
        .find(|f| f.path.ends_with("big.log.gz"))
        .unwrap()
        .counts
        .lines;
    damage_last_check(&big);
    let big_path = big.display().to_string();
    for how in [
        &["-j", "1"][..],
        &["-j", "2", "--chunk-size", "65536"],
        &SPILLING,
    ] {
        let (r, code) = analyze_json_code(&[how, &[root_arg]].concat());
        assert_eq!(code, Some(7), "{how:?}");
        let q = &r.analysis.quality;
        let bad = q.files.iter().find(|f| f.error.is_some()).unwrap();
        assert_eq!(bad.path, big_path, "{how:?}");
        assert_eq!(bad.failure, Some(FailureKind::Corrupt), "{how:?}");
        let error = bad.error.as_deref().unwrap();
        assert!(error.contains("lines were counted"), "{how:?}: {error}");
        assert_eq!(bad.counts, Default::default(), "{how:?}");
        assert_eq!(q.lines, without.analysis.quality.lines, "{how:?}");
        assert_eq!(r.analysis.total, without.analysis.total, "{how:?}");
    }
    piped_in_counts_none(&w, &big, big_lines);
}

/// One worker reading a large input whole, spilling its tables as it goes (a budget of one
/// ENI): a damaged gzip member must drop the runs spilled before it was found with the
/// records they hold.
const SPILLING: [&str; 4] = ["-j", "1", "--max-enis-in-memory", "1"];

/// `big`, a gzip file whose last member is damaged, piped in: it cannot be read again, so none
/// of its `lines` lines are counted (the NAT named, so that what was read, nothing, is
/// reported), also where the tables spilled as it was read.
fn piped_in_counts_none(w: &crate::support::GenWorld, big: &std::path::Path, lines: u64) {
    for how in [&[][..], &SPILLING] {
        piped_in_counts_none_by(w, big, lines, how);
    }
}

fn piped_in_counts_none_by(
    w: &crate::support::GenWorld,
    big: &std::path::Path,
    lines: u64,
    how: &[&str],
) {
    let o = bin()
        .args(["analyze", "--format", "json", "-q", "-"])
        .args([
            "--nat-eni",
            &w.truth.nat_enis[0],
            "--region",
            &w.truth.region,
        ])
        .args(how)
        .stdin(std::fs::File::open(big).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    let q = &r.analysis.quality;
    assert_eq!(q.files[0].failure, Some(FailureKind::Corrupt));
    assert_eq!(q.lines, Default::default());
    assert_eq!(r.analysis.total, 0);
    let said = format!("none of its {lines} lines were counted");
    assert!(stderr(&o).contains(&said), "{}", stderr(&o));
}

/// Flip a bit of the check (CRC-32) of the last gzip member of the file at `path`.
fn damage_last_check(path: &std::path::Path) {
    let mut data = std::fs::read(path).unwrap();
    let n = data.len();
    data[n - 6] ^= 1;
    std::fs::write(path, &data).unwrap();
}

/// Write at `path` a gzip file of three members, in stored blocks (so that it is inflated as
/// it is read): `text`'s first line and copies of its other lines
/// ([`crate::support::copy_of_records`]) to about 9 MiB, more copies to about as much again,
/// then `last` (if any), each ending at a line's end.
fn streamed_members(path: &std::path::Path, text: &[u8], last: Option<&[u8]>) {
    let cut = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let (first, rest) = text.split_at(cut);
    let mut file = std::fs::File::create(path).unwrap();
    let half = (flowcost::source::WHOLE_GZIP_MAX / 2 + (1 << 20)) as usize;
    let mut copies = 0..;
    for (k, head) in [first, b""].into_iter().enumerate() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(head).unwrap();
        let mut written = head.len();
        while written <= half {
            let copy = crate::support::copy_of_records(rest, copies.next().unwrap());
            gz.write_all(&copy).unwrap();
            written += copy.len();
        }
        let member = gz.finish().unwrap();
        assert!(member.len() > half, "member {k}");
        file.write_all(&member).unwrap();
    }
    if let Some(last) = last {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        gz.write_all(last).unwrap();
        file.write_all(&gz.finish().unwrap()).unwrap();
    }
}

#[test]
fn a_streamed_gzip_file_keeps_the_members_before_a_damaged_one() {
    // a local gzip file over 16 MiB is inflated as it is read, and a member is checked at its
    // end: where one fails, the file is read again up to it, so that the members before it,
    // each checked, count (as they do where a file is inflated whole), in one piece and
    // split among workers; standard input cannot be read again, and counts none
    let (w, root, _, victim) = one_file_to_damage(26, Encoding::Text);
    let text = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    let root_arg = root.to_str().unwrap();
    let big = root.join("big.log.gz");
    streamed_members(&big, &text, None);
    let (two, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(0));
    let big_path = big.display().to_string();
    let lines_of = |r: &flowcost::report::Report| {
        (r.analysis.quality.files.iter())
            .find(|f| f.path == big_path)
            .unwrap()
            .counts
            .clone()
    };
    let two_lines = lines_of(&two);
    assert!(two_lines.lines > 50_000, "{two_lines:?}");
    // a third member, of lines that would add bytes, whose check fails
    let third = text
        .split_inclusive(|&b| b == b'\n')
        .skip(1)
        .take(200)
        .collect::<Vec<_>>();
    streamed_members(&big, &text, Some(&third.concat()));
    damage_last_check(&big);
    for how in [
        &["-j", "1"][..],
        &["-j", "2", "--chunk-size", "65536"],
        &SPILLING,
    ] {
        let (r, code) = analyze_json_code(&[how, &[root_arg]].concat());
        assert_eq!(code, Some(7), "{how:?}");
        let q = &r.analysis.quality;
        let bad = q.files.iter().find(|f| f.error.is_some()).unwrap();
        assert_eq!(bad.path, big_path, "{how:?}");
        assert_eq!(bad.failure, Some(FailureKind::Corrupt), "{how:?}");
        let error = bad.error.as_deref().unwrap();
        let said = format!(
            "gzip stream stopped after line {}: gzip member 3 is damaged",
            two_lines.lines
        );
        assert!(error.starts_with(&said), "{how:?}: {error}");
        assert!(
            error.contains("the 2 members before it were read again and counted"),
            "{how:?}: {error}"
        );
        assert_eq!(bad.counts, two_lines, "{how:?}");
        assert_eq!(q.lines, two.analysis.quality.lines, "{how:?}");
        assert_eq!(r.analysis.total, two.analysis.total, "{how:?}");
        assert_eq!(r.analysis.classes, two.analysis.classes, "{how:?}");
    }
    // piped in: not read again, none of it counted
    piped_in_counts_none(&w, &big, two_lines.lines + third.len() as u64);
}

#[test]
fn a_record_dated_out_of_any_flows_time_is_malformed_and_leaves_the_period_alone() {
    // one copy of a real record with `start` and `end` of 2^64 − 1 stretched the period to
    // 10^11 days and every projection to zero, with exit 0
    let (_w, root, clean, victim) = one_file_to_damage(23, Encoding::Text);
    let root_arg = root.to_str().unwrap();
    let victim = &victim;
    let text = std::fs::read_to_string(victim).unwrap();
    let record = text.lines().last().unwrap();
    let mut fields: Vec<&str> = record.split(' ').collect();
    // v5: start and end are the 11th and 12th fields
    fields[10] = "18446744073709551615";
    fields[11] = "18446744073709551615";
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(victim)
        .unwrap();
    writeln!(f, "{}", fields.join(" ")).unwrap();
    drop(f);
    let (r, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(0));
    let q = &r.analysis.quality;
    assert_eq!(
        q.lines.malformed,
        clean.analysis.quality.lines.malformed + 1
    );
    let bad = q
        .files
        .iter()
        .find(|f| f.path == victim.display().to_string())
        .unwrap();
    let example = &bad.malformed_examples[0];
    assert!(
        example.reason.contains("field `start` is not a time"),
        "{example:?}"
    );
    assert_eq!(r.analysis.period, clean.analysis.period);
    assert_eq!(r.analysis.total, clean.analysis.total);
}

/// The fields of the first NAT record of `victim` (v5: `start` and `end` are the 11th and
/// 12th), for a test to write it again with other times.
fn a_nat_record(w: &crate::support::GenWorld, victim: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(victim).unwrap();
    let nat = |l: &&str| w.truth.nat_enis.iter().any(|e| l.contains(e.as_str()));
    let record = text.lines().skip(1).find(nat).expect("a NAT record");
    record.split(' ').map(String::from).collect()
}

/// `fields` with `start` and `end` set.
fn timed(fields: &[String], start: i64, end: i64) -> String {
    let mut f = fields.to_vec();
    (f[10], f[11]) = (start.to_string(), end.to_string());
    f.join(" ")
}

/// Append `lines` to `victim` and analyse `root` again: exit 0, each line one more malformed
/// line of `victim`, and the NAT figures and the period those of `clean`. The victim's
/// malformed lines' numbers and reasons.
fn appended_are_malformed(
    (root, clean, victim): (
        &std::path::Path,
        &flowcost::report::Report,
        &std::path::Path,
    ),
    lines: &[String],
) -> Vec<(u64, String)> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(victim)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    drop(f);
    let (r, code) = analyze_json_code(&[root.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let q = &r.analysis.quality;
    let more = clean.analysis.quality.lines.malformed + lines.len() as u64;
    assert_eq!(q.lines.malformed, more);
    assert_eq!(r.analysis.period, clean.analysis.period);
    assert_eq!(r.analysis.gateways, clean.analysis.gateways);
    assert_eq!(r.analysis.total, clean.analysis.total);
    let bad = (q.files.iter())
        .find(|f| f.path == victim.display().to_string())
        .unwrap();
    (bad.malformed_examples.iter())
        .map(|b| (b.line, b.reason.clone()))
        .collect()
}

#[test]
fn a_nat_record_whose_end_is_far_from_its_start_leaves_the_covered_time_alone() {
    // one NAT record ending in 2099 made the period 26,785 days and the per-30-day figures
    // near zero, with exit 0; so did one starting years before it ended, or ending before it
    // started
    let (w, root, clean, victim) = one_file_to_damage(25, Encoding::Text);
    let fields = a_nat_record(&w, &victim);
    let start: i64 = fields[10].parse().unwrap();
    let lines = [
        timed(&fields, start, 4_102_444_000),
        timed(&fields, 1_300_000_000, start),
        timed(&fields, start, start - 1),
    ];
    let bad = appended_are_malformed((&root, &clean, &victim), &lines);
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(bad
        .iter()
        .all(|b| b.1.starts_with("`end` is before `start`")));
}

#[test]
fn a_nat_record_dated_far_from_its_delivery_leaves_the_covered_time_alone() {
    // one NAT record of a delivery moved, start and end alike, to 2096 made the period
    // 25,565 days and the per-30-day figures near zero, with exit 0
    let (w, root, clean, victim) = one_file_to_damage(26, Encoding::Text);
    assert!(flowcost::source::delivery_time(&victim.display().to_string()).is_some());
    let concatenated = tempfile::tempdir().unwrap();
    let files = files_under(&root);
    let mut all = Vec::new();
    for f in &files {
        all.extend(std::fs::read(f).unwrap());
    }
    std::fs::write(concatenated.path().join(files[0].file_name().unwrap()), all).unwrap();
    let fields = a_nat_record(&w, &victim);
    let start: i64 = fields[10].parse().unwrap();
    let day = 86_400;
    let lines: Vec<String> = [70 * 365 * day, -15 * 365 * day, 46 * day, -46 * day]
        .map(|by| timed(&fields, start + by, start + by + 60))
        .to_vec();
    let before = std::fs::read_to_string(&victim).unwrap().lines().count() as u64;
    let bad = appended_are_malformed((&root, &clean, &victim), &lines);
    let at: Vec<u64> = bad.iter().map(|b| b.0).collect();
    assert_eq!(at, [before + 1, before + 2, before + 3, before + 4]);
    assert!(bad.iter().all(|b| b
        .1
        .starts_with("`start` is more than 45 days from the delivery")));

    // the world's deliveries (two days) concatenated under the first one's name: every
    // record counts, as in the folder
    let (one, code) = analyze_json_code(&[concatenated.path().to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(
        one.analysis.quality.lines.malformed,
        clean.analysis.quality.lines.malformed
    );
    assert_eq!(one.analysis.period, clean.analysis.period);
    assert_eq!(one.analysis.classes, clean.analysis.classes);
}

#[test]
fn records_months_apart_split_the_period_and_the_run_says_so() {
    // an export (a name AWS does not write, so no record is checked against a delivery's
    // time) with one NAT record copied 70 years on stretched the period to 25,565 days and
    // the projections toward zero, with exit 0
    let (w, root, clean, victim) = one_file_to_damage(27, Encoding::Text);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.log");
    let export_arg = export.to_str().unwrap();
    let whole = concatenated(&w, &export);
    let fields = a_nat_record(&w, &victim);
    let last_end = clean.analysis.period.last_end.unwrap();
    let day = 86_400;
    let with = |start: i64| {
        std::fs::write(
            &export,
            format!("{whole}{}\n", timed(&fields, start, start + 60)),
        )
        .unwrap()
    };

    // 40 days after the last record: a gap, noted, that does not split the period
    with(last_end + 40 * day);
    let (r, code) = analyze_json_code(&[export_arg]);
    assert_eq!(code, Some(0));
    assert!(r.analysis.period.gaps.iter().any(|g| g.hours >= 39 * 24));
    assert_eq!(r.analysis.period.split().count(), 0);
    assert_eq!(r.analysis.period.stretches().len(), 1);

    // 70 years later: two stretches, said first and on stderr, exit 9
    with(last_end + 70 * 365 * day);
    let o = run(&["analyze", "-q", export_arg]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let out = crate::support::stdout(&o);
    assert!(
        out.starts_with(
            "SPLIT PERIOD: the records fall into 2 stretches of time at least 45 days apart"
        ),
        "{out}"
    );
    assert!(stderr(&o).contains("SPLIT PERIOD: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("(exit 9)"), "{}", stderr(&o));
    let (r, code) = analyze_json_code(&[export_arg]);
    assert_eq!(code, Some(9));
    let p = &clean.analysis.period;
    let stretches = r.analysis.period.stretches();
    assert_eq!(stretches.len(), 2, "{stretches:?}");
    assert_eq!(stretches[0], (p.from.unwrap(), p.to.unwrap()));

    // beside an input of no record too: each summary, then one line naming both marks and
    // the exit of the worse
    let csv = dir.path().join("export.csv");
    std::fs::write(&csv, whole.replace(' ', ";")).unwrap();
    let o = run(&["analyze", "-q", export_arg, csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("was written").count(), 1, "{err}");
    assert!(err.contains("flowcost: INCOMPLETE: 1 of 2 inputs"), "{err}");
    assert!(err.contains("flowcost: the report was written, marked incomplete and as covering stretches of time far apart (exit 9)"), "{err}");

    // a partial result of it says so as it is written, and its merge again
    let part = dir.path().join("split.partial");
    let part_arg = part.to_str().unwrap();
    let o = run(&["analyze", "-q", "--partial-out", part_arg, export_arg]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(stderr(&o).contains("flowcost: SPLIT PERIOD: the records fall into 2 stretches"));
    assert!(stderr(&o).contains("the partial result was written, marked as covering"));
    let o = run(&["merge", "-q", part_arg]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));

    // the stretch of the world alone: the copy is left out by time, the figures are the
    // folder's
    let until = flowcost::time::format_instant(p.to.unwrap());
    let (r, code) = analyze_json_code(&["--until", &until, export_arg]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.classes, clean.analysis.classes);
    assert_eq!(r.analysis.period.to, p.to);

    // a comparison with a split side says so too
    let o = run(&[
        "compare",
        "-q",
        "--before",
        export_arg,
        "--after",
        root.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(
        crate::support::stdout(&o).starts_with("SPLIT PERIOD: "),
        "{}",
        crate::support::stdout(&o)
    );
}

#[test]
fn an_input_none_of_whose_lines_is_a_record_is_one_not_read() {
    // a world's text beside a copy of one of its files turned into semicolon-separated
    // values (as a spreadsheet in some locales exports it; comma-separated ones are read):
    // its lines were each malformed at the foot of a report with exit 0, its bytes missing
    // from every figure
    let (_w, root, clean, victim) = one_file_to_damage(28, Encoding::Text);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("export.csv");
    let text = std::fs::read_to_string(&victim).unwrap();
    std::fs::write(&csv, text.replace(' ', ";")).unwrap();
    let lines = text.lines().count() as u64;
    let (root_arg, csv_arg) = (root.to_str().unwrap(), csv.to_str().unwrap());
    let (r, code) = analyze_json_code(&[root_arg, csv_arg]);
    assert_eq!(code, Some(7));
    assert_eq!(r.analysis.total, clean.analysis.total);
    let q = &r.analysis.quality;
    assert!(!q.complete && !q.reconciled);
    assert_eq!(
        q.lines.accounted(),
        q.lines.lines,
        "its lines are still counted"
    );
    assert_eq!(
        q.lines.malformed,
        clean.analysis.quality.lines.malformed + lines
    );
    let f = q.files.iter().find(|f| f.path == csv_arg).unwrap();
    assert_eq!(f.failure, Some(FailureKind::NoRecord));
    let why = f.error.as_deref().unwrap();
    assert!(
        why.starts_with(&format!(
            "none of its {lines} lines is a flow-log record (line 1: "
        )),
        "{why}"
    );
    let i = q.incomplete.as_ref().unwrap();
    assert_eq!((i.inputs, i.by_kind[0].kind), (1, FailureKind::NoRecord));
    // said first in a table, and on stderr
    let o = run(&["analyze", "-q", root_arg, csv_arg]);
    assert_eq!(o.status.code(), Some(7));
    let out = crate::support::stdout(&o);
    assert!(out.starts_with("INCOMPLETE: 1 of "), "{out}");
    assert!(
        out.contains("no flow-log record in it: 1 input(s)"),
        "{out}"
    );
    assert!(stderr(&o).contains("(exit 7)"), "{}", stderr(&o));
    // stderr counts the malformed lines and names the first, where a log of an unattended
    // run keeps them; a run without any says nothing of them
    let said = format!(
        "flowcost: warning: {} malformed line(s) of {} read, in 1 input(s), are in no figure; the first: {csv_arg}:1: ",
        q.lines.malformed, q.lines.lines
    );
    assert!(stderr(&o).contains(&said), "{}", stderr(&o));
    let o = run(&["analyze", "-q", root_arg]);
    assert!(!stderr(&o).contains("malformed"), "{}", stderr(&o));
    // a partial of it says so, and so does the merge
    let part = dir.path().join("p.partial");
    let part_arg = part.to_str().unwrap();
    let o = run(&[
        "analyze",
        "-q",
        "--partial-out",
        part_arg,
        root_arg,
        csv_arg,
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("flowcost: the partial result was written, marked incomplete (exit 7)"),
        "{}",
        stderr(&o)
    );
    let o = run(&["merge", "-q", "--format", "json", part_arg]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    // alone, nothing is counted: the lines parsed say why first (exit 3), as before
    let o = run(&["analyze", "-q", csv_arg]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("0 of {lines} lines parsed as flow-log records")));
    // a file of only a header, or of nothing, holds no record and is no failure
    let header = dir.path().join("header.log");
    std::fs::write(&header, text.lines().next().unwrap()).unwrap();
    let (r, code) = analyze_json_code(&[root_arg, header.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(r.analysis.total, clean.analysis.total);
}

#[test]
fn malformed_lines_are_counted_with_their_locations() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.log");
    let mut body =
        String::from("interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr bytes start region\n");
    body += "eni-nat 10.0.0.10 10.0.1.5 52.216.8.1 10.0.1.5 100 1788220800 us-east-1\n";
    body += "eni-nat 10.0.0.10 10.0.1.5 52.216.8.1\n"; // line 3: short
    body += "eni-nat 10.0.0.10 10.0.1.5 52.216.8.1 10.0.1.5 lots 1788220800 us-east-1\n"; // 4: bad number
    body += "eni-nat 10.0.0.300 10.0.1.5 52.216.8.1 10.0.1.5 1 1788220800 us-east-1\n"; // 5: bad address
    body += "\u{0}\u{1}binary\u{ff}junk\n"; // 6
    std::fs::write(&f, body).unwrap();
    let r = analyze_json(&[f.to_str().unwrap()]);
    let q = &r.analysis.quality;
    assert_eq!(q.lines.malformed, 4);
    assert_eq!(q.lines.counted, 1);
    assert_eq!(r.analysis.classes.s3.download, 100);
    let lines: Vec<u64> = q.files[0]
        .malformed_examples
        .iter()
        .map(|b| b.line)
        .collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert!(q.files[0].malformed_examples[1].reason.contains("bytes"));
    assert!(q.files[0].malformed_examples[2].reason.contains("srcaddr"));
    let o = run(&["analyze", "--strict", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("mixed.log:3"), "{}", stderr(&o));
}

#[test]
fn garbage_and_empty_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = std::fs::File::create(dir.path().join("garbage.log")).unwrap();
    let mut x: u64 = 7;
    let mut buf = Vec::new();
    for _ in 0..200_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        buf.push((x >> 56) as u8);
    }
    g.write_all(&buf).unwrap();
    std::fs::write(dir.path().join("empty.log"), b"").unwrap();
    std::fs::write(
        dir.path().join("fake.gz"),
        [0x1f, 0x8b, 0x08, 0x00, 1, 2, 3],
    )
    .unwrap();
    std::fs::write(dir.path().join("fake.parquet"), b"PAR1 but not really").unwrap();
    let o = run(&[
        "analyze",
        "-q",
        "--client-side-estimate",
        "--region",
        "us-east-1",
        "--format",
        "json",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r.analysis.quality.files.len(), 4);
    assert_eq!(
        r.analysis.quality.files_with_errors, 3,
        "the fake gzip, the fake Parquet and the garbage, which holds no record"
    );
    let l = &r.analysis.quality.lines;
    assert_eq!(l.accounted(), l.lines);
}

/// A Parquet file read in parts (row groups of 500 rows, parts of 4 KiB of the columns read,
/// on two workers) numbers its bad rows from the file's first row, as when read whole: two
/// rows with a bad `srcaddr`, a fifth and four fifths into the file.
#[test]
fn a_parquet_file_read_in_parts_numbers_its_bad_rows_from_its_start() {
    let w = world(&spec(31, FieldSet::V5), &[Encoding::Text]);
    let dir = tempfile::tempdir().unwrap();
    let all = concatenated(&w, &dir.path().join("all.log"));
    let header = all.lines().next().unwrap();
    let src = header.split(' ').position(|f| f == "srcaddr").unwrap();
    let mut rows: Vec<String> = (all.lines().filter(|l| *l != header))
        .map(String::from)
        .collect();
    let bad = [rows.len() / 5, rows.len() * 4 / 5];
    for at in bad {
        let mut fields: Vec<&str> = rows[at].split(' ').collect();
        fields[src] = "not-an-address";
        rows[at] = fields.join(" ");
    }
    let text = format!("{header}\n{}\n", rows.join("\n"));
    let path = dir.path().join("export.parquet");
    crate::support::text_as_parquet_in_groups(&text, &path, Some(500));
    assert!(
        path.metadata().unwrap().len() >= 8 * 4096,
        "large enough to be read in parts"
    );
    let p = path.to_str().unwrap();
    let whole = analyze_json(&["-j", "1", p]);
    let o = crate::support::bin()
        .args(["analyze", "--format", "json", "-q"])
        .args(crate::support::IN_PARTS)
        .arg(p)
        .env("FLOWCOST_SHOW_SPILL", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(crate::cli::spill_runs(&stderr(&o)) > 1, "read in parts");
    let split: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        serde_json::to_value(&split.analysis).unwrap(),
        serde_json::to_value(&whole.analysis).unwrap()
    );
    let lines: Vec<u64> = (split.analysis.quality.files[0].malformed_examples.iter())
        .map(|b| b.line)
        .collect();
    assert_eq!(lines, bad.map(|at| at as u64 + 1));
}

/// All files of a text world as one file (the headers repeat; the layout does not change).
pub fn concatenated(w: &crate::support::GenWorld, dest: &std::path::Path) -> String {
    let mut all = Vec::new();
    for f in files_under(&w.dir.path().join("text")) {
        all.extend(std::fs::read(f).unwrap());
    }
    std::fs::write(dest, &all).unwrap();
    String::from_utf8(all).unwrap()
}

#[test]
fn one_large_file_split_across_workers_gives_the_same_answer() {
    let w = world(&spec(31, FieldSet::V5), &[Encoding::Text]);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    let mut text = concatenated(&w, &big);
    // a malformed line at a known place, deep inside
    let lines: Vec<&str> = text.lines().collect();
    let bad_at = lines.len() * 2 / 3;
    let mut with_bad: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    with_bad.insert(bad_at, "eni-x not-an-address".into());
    // and a bad value in a field the run does not read (`packets`): no malformed line,
    // whole or split
    let odd_at = lines.len() / 3;
    let mut odd: Vec<&str> = with_bad[odd_at].split(' ').collect();
    assert!(odd.len() > 9 && odd[8].parse::<u64>().is_ok(), "{odd:?}");
    odd[8] = "many";
    with_bad[odd_at] = odd.join(" ");
    text = with_bad.join("\n") + "\n";
    std::fs::write(&big, &text).unwrap();
    let p = big.to_str().unwrap();
    let whole = analyze_json(&["--chunk-size", "1000000000", p]);
    let split = analyze_json(&["--chunk-size", "8192", "--threads", "2", p]);
    assert_eq!(split.analysis.classes, w.truth.nat);
    assert_eq!(
        serde_json::to_value(&split.analysis).unwrap(),
        serde_json::to_value(&whole.analysis).unwrap()
    );
    assert_eq!(split.analysis.quality.lines.malformed, 1);
    let ex = &split.analysis.quality.files[0].malformed_examples;
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].line,
        bad_at as u64 + 1,
        "line numbers count across chunks"
    );
}

#[test]
fn a_layout_change_inside_a_split_file_is_honoured() {
    // v2 records first, then a v5 header and v5 records: chunks after the change must not be
    // read with the first layout
    let v2 = world(&spec(32, FieldSet::V2), &[Encoding::Text]);
    let v5 = world(&spec(33, FieldSet::V5), &[Encoding::Text]);
    let dir = tempfile::tempdir().unwrap();
    let a = concatenated(&v2, &dir.path().join("a.log"));
    let b = concatenated(&v5, &dir.path().join("b.log"));
    let mixed = dir.path().join("mixed.log");
    std::fs::write(&mixed, a + &b).unwrap();
    let p = mixed.to_str().unwrap();
    let mut args: Vec<&str> = Vec::new();
    for e in &v2.truth.nat_enis {
        args.extend(["--nat-eni", e.as_str()]);
    }
    for e in &v5.truth.nat_enis {
        args.extend(["--nat-eni", e.as_str()]);
    }
    args.extend(["--region", "us-east-1"]);
    let mut whole_args = args.clone();
    whole_args.extend(["--chunk-size", "1000000000", p]);
    let mut split_args = args.clone();
    split_args.extend(["--chunk-size", "8192", "--threads", "2", p]);
    let whole = analyze_json(&whole_args);
    let split = analyze_json(&split_args);
    assert_eq!(split.analysis.quality.lines.malformed, 0);
    assert_eq!(
        serde_json::to_value(&split.analysis).unwrap(),
        serde_json::to_value(&whole.analysis).unwrap()
    );
    let mut want = v2.truth.nat;
    want.add_all(&v5.truth.nat);
    assert_eq!(split.analysis.classes, want);
}

#[test]
fn cloudwatch_export_lines_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("export.txt");
    let mut s = String::new();
    for (t, b) in [
        ("2026-09-01T00:05:00.000Z", 100),
        ("2026-09-01T00:06:00.000Z", 250),
    ] {
        s += &format!("{t} 2 123456789012 eni-nat 10.0.0.10 52.216.8.1 1 443 6 1 {b} 1788220800 1788220860 ACCEPT OK\n");
    }
    std::fs::write(&f, s).unwrap();
    let r = analyze_json(&[
        "--nat-eni",
        "eni-nat",
        "--region",
        "us-east-1",
        f.to_str().unwrap(),
    ]);
    assert_eq!(r.analysis.quality.lines.counted, 2);
    assert_eq!(r.analysis.total, 350);
}

#[test]
fn a_parquet_file_that_makes_the_reader_panic_is_a_failed_input() {
    // found by `fuzz/` (decode_any) from the sample data: a dictionary index beyond its
    // dictionary, on which the parquet crate divides by zero. The fast reader says what is
    // wrong; the Arrow reader's panic is caught. A failed input either way, never a crash.
    let f = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fuzz-parquet-dictionary-div-by-zero.parquet"
    );
    for (reader, says) in [
        ("fast", "a dictionary index beyond its dictionary"),
        ("arrow", "Parquet reader failed"),
    ] {
        let o = bin()
            .args([
                "analyze",
                "--format",
                "json",
                "-q",
                "--client-side-estimate",
            ])
            .args(["--region", "us-east-1", f])
            .env("FLOWCOST_PARQUET_READER", reader)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(7), "{reader}: reported, not a crash");
        let r: flowcost::report::Report = serde_json::from_slice(&o.stdout).unwrap();
        let file = &r.analysis.quality.files[0];
        assert_eq!(file.failure, Some(FailureKind::Corrupt), "{reader}");
        assert!(
            file.error.as_deref().unwrap_or("").contains(says),
            "{reader}: {:?}",
            file.error
        );
    }
}

/// `text` (a header line, then records) without the fields named in `drop`.
fn without_fields(text: &str, drop: &[&str]) -> String {
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split(' ').collect();
    let keep: Vec<bool> = names.iter().map(|n| !drop.contains(n)).collect();
    let row = |l: &str| -> String {
        let tokens = l.split(' ').zip(&keep).filter(|(_, k)| **k);
        tokens.map(|(t, _)| t).collect::<Vec<_>>().join(" ") + "\n"
    };
    std::iter::once(names.join(" "))
        .chain(lines.map(str::to_string))
        .map(|l| row(&l))
        .collect()
}

/// `text` (a header line, then records) with every value of the fields `empty` a `-`.
fn with_fields_emptied(text: &str, empty: &[&str]) -> String {
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let names: Vec<&str> = header.split(' ').collect();
    let mut out = format!("{header}\n");
    for l in lines {
        let tokens = (l.split(' ').zip(&names)).map(|(t, n)| match empty.contains(n) {
            true => "-",
            false => t,
        });
        out += &(tokens.collect::<Vec<_>>().join(" ") + "\n");
    }
    out
}

/// The records of `text` as JSON objects of their fields, one a line, a `-` as `null` and
/// numbers as numbers (as Athena's UNLOAD writes a table as JSON).
fn as_json_lines_with_nulls(text: &str) -> String {
    as_json_objects(text, true)
}

/// The records of `text` as JSON objects of their fields, one a line, a `-` left out and
/// numbers as numbers (as Spark writes a table as JSON).
fn as_json_lines(text: &str) -> String {
    as_json_objects(text, false)
}

/// The records of `text` as JSON objects, a `-` as `null` where `nulls`, else left out.
fn as_json_objects(text: &str, nulls: bool) -> String {
    let mut lines = text.lines();
    let names: Vec<String> = (lines.next().unwrap().split(' '))
        .map(|n| n.replace('-', "_"))
        .collect();
    let mut out = String::new();
    for l in lines {
        let members: serde_json::Map<String, serde_json::Value> = (names.iter().zip(l.split(' ')))
            .filter(|(_, v)| nulls || *v != "-")
            .map(|(k, v)| {
                let v = match (v, v.parse::<u64>()) {
                    ("-", _) => serde_json::Value::Null,
                    (_, Ok(n)) => n.into(),
                    (v, Err(_)) => v.into(),
                };
                (k.clone(), v)
            })
            .collect();
        out += &serde_json::Value::Object(members).to_string();
        out.push('\n');
    }
    out
}

#[test]
fn inputs_whose_format_lacks_a_field_the_figures_need_are_not_read_in_full() {
    // a flow log's custom format may leave out `bytes` or `start` (AWS's own example of a NAT
    // gateway's records has neither): such records were counted, adding zero bytes, undated,
    // and a report of $0.00 (or of no per-30-day figure) came out with exit 0
    let (_w, root, clean, victim) = one_file_to_damage(29, Encoding::Text);
    let root_arg = root.to_str().unwrap();
    let text = std::fs::read_to_string(&victim).unwrap();
    let aside = tempfile::tempdir().unwrap();
    let out_of_world = aside.path().join("victim.log");
    std::fs::rename(&victim, &out_of_world).unwrap();
    let (without_victim, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(0));
    let victim_arg = victim.to_str().unwrap();
    // the fields left out of the layout, or kept with every value missing (`-`, null: an
    // export of a table whose columns the flow log never filled)
    let in_each_encoding = |drop: &[&str]| {
        let lacking = without_fields(&text, drop);
        let emptied = with_fields_emptied(&text, drop);
        let as_parquet = |text: &str| {
            let parquet = aside.path().join("victim.parquet");
            crate::support::text_as_parquet(text, &parquet);
            std::fs::read(&parquet).unwrap()
        };
        [
            ("text", lacking.clone().into_bytes()),
            ("parquet", as_parquet(&lacking)),
            ("json", as_json_lines(&lacking).into_bytes()),
            ("text of `-`", emptied.clone().into_bytes()),
            ("parquet of nulls", as_parquet(&emptied)),
            (
                "json of nulls",
                as_json_lines_with_nulls(&emptied).into_bytes(),
            ),
        ]
    };
    for (drop, total) in [
        // without bytes the input adds nothing; without a start its bytes are in the total,
        // but in no day and no period
        (&["bytes"][..], without_victim.analysis.total),
        (&["start"], clean.analysis.total),
        (
            &["bytes", "start", "packets"],
            without_victim.analysis.total,
        ),
    ] {
        for (encoding, body) in in_each_encoding(drop) {
            std::fs::write(&victim, body).unwrap();
            let (r, code) = analyze_json_code(&[root_arg]);
            let case = format!("{drop:?} as {encoding}");
            assert_eq!(code, Some(7), "{case}");
            assert_eq!(r.analysis.total, total, "{case}");
            let q = &r.analysis.quality;
            assert!(!q.complete, "{case}");
            assert_eq!(q.lines.accounted(), q.lines.lines, "{case}");
            let f = q.files.iter().find(|f| f.path == victim_arg).unwrap();
            assert_eq!(f.failure, Some(FailureKind::LackingFields), "{case}");
            let named: Vec<&str> = drop.iter().filter(|d| **d != "packets").copied().collect();
            assert_eq!(f.lacking(), named, "{case}");
            let why = f.error.as_deref().unwrap();
            let fields = named.join(" or ");
            assert!(why.starts_with("none of its "), "{case}: {why}");
            assert!(
                why.contains(&format!(" records has {fields}, which")),
                "{case}: {why}"
            );
            let i = q.incomplete.as_ref().unwrap();
            assert_eq!(
                (i.inputs, i.by_kind[0].kind),
                (1, FailureKind::LackingFields)
            );
        }
    }
    // said first in a table and on stderr; --strict makes it fatal
    std::fs::write(&victim, without_fields(&text, &["bytes"])).unwrap();
    let o = run(&["analyze", "-q", root_arg]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let out = crate::support::stdout(&o);
    assert!(out.starts_with("INCOMPLETE: 1 of "), "{out}");
    assert!(
        out.contains("records without a field the figures need: 1 input(s), e.g. "),
        "{out}"
    );
    assert!(stderr(&o).contains("(exit 7)"), "{}", stderr(&o));
    // and in the long table, where a program reads it
    let o = run(&["analyze", "-q", "--format", "csv", root_arg]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let csv = crate::support::stdout(&o);
    assert!(csv.contains("\nquality,incomplete,all,inputs,1\n"), "{csv}");
    assert!(
        csv.contains("\nquality,incomplete,lacking-fields,inputs,1\n"),
        "{csv}"
    );
    let o = run(&["analyze", "-q", "--strict", root_arg]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("--strict: {victim_arg}: none of its ")),
        "{}",
        stderr(&o)
    );
    // the whole world without a start, for a month: nothing in the range, and the message
    // says why before any question of NAT gateways (exit 3)
    std::fs::rename(&out_of_world, &victim).unwrap();
    for f in files_under(&root) {
        let t = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, without_fields(&t, &["start"])).unwrap();
    }
    let o = run(&["analyze", "-q", "--month", "2026-09", root_arg]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no record of the inputs holds every field the figures need: "),
        "{err}"
    );
    assert!(
        err.contains("records has start, which the figures need"),
        "{err}"
    );
    // over all time its bytes are counted, in no day; each input with a record is marked,
    // those of NODATA windows only are not
    let (r, code) = analyze_json_code(&[root_arg]);
    assert_eq!(code, Some(7));
    assert_eq!(r.analysis.total, clean.analysis.total);
    assert!(!r.analysis.by_day.is_empty());
    assert!(r.analysis.by_day.iter().all(|d| d.day == "undated"));
    let files = &r.analysis.quality.files;
    let with_records = |f: &&flowcost::account::FileStats| f.counts.counted > 0;
    assert!(files.iter().filter(with_records).count() > files.len() / 2);
    for f in files {
        let marked = f.failure == Some(FailureKind::LackingFields);
        assert_eq!(marked, with_records(&f), "{}: {:?}", f.path, f.counts);
    }
}
