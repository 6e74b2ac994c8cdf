//! The S3 part of the source stage, and the only code that knows tokio: lists flow-log objects
//! (pruned to the days asked for, in AWS's default and Hive key layouts), then downloads them
//! with a bounded number of concurrent GETs. An object of AWS's usual size (up to
//! [`super::WHOLE_GZIP_MAX`]) is gathered whole on the network side and handed to the
//! (synchronous) decoders only once complete, in completion order, so a decoding thread never
//! waits on the network mid-object; a larger one reaches them as an ordinary `Read` fed by a
//! small bounded channel. Of a Parquet object (by its key) only the ranges its decoder reads
//! are fetched, given a [`Plan`]: the footer, then the column chunks of the fields read;
//! before it is handed over up to that size, by its decoder above ([`Ranged`]). Objects in
//! flight and waiting are bounded in number and in bytes. A body cut mid-stream resumes with
//! a Range GET from the offset reached.

use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::RequestPayer;
use aws_sdk_s3::Client;
use bytes::Bytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::pread::MemParquet;
use super::{Failure, FailureKind, Input, Location};

/// An `s3://bucket/prefix` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// Parse `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Option<S3Url> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// How to reach S3.
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub path_style: bool,
    pub request_payer: bool,
    /// Concurrent GETs.
    pub concurrency: usize,
    /// Region for the client when the AWS configuration names none.
    pub fallback_region: Option<String>,
    /// Longest wait for a connection to be made (`--connect-timeout`).
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response, headers or body (`--read-timeout`).
    pub read_timeout: Duration,
}

/// Consecutive downloads that found the endpoint unreachable or timed out after which the
/// rest are not requested (each is reported as not read, in one summary).
pub const BREAKER_TRIP: u64 = 16;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

impl ListFilter {
    /// Whether the folder `name` (a prefix ending in `/`) at `level` below `AWSLogs/` is
    /// walked: an account asked for (0), `vpcflowlogs` (1), a region asked for (2); the Hive
    /// form's `aws-account-id=…` names are read by their value.
    fn keeps(&self, level: usize, name: &str) -> bool {
        let n = name.trim_end_matches('/');
        let n = n.rsplit('/').next().unwrap_or(n);
        let v = n.split_once('=').map_or(n, |x| x.1);
        match level {
            0 => self.accounts.is_empty() || self.accounts.iter().any(|a| a == v),
            1 => v == "vpcflowlogs",
            2 => self.regions.is_empty() || self.regions.iter().any(|r| r == v),
            _ => true,
        }
    }
}

/// The day folders under a region's prefix from the day before `[since, until)` to the day
/// after it, in the region's layout: `YYYY/MM/DD/` or the Hive form's
/// `year=YYYY/month=MM/day=DD/`.
fn day_prefixes(region: &str, since: i64, until: i64) -> Vec<String> {
    let hive = region.contains("aws-region=");
    let first = (since - 86_400).div_euclid(86_400);
    let last = (until - 1 + 86_400).div_euclid(86_400);
    (first..=last)
        .map(|day| {
            let (y, m, d) = crate::time::civil_from_days(day);
            match hive {
                true => format!("{region}year={y:04}/month={m:02}/day={d:02}/"),
                false => format!("{region}{y:04}/{m:02}/{d:02}/"),
            }
        })
        .collect()
}

/// Why S3 could not be read.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("access denied {action} s3://{bucket}/{prefix}: the credentials need {permission} on {resource}")]
    AccessDenied {
        action: &'static str,
        bucket: String,
        prefix: String,
        permission: &'static str,
        resource: String,
    },
    #[error("bucket `{0}` does not exist")]
    NoSuchBucket(String),
    #[error("no AWS credentials found: use --profile NAME, set AWS_PROFILE, run `aws sso login`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY{}", verbose_detail(.0))]
    NoCredentials(String),
    #[error("the AWS credentials have expired: renew them (`aws sso login`, or a new session token) and run again{}", verbose_detail(.0))]
    ExpiredToken(String),
    #[error("the AWS credentials were refused ({code}): check the access key and secret, or the profile{}", verbose_detail(.detail))]
    BadCredentials { code: String, detail: String },
    #[error("bucket `{bucket}` is in another region{}: pass --region {}", .region.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(), .region.as_deref().unwrap_or("<its region>"))]
    WrongRegion {
        bucket: String,
        region: Option<String>,
    },
    #[error("cannot reach the S3 endpoint{}: {why} (check the network, --endpoint-url, or the timeouts){}", .endpoint.as_deref().map(|e| format!(" {e}")).unwrap_or_default(), verbose_detail(.detail))]
    Unreachable {
        endpoint: Option<String>,
        why: String,
        detail: String,
    },
    #[error("S3 {action} s3://{bucket}/{prefix} failed: {message}")]
    Other {
        action: &'static str,
        bucket: String,
        prefix: String,
        message: String,
    },
    #[error("cannot start the S3 client: {0}")]
    Setup(String),
}

/// Counters of the S3 side, for the report and the progress bar.
#[derive(Debug, Default)]
pub struct S3Stats {
    pub list_requests: AtomicU64,
    pub get_requests: AtomicU64,
    pub resumed: AtomicU64,
    pub bytes_downloaded: AtomicU64,
}

/// What one listing found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    pub bucket: String,
    /// The prefixes listed in full (after walking the key layout and pruning by date).
    pub prefixes: Vec<String>,
    pub objects: u64,
    pub bytes: u64,
    /// Objects under those prefixes left out because their key's timestamp is outside the
    /// time range (with margins).
    pub skipped_by_key_time: u64,
    /// Objects under those prefixes left out because they are archives flowcost does not
    /// read (`.zip`, `.tar`, …: see [`super::is_archive_name`]); a note names them, the
    /// report's JSON does not carry them.
    #[serde(skip)]
    pub archives: Vec<String>,
}

/// Objects whose key timestamp (the end of the delivery window) is this long before `since`
/// may still hold records in range (a record can start up to an aggregation interval before
/// the window).
pub const KEY_TIME_BEFORE: i64 = 15 * 60;
/// ... and this long after `until` (delivery can lag).
pub const KEY_TIME_AFTER: i64 = 2 * 3600;

