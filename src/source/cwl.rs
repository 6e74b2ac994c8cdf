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
//!
//! The JSON is read by a streaming reader written for this one shape ([`Json`]): strict
//! (RFC 8259: UTF-8, no control character in a string, escapes and surrogate pairs checked,
//! numbers by the grammar, nesting at most [`MAX_DEPTH`] deep), a message's bytes found a
//! stretch at a time between quotes and escapes and copied once. A general streaming JSON
//! reader took 4.6 times the CPU a record of the same records as gzip text (BENCHMARKS.md).

use std::io::{self, Read};

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

/// The deepest a value read past may nest (arrays and objects inside a batch's values).
pub const MAX_DEPTH: usize = 128;

/// The messages of the subscription batches read from `R`, one a line (see the module).
pub struct Messages<R: Read> {
    json: Json<R>,
    at: At,
    /// No member of the object or list being read (a batch's keys, its events) read yet.
    first: bool,
    /// The batch being read is a control message: its events are no records.
    control: bool,
    /// A key, or a batch's type, as read (the first few bytes: longer ones name nothing read).
    key: Vec<u8>,
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
    /// Before the first batch, or between two.
    Between,
    /// Among a batch's keys.
    Keys,
    /// Among a batch's events.
    Events,
    /// After the last batch, or after an error.
    Done,
}

/// What stopped the batches.
#[derive(Debug)]
enum Stop {
    /// The JSON ended inside a value.
    Cut,
    /// Bytes that are not JSON, or not batches: why, and where.
    Bad(String),
    /// The stream's own error, told as it came.
    Io(io::Error),
}

/// A key of a batch or of an event that the reader looks at.
#[derive(PartialEq, Eq)]
enum Key {
    MessageType,
    LogEvents,
    Message,
    Other,
}

/// The bytes a key or a batch's type is compared by (the names read are shorter).
const KEY_BYTES: usize = 16;

impl<R: Read> Messages<R> {
    pub fn new(r: R) -> Messages<R> {
        Messages {
            json: Json::new(r),
            at: At::Between,
            first: true,
            control: false,
            key: Vec::with_capacity(KEY_BYTES),
            out: Vec::new(),
            pos: 0,
            failed: None,
            stopped: None,
        }
    }

    /// Read on until a line is out or the state changes.
    fn step(&mut self) -> Result<(), Stop> {
        match self.at {
            At::Between => match self.json.next_token()? {
                None => self.at = At::Done,
                Some(b'{') => {
                    self.json.bump();
                    (self.control, self.first, self.at) = (false, true, At::Keys);
                }
                Some(_) => return Err(self.json.bad("a batch is not a JSON object")),
            },
            At::Keys => self.keys()?,
            At::Events => {
                if !self.json.more_members(b']', &mut self.first)? {
                    (self.at, self.first) = (At::Keys, false);
                    return Ok(());
                }
                self.event()?;
            }
            At::Done => {}
        }
        Ok(())
    }

    /// The next key of the object being read, its `:` read past.
    fn key(&mut self) -> Result<Key, Stop> {
        self.json.key(&mut self.key)?;
        Ok(match self.key.as_slice() {
            b"messageType" => Key::MessageType,
            b"logEvents" => Key::LogEvents,
            b"message" => Key::Message,
            _ => Key::Other,
        })
    }

    /// A batch's keys up to its events, or to its end.
    fn keys(&mut self) -> Result<(), Stop> {
        while self.json.more_members(b'}', &mut self.first)? {
            match (self.key()?, self.json.next_token()?) {
                (Key::MessageType, Some(b'"')) => {
                    self.json.bump();
                    let kept = self.json.string(&mut self.key, KEY_BYTES)?;
                    self.control = kept && self.key == b"CONTROL_MESSAGE";
                }
                (Key::LogEvents, Some(b'[')) => {
                    self.json.bump();
                    (self.at, self.first) = (At::Events, true);
                    return Ok(());
                }
                (Key::LogEvents, Some(_)) => {
                    return Err(self.json.bad("a batch's logEvents is not a list"))
                }
                _ => self.json.skip_value()?,
            }
        }
        self.at = At::Between;
        Ok(())
    }

