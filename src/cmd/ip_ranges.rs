//! `flowcost ip-ranges update|show`, and the choice of the ip-ranges document `analyze` uses:
//! `--ip-ranges FILE|URL`, else the newest copy in the cache, else the built-in snapshot.
//! The cache is `<user cache dir>/flowcost/ip-ranges/` (`FLOWCOST_CACHE_DIR` overrides the
//! `<user cache dir>/flowcost` part); every update is kept as `ip-ranges-<syncToken>.json`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::classify::IpRanges;
use crate::cli::IpRangesCommand;
use crate::error::Error;

/// Larger downloads are refused (the real file is a few MB).
const MAX_BYTES: u64 = 64 << 20;

/// The cache folder for ip-ranges copies.
pub fn cache_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("FLOWCOST_CACHE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => dirs::cache_dir()?.join("flowcost"),
    };
    Some(base.join("ip-ranges"))
}

/// Cached copies, newest (highest syncToken) first.
pub fn cached() -> Vec<(u64, PathBuf)> {
    let Some(dir) = cache_dir() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let token = name
                .strip_prefix("ip-ranges-")?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((token, e.path()))
        })
        .collect();
    v.sort_by_key(|e| std::cmp::Reverse(e.0));
    v
}

fn download(url: &str) -> Result<Vec<u8>, Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    // a URL that cannot be a URL is a usage error; anything the network did is exit 5
    let fail = |e: ureq::Error| match e {
        ureq::Error::BadUri(_) => Error::Usage(format!("{url}: not a usable URL: {e}")),
        e => Error::Network(format!(
            "downloading {}: {e}",
            crate::report::escape::redact(url)
        )),
    };
    let mut resp = agent.get(url).call().map_err(fail)?;
    resp.body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_vec()
        .map_err(fail)
}

/// Load a file or URL, once a process: a document that several steps look at (each side of
/// a comparison, the settings' checks) is downloaded or read and parsed the first time.
pub fn load(source: &str) -> Result<IpRanges, Error> {
    static LOADED: std::sync::Mutex<Vec<(String, IpRanges)>> = std::sync::Mutex::new(Vec::new());
    let known = |l: &[(String, IpRanges)]| l.iter().find(|(s, _)| s == source).map(|e| e.1.clone());
    if let Some(r) = known(&LOADED.lock().unwrap_or_else(|p| p.into_inner())) {
        return Ok(r);
    }
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        download(source)?
    } else {
        std::fs::read(source).map_err(|e| Error::Usage(format!("--ip-ranges {source}: {e}")))?
    };
    let r = IpRanges::parse(&bytes, source)?;
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    loaded.push((source.to_string(), r.clone()));
    Ok(r)
}

/// The one `--ip-ranges` that logs are classified with, if given: a document given twice (by
/// one name or two, compared by content) is one, two documents are refused (several serve
/// partial results made with different ones).
pub fn one_for_logs(flags: &[String]) -> Result<Option<&str>, Error> {
    match flags {
        [] => Ok(None),
        [first, rest @ ..] => match rest.iter().find(|f| *f != first) {
            None => Ok(Some(first)),
            Some(_) if same_documents(flags)? => Ok(Some(first)),
            Some(other) => Err(Error::Usage(format!(
                "--ip-ranges {first} and --ip-ranges {other}: logs are classified with one ip-ranges document (several are read only where partial results made with different ones are given to report, compare or merge)"
            ))),
        },
    }
}

/// Whether the documents `flags` name are one (by SHA-256).
fn same_documents(flags: &[String]) -> Result<bool, Error> {
    let mut digests = Vec::new();
    for f in flags {
        digests.push(load(f)?.digest);
    }
    Ok(digests.windows(2).all(|w| w[0] == w[1]))
}

/// The document `analyze` uses.
pub fn in_use(flag: Option<&str>) -> Result<IpRanges, Error> {
    if let Some(s) = flag {
        return load(s);
    }
    for (_, path) in cached() {
        if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(r) = IpRanges::parse(&bytes, &path.display().to_string()) {
                return Ok(r);
            }
        }
        eprintln!(
            "flowcost: ignoring the unreadable cached copy {}",
            path.display()
        );
    }
    Ok(IpRanges::embedded())
}

fn token(r: &IpRanges) -> u64 {
    r.sync_token.parse().unwrap_or(0)
}

/// Run `flowcost ip-ranges ...`.
pub fn run(c: &IpRangesCommand) -> Result<(), Error> {
    match c {
        IpRangesCommand::Update { url } => update(url),
        IpRangesCommand::Show { ip_ranges } => {
            print!("{}", describe(&in_use(ip_ranges.as_deref())?, &cached()));
            Ok(())
        }
    }
}

/// `ip-ranges update`: download the document and keep it in the cache when it is newer than
/// the one in use (by syncToken), written under a temporary name and renamed.
fn update(url: &str) -> Result<(), Error> {
    let bytes = download(url)?;
    let fresh = IpRanges::parse(&bytes, url)?;
    let current = in_use(None)?;
    if token(&fresh) <= token(&current) {
        println!(
            "already up to date: {} has syncToken {} ({}); in use: {} ({})",
            url, fresh.sync_token, fresh.create_date, current.sync_token, current.source
        );
        return Ok(());
    }
    let dir = cache_dir().ok_or_else(|| {
        Error::Usage("no cache folder on this system: set FLOWCOST_CACHE_DIR".into())
    })?;
    let io = |e| Error::Io {
        context: format!("writing into {}", dir.display()),
        err: e,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let path = dir.join(format!("ip-ranges-{}.json", fresh.sync_token));
    // (a temporary file of its own: jobs that update one shared cache at once each rename a
    // whole copy)
    let mut tmp = crate::output::temp_in(&dir).map_err(io)?;
    tmp.write_all(&bytes).map_err(io)?;
    tmp.persist(&path).map_err(|e| io(e.error))?;
    println!(
        "updated: syncToken {} ({}) -> {} ({}), saved as {}",
        current.sync_token,
        current.create_date,
        fresh.sync_token,
        fresh.create_date,
        path.display()
    );
    Ok(())
}

/// `ip-ranges show`: the document in use (its source, version, prefixes, S3 regions and
/// prefixes by service) and the cached copies (syncToken and path).
fn describe(r: &IpRanges, copies: &[(u64, PathBuf)]) -> String {
    let mut out = format!(
        "source:      {}\nsyncToken:   {}\ncreateDate:  {}\nprefixes:    {} IPv4, {} IPv6\nS3 regions:  {} ({})\n",
        r.source,
        r.sync_token,
        r.create_date,
        r.prefix_counts.0,
        r.prefix_counts.1,
        r.s3_regions.len(),
        r.s3_regions.join(" ")
    );
    out.push_str("\nservice                              IPv4    IPv6\n");
    for (s, a, b) in &r.service_counts {
        out.push_str(&format!("{s:<32} {a:>8} {b:>7}\n"));
    }
    if !copies.is_empty() {
        let dir = cache_dir().map(|d| d.display().to_string());
        out.push_str(&format!("\ncached copies ({}):\n", dir.unwrap_or_default()));
        for (t, p) in copies {
            out.push_str(&format!("  {t}  {}\n", p.display()));
        }
    }
    out
}