/// The S3 client with its own tokio runtime (used for the network only).
pub struct S3Source {
    rt: tokio::runtime::Runtime,
    client: Client,
    opts: S3Options,
    pub stats: Arc<S3Stats>,
    fatal: Arc<Mutex<Option<S3Error>>>,
}

fn err_text<E: std::error::Error + 'static>(e: &aws_sdk_s3::error::SdkError<E>) -> String {
    use aws_sdk_s3::error::DisplayErrorContext;
    format!("{}", DisplayErrorContext(e))
}

/// Whether an AWS profile is defined in the shared config or credentials file
/// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
/// `~/.aws/credentials`): `[profile NAME]` or `[NAME]`.
pub fn profile_exists(name: &str) -> bool {
    let home = dirs::home_dir().unwrap_or_default();
    let files = [
        std::env::var_os("AWS_CONFIG_FILE").map_or(home.join(".aws/config"), Into::into),
        std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map_or(home.join(".aws/credentials"), Into::into),
    ];
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|text| {
            text.lines().any(|l| {
                let l = l.trim();
                let Some(inner) = l.strip_prefix('[').and_then(|x| x.strip_suffix(']')) else {
                    return false;
                };
                let inner = inner.trim();
                inner == name || inner.strip_prefix("profile").map(str::trim) == Some(name)
            })
        })
    })
}

/// Whether `-v`/`--verbose` asked for the SDK's own error text after the plain sentence.
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Show the SDK's error detail in messages (`--verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

fn verbose_detail(detail: &str) -> String {
    if VERBOSE.load(Ordering::Relaxed) && !detail.is_empty() {
        format!("\n  SDK detail: {detail}")
    } else {
        String::new()
    }
}

/// The innermost cause of an error, which says it plainly.
fn short(e: &dyn std::error::Error) -> String {
    let mut root = e;
    while let Some(next) = root.source() {
        root = next;
    }
    root.to_string()
}

/// The plain reason of a failed request, by what the SDK says went wrong: missing, expired
/// or refused credentials, a bucket in another region, an endpoint that cannot be reached.
/// `None` when it is none of these.
fn plain_failure<E>(
    e: &aws_sdk_s3::error::SdkError<E>,
    bucket: &str,
    endpoint: Option<&str>,
) -> Option<S3Error>
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let detail = err_text(e);
    let code = e.code().unwrap_or("");
    if detail.contains("CredentialsNotLoaded")
        || detail.contains("no credentials")
        || detail.contains("failed to load credentials")
        || detail.contains("the credential provider was not enabled")
    {
        return Some(S3Error::NoCredentials(detail));
    }
    let wrong_region = || S3Error::WrongRegion {
        bucket: bucket.to_string(),
        region: e
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(String::from),
    };
    match code {
        "ExpiredToken" | "TokenRefreshRequired" | "RequestExpired" => {
            return Some(S3Error::ExpiredToken(detail))
        }
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" => {
            return Some(S3Error::BadCredentials {
                code: code.to_string(),
                detail,
            })
        }
        "PermanentRedirect"
        | "AuthorizationHeaderMalformed"
        | "IllegalLocationConstraintException" => return Some(wrong_region()),
        _ => {}
    }
    if status_of(e) == Some(301) {
        return Some(wrong_region());
    }
    let why = match e {
        SdkError::TimeoutError(_) => "no answer in time",
        SdkError::DispatchFailure(d) if d.is_timeout() => "no answer in time",
        SdkError::DispatchFailure(d) if d.is_io() => "the connection failed",
        _ => return None,
    };
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    Some(S3Error::Unreachable {
        endpoint: endpoint.map(|u| crate::report::escape::redact(u).into_owned()),
        why: format!("{why} ({root})"),
        detail,
    })
}