    /// One event: its message as a line (not in a control batch), or `{}` where it has none.
    fn event(&mut self) -> Result<(), Stop> {
        if self.json.next_token()? != Some(b'{') {
            self.json.skip_value()?;
            self.no_message();
            return Ok(());
        }
        self.json.bump();
        let (mut first, mut found) = (true, false);
        while self.json.more_members(b'}', &mut first)? {
            match (self.key()?, self.json.next_token()?) {
                (Key::Message, Some(b'"')) if !found => {
                    self.json.bump();
                    found = true;
                    self.message()?;
                }
                _ => self.json.skip_value()?,
            }
        }
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

    /// The message string next (its opening quote read): up to `MAX_LINE + 1` of its bytes and
    /// a newline (the rest read past); nothing in a control batch, nor for a control message
    /// in any batch (a batch's keys may come in any order, its type after its events).
    fn message(&mut self) -> Result<(), Stop> {
        let keep = if self.control { 0 } else { MAX_LINE + 1 };
        let start = self.out.len();
        self.json.string_onto(&mut self.out, keep)?;
        match self.out[start..].starts_with(CONTROL) {
            true => self.out.truncate(start),
            false if !self.control => self.out.push(b'\n'),
            false => {}
        }
        Ok(())
    }

    /// The error that stopped the batches: the stream's own as it came, else what the JSON is.
    /// JSON that is not batches may be the work of a damaged gzip member whose check fails
    /// only at its end: the stream is read on, and where it then says its text cannot be
    /// trusted ([`super::gunzip::discredits`]), that is the error (the engine reads again only
    /// the members before the damaged one), as it is for any text.
    fn told(&mut self, stop: Stop) -> io::Error {
        let stop = match stop {
            Stop::Bad(why) => match self.json.drain() {
                Some(e) if super::gunzip::discredits(&e) => Stop::Io(e),
                _ => Stop::Bad(why),
            },
            stop => stop,
        };
        match stop {
            Stop::Io(e) => e,
            Stop::Cut => Failure::new(
                FailureKind::CutShort,
                format!(
                    "CloudWatch Logs subscription batches cut short: the JSON ends early, at byte {}",
                    self.json.end_offset()
                ),
            )
            .into_io(),
            Stop::Bad(why) => not_batches(&why),
        }
    }
}

impl<R: Read> io::BufRead for Messages<R> {
    /// The lines read and not yet handed on; more read first where none are left (the lines
    /// before an error first, then the error, again at each call after it).
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
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
                if let Some(e) = self.failed.take() {
                    return Err(e);
                }
                if let Some((kind, text)) = &self.stopped {
                    return Err(io::Error::new(*kind, text.clone()));
                }
            }
        }
        Ok(&self.out[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.out.len());
    }
}

impl<R: Read> Read for Messages<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use io::BufRead;
        let lines = self.fill_buf()?;
        let n = buf.len().min(lines.len());
        buf[..n].copy_from_slice(&lines[..n]);
        self.consume(n);
        Ok(n)
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

/// How much [`Json`] reads from its stream at a time.
const READ_SIZE: usize = 64 * 1024;

/// A strict streaming JSON reader over `R`, just what [`Messages`] asks of one: the next
/// token, keys, strings (kept up to a bound, or read past), and any value read past. The bytes
/// are checked as UTF-8 as they come in; only checked bytes are read.
struct Json<R: Read> {
    r: R,
    buf: Vec<u8>,
    /// `buf[pos..checked]` is read next and is UTF-8; `buf[checked..end]` waits for the bytes
    /// that complete its last character, or is not UTF-8 (`bad`).
    pos: usize,
    checked: usize,
    end: usize,
    /// The stream's bytes before `buf[0]`.
    before: u64,
    /// `buf[checked]` starts bytes that are not UTF-8.
    bad: bool,
    eof: bool,
}

impl<R: Read> Json<R> {
    fn new(r: R) -> Json<R> {
        Json {
            r,
            buf: Vec::new(),
            pos: 0,
            checked: 0,
            end: 0,
            before: 0,
            bad: false,
            eof: false,
        }
    }

