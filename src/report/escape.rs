//! Making input-derived text safe in each output: ENI ids, subnet and ECS names, file paths
//! and S3 keys come from the logs (or from whoever wrote them) and may hold anything. In a
//! terminal, control characters are shown escaped, never sent; in Markdown, every character
//! that could start markup (a link, an image, raw HTML, a table cell, a heading) is escaped;
//! in CSV, a cell that a spreadsheet would run as a formula is turned into text (OWASP's
//! advice: a leading `'`). JSON needs nothing: serde escapes control characters.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a document as it is: C0 and C1 controls, DEL,
/// and the Unicode format characters that reorder or hide text (bidi overrides and isolates).
fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character written out as an escape (`\x1b`, `\n`, `\u{202e}`),
/// so that one line of input stays one line of output and nothing is sent to the terminal.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Every control character of a whole rendered text escaped except its own line breaks: the
/// last guard of the terminal table, whatever a renderer forgot.
pub fn clean_lines(s: String) -> String {
    if !s.chars().any(|c| c != '\n' && is_control(c)) {
        return s;
    }
    s.split('\n').map(clean).collect::<Vec<_>>().join("\n")
}

/// `s` as literal Markdown text: controls escaped as in [`clean`], then every ASCII
/// character that CommonMark or GitHub could read as markup backslash-escaped, and `<`, `>`
/// and `&` written as entities (so no raw HTML, autolink or entity survives).
pub fn md(s: &str) -> Cow<'_, str> {
    // (parentheses need no escape once `[` and `]` have one: no link can form)
    const SPECIAL: &[char] = &[
        '\\', '`', '*', '_', '[', ']', '#', '|', '!', '~', '<', '>', '&',
    ];
    let s = clean(s);
    if !s.contains(SPECIAL) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One CSV cell (RFC 4180 quoting), controls escaped, and a cell that a spreadsheet would
/// evaluate (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'`
/// unless it is a plain number (so `-12.5` stays a number).
pub fn csv(s: &str) -> Cow<'_, str> {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err();
    let cleaned = clean(s);
    let cell: Cow<'_, str> = if formula {
        Cow::Owned(format!("'{cleaned}"))
    } else {
        cleaned
    };
    if cell.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", cell.replace('"', "\"\"")))
    } else {
        cell
    }
}

/// Query parameters whose values are secrets (presigned URLs, tokens).
const SECRET_PARAMS: &[&str] = &[
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "signature",
    "sig",
    "token",
    "access_token",
    "password",
    "secret",
    "key",
    "awsaccesskeyid",
];

/// A command-line word or URL as it may be recorded in a report: the user and password of a
/// URL (`http://user:secret@host`, also after `--flag=`) and the values of query parameters
/// that carry signatures or tokens replaced by `REDACTED`.
pub fn redact(word: &str) -> Cow<'_, str> {
    let Some(scheme_end) = word.find("://") else {
        return Cow::Borrowed(word);
    };
    let rest_at = scheme_end + 3;
    let rest = &word[rest_at..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = String::with_capacity(word.len());
    out.push_str(&word[..rest_at]);
    match rest[..auth_end].rfind('@') {
        Some(at) => {
            out.push_str("REDACTED@");
            out.push_str(&rest[at + 1..auth_end]);
        }
        None => out.push_str(&rest[..auth_end]),
    }
    let tail = &rest[auth_end..];
    match tail.find('?') {
        None => out.push_str(tail),
        Some(q) => {
            out.push_str(&tail[..=q]);
            let (query, fragment) = match tail[q + 1..].find('#') {
                Some(h) => (&tail[q + 1..q + 1 + h], &tail[q + 1 + h..]),
                None => (&tail[q + 1..], ""),
            };
            let parts: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                        format!("{k}=REDACTED")
                    }
                    _ => kv.to_string(),
                })
                .collect();
            out.push_str(&parts.join("&"));
            out.push_str(fragment);
        }
    }
    if out == word {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_never_carries_controls() {
        assert_eq!(clean("eni-0abc"), "eni-0abc");
        assert_eq!(
            clean("svc\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "svc\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(clean("a\nb\u{202e}c"), "a\\nb\\u{202e}c");
        assert_eq!(clean_lines("ok\nx\u{1b}[2Jy\n".into()), "ok\nx\\x1b[2Jy\n");
    }

    #[test]
    fn markdown_text_is_literal() {
        assert_eq!(md("eni-0abc"), "eni-0abc");
        assert_eq!(md("subnet-1 use1-az1"), "subnet-1 use1-az1");
        assert_eq!(
            md("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            md("[x](javascript:alert(1))"),
            "\\[x\\](javascript:alert(1))"
        );
        assert_eq!(md("![i](http://e/x.png)"), "\\!\\[i\\](http://e/x.png)");
        assert_eq!(md("a|b\n# H"), "a\\|b\\\\n\\# H");
        for hostile in [
            "<img src=x onerror=alert(1)>",
            "`code`",
            "**b**",
            "a\r\n| fake | row |",
        ] {
            let m = md(hostile);
            assert!(
                !m.contains('<') && !m.contains('\n') && !m.contains('\r'),
                "{m}"
            );
        }
    }

    #[test]
    fn credentials_never_reach_a_report() {
        assert_eq!(redact("--quiet"), "--quiet");
        assert_eq!(redact("s3://bucket/prefix/"), "s3://bucket/prefix/");
        assert_eq!(
            redact("http://user:secret@127.0.0.1:9000"),
            "http://REDACTED@127.0.0.1:9000"
        );
        assert_eq!(
            redact("--endpoint-url=https://k:s@minio.local/path?x=1"),
            "--endpoint-url=https://REDACTED@minio.local/path?x=1"
        );
        assert_eq!(
            redact("https://b.s3.amazonaws.com/ip-ranges.json?X-Amz-Credential=AKIA&X-Amz-Signature=abc&v=2#f"),
            "https://b.s3.amazonaws.com/ip-ranges.json?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&v=2#f"
        );
        assert_eq!(redact("http://host/a@b"), "http://host/a@b");
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv("plain"), "plain");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv("+1+2"), "'+1+2");
        assert_eq!(csv("-2+3"), "'-2+3");
        assert_eq!(csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv("-12.5"), "-12.5");
        assert_eq!(csv("\tx"), "'\\tx");
        assert_eq!(csv("a\nb"), "a\\nb");
    }
}