fn status_of<E>(e: &aws_sdk_s3::error::SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Source {
    /// Build the client from the standard AWS chain (environment, profiles, SSO, instance and
    /// task roles), with `AWS_ENDPOINT_URL` or `--endpoint-url` for S3-compatible stores.
    pub fn new(opts: S3Options) -> Result<S3Source, S3Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("flowcost-s3")
            .build()
            .map_err(|e| S3Error::Setup(e.to_string()))?;
        let client = rt.block_on(async {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(p) = &opts.profile {
                loader = loader.profile_name(p);
            }
            if let Some(u) = &opts.endpoint_url {
                loader = loader.endpoint_url(u);
            }
            let shared = loader.load().await;
            // Standard retries (6 attempts, exponential backoff); every attempt bounded, so a
            // server that accepts connections and never answers fails like one that is down.
            let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(opts.connect_timeout)
                .read_timeout(opts.read_timeout)
                .operation_attempt_timeout(opts.connect_timeout + 2 * opts.read_timeout)
                .build();
            let mut b = aws_sdk_s3::config::Builder::from(&shared)
                .retry_config(
                    aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(6),
                )
                .timeout_config(timeouts);
            if shared.region().is_none() {
                let r = opts
                    .fallback_region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".to_string());
                b = b.region(aws_sdk_s3::config::Region::new(r));
            }
            if opts.path_style {
                b = b.force_path_style(true);
            }
            Client::from_conf(b.build())
        });
        Ok(S3Source {
            rt,
            client,
            opts,
            stats: Arc::default(),
            fatal: Arc::default(),
        })
    }

    /// What a download needs: the client and the run's settings for it.
    fn get(&self) -> Get {
        Get {
            client: self.client.clone(),
            payer: self.opts.request_payer,
            read_timeout: self.opts.read_timeout,
        }
    }

    /// Downloads of single objects again ([`Again`]).
    pub fn again(&self) -> Again {
        Again {
            get: self.get(),
            stats: self.stats.clone(),
            fatal: self.fatal.clone(),
            rt: self.rt.handle().clone(),
        }
    }

    /// A permission error met while downloading, which stops the run.
    pub fn take_fatal(&self) -> Option<S3Error> {
        self.fatal.lock().ok().and_then(|mut f| f.take())
    }

    async fn list_level(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
    ) -> Result<(Vec<String>, Vec<(String, i64, Option<String>)>), S3Error> {
        let mut dirs = Vec::new();
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        // the tokens handed out so far: one handed out again is a listing that would never end
        let mut tokens = std::collections::HashSet::new();
        loop {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.clone());
            if delimiter {
                req = req.delimiter("/");
            }
            if self.opts.request_payer {
                req = req.request_payer(RequestPayer::Requester);
            }
            self.stats.list_requests.fetch_add(1, Ordering::Relaxed);
            let out = (req.send().await).map_err(|e| self.listing_error(&e, bucket, prefix))?;
            for cp in out.common_prefixes() {
                if let Some(p) = cp.prefix() {
                    dirs.push(p.to_string());
                }
            }
            for o in out.contents() {
                if let Some(k) = o.key() {
                    objects.push((
                        k.to_string(),
                        o.size().unwrap_or(0),
                        o.e_tag().map(String::from),
                    ));
                }
            }
            let broken = |message: String| S3Error::Other {
                action: "ListObjectsV2",
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                message: format!("{message} (a fault of the server or of a proxy in front of it)"),
            };
            let page = tokens.len() + 1;
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => {
                    if !tokens.insert(t.to_string()) {
                        return Err(broken(format!("the listing did not advance: after {page} pages the server handed back a continuation token it had given before, so the listing would never end")));
                    }
                    token = Some(t.to_string())
                }
                None if out.is_truncated() == Some(true) => {
                    return Err(broken(format!("the listing is cut short: page {page} says more keys follow, but gives no continuation token to ask for them, so they cannot be listed")));
                }
                _ => break,
            }
        }
        Ok((dirs, objects))
    }

    /// Why listing `prefix` failed: no such bucket, access denied, a plain failure of the
    /// endpoint or the network, or S3's own code and message.
    fn listing_error(
        &self,
        e: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error>,
        bucket: &str,
        prefix: &str,
    ) -> S3Error {
        let code = e.code();
        if code == Some("NoSuchBucket") {
            return S3Error::NoSuchBucket(bucket.to_string());
        }
        if code == Some("AccessDenied") || status_of(e) == Some(403) {
            return S3Error::AccessDenied {
                action: "listing",
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                permission: "s3:ListBucket",
                resource: format!("arn:aws:s3:::{bucket}"),
            };
        }
        if let Some(plain) = plain_failure(e, bucket, self.opts.endpoint_url.as_deref()) {
            return plain;
        }
        S3Error::Other {
            action: "ListObjectsV2",
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            message: match code {
                Some(c) => format!(
                    "{c}: {}{}",
                    e.message().unwrap_or(""),
                    verbose_detail(&err_text(e))
                ),
                None => format!("{}{}", short(e), verbose_detail(&err_text(e))),
            },
        }
    }

    /// The prefixes to list in full: walk `AWSLogs/<account>/vpcflowlogs/<region>/` (or the
    /// Hive form) keeping the accounts and regions asked for, then, with a time range, only
    /// the day folders from the day before it to the day after.
    async fn plan(&self, url: &S3Url, f: &ListFilter) -> Result<Vec<String>, S3Error> {
        let b = &url.bucket;
        let p = url.prefix.as_str();
        let (mut level, base, rest): (usize, String, Vec<&str>) = match p.find("AWSLogs/") {
            Some(i) => {
                let rest: Vec<&str> = p[i + 8..].split('/').filter(|s| !s.is_empty()).collect();
                (0, p[..i + 8].to_string(), rest)
            }
            None => {
                let probe = if p.is_empty() || p.ends_with('/') {
                    p.to_string()
                } else {
                    return Ok(vec![p.to_string()]);
                };
                let (dirs, _) = self.list_level(b, &probe, true).await?;
                let aws = format!("{probe}AWSLogs/");
                if !dirs.contains(&aws) {
                    return Ok(vec![probe]);
                }
                (0, aws, Vec::new())
            }
        };
        // a prefix that already reaches below the region level is listed as given
        if rest.len() > 3 || (rest.len() == 3 && !p.ends_with('/')) {
            return Ok(vec![p.to_string()]);
        }
        let mut current = vec![base.clone()];
        for (i, part) in rest.iter().enumerate() {
            current = vec![format!("{}{part}/", current[0])];
            level = i + 1;
        }
        while level < 3 {
            let mut next = Vec::new();
            for c in &current {
                let (dirs, _) = self.list_level(b, c, true).await?;
                next.extend(dirs.into_iter().filter(|d| f.keeps(level, d)));
            }
            next.sort();
            current = next;
            level += 1;
        }
        let (Some(since), Some(until)) = (f.since, f.until) else {
            return Ok(current);
        };
        Ok((current.iter())
            .flat_map(|region| day_prefixes(region, since, until))
            .collect())
    }

    /// List the flow-log objects under an `s3://` argument.
    pub fn list(&self, url: &S3Url, f: &ListFilter) -> Result<(Vec<Input>, Listing), S3Error> {
        self.list_with(url, f, &|_| {})
    }

    /// [`S3Source::list`], telling `progress` the objects found so far after each prefix.
    pub fn list_with(
        &self,
        url: &S3Url,
        f: &ListFilter,
        progress: &dyn Fn(u64),
    ) -> Result<(Vec<Input>, Listing), S3Error> {
        self.rt.block_on(async {
            let prefixes = self.plan(url, f).await?;
            let mut listing = Listing {
                bucket: url.bucket.clone(),
                prefixes: prefixes.clone(),
                ..Default::default()
            };
            let mut inputs = Vec::new();
            for p in &prefixes {
                let (_, objects) = self.list_level(&url.bucket, p, false).await?;
                for (key, size, etag) in objects {
                    if key.ends_with('/') {
                        continue;
                    }
                    let name = std::path::Path::new(&key);
                    if !super::is_flow_log_name(name) {
                        if super::is_archive_name(name) {
                            listing.archives.push(format!("s3://{}/{key}", url.bucket));
                        }
                        continue;
                    }
                    if !key_in_period(&key, f.since, f.until) {
                        listing.skipped_by_key_time += 1;
                        continue;
                    }
                    listing.objects += 1;
                    listing.bytes += size.max(0) as u64;
                    inputs.push(Input {
                        display: format!("s3://{}/{key}", url.bucket),
                        location: Location::S3 {
                            bucket: url.bucket.clone(),
                            key,
                        },
                        size: size.max(0) as u64,
                        etag,
                    });
                }
                progress(inputs.len() as u64);
            }
            Ok((inputs, listing))
        })
    }

    /// Start downloading `objects`: at most `concurrency` at once, counting those received and
    /// not yet decoded, and at most [`WHOLE_BUDGET`] bytes of whole objects. Each arrives as
    /// its input and its body: whole objects when complete, large ones as soon as they start.
    /// Where a `plan` is given, a Parquet object (by its key) is fetched by the ranges it
    /// names from the object's footer: one up to [`super::WHOLE_GZIP_MAX`] before it is
    /// handed over, a larger one by its decoder ([`Ranged`]).
    pub fn fetch(&self, objects: Vec<Input>, plan: Option<Plan>) -> Fetched {
        let slots = self.opts.concurrency.max(1);
        let (tx, rx) = mpsc::channel::<(Input, Body)>(slots);
        let job = Job {
            again: self.again(),
            tx,
            health: Arc::new(Health::default()),
        };
        let count = Arc::new(Semaphore::new(slots));
        let budget = Arc::new(Semaphore::new(WHOLE_BUDGET));
        self.rt.spawn(async move {
            for input in objects {
                if job.again.fatal.lock().map(|f| f.is_some()).unwrap_or(true) {
                    break;
                }
                let Ok(slot) = count.clone().acquire_owned().await else {
                    break;
                };
                if let Some(f) = job.health.tripped() {
                    // the endpoint is gone: the rest are reported as not read, not requested
                    drop(slot);
                    if job.tx.send((input, Body::Skipped(f))).await.is_err() {
                        break;
                    }
                    continue;
                }
                let plan = plan.clone().filter(|_| is_parquet_key(&input));
                if let (Some(plan), true) = (&plan, input.size > super::WHOLE_GZIP_MAX) {
                    let ranged = Ranged {
                        again: job.again.clone(),
                        input: input.clone(),
                        health: job.health.clone(),
                        plan: plan.clone(),
                        _slot: slot,
                    };
                    if job.tx.send((input, Body::Ranged(ranged))).await.is_err() {
                        break;
                    }
                } else if input.size <= super::WHOLE_GZIP_MAX {
                    let want = (input.size as usize).clamp(1, WHOLE_BUDGET) as u32;
                    let Ok(bytes) = budget.clone().acquire_many_owned(want).await else {
                        break;
                    };
                    let permits = (slot, bytes);
                    match plan.filter(|_| input.size > RANGED_FROM) {
                        Some(plan) => tokio::spawn(job.clone().parts(input, permits, plan)),
                        None => tokio::spawn(job.clone().whole(input, permits)),
                    };
                } else {
                    let (btx, brx) = mpsc::channel::<Result<Bytes, Failure>>(8);
                    let reader = Body::Stream(ObjectReader::new(brx));
                    if job.tx.send((input.clone(), reader)).await.is_err() {
                        break;
                    }
                    tokio::spawn(job.clone().streamed(input, btx, slot));
                }
            }
        });
        Fetched { rx }
    }
}