    /// The stream's offset of the next byte.
    fn offset(&self) -> u64 {
        self.before + self.pos as u64
    }

    /// The stream's offset past its last byte read in.
    fn end_offset(&self) -> u64 {
        self.before + self.end as u64
    }

    /// Why the JSON is not batches, at the next byte.
    fn bad(&self, why: &str) -> Stop {
        Stop::Bad(format!("{why} at byte {}", self.offset()))
    }

    /// The checked bytes not yet read.
    #[inline(always)]
    fn ahead(&self) -> &[u8] {
        &self.buf[self.pos..self.checked]
    }

    /// Read more of the stream: `false` at its end (with no checked byte left).
    #[cold]
    fn fill(&mut self) -> Result<bool, Stop> {
        loop {
            if self.pos < self.checked {
                return Ok(true);
            }
            if self.bad {
                return Err(self.bad("bytes that are not UTF-8"));
            }
            if self.eof {
                // (bytes left here start a character the stream cut)
                return match self.checked < self.end {
                    true => Err(Stop::Cut),
                    false => Ok(false),
                };
            }
            if self.buf.len() < READ_SIZE {
                self.buf.resize(READ_SIZE, 0);
            }
            // what is left, a character's first bytes at most, goes to the front
            self.buf.copy_within(self.pos..self.end, 0);
            self.before += self.pos as u64;
            (self.end, self.checked, self.pos) = (self.end - self.pos, 0, 0);
            let n = loop {
                match self.r.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Stop::Io(e)),
                }
            };
            self.end += n;
            self.eof = n == 0;
            match std::str::from_utf8(&self.buf[..self.end]) {
                Ok(_) => self.checked = self.end,
                Err(e) => {
                    self.checked = e.valid_up_to();
                    self.bad = e.error_len().is_some();
                }
            }
        }
    }

    /// Read the stream to its end, what it holds dropped: the error it ends in, if any.
    #[cold]
    fn drain(&mut self) -> Option<io::Error> {
        self.buf.resize(READ_SIZE, 0);
        (self.pos, self.checked, self.end) = (0, 0, 0);
        while !self.eof {
            match self.r.read(&mut self.buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(e),
            }
        }
        None
    }

    /// The next byte, not read (`None` at the stream's end).
    #[inline(always)]
    fn peek(&mut self) -> Result<Option<u8>, Stop> {
        if self.pos == self.checked && !self.fill()? {
            return Ok(None);
        }
        Ok(Some(self.buf[self.pos]))
    }

    /// Read the byte [`Json::peek`] gave.
    #[inline(always)]
    fn bump(&mut self) {
        self.pos += 1;
    }

    /// The next byte, read; the JSON cut short at the stream's end.
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, Stop> {
        let b = self.peek()?.ok_or(Stop::Cut)?;
        self.bump();
        Ok(b)
    }

    /// The next byte after whitespace, not read (`None` at the stream's end).
    fn next_token(&mut self) -> Result<Option<u8>, Stop> {
        loop {
            let ahead = self.ahead();
            match ahead
                .iter()
                .position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                Some(i) => {
                    self.pos += i;
                    return Ok(Some(self.buf[self.pos]));
                }
                None => {
                    self.pos = self.checked;
                    if !self.fill()? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The next token, which a value must follow: the JSON is cut short at the stream's end.
    fn token(&mut self) -> Result<u8, Stop> {
        self.next_token()?.ok_or(Stop::Cut)
    }

    /// Whether the object or list being read (closed by `close`) has a member next: its `,`
    /// read past, or its end read. `first`: no member was read yet (cleared here).
    fn more_members(&mut self, close: u8, first: &mut bool) -> Result<bool, Stop> {
        let t = self.token()?;
        if t == close {
            self.bump();
            return Ok(false);
        }
        if !std::mem::take(first) {
            if t != b',' {
                return Err(self.bad(&format!("expected `,` or `{}`", close as char)));
            }
            self.bump();
        }
        Ok(true)
    }

    /// An object's key into `key` (its first [`KEY_BYTES`] bytes; a longer key is left
    /// empty), and the `:` after it.
    fn key(&mut self, key: &mut Vec<u8>) -> Result<(), Stop> {
        if self.token()? != b'"' {
            return Err(self.bad("expected a key"));
        }
        self.bump();
        if !self.string(key, KEY_BYTES)? {
            key.clear();
        }
        if self.token()? != b':' {
            return Err(self.bad("expected `:`"));
        }
        self.bump();
        Ok(())
    }

    /// A string (its opening quote read) into `into`, cleared first, up to `keep` bytes;
    /// `true` when all of it was kept.
    fn string(&mut self, into: &mut Vec<u8>, keep: usize) -> Result<bool, Stop> {
        into.clear();
        Ok(self.string_onto(into, keep)? <= keep)
    }

    /// A string (its opening quote read) added to `into`, up to `keep` of its bytes: its
    /// length, unescaped.
    fn string_onto(&mut self, into: &mut Vec<u8>, keep: usize) -> Result<usize, Stop> {
        let mut len = 0usize;
        loop {
            let ahead = &self.buf[self.pos..self.checked];
            let i = memchr::memchr2(b'"', b'\\', ahead).unwrap_or(ahead.len());
            let stretch = &ahead[..i];
            // (no branch a byte: the loop is vectorised)
            if stretch.iter().fold(false, |c, &b| c | (b < 0x20)) {
                let at = stretch.iter().position(|&b| b < 0x20).unwrap_or(0);
                self.pos += at;
                return Err(self.bad("a control character in a string"));
            }
            let room = keep.saturating_sub(len).min(i);
            into.extend_from_slice(&stretch[..room]);
            let all = i == ahead.len();
            len += i;
            self.pos += i;
            if all {
                if !self.fill()? {
                    return Err(Stop::Cut);
                }
                continue;
            }
            if self.byte()? == b'"' {
                return Ok(len);
            }
            let mut utf8 = [0u8; 4];
            let unescaped: &[u8] = match self.byte()? {
                b'"' => b"\"",
                b'\\' => b"\\",
                b'/' => b"/",
                b'b' => b"\x08",
                b'f' => b"\x0c",
                b'n' => b"\n",
                b'r' => b"\r",
                b't' => b"\t",
                b'u' => self.unicode_escape()?.encode_utf8(&mut utf8).as_bytes(),
                _ => {
                    self.pos -= 1;
                    return Err(self.bad("an unknown escape in a string"));
                }
            };
            let room = keep.saturating_sub(len).min(unescaped.len());
            into.extend_from_slice(&unescaped[..room]);
            len += unescaped.len();
        }
    }

    /// The character of a `\u` escape (its `\u` read), a surrogate pair's two escapes
    /// together.
    fn unicode_escape(&mut self) -> Result<char, Stop> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if self.byte()? != b'\\' || self.byte()? != b'u' {
                    return Err(self.bad("a lone surrogate escape in a string"));
                }
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.bad("a lone surrogate escape in a string"));
                }
                0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.bad("a lone surrogate escape in a string")),
            u => u32::from(u),
        };
        char::from_u32(code).ok_or_else(|| self.bad("an escape that is no character"))
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Result<u16, Stop> {
        let mut v = 0u16;
        for _ in 0..4 {
            let b = self.byte()?;
            let d = (b as char).to_digit(16).ok_or_else(|| {
                self.pos -= 1;
                self.bad("a `\\u` escape without four hex digits")
            })?;
            v = v << 4 | d as u16;
        }
        Ok(v)
    }

    /// Read past one value of any kind, at most [`MAX_DEPTH`] lists and objects deep.
    fn skip_value(&mut self) -> Result<(), Stop> {
        // the open lists and objects: `true` for an object; and whether the value just opened
        // has no member yet
        let mut open = [false; MAX_DEPTH];
        let (mut depth, mut first) = (0usize, false);
        let mut scratch = Vec::new();
        loop {
            // a value, or the end of the list or object just opened
            let t = self.token()?;
            let empty = first && t == if open[depth - 1] { b'}' } else { b']' };
            if !empty {
                match t {
                    b'"' => {
                        self.bump();
                        self.string(&mut scratch, 0)?;
                    }
                    b'{' | b'[' => {
                        if depth == MAX_DEPTH {
                            return Err(self.bad("values nested too deep"));
                        }
                        self.bump();
                        open[depth] = t == b'{';
                        depth += 1;
                        first = true;
                        if t == b'{' && self.token()? != b'}' {
                            self.key(&mut scratch)?;
                            first = false;
                        }
                        continue;
                    }
                    b'-' | b'0'..=b'9' => self.number()?,
                    b't' => self.literal(b"true")?,
                    b'f' => self.literal(b"false")?,
                    b'n' => self.literal(b"null")?,
                    _ => return Err(self.bad("expected a value")),
                }
            }
            first = false;
            // after a value: the lists and objects it closes, then the next member's start
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let is_object = open[depth - 1];
                let mut not_first = false;
                if !self.more_members(if is_object { b'}' } else { b']' }, &mut not_first)? {
                    depth -= 1;
                    continue;
                }
                if is_object {
                    self.key(&mut scratch)?;
                }
                break;
            }
        }
    }

    /// `word`, exactly.
    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        for &w in word {
            if self.byte()? != w {
                self.pos -= 1;
                return Err(self.bad("expected a value"));
            }
        }
        Ok(())
    }

    /// A number, by JSON's grammar (`-`, an integer part without a leading zero, a fraction,
    /// an exponent).
    fn number(&mut self) -> Result<(), Stop> {
        if self.peek()? == Some(b'-') {
            self.bump();
        }
        match self.byte()? {
            b'0' => {}
            b'1'..=b'9' => self.digits()?,
            _ => {
                self.pos -= 1;
                return Err(self.bad("a number without digits"));
            }
        }
        if self.peek()? == Some(b'.') {
            self.bump();
            self.some_digits()?;
        }
        if matches!(self.peek()?, Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek()?, Some(b'+' | b'-')) {
                self.bump();
            }
            self.some_digits()?;
        }
        Ok(())
    }

    /// At least one digit, then [`Json::digits`].
    fn some_digits(&mut self) -> Result<(), Stop> {
        if !self.byte()?.is_ascii_digit() {
            self.pos -= 1;
            return Err(self.bad("a number without digits"));
        }
        self.digits()
    }

    /// Any digits.
    fn digits(&mut self) -> Result<(), Stop> {
        while let Some(b'0'..=b'9') = self.peek()? {
            self.bump();
        }
        Ok(())
    }
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

    /// A value as serde_json reads it, an object's keys kept in their order with any repeated:
    /// the second, independent reading the reader is checked against.
    enum Value {
        Object(Vec<(String, Value)>),
        List(Vec<Value>),
        Text(String),
        Other,
    }

    impl<'de> serde::Deserialize<'de> for Value {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Value;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                    Ok(Value::Text(s.to_string()))
                }
                fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
                    Ok(Value::Other)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
                    Ok(Value::Other)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
                    Ok(Value::Other)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
                    Ok(Value::Other)
                }
                fn visit_unit<E>(self) -> Result<Value, E> {
                    Ok(Value::Other)
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Value, A::Error> {
                    let mut items = Vec::new();
                    while let Some(v) = a.next_element()? {
                        items.push(v);
                    }
                    Ok(Value::List(items))
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Value, A::Error> {
                    let mut members = Vec::new();
                    while let Some(kv) = a.next_entry()? {
                        members.push(kv);
                    }
                    Ok(Value::Object(members))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// The lines the module's rules give for `doc`, read by serde_json; `Err` with serde_json's
    /// error, or where a value is not a batch or a batch's `logEvents` not a list.
    fn oracle(doc: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for batch in serde_json::Deserializer::from_slice(doc).into_iter::<Value>() {
            let Value::Object(keys) = batch.map_err(|e| e.to_string())? else {
                return Err("not a batch".into());
            };
            let mut control = false;
            for (key, value) in keys {
                match (key.as_str(), value) {
                    ("messageType", Value::Text(t)) => control = t == "CONTROL_MESSAGE",
                    ("logEvents", Value::List(events)) => {
                        for event in events {
                            let message = match event {
                                Value::Object(keys) => keys.into_iter().find_map(|kv| match kv {
                                    (k, Value::Text(m)) if k == "message" => Some(m),
                                    _ => None,
                                }),
                                _ => None,
                            };
                            let line = match &message {
                                Some(m) => &m.as_bytes()[..m.len().min(MAX_LINE + 1)],
                                None => &b"{}"[..],
                            };
                            if !control && !line.starts_with(CONTROL) {
                                out.extend_from_slice(line);
                                out.push(b'\n');
                            }
                        }
                    }
                    ("logEvents", _) => return Err("logEvents not a list".into()),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// A stream handing on at most `most` bytes a read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// The reader's lines and error for `doc`, read from a stream giving `most` bytes a read.
    fn read_trickled(doc: &[u8], most: usize) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        let e = Messages::new(Trickle(doc, most))
            .read_to_end(&mut out)
            .err();
        (out, e)
    }

    /// Subscription batches written by a small random generator (`seed`): the keys of batches
    /// and events in any order, whitespace anywhere between tokens, strings escaped in every
    /// way JSON allows, messages long and short, with quotes, control characters, characters
    /// of two to four bytes, control messages among them, events without a message or with
    /// two, values of other kinds nested.
    fn written_batches(seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut rng = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut doc = String::new();
        let ws = |doc: &mut String, r: u64| {
            doc.push_str(["", "", " ", "\n", "\t\r\n "][r as usize % 5]);
        };
        let quote = |doc: &mut String, s: &str, r: &mut dyn FnMut(u64) -> u64| {
            doc.push('"');
            for c in s.chars() {
                match c {
                    '"' => doc.push_str("\\\""),
                    '\\' => doc.push_str("\\\\"),
                    '\n' if r(2) == 0 => doc.push_str("\\n"),
                    '/' if r(2) == 0 => doc.push_str("\\/"),
                    c if (c as u32) < 0x20 || r(8) == 0 => {
                        let mut units = [0u16; 2];
                        for u in c.encode_utf16(&mut units) {
                            doc.push_str(&format!("\\u{u:04X}"));
                        }
                    }
                    c => doc.push(c),
                }
            }
            doc.push('"');
        };
        let pieces = [
            "2 1 eni-1 ",
            "10.0.0.1",
            " ",
            "\"",
            "\\",
            "/",
            "\n",
            "\t",
            "\u{1}",
            "é",
            "€",
            "😀",
            "CWL CONTROL MESSAGE",
            "x",
        ];
        let nested = [
            "1",
            "-0.5e+3",
            "true",
            "null",
            "[]",
            "{}",
            "[1,{\"a\":[null,\"x\"]}]",
            "{\"message\":\"no\"}",
            "\"s\"",
        ];
        for _ in 0..rng(4) {
            ws(&mut doc, rng(5));
            doc.push('{');
            let kind =
                ["DATA_MESSAGE", "DATA_MESSAGE", "CONTROL_MESSAGE", "OTHER"][rng(4) as usize];
            let mut keys = [
                "messageType",
                "owner",
                "logGroup",
                "subscriptionFilters",
                "logEvents",
            ];
            for i in (1..keys.len()).rev() {
                keys.swap(i, rng(i as u64 + 1) as usize);
            }
            for (k, key) in keys.iter().enumerate() {
                if k > 0 {
                    doc.push(',');
                }
                ws(&mut doc, rng(5));
                quote(&mut doc, key, &mut rng);
                ws(&mut doc, rng(5));
                doc.push(':');
                ws(&mut doc, rng(5));
                match *key {
                    "messageType" => quote(&mut doc, kind, &mut rng),
                    "subscriptionFilters" => doc.push_str("[\"f\" , \"g\"]"),
                    "logEvents" => {
                        doc.push('[');
                        for e in 0..rng(6) {
                            if e > 0 {
                                doc.push(',');
                            }
                            ws(&mut doc, rng(5));
                            if rng(10) == 0 {
                                doc.push_str(nested[rng(nested.len() as u64) as usize]);
                                continue;
                            }
                            let message: String = match rng(40) {
                                0 => "y".repeat(MAX_LINE + rng(3) as usize),
                                _ => (0..rng(12))
                                    .map(|_| pieces[rng(pieces.len() as u64) as usize])
                                    .collect(),
                            };
                            let mut members: Vec<String> = vec![
                                "\"id\":\"3674\"".into(),
                                "\"timestamp\" : 1788220800000".into(),
                            ];
                            let mut m = String::new();
                            match rng(8) {
                                0 => {}
                                1 => m.push_str("\"message\":7"),
                                2 => {
                                    quote(&mut m, "message", &mut rng);
                                    m.push(':');
                                    quote(&mut m, &message, &mut rng);
                                    m.push_str(",\"message\":\"second\"");
                                }
                                _ => {
                                    quote(&mut m, "message", &mut rng);
                                    m.push(':');
                                    ws(&mut m, rng(5));
                                    quote(&mut m, &message, &mut rng);
                                }
                            }
                            if !m.is_empty() {
                                members.insert(rng(3) as usize, m);
                            }
                            if rng(4) == 0 {
                                members.push(format!(
                                    "\"extra\":{}",
                                    nested[rng(nested.len() as u64) as usize]
                                ));
                            }
                            doc.push('{');
                            doc.push_str(&members.join(","));
                            doc.push('}');
                        }
                        ws(&mut doc, rng(5));
                        doc.push(']');
                    }
                    _ => quote(&mut doc, "111122223333", &mut rng),
                }
                ws(&mut doc, rng(5));
            }
            doc.push('}');
        }
        ws(&mut doc, rng(5));
        doc.into_bytes()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Well-formed batches, read from streams giving any number of bytes a read: the lines
        /// serde_json's reading gives, and no error.
        #[test]
        fn batches_read_as_serde_json_reads_them(seed in proptest::prelude::any::<u64>(), most in 1usize..40) {
            let doc = written_batches(seed);
            let want = oracle(&doc).expect("the generator writes JSON");
            for most in [most, usize::MAX] {
                let (out, e) = read_trickled(&doc, most);
                proptest::prop_assert!(e.is_none(), "{e:?}");
                proptest::prop_assert!(out == want, "{} against {}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));
            }
        }

        /// The same batches cut anywhere: either what is left is whole batches (their lines, no
        /// error), or the error says the JSON was cut short, after lines the whole gives first.
        #[test]
        fn batches_cut_anywhere_are_cut_short(seed in proptest::prelude::any::<u64>(), cut in proptest::prelude::any::<proptest::sample::Index>()) {
            let doc = written_batches(seed);
            let full = oracle(&doc).expect("the generator writes JSON");
            let cut = &doc[..cut.index(doc.len() + 1)];
            let (out, e) = read_trickled(cut, 7);
            match e {
                None => proptest::prop_assert_eq!(Some(out), oracle(cut).ok()),
                Some(e) => {
                    proptest::prop_assert_eq!(FailureKind::of(&e), FailureKind::CutShort, "{}", e);
                    proptest::prop_assert!(full.starts_with(&out));
                }
            }
        }

        /// The same batches with bytes overwritten: the reader takes them for JSON where
        /// serde_json does (but for numbers too large for a float, which serde_json refuses and
        /// the reader, reading past them, need not), and then reads the same lines.
        #[test]
        fn damaged_batches_are_refused_where_serde_json_refuses_them(
            seed in proptest::prelude::any::<u64>(),
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 1usize..4, proptest::prelude::any::<u8>()), 1..4),
        ) {
            let mut doc = written_batches(seed);
            if doc.is_empty() {
                return Ok(());
            }
            for (at, len, b) in edits {
                let at = at.index(doc.len());
                let end = (at + len).min(doc.len());
                doc[at..end].fill(b);
            }
            let (out, e) = read_trickled(&doc, 13);
            match oracle(&doc) {
                Ok(want) => {
                    proptest::prop_assert!(e.is_none(), "{e:?}");
                    proptest::prop_assert!(out == want);
                }
                Err(why) if why.contains("number out of range") => {}
                Err(why) => proptest::prop_assert!(e.is_some(), "serde_json: {why}"),
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
