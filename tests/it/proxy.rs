//! A small HTTP proxy on loopback between flowcost and the S3 test server, to count requests
//! and to inject faults the server cannot: 503 SlowDown storms, bodies cut mid-stream,
//! objects that vanish after listing, access denied, listings that never advance or repeat
//! their keys, a server that dies (stops listening)
//! or stalls (accepts and never answers), a server that ignores ranges; and to count the
//! bytes of each object GET's answer. One request per connection.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Which faults to inject.
#[derive(Default, Debug)]
pub struct Rules {
    /// Answer this many of the first requests (every other one) with 503 SlowDown.
    pub slowdown: u32,
    /// Cut the body of GETs whose path contains the text, this many times.
    pub cut: Option<(String, u32)>,
    /// Answer GETs of paths containing the text with 404 NoSuchKey.
    pub vanish: Option<String>,
    pub deny_list: bool,
    pub deny_get: bool,
    /// After this many object GETs, stop listening: the connection of the next one is
    /// dropped unanswered and every later one is refused.
    pub die_after_gets: Option<u32>,
    /// After this many object GETs, accept every request and never answer it.
    pub stall_after_gets: Option<u32>,
    /// Forward object GETs without their Range header (a server that ignores ranges).
    pub drop_range: bool,
    /// Answer this many listing requests of keys (not of folders: no delimiter) as truncated,
    /// with the continuation token `again`
    /// (the request carrying it forwarded without it, so its page is the first one again):
    /// `u32::MAX`, a listing that never advances; 1, every key listed twice.
    pub list_again: u32,
    /// Answer listing requests of keys as truncated, without a continuation token.
    pub list_no_token: bool,
    /// Object GETs seen so far.
    pub gets: u32,
}

/// An object GET answered through the proxy: its request line, its Range header, and the
/// bytes of body sent back.
#[derive(Debug, Clone)]
pub struct Sent {
    pub line: String,
    pub range: Option<String>,
    pub body: usize,
}

pub struct Proxy {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    pub sent: Arc<Mutex<Vec<Sent>>>,
}

fn error_response(status: &str, code: &str) -> Vec<u8> {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code} (injected by the test proxy)</Message></Error>");
    format!("HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).into_bytes()
}

fn find(h: &[u8], pat: &[u8]) -> Option<usize> {
    h.windows(pat.len()).position(|w| w == pat)
}

/// Read one HTTP message head (and the body its Content-Length announces).
fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    Some((head, buf))
}

/// The value of header `name` (lower case) in a message head.
fn header(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
    })
}

/// A listing request's head without its `continuation-token` parameter (the only one the
/// proxy hands out is its own, `again`, which the server would refuse).
fn without_token(head: &str) -> String {
    let (line, rest) = head.split_once("\r\n").unwrap_or((head, ""));
    let line = line.replace("&continuation-token=again", "");
    let line = line.replace("continuation-token=again&", "");
    format!("{line}\r\n{rest}")
}

/// Replace any Connection header of a message head by `Connection: close` (and drop the
/// headers named in `drop`, lower case).
fn close_head(head: &str, drop: &[&str]) -> String {
    let mut out: Vec<&str> = head
        .trim_end()
        .split("\r\n")
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("connection:") && !drop.iter().any(|d| l.starts_with(d))
        })
        .collect();
    out.push("Connection: close");
    out.join("\r\n") + "\r\n\r\n"
}