/// What each download of [`S3Source::fetch`] shares: the request, the counters and the
/// run's fatal error (`again`), where the bodies go and the endpoint's health.
#[derive(Clone)]
struct Job {
    again: Again,
    tx: mpsc::Sender<(Input, Body)>,
    health: Arc<Health>,
}

impl Job {
    /// Download an object whole, then hand it over with what arrived and why it stopped
    /// short, if it did; it holds its slot and its share of the byte budget (`permits`) until
    /// it is dropped.
    async fn whole(self, input: Input, permits: (OwnedSemaphorePermit, OwnedSemaphorePermit)) {
        let mut out = Delivery::Gather(Vec::with_capacity(input.size as usize));
        let a = &self.again;
        let r = (a.get).download(&input, &a.stats, &a.fatal, &mut out).await;
        self.health.observe(&r);
        let Delivery::Gather(body) = out else { return };
        let whole = Whole {
            bytes: body.into(),
            failure: r.err(),
            held: None,
            _permits: permits,
        };
        let _ = self.tx.send((input, Body::Whole(whole))).await;
    }

    /// Download a Parquet object (up to [`super::WHOLE_GZIP_MAX`]) by the ranges its decoder
    /// reads: its footer, then the column chunks `plan` names from it, into a buffer of the
    /// object's size (zeros elsewhere), handed over with the ranges it holds. One that does
    /// not start and end as Parquet, or whose footer the plan cannot read, is downloaded
    /// whole; one whose ranges fail is handed over as that failure.
    async fn parts(
        self,
        input: Input,
        permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
        plan: Plan,
    ) {
        let (bytes, failure, held) = match self.fetch_parts(&input, &plan).await {
            Ok(None) => return self.whole(input, permits).await,
            Ok(Some((body, held))) => (body.into(), None, Some(held)),
            Err(f) => (Bytes::new(), Some(f), None),
        };
        let whole = Whole {
            bytes,
            failure,
            held,
            _permits: permits,
        };
        let _ = self.tx.send((input, Body::Whole(whole))).await;
    }

    /// The buffer and the ranges held of [`Job::parts`]; `None` where the object is to be
    /// downloaded whole.
    async fn fetch_parts(
        &self,
        input: &Input,
        plan: &Plan,
    ) -> Result<Option<(Vec<u8>, Vec<Range<u64>>)>, Failure> {
        let Some(footer) = footer(&self.again, input, &self.health).await? else {
            return Ok(None);
        };
        let Some(wanted) = plan(input, &footer) else {
            return Ok(None);
        };
        let mut body = vec![0u8; input.size as usize];
        let base = footer.base() as usize;
        body[base..].copy_from_slice(footer.bytes());
        let ranges = super::to_fetch(wanted, footer.base());
        let put = |at: u64, b: &[u8]| {
            let at = at as usize;
            let room = body
                .get_mut(at..at + b.len())
                .ok_or_else(|| past_the_end(at))?;
            room.copy_from_slice(b);
            Ok(())
        };
        fetch_ranges(&self.again, input, &self.health, &ranges, put).await?;
        if !body.starts_with(b"PAR1") {
            return Ok(None);
        }
        let mut held = ranges;
        held.push(footer.base()..input.size);
        Ok(Some((body, held)))
    }

