//! CloudWatch Logs subscription batches, read as the text of their events' messages.
//!
//! Flow logs published to CloudWatch Logs reach S3 through a subscription filter and Firehose;
//! unless the Firehose stream decompresses them and extracts the messages, each object holds
//! the filter's batches as they were sent, gzipped one by one and written one after another
//! (`{"messageType": "DATA_MESSAGE", "owner": …, "logGroup": …, "logStream": …,
//! "subscriptionFilters": […], "logEvents": [{"id": …, "timestamp": …, "message": "2 1111…
//! eni-… …"}, …]}`, with or without whitespace between them). [`Messages`] turns such a stream
//! into the lines its events' messages are, one a line, for the text decoder to read as it reads
//! any text without a header (`--fields` gives the layout where it is not the default one):
//!
//! - a control batch (`"messageType": "CONTROL_MESSAGE"`, CloudWatch checking that the
//!   destination is reachable) gives no line;
//! - an event without a `message` string gives the line `{}`, which the decoder counts as a
//!   malformed line (a JSON event without a message), so nothing goes missing unseen;
//! - a message is kept up to [`MAX_LINE`] + 1 bytes (the decoder refuses longer lines): memory
//!   stays bounded whatever the batches hold;
//! - what is not such JSON stops the input as damaged (kind `corrupt`; `cut-short` where the
//!   JSON ends early), after the lines of the events before; an error of the stream underneath
//!   (a damaged gzip member, a download cut short) comes out as it went in, so the source and
//!   the engine treat it as they treat it in any text.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use struson::reader::{JsonReader, JsonStreamReader, ReaderError, ReaderSettings, ValueType};
use struson::reader::{JsonSyntaxError, SyntaxErrorKind};

use super::{Failure, FailureKind};
use crate::format::text::MAX_LINE;

/// Whether a text's first bytes are those of subscription batches: a JSON object naming
/// `messageType` or `logEvents` (AWS writes the first key first; a tool that sorts the keys,
/// the second). A CloudWatch JSON event of one `message`, which the text decoder reads as a
/// line, names neither, and a message quoting them has their quotes escaped.
pub fn is_batches(head: &[u8]) -> bool {
    let head = head.trim_ascii_start();
    head.starts_with(b"{")
        && (memchr::memmem::find(head, b"\"messageType\"").is_some()
            || memchr::memmem::find(head, b"\"logEvents\"").is_some())
}

/// How the message of a control batch's event starts ("CWL CONTROL MESSAGE: Checking health
/// of destination Firehose.").
const CONTROL: &[u8] = b"CWL CONTROL MESSAGE";

/// The lines read ahead at most before they are handed on (more once one long message is).
const AHEAD: usize = 64 * 1024;

/// The messages of the subscription batches read from `R`, one a line (see the module).
pub struct Messages<R: Read> {
    json: JsonStreamReader<Caught<R>>,
    /// The error of the stream underneath, if it failed (the JSON reader keeps only its text).
    caught: Arc<Mutex<Option<io::Error>>>,
    at: At,
    /// The batch being read is a control message: its events are no records.
    control: bool,
    /// Lines read and not yet handed on, from `pos`.
    out: Vec<u8>,
    pos: usize,
    /// The error that stopped the batches, handed on after the lines before it, and its kind
    /// and text for any read after that.
    failed: Option<io::Error>,
    stopped: Option<(io::ErrorKind, String)>,
}

/// Where in the batches the reader stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    /// Before the first batch.
    Start,
    /// Between two batches.
    Between,
    /// Among a batch's keys.
    Keys,
    /// Among a batch's events.
    Events,
    /// After the last batch, or after an error.
    Done,
}

/// What stopped the batches, before it is told as an I/O error ([`Messages::told`]).
enum Stop {
    Json(ReaderError),
    /// A message's string reader's error.
    Io(io::Error),
    /// The error to tell, as it is.
    Told(io::Error),
}

impl From<ReaderError> for Stop {
    fn from(e: ReaderError) -> Stop {
        Stop::Json(e)
    }
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

/// The stream underneath, its error kept aside for [`Messages::told`] where it fails.
struct Caught<R> {
    inner: R,
    caught: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for Caught<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                let text = e.to_string();
                if let Ok(mut slot) = self.caught.lock() {
                    slot.get_or_insert(e);
                }
                Err(io::Error::other(text))
            }
            other => other,
        }
    }
}

/// A key of a batch or of an event that the reader looks at.
enum Key {
    MessageType,
    LogEvents,
    Message,
    Other,
}