fn handle(
    mut client: TcpStream,
    upstream: &str,
    requests: &Mutex<Vec<String>>,
    sent: &Mutex<Vec<Sent>>,
    rules: &Mutex<Rules>,
    dead: &std::sync::atomic::AtomicBool,
) {
    let Some((head, raw)) = read_request(&mut client) else {
        return;
    };
    let line = head.lines().next().unwrap_or("").to_string();
    let n = {
        let mut r = requests.lock().unwrap();
        r.push(line.clone());
        r.len() as u32
    };
    let is_list = line.contains("list-type=2");
    let is_get = line.starts_with("GET ") && !is_list;
    let mut cut = false;
    let mut drop_range = false;
    let mut list_again = false;
    let mut list_no_token = false;
    {
        let mut r = rules.lock().unwrap();
        if is_get {
            r.gets += 1;
            if r.die_after_gets.is_some_and(|k| r.gets > k) {
                dead.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            if r.stall_after_gets.is_some_and(|k| r.gets > k) {
                drop(r);
                // hold the connection open, silent, for longer than any test runs
                std::thread::sleep(std::time::Duration::from_secs(600));
                return;
            }
        }
        let reply = if n <= r.slowdown * 2 && n % 2 == 1 {
            Some(error_response("503 Slow Down", "SlowDown"))
        } else if is_list && r.deny_list || is_get && r.deny_get {
            Some(error_response("403 Forbidden", "AccessDenied"))
        } else if is_get && r.vanish.as_ref().is_some_and(|v| line.contains(v.as_str())) {
            Some(error_response("404 Not Found", "NoSuchKey"))
        } else {
            drop_range = is_get && r.drop_range;
            if is_list && !line.contains("delimiter") && r.list_again > 0 {
                r.list_again -= 1;
                list_again = true;
            }
            list_no_token = is_list && !line.contains("delimiter") && r.list_no_token;
            if let Some((k, times)) = &mut r.cut {
                if is_get && *times > 0 && line.contains(k.as_str()) {
                    *times -= 1;
                    cut = true;
                }
            }
            None
        };
        if let Some(reply) = reply {
            let _ = client.write_all(&reply);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    }
    let body_at = find(&raw, b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    let drop: &[&str] = if drop_range { &["range:"] } else { &[] };
    let head = match is_list {
        true => without_token(&head),
        false => head,
    };
    let _ = up.write_all(close_head(&head, drop).as_bytes());
    let _ = up.write_all(&raw[body_at..]);
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    let split = find(&resp, b"\r\n\r\n").map_or(resp.len(), |p| p + 4);
    let mut rhead = String::from_utf8_lossy(&resp[..split]).to_string();
    let mut body = resp[split..].to_vec();
    if list_again || list_no_token {
        let truncated = match list_again {
            true => "<IsTruncated>true</IsTruncated><NextContinuationToken>again</NextContinuationToken>",
            false => "<IsTruncated>true</IsTruncated>",
        };
        let page =
            String::from_utf8_lossy(&body).replace("<IsTruncated>false</IsTruncated>", truncated);
        rhead = (rhead.split("\r\n"))
            .map(
                |l| match l.to_ascii_lowercase().starts_with("content-length:") {
                    true => format!("Content-Length: {}", page.len()),
                    false => l.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\r\n");
        body = page.into_bytes();
    }
    let body = &body[..];
    let _ = client.write_all(close_head(&rhead, &[]).as_bytes());
    let body = if cut { &body[..body.len() / 2] } else { body };
    if is_get {
        sent.lock().unwrap().push(Sent {
            line: line.clone(),
            range: header(&head, "range"),
            body: body.len(),
        });
    }
    let _ = client.write_all(body);
    let _ = client.flush();
    let _ = client.shutdown(Shutdown::Both);
}

impl Proxy {
    pub fn start(upstream_url: &str, rules: Rules) -> Proxy {
        let upstream = upstream_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new(Mutex::new(rules));
        let (rq, rl, st) = (requests.clone(), rules, sent.clone());
        let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if dead.load(std::sync::atomic::Ordering::SeqCst) {
                    // dropping the listener: from now on connections are refused
                    break;
                }
                let Ok(c) = conn else { continue };
                let (up, rq, rl, d) = (upstream.clone(), rq.clone(), rl.clone(), dead.clone());
                let st = st.clone();
                std::thread::spawn(move || handle(c, &up, &rq, &st, &rl, &d));
            }
        });
        Proxy {
            url,
            requests,
            sent,
        }
    }

    /// The object GETs answered so far whose request line holds `key`.
    pub fn sent_for(&self, key: &str) -> Vec<Sent> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .filter(|s| s.line.contains(key))
            .cloned()
            .collect()
    }

    /// The request lines seen so far.
    pub fn seen(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