    /// Download a large object into the reader already handed over (`btx` feeds it), its
    /// error last; the slot is free once the download ends.
    async fn streamed(
        self,
        input: Input,
        btx: mpsc::Sender<Result<Bytes, Failure>>,
        slot: OwnedSemaphorePermit,
    ) {
        let mut out = Delivery::Stream(btx);
        let a = &self.again;
        let r = (a.get).download(&input, &a.stats, &a.fatal, &mut out).await;
        self.health.observe(&r);
        if let (Err(e), Delivery::Stream(btx)) = (r, out) {
            let _ = btx.send(Err(e)).await;
        }
        drop(slot);
    }
}

/// Whether the endpoint still answers: consecutive downloads that found it unreachable or
/// timed out, and the last such failure.
#[derive(Default)]
struct Health {
    failing: AtomicU64,
    done: AtomicU64,
    last: Mutex<Option<Failure>>,
}

impl Health {
    fn observe(&self, r: &Result<(), Failure>) {
        self.done.fetch_add(1, Ordering::Relaxed);
        match r {
            Err(f) if matches!(f.kind, FailureKind::Unreachable | FailureKind::Timeout) => {
                self.failing.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut l) = self.last.lock() {
                    *l = Some(f.clone());
                }
            }
            _ => self.failing.store(0, Ordering::Relaxed),
        }
    }

    /// The failure to report for objects not requested, once [`BREAKER_TRIP`] downloads in a
    /// row failed.
    fn tripped(&self) -> Option<Failure> {
        let n = self.failing.load(Ordering::Relaxed);
        if n < BREAKER_TRIP {
            return None;
        }
        let last = self.last.lock().ok()?.clone()?;
        Some(Failure::new(
            last.kind,
            format!(
                "not requested: {n} downloads in a row failed ({}) after {} finished; last error: {}",
                last.kind.describe(),
                self.done.load(Ordering::Relaxed),
                last.message
            ),
        ))
    }
}

/// Bytes of whole objects downloading or waiting to be decoded, at most: enough to cover the
/// decoders' appetite over many round trips (two threads here take in 75–90 MB/s of gzip, measured), and
/// at least one object of the largest size gathered whole.
pub const WHOLE_BUDGET: usize = 24 << 20;

/// A downloaded object's body as the decoders receive it.
pub enum Body {
    /// The whole object (up to [`super::WHOLE_GZIP_MAX`]), received before the hand-over.
    Whole(Whole),
    /// A larger object, read as its chunks arrive.
    Stream(ObjectReader),
    /// A larger Parquet object (by its key), fetched by the ranges its decoder reads.
    Ranged(Ranged),
    /// Not requested: the endpoint had stopped answering ([`BREAKER_TRIP`]).
    Skipped(Failure),
}

/// Whether `input`'s key names a Parquet file (`….parquet`, as AWS names its Parquet
/// deliveries): such an object over [`RANGED_FROM`] is fetched by ranges where the fetch has
/// a [`Plan`]. An object that turns out not to be Parquet is then downloaded whole.
fn is_parquet_key(input: &Input) -> bool {
    match &input.location {
        Location::S3 { key, .. } => {
            let tail = key.len().saturating_sub(8);
            key.get(tail..)
                .is_some_and(|t| t.eq_ignore_ascii_case(".parquet"))
        }
        _ => false,
    }
}

/// Ranges of one object fetched at once.
const RANGES_AT_ONCE: usize = 4;

/// The smallest Parquet object fetched by ranges: below it, the stretches of columns not
/// read are too short to be worth a GET of their own (ranges less than
/// [`super::RANGE_GAP`] apart are fetched as one), and one GET of the whole object is cheaper
/// than the footer's and the rest's. (AWS's deliveries of 200 KB each, 863 of them, took
/// 1,718 GETs for the same bytes when the floor was the footer's 64 KiB.)
pub const RANGED_FROM: u64 = 4 << 20;

/// The last bytes of a Parquet object fetched first: its footer, most often whole.
pub const FOOTER_FIRST: u64 = 64 << 10;

/// The longest footer fetched apart: an object claiming a longer one is read whole.
const MAX_FOOTER: u64 = 64 << 20;

/// What of a Parquet object its decoder reads besides the footer: given the object and its
/// footer (the object's last bytes, [`MemParquet`]), the ranges of its column chunks read;
/// `None` where the footer cannot be read (the object is then read whole).
pub type Plan = Arc<dyn Fn(&Input, &MemParquet) -> Option<Vec<Range<u64>>> + Send + Sync>;

/// The footer of a Parquet object (its listed version): its last bytes from where its last
/// eight say the footer starts, or from [`FOOTER_FIRST`] before its end where that is
/// earlier, as a file holding only them; `None` where the object does not end as Parquet
/// does (or claims a footer over [`MAX_FOOTER`]).
async fn footer(
    again: &Again,
    input: &Input,
    health: &Health,
) -> Result<Option<MemParquet>, Failure> {
    let size = input.size;
    let tail = size.saturating_sub(FOOTER_FIRST)..size;
    let mut bytes = gather(again, input, health, tail.clone()).await?;
    let n = bytes.len();
    if size < 12 || n < 8 || bytes[n - 4..] != *b"PAR1" {
        return Ok(None);
    }
    let len = u64::from(u32::from_le_bytes([
        bytes[n - 8],
        bytes[n - 7],
        bytes[n - 6],
        bytes[n - 5],
    ]));
    let Some(at) = size.checked_sub(len + 8).filter(|_| len <= MAX_FOOTER) else {
        return Ok(None);
    };
    if at < tail.start {
        let mut before = gather(again, input, health, at..tail.start).await?;
        before.extend_from_slice(&bytes);
        bytes = before;
    }
    let base = at.min(tail.start);
    Ok(Some(MemParquet::sparse(
        bytes.into(),
        base,
        size,
        std::iter::once(base..size),
    )))
}

/// The bytes `span` of an object (its listed version), in order.
async fn gather(
    again: &Again,
    input: &Input,
    health: &Health,
    span: Range<u64>,
) -> Result<Vec<u8>, Failure> {
    let mut out = Delivery::Gather(Vec::with_capacity((span.end - span.start) as usize));
    let r = (again.get)
        .download_from(input, &again.stats, &again.fatal, &mut out, span, true)
        .await;
    health.observe(&r);
    r?;
    let Delivery::Gather(bytes) = out else {
        unreachable!("gathered")
    };
    Ok(bytes)
}