impl<R: Read> Messages<R> {
    pub fn new(r: R) -> Messages<R> {
        let settings = ReaderSettings {
            allow_multiple_top_level: true,
            track_path: true,
            ..Default::default()
        };
        let caught = Arc::new(Mutex::new(None));
        let r = Caught {
            inner: r,
            caught: Arc::clone(&caught),
        };
        Messages {
            json: JsonStreamReader::new_custom(r, settings),
            caught,
            at: At::Start,
            control: false,
            out: Vec::new(),
            pos: 0,
            failed: None,
            stopped: None,
        }
    }

    /// The next key of the object being read.
    fn key(&mut self) -> Result<Key, ReaderError> {
        Ok(match self.json.next_name()? {
            "messageType" => Key::MessageType,
            "logEvents" => Key::LogEvents,
            "message" => Key::Message,
            _ => Key::Other,
        })
    }

    /// Read on until a line is out or the state changes.
    fn step(&mut self) -> Result<(), Stop> {
        match self.at {
            At::Start | At::Between => {
                if self.at == At::Between && !self.json.has_next()? {
                    self.at = At::Done;
                    return Ok(());
                }
                if self.json.peek()? != ValueType::Object {
                    return Err(Stop::Told(not_batches("a batch is not a JSON object")));
                }
                self.json.begin_object()?;
                self.control = false;
                self.at = At::Keys;
            }
            At::Keys => self.keys()?,
            At::Events => {
                if !self.json.has_next()? {
                    self.json.end_array()?;
                    self.at = At::Keys;
                    return Ok(());
                }
                self.event()?;
            }
            At::Done => {}
        }
        Ok(())
    }

    /// A batch's keys up to its events, or to its end.
    fn keys(&mut self) -> Result<(), Stop> {
        while self.json.has_next()? {
            match (self.key()?, self.json.peek()?) {
                (Key::MessageType, ValueType::String) => {
                    self.control = self.json.next_str()? == "CONTROL_MESSAGE";
                }
                (Key::LogEvents, ValueType::Array) => {
                    self.json.begin_array()?;
                    self.at = At::Events;
                    return Ok(());
                }
                (Key::LogEvents, _) => {
                    return Err(Stop::Told(not_batches("a batch's logEvents is not a list")))
                }
                _ => self.json.skip_value()?,
            }
        }
        self.json.end_object()?;
        self.at = At::Between;
        Ok(())
    }

    /// One event: its message as a line (not in a control batch), or `{}` where it has none.
    fn event(&mut self) -> Result<(), Stop> {
        if self.json.peek()? != ValueType::Object {
            self.json.skip_value()?;
            self.no_message();
            return Ok(());
        }
        self.json.begin_object()?;
        let mut found = false;
        while self.json.has_next()? {
            let key = self.key()?;
            match (key, self.json.peek()?) {
                (Key::Message, ValueType::String) if !found => {
                    found = true;
                    self.message()?;
                }
                _ => self.json.skip_value()?,
            }
        }
        self.json.end_object()?;
        if !found {
            self.no_message();
        }
        Ok(())
    }

    /// An event without a message: a line the text decoder counts as malformed.
    fn no_message(&mut self) {
        if !self.control {
            self.out.extend_from_slice(b"{}\n");
        }
    }

    /// The message string next: up to `MAX_LINE + 1` of its bytes and a newline (the rest
    /// read past); nothing in a control batch, nor for a control message in any batch (a
    /// batch's keys may come in any order, its type after its events).
    fn message(&mut self) -> Result<(), Stop> {
        let keep = if self.control { 0 } else { MAX_LINE as u64 + 1 };
        let start = self.out.len();
        let mut s = self.json.next_string_reader()?;
        // (through a buffer on the stack: `read_to_end` zeroes the vector's spare room on
        // every call, a message's worth of work ten times over)
        let mut buf = [0u8; 4096];
        let mut left = keep as usize;
        loop {
            match s.read(&mut buf)? {
                0 => break,
                n => {
                    let kept = n.min(left);
                    self.out.extend_from_slice(&buf[..kept]);
                    left -= kept;
                }
            }
        }
        match self.out[start..].starts_with(CONTROL) {
            true => self.out.truncate(start),
            false if !self.control => self.out.push(b'\n'),
            false => {}
        }
        Ok(())
    }
}