/// Fetch `ranges` of an object (each inside it; its listed version), up to
/// [`RANGES_AT_ONCE`] at a time, each resumed where it is cut as a whole download is; every
/// piece goes to `put` with its offset as it arrives, in no fixed order among the ranges.
/// The first range that fails, or the first error of `put`, ends the fetch with that error.
async fn fetch_ranges(
    again: &Again,
    input: &Input,
    health: &Arc<Health>,
    ranges: &[Range<u64>],
    mut put: impl FnMut(u64, &[u8]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (tx, mut rx) = mpsc::channel::<Result<(u64, Bytes), Failure>>(16);
    let (a, input, health) = (again.clone(), input.clone(), health.clone());
    let ranges = ranges.to_vec();
    // (the GETs are started apart, so that the pieces are taken as they come)
    let task = again.rt.spawn(async move {
        let at_once = Arc::new(Semaphore::new(RANGES_AT_ONCE));
        let mut set = tokio::task::JoinSet::new();
        for span in ranges {
            let Ok(permit) = at_once.clone().acquire_owned().await else {
                break;
            };
            let (a, i, tx) = (a.clone(), input.clone(), tx.clone());
            set.spawn(async move {
                let mut out = Delivery::At(tx.clone());
                let r = (a.get)
                    .download_from(&i, &a.stats, &a.fatal, &mut out, span, true)
                    .await;
                drop(permit);
                if let Err(e) = &r {
                    let _ = tx.send(Err(e.clone())).await;
                }
                r
            });
        }
        drop(tx);
        while let Some(r) = set.join_next().await {
            if let Ok(r) = r {
                health.observe(&r);
            }
        }
    });
    let ended = loop {
        match rx.recv().await {
            Some(Ok((at, b))) => {
                if let Err(e) = put(at, &b) {
                    break Err(e);
                }
            }
            Some(Err(f)) => break Err(f),
            None => break Ok(()),
        }
    };
    task.abort();
    ended
}

/// The failure of a piece that would land past the end of its object's buffer.
fn past_the_end(at: usize) -> Failure {
    Failure::new(
        FailureKind::Io,
        format!("a ranged GET sent bytes past the object's listed size (at byte {at})"),
    )
}

/// A large Parquet object, not yet downloaded: its decoder fetches its footer and the ranges
/// it reads ([`super::open_ranged`]), every GET pinned to the version listed (its ETag), on
/// the S3 source's runtime while the decoding thread waits. It holds its download slot until
/// it is dropped.
pub struct Ranged {
    again: Again,
    input: Input,
    health: Arc<Health>,
    plan: Plan,
    _slot: OwnedSemaphorePermit,
}

impl Ranged {
    /// The object's size, as listed.
    pub fn size(&self) -> u64 {
        self.input.size
    }

    /// The object's footer ([`footer`]).
    pub fn footer(&self) -> std::io::Result<Option<MemParquet>> {
        let fetched = footer(&self.again, &self.input, &self.health);
        self.again.rt.block_on(fetched).map_err(Failure::into_io)
    }

    /// The ranges of the object's column chunks read, by the plan, from its footer.
    pub fn chunks(&self, footer: &MemParquet) -> Option<Vec<Range<u64>>> {
        (self.plan)(&self.input, footer)
    }

    /// Fetch `ranges` of the object into `put` ([`fetch_ranges`]).
    pub fn fetch(
        &self,
        ranges: &[Range<u64>],
        mut put: impl FnMut(u64, &[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let put = |at: u64, b: &[u8]| {
            put(at, b).map_err(|e| Failure::new(super::FailureKind::of(&e), e.to_string()))
        };
        let fetched = fetch_ranges(&self.again, &self.input, &self.health, ranges, put);
        self.again.rt.block_on(fetched).map_err(Failure::into_io)
    }

    /// The whole object as a stream from its first byte (the version listed): how an object
    /// named as Parquet that is not is read.
    pub fn stream(&self) -> ObjectReader {
        self.again.stream(&self.input)
    }
}

/// A whole object, and the download slot and byte budget it holds until it is dropped.
pub struct Whole {
    pub bytes: Bytes,
    /// Why the download stopped short of the object's end (`bytes` holds what arrived).
    pub failure: Option<Failure>,
    /// Where only some ranges were fetched (a Parquet object, its footer and the column
    /// chunks read), those ranges: `bytes` is the object's size, zeros elsewhere.
    pub held: Option<Vec<Range<u64>>>,
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

/// Where a download puts the bytes it receives.
enum Delivery {
    Gather(Vec<u8>),
    Stream(mpsc::Sender<Result<Bytes, Failure>>),
    /// Pieces of ranges, each with the offset of its first byte in the object.
    At(mpsc::Sender<Result<(u64, Bytes), Failure>>),
}

impl Delivery {
    /// Deliver a chunk, the object's bytes from offset `at`; `false` when the reader has gone
    /// (the run is stopping).
    async fn chunk(&mut self, at: u64, b: Bytes) -> bool {
        match self {
            Delivery::Gather(v) => {
                v.extend_from_slice(&b);
                true
            }
            Delivery::Stream(tx) => tx.send(Ok(b)).await.is_ok(),
            Delivery::At(tx) => tx.send(Ok((at, b))).await.is_ok(),
        }
    }
}

/// Whether an object whose key is `key` may hold records of the period `since .. until`:
/// its key's timestamp (the end of the delivery window) is inside it, with the margins
/// [`KEY_TIME_BEFORE`] and [`KEY_TIME_AFTER`]. Keys without a timestamp, and periods open at
/// either end, keep every object.
pub fn key_in_period(key: &str, since: Option<i64>, until: Option<i64>) -> bool {
    match (key_time(key), since, until) {
        (Some(t), Some(s), Some(u)) => t >= s - KEY_TIME_BEFORE && t <= u + KEY_TIME_AFTER,
        _ => true,
    }
}

/// The end of an AWS flow-log file's delivery window, from its key
/// (`..._YYYYMMDDTHHmmZ_hash.log.gz`).
pub fn key_time(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(super::stamp_time)
}

/// Downloads under way, with what the listing said of them.
pub struct Downloads {
    pub fetched: Fetched,
    pub objects: u64,
    pub bytes: u64,
    pub stats: Arc<S3Stats>,
}

/// Downloads of objects, in the order they were started.
pub struct Fetched {
    rx: mpsc::Receiver<(Input, Body)>,
}

impl Iterator for Fetched {
    type Item = (Input, Body);
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.blocking_recv()
    }
}

/// Resumes allowed after a body is cut.
const MAX_RESUMES: u32 = 5;

/// What a download needs besides the object.
#[derive(Clone)]
struct Get {
    client: Client,
    payer: bool,
    read_timeout: Duration,
}

/// One object downloaded again, as a stream, on the S3 source's runtime: the part of a large
/// gzip object before a member found damaged, read again ([`super::open_first_members`]).
#[derive(Clone)]
pub struct Again {
    get: Get,
    stats: Arc<S3Stats>,
    fatal: Arc<Mutex<Option<S3Error>>>,
    rt: tokio::runtime::Handle,
}

impl Again {
    /// The object's bytes as they arrive, from its first; only the version first read (its
    /// ETag, when the listing gave one: another version fails the download).
    pub fn stream(&self, input: &Input) -> ObjectReader {
        let (btx, brx) = mpsc::channel::<Result<Bytes, Failure>>(8);
        let (get, stats, fatal, input) = (
            self.get.clone(),
            self.stats.clone(),
            self.fatal.clone(),
            input.clone(),
        );
        self.rt.spawn(async move {
            let mut out = Delivery::Stream(btx);
            let whole = 0..input.size;
            let r = get
                .download_from(&input, &stats, &fatal, &mut out, whole, true)
                .await;
            if let (Err(e), Delivery::Stream(btx)) = (r, out) {
                let _ = btx.send(Err(e)).await;
            }
        });
        ObjectReader::new(brx)
    }
}

/// The failure of a request that got no usable answer, by the SDK's error kind.
fn failure_of<E>(e: &aws_sdk_s3::error::SdkError<E>, what: &str) -> Failure
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let kind = match e {
        SdkError::TimeoutError(_) => FailureKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => FailureKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_io() => FailureKind::Unreachable,
        SdkError::DispatchFailure(_) => FailureKind::Unreachable,
        _ => FailureKind::Io,
    };
    let detail = match e {
        SdkError::TimeoutError(_) => "no answer in time",
        SdkError::DispatchFailure(_) => "could not connect or send the request",
        _ => "",
    };
    // the innermost cause says it plainly ("Connection refused (os error 111)")
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let cause = match (e.code(), detail) {
        (Some(code), _) => format!("{code}: {root}"),
        (None, "") => root.to_string(),
        (None, d) => format!("{d} ({root})"),
    };
    Failure::new(kind, format!("{what} failed: {cause}"))
}

impl Get {
    async fn download(
        &self,
        input: &Input,
        stats: &S3Stats,
        fatal: &Mutex<Option<S3Error>>,
        delivery: &mut Delivery,
    ) -> Result<(), Failure> {
        let whole = 0..input.size;
        self.download_from(input, stats, fatal, delivery, whole, false)
            .await
    }

    /// Download the bytes `span` of `input` (`0..size`: the whole object, and whatever it
    /// holds past its listed size) into `delivery`, resuming a body cut short where it
    /// stopped (the same version, by its ETag); `same`: the first request too asks for the
    /// listed version.
    async fn download_from(
        &self,
        input: &Input,
        stats: &S3Stats,
        fatal: &Mutex<Option<S3Error>>,
        delivery: &mut Delivery,
        span: Range<u64>,
        same: bool,
    ) -> Result<(), Failure> {
        let Location::S3 { bucket, key } = &input.location else {
            return Ok(());
        };
        if span.is_empty() && span.start > 0 {
            return Ok(());
        }
        let mut offset = span.start;
        // (the end asked for only where it is short of the object's)
        let end = (span.end < input.size).then_some(span.end);
        let mut resumes = 0u32;
        loop {
            if end.is_some_and(|e| offset >= e) {
                return Ok(());
            }
            let pinned = (offset > 0 || same)
                .then_some(input.etag.as_deref())
                .flatten();
            stats.get_requests.fetch_add(1, Ordering::Relaxed);
            let out = match self.get(bucket, key, (offset, end), pinned).send().await {
                Ok(o) => o,
                Err(e) => {
                    if let Some(refused) = refusal(&e, bucket, key, fatal) {
                        return Err(refused);
                    }
                    if offset > 0 && resumes < MAX_RESUMES {
                        resumes += 1;
                        tokio::time::sleep(Duration::from_millis(200 << resumes)).await;
                        continue;
                    }
                    return Err(failure_of(&e, "GetObject"));
                }
            };
            if offset > 0 || end.is_some() {
                let from = format!("bytes {offset}-");
                if !out.content_range().is_some_and(|r| r.starts_with(&from)) {
                    return Err(Failure::new(
                        FailureKind::Io,
                        format!(
                            "a ranged GET from byte {offset} was answered with other bytes (Content-Range: {})",
                            out.content_range().unwrap_or("none")
                        ),
                    ));
                }
            }
            let cut = match self
                .body(out.body, (end, input.size), stats, delivery, &mut offset)
                .await
            {
                None => return Ok(()),
                Some(cut) => cut,
            };
            if resumes >= MAX_RESUMES {
                return Err(Failure::new(
                    cut.kind,
                    format!(
                        "download cut at byte {offset} after {resumes} resumes: {}",
                        cut.message
                    ),
                ));
            }
            resumes += 1;
            stats.resumed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100 << resumes)).await;
        }
    }

    /// The GET of `key` from byte `from` on, up to `to` where one is given, of the version
    /// `pinned` names (its ETag) when one is.
    fn get(
        &self,
        bucket: &str,
        key: &str,
        (from, to): (u64, Option<u64>),
        pinned: Option<&str>,
    ) -> aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder {
        let mut req = self.client.get_object().bucket(bucket).key(key);
        match (from, to) {
            (from, Some(to)) => req = req.range(format!("bytes={from}-{}", to - 1)),
            (0, None) => {}
            (from, None) => req = req.range(format!("bytes={from}-")),
        }
        if let Some(e) = pinned {
            req = req.if_match(e);
        }
        if self.payer {
            req = req.request_payer(RequestPayer::Requester);
        }
        req
    }

    /// Hand a response's body to `delivery` as it arrives, `offset` counting the object's bytes
    /// received; `None` when the object (of `size` bytes as listed) or the range asked for
    /// (which ends at `end`, where one was given: nothing past it is taken) is through, or
    /// `delivery` wants no more, else why the body stopped short: no bytes for the read
    /// timeout, an error, or an end before the range's or the object's.
    async fn body(
        &self,
        mut body: aws_sdk_s3::primitives::ByteStream,
        (end, size): (Option<u64>, u64),
        stats: &S3Stats,
        delivery: &mut Delivery,
        offset: &mut u64,
    ) -> Option<Failure> {
        let upto = end.unwrap_or(size);
        loop {
            let Ok(next) = tokio::time::timeout(self.read_timeout, body.next()).await else {
                return Some(Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "no bytes for {} s at byte {offset}",
                        self.read_timeout.as_secs_f64()
                    ),
                ));
            };
            match next {
                Some(Ok(mut bytes)) => {
                    let at = *offset;
                    if let Some(end) = end {
                        bytes.truncate(end.saturating_sub(at) as usize);
                    }
                    *offset += bytes.len() as u64;
                    (stats.bytes_downloaded).fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    if !delivery.chunk(at, bytes).await || end.is_some_and(|e| *offset >= e) {
                        return None;
                    }
                }
                Some(Err(e)) => return Some(Failure::new(FailureKind::CutShort, e.to_string())),
                None if *offset < upto => {
                    return Some(Failure::new(
                        FailureKind::CutShort,
                        format!("body ended at byte {offset} of {upto}"),
                    ))
                }
                None => return None,
            }
        }
    }
}

/// A GET's error that no retry mends, as the input's failure: the object gone since it was
/// listed, or access denied (which also stops the run: `fatal`, the first such error).
fn refusal(
    e: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>,
    bucket: &str,
    key: &str,
    fatal: &Mutex<Option<S3Error>>,
) -> Option<Failure> {
    if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
        return Some(Failure::new(
            FailureKind::NotFound,
            "the object vanished between listing and download (NoSuchKey)",
        ));
    }
    if e.code() == Some("AccessDenied") || status_of(e) == Some(403) {
        if let Ok(mut f) = fatal.lock() {
            f.get_or_insert(S3Error::AccessDenied {
                action: "reading",
                bucket: bucket.to_string(),
                prefix: key.to_string(),
                permission: "s3:GetObject",
                resource: format!("arn:aws:s3:::{bucket}/*"),
            });
        }
        return Some(Failure::new(
            FailureKind::AccessDenied,
            "access denied (s3:GetObject)",
        ));
    }
    None
}

/// A `Read` over the chunks a download task sends.
pub struct ObjectReader {
    rx: mpsc::Receiver<Result<Bytes, Failure>>,
    current: Bytes,
    failed: Option<Failure>,
}

impl ObjectReader {
    fn new(rx: mpsc::Receiver<Result<Bytes, Failure>>) -> ObjectReader {
        ObjectReader {
            rx,
            current: Bytes::new(),
            failed: None,
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(f) = &self.failed {
                return Err(f.clone().into_io());
            }
            if !self.current.is_empty() {
                let n = buf.len().min(self.current.len());
                buf[..n].copy_from_slice(&self.current[..n]);
                bytes::Buf::advance(&mut self.current, n);
                return Ok(n);
            }
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => self.failed = Some(e),
                None => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_keeps_the_accounts_and_regions_asked_for_in_either_layout() {
        let f = ListFilter {
            accounts: vec!["111122223333".into()],
            regions: vec!["eu-west-1".into()],
            ..Default::default()
        };
        assert!(f.keeps(0, "logs/AWSLogs/111122223333/"));
        assert!(f.keeps(0, "logs/AWSLogs/aws-account-id=111122223333/"));
        assert!(!f.keeps(0, "logs/AWSLogs/444455556666/"));
        assert!(f.keeps(1, "AWSLogs/111122223333/vpcflowlogs/"));
        assert!(f.keeps(1, "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/"));
        assert!(!f.keeps(1, "AWSLogs/111122223333/elasticloadbalancing/"));
        assert!(f.keeps(2, "AWSLogs/1/vpcflowlogs/eu-west-1/"));
        assert!(!f.keeps(2, "AWSLogs/1/vpcflowlogs/us-east-1/"));
        let all = ListFilter::default();
        assert!(all.keeps(0, "AWSLogs/444455556666/") && all.keeps(2, "x/us-east-1/"));
    }

    #[test]
    fn a_time_range_lists_its_days_and_one_either_side() {
        // 2026-09-02T06:00Z .. 2026-09-03T00:00Z: 09-01 to 09-03
        let (since, until) = (1_788_328_800, 1_788_393_600);
        assert_eq!(
            day_prefixes("AWSLogs/1/vpcflowlogs/us-east-1/", since, until),
            [
                "AWSLogs/1/vpcflowlogs/us-east-1/2026/09/01/",
                "AWSLogs/1/vpcflowlogs/us-east-1/2026/09/02/",
                "AWSLogs/1/vpcflowlogs/us-east-1/2026/09/03/",
            ]
        );
        let hive = "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=us-east-1/";
        assert_eq!(
            day_prefixes(hive, since, since + 1)[1],
            format!("{hive}year=2026/month=09/day=02/")
        );
    }

    #[test]
    fn urls_and_key_times() {
        assert_eq!(
            S3Url::parse("s3://b/logs/x"),
            Some(S3Url {
                bucket: "b".into(),
                prefix: "logs/x".into()
            })
        );
        assert_eq!(
            S3Url::parse("s3://b"),
            Some(S3Url {
                bucket: "b".into(),
                prefix: String::new()
            })
        );
        assert_eq!(S3Url::parse("s3://"), None);
        assert_eq!(S3Url::parse("/tmp/x"), None);
        let k = "AWSLogs/1/vpcflowlogs/us-east-1/2026/09/01/1_vpcflowlogs_us-east-1_fl-0_20260901T0005Z_ab12cd34.log.gz";
        assert_eq!(key_time(k), Some(1_788_220_800 + 300));
        assert_eq!(key_time("x/plain.log"), None);
    }
}