impl<R: Read> Read for Messages<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            while self.out.len() < AHEAD && self.at != At::Done && self.failed.is_none() {
                let whole = self.out.len();
                if let Err(stop) = self.step() {
                    let e = self.told(stop);
                    // (the lines before the error first; a message it cut is no line)
                    self.out.truncate(whole);
                    self.at = At::Done;
                    self.stopped = Some((e.kind(), e.to_string()));
                    self.failed = Some(e);
                }
            }
            if self.out.is_empty() {
                return match (self.failed.take(), &self.stopped) {
                    (Some(e), _) => Err(e),
                    (None, Some((kind, text))) => Err(io::Error::new(*kind, text.clone())),
                    (None, None) => Ok(0),
                };
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> Messages<R> {
    /// The error that stopped the batches: the stream's own as it came, else what the JSON is.
    fn told(&self, stop: Stop) -> io::Error {
        if let Some(e) = self.caught.lock().ok().and_then(|mut slot| slot.take()) {
            return e;
        }
        let syntax = match stop {
            Stop::Json(ReaderError::SyntaxError(s)) => s,
            // (the JSON reader's own: bytes that are not UTF-8)
            Stop::Json(ReaderError::IoError { error, .. }) => {
                return not_batches(&error.to_string())
            }
            Stop::Json(e) => return not_batches(&e.to_string()),
            Stop::Told(e) => return e,
            // (a message's string reader's: its syntax, else bytes that are not UTF-8)
            Stop::Io(e) => match e
                .get_ref()
                .and_then(|x| x.downcast_ref::<JsonSyntaxError>())
            {
                Some(s) => s.clone(),
                None => return not_batches(&e.to_string()),
            },
        };
        match syntax.kind {
            SyntaxErrorKind::IncompleteDocument => Failure::new(
                FailureKind::CutShort,
                format!("CloudWatch Logs subscription batches cut short: {syntax}"),
            )
            .into_io(),
            _ => not_batches(&syntax.to_string()),
        }
    }
}

/// Batches that are not what a subscription filter sends.
fn not_batches(why: &str) -> io::Error {
    Failure::new(
        FailureKind::Corrupt,
        format!("CloudWatch Logs subscription batches that do not read as such: {why}"),
    )
    .into_io()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(kind: &str, messages: &[&str]) -> String {
        let events = messages
            .iter()
            .enumerate()
            .map(|(i, m)| format!(r#"{{"id":"{i}","timestamp":1788220800000,"message":{m}}}"#))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            r#"{{"messageType":"{kind}","owner":"111122223333","logGroup":"vpc","logStream":"eni-1-all","subscriptionFilters":["f"],"logEvents":[{events}]}}"#
        )
    }

    fn lines(input: &[u8]) -> (String, Option<io::Error>) {
        let mut m = Messages::new(input);
        let mut out = Vec::new();
        let mut buf = [0u8; 7]; // (small reads: lines handed on across many)
        loop {
            match m.read(&mut buf) {
                Ok(0) => return (String::from_utf8(out).unwrap(), None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    // and the same error again after it
                    let again = m.read(&mut buf).unwrap_err();
                    assert_eq!((again.kind(), again.to_string()), (e.kind(), e.to_string()));
                    return (String::from_utf8(out).unwrap(), Some(e));
                }
            }
        }
    }

    #[test]
    fn batches_read_as_their_messages() {
        let a = batch("DATA_MESSAGE", &[r#""2 1 eni-1 a""#, r#""2 1 eni-1 b""#]);
        let control = batch(
            "CONTROL_MESSAGE",
            &[r#""CWL CONTROL MESSAGE: Checking health of destination Firehose.""#],
        );
        let b = batch("DATA_MESSAGE", &[r#""x\/y \u0041\"z\\""#]);
        let want = "2 1 eni-1 a\n2 1 eni-1 b\nx/y A\"z\\\n";
        for sep in ["", "\n", " \r\n\t"] {
            let doc = [a.as_str(), &control, &b].join(sep) + sep;
            let (out, e) = lines(doc.as_bytes());
            assert!(e.is_none(), "{sep:?}: {e:?}");
            assert_eq!(out, want, "{sep:?}");
        }
        // the keys in any order (a control batch's type after its events), other values of
        // any shape read past, no events at all
        let odd = r#"{"logEvents":[{"message":"m1","extra":{"a":[1,{"b":null}]}}],"messageType":"DATA_MESSAGE","n":[]}{"messageType":"DATA_MESSAGE","logEvents":[]}"#;
        let late = r#"{"logEvents":[{"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}],"messageType":"CONTROL_MESSAGE"}"#;
        assert_eq!(lines([odd, late].concat().as_bytes()).0, "m1\n");
    }

    #[test]
    fn events_without_a_message_are_malformed_lines() {
        let doc = r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1"},{"message":7},3,{"message":"m","message":"again"}]}"#;
        assert_eq!(lines(doc.as_bytes()).0, "{}\n{}\n{}\nm\n");
    }

    #[test]
    fn a_long_message_is_kept_up_to_the_longest_line_and_the_next_one_read() {
        let long = "y".repeat(3 * MAX_LINE);
        let doc = batch("DATA_MESSAGE", &[&format!("\"{long}\""), r#""after""#]);
        let (out, e) = lines(doc.as_bytes());
        assert!(e.is_none());
        let got: Vec<&str> = out.lines().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE + 1);
        assert_eq!(got[1], "after");
    }

    #[test]
    fn what_is_not_batches_stops_after_the_lines_before_it() {
        let a = batch("DATA_MESSAGE", &[r#""one""#, r#""two""#]);
        let deep = "{\"a\":".repeat(100_000);
        for (rest, kind) in [
            (&b"[1]"[..], FailureKind::Corrupt),
            (
                b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"message\":\"thr",
                FailureKind::CutShort,
            ),
            (b"{\"messageType\" 1}", FailureKind::Corrupt),
            (b"garbage", FailureKind::Corrupt),
            (
                b"{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":\"x\"}",
                FailureKind::Corrupt,
            ),
            (
                b"{\"logEvents\":[{\"message\":\"\xff\"}]}",
                FailureKind::Corrupt,
            ),
            (deep.as_bytes(), FailureKind::Corrupt),
        ] {
            let rest_text = String::from_utf8_lossy(&rest[..rest.len().min(80)]);
            let (out, e) = lines(&[a.as_bytes(), rest].concat());
            assert_eq!(out, "one\ntwo\n", "{rest_text}");
            let e = e.expect("an error");
            assert_eq!(FailureKind::of(&e), kind, "{rest_text}: {e}");
            let said = e.to_string();
            assert!(said.contains("CloudWatch Logs subscription batches"), "{e}");
            assert_eq!(said.matches("CloudWatch").count(), 1, "{e}");
        }
    }

    /// The stream's own error comes out as it went in (the engine tells a damaged gzip member
    /// by it), whether it comes between values or inside a message.
    #[test]
    fn the_streams_own_error_comes_out_unchanged() {
        #[derive(Debug, thiserror::Error)]
        #[error("the stream's own")]
        struct Own;
        struct Failing(io::Cursor<Vec<u8>>);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let most = buf.len().min(5);
                match self.0.read(&mut buf[..most])? {
                    0 => Err(io::Error::new(io::ErrorKind::InvalidData, Own)),
                    n => Ok(n),
                }
            }
        }
        let a = batch("DATA_MESSAGE", &[r#""one""#]);
        for cut in [
            a.clone(),
            a.clone() + r#"{"messageType":"DATA_MESSAGE","logEvents":[{"message":"tw"#,
        ] {
            let mut m = Messages::new(Failing(io::Cursor::new(cut.into_bytes())));
            let mut out = Vec::new();
            let e = m.read_to_end(&mut out).unwrap_err();
            assert_eq!(String::from_utf8(out).unwrap(), "one\n");
            assert!(e.get_ref().unwrap().is::<Own>(), "{e:?}");
        }
    }

    proptest::proptest! {
        /// Batches cut short and overwritten anywhere: no panic, the reader ends (in an error
        /// or not), and what it hands on is whole lines, none over the longest line the decoder
        /// reads.
        #[test]
        fn damaged_batches_never_panic_and_give_only_their_messages(
            edits in proptest::collection::vec((0usize..2000, 0usize..40, proptest::prelude::any::<u8>()), 0..6),
            cut in 0usize..2000,
        ) {
            let messages = ["2 1 eni-1 a", "2 1 eni-2 b", "x y"];
            let quoted: Vec<String> = messages.iter().map(|m| format!("\"{m}\"")).collect();
            let quoted: Vec<&str> = quoted.iter().map(String::as_str).collect();
            let doc = [
                batch("DATA_MESSAGE", &quoted),
                batch("CONTROL_MESSAGE", &[r#""CWL CONTROL MESSAGE: x""#]),
                batch("DATA_MESSAGE", &quoted[..1]),
            ]
            .join("\n");
            let mut bytes = doc.into_bytes();
            for (at, len, b) in edits {
                let at = at % bytes.len();
                let end = (at + len).min(bytes.len());
                bytes[at..end].fill(b);
            }
            bytes.truncate(cut.max(1).min(bytes.len()));
            let mut m = Messages::new(&bytes[..]);
            let mut out = Vec::new();
            let _ = m.read_to_end(&mut out);
            proptest::prop_assert!(out.is_empty() || out.ends_with(b"\n"));
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                proptest::prop_assert!(line.len() <= MAX_LINE + 1);
            }
        }
    }

    #[test]
    fn batches_are_told_by_their_first_keys() {
        assert!(is_batches(batch("DATA_MESSAGE", &[]).as_bytes()));
        assert!(is_batches(b"  \n{\"messageType\":\"X\",\"logEvents\":[]}"));
        assert!(is_batches(
            b"{\"logEvents\": [{\"id\": \"1\", \"message\": \"2 1 eni-1\"}]"
        ));
        assert!(!is_batches(
            br#"{"message": "2 1 eni-1 {\"messageType\": 1, \"logEvents\": []}"}"#
        ));
        assert!(!is_batches(
            b"{\"timestamp\": 1, \"message\": \"2 1 eni-1\"}"
        ));
        assert!(!is_batches(b"version account-id messageType logEvents"));
    }
}
