//! A small BIND zone-file reader for `mkube dns import`: `$ORIGIN`, `$TTL`, `@`, relative and
//! absolute names, an omitted owner (the previous one), parentheses over several lines,
//! quoted strings and `;` comments. Types A, AAAA, CNAME, TXT, MX, SRV, PTR and NS become
//! microdns records; SOA, apex NS and other known types are skipped and reported.
//!
//! hickory-proto 0.26 has a zone parser (`serialize::txt::Parser`), but its errors carry no
//! line number, it follows `$INCLUDE` to any file, and its output loses which line a record
//! came from; a reader that names the line is worth these few lines.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::rr::RecordType;
use hickory_proto::serialize::txt::parse_ttl;
use serde_json::{Value, json};

use super::types::RecordData;

/// TTL when neither the line, `$TTL` nor an earlier record gives one (microdns' default).
pub const DEFAULT_TTL: u32 = 300;

/// One record to create: `name` is zone-relative (`@` for the apex), lowercase.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneEntry {
    pub line: usize,
    pub name: String,
    pub ttl: u32,
    pub data: RecordData,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedZone {
    pub records: Vec<ZoneEntry>,
    /// Lines left out on purpose, with why (SOA, apex NS, unsupported types).
    pub skipped: Vec<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ZoneFileError {
    pub line: usize,
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ZoneFileError> {
    Err(ZoneFileError {
        line,
        message: message.into(),
    })
}

/// Parses `text` as a zone file for `zone` (no trailing dot); `$ORIGIN` defaults to `zone.`.
pub fn parse(text: &str, zone: &str) -> Result<ParsedZone, ZoneFileError> {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if zone.is_empty() {
        return err(0, "empty zone name");
    }
    let mut st = State {
        zone: zone.clone(),
        origin: format!("{zone}."),
        default_ttl: None,
        last_ttl: None,
        owner: None,
        out: ParsedZone::default(),
    };
    for entry in lines(text)? {
        st.entry(entry)?;
    }
    Ok(st.out)
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    quoted: bool,
}

/// One logical line: parentheses joined, comments dropped.
#[derive(Debug)]
struct Logical {
    line: usize,
    /// The line began with white space: the owner is the previous one.
    blank_owner: bool,
    tokens: Vec<Token>,
}

fn lines(text: &str) -> Result<Vec<Logical>, ZoneFileError> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut depth_open: Option<usize> = None;
    let mut cur = Logical {
        line: 1,
        blank_owner: false,
        tokens: Vec::new(),
    };
    let mut word = String::new();
    let mut at_line_start = true;
    let mut chars = text.chars().peekable();

    fn flush(word: &mut String, cur: &mut Logical) {
        if !word.is_empty() {
            cur.tokens.push(Token {
                text: std::mem::take(word),
                quoted: false,
            });
        }
    }

    while let Some(c) = chars.next() {
        if at_line_start && depth_open.is_none() {
            at_line_start = false;
            cur.line = line;
            cur.blank_owner = c == ' ' || c == '\t';
        }
        match c {
            '\n' => {
                flush(&mut word, &mut cur);
                if depth_open.is_none() {
                    out.push(std::mem::replace(
                        &mut cur,
                        Logical {
                            line: line + 1,
                            blank_owner: false,
                            tokens: Vec::new(),
                        },
                    ));
                    at_line_start = true;
                }
                line += 1;
            }
            ';' => {
                flush(&mut word, &mut cur);
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '(' => {
                flush(&mut word, &mut cur);
                if depth_open.is_some() {
                    return err(line, "nested parentheses");
                }
                depth_open = Some(line);
            }
            ')' => {
                flush(&mut word, &mut cur);
                if depth_open.take().is_none() {
                    return err(line, "')' without '('");
                }
            }
            '"' => {
                flush(&mut word, &mut cur);
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return err(start, "unterminated quoted string"),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') | None => return err(start, "unterminated quoted string"),
                            Some(e) => s.push(e),
                        },
                        Some('\n') => return err(start, "unterminated quoted string"),
                        Some(o) => s.push(o),
                    }
                }
                cur.tokens.push(Token {
                    text: s,
                    quoted: true,
                });
            }
            '\\' => return err(line, "backslash escapes are not supported outside quotes"),
            ' ' | '\t' | '\r' => flush(&mut word, &mut cur),
            o => word.push(o),
        }
    }
    if let Some(open) = depth_open {
        return err(open, "'(' is never closed");
    }
    flush(&mut word, &mut cur);
    out.push(cur);
    out.retain(|l| !l.tokens.is_empty());
    Ok(out)
}

struct State {
    zone: String,
    /// Absolute, with the trailing dot.
    origin: String,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    /// Absolute owner of the previous record, without the trailing dot.
    owner: Option<String>,
    out: ParsedZone,
}

impl State {
    fn entry(&mut self, l: Logical) -> Result<(), ZoneFileError> {
        let n = l.line;
        let first = &l.tokens[0];
        if !l.blank_owner && !first.quoted && first.text.starts_with('$') {
            return self.directive(n, &l.tokens);
        }
        let mut rest = l.tokens.iter().peekable();
        let owner = if l.blank_owner {
            match &self.owner {
                Some(o) => o.clone(),
                None => return err(n, "no owner name and no previous record to take it from"),
            }
        } else {
            let t = rest.next().expect("non-empty line");
            self.absolute(n, &t.text)?
        };
        self.owner = Some(owner.clone());

        let mut ttl = None;
        let mut rtype = None;
        for _ in 0..3 {
            let Some(t) = rest.next() else { break };
            let up = t.text.to_ascii_uppercase();
            if t.text.starts_with(|c: char| c.is_ascii_digit()) {
                if ttl.is_some() {
                    return err(n, format!("second TTL {:?}", t.text));
                }
                ttl = Some(parse_ttl(&t.text).map_err(|_| ZoneFileError {
                    line: n,
                    message: format!("bad TTL {:?}", t.text),
                })?);
            } else if up == "IN" {
                continue;
            } else if matches!(up.as_str(), "CH" | "HS" | "CS" | "ANY" | "NONE") {
                return err(n, format!("class {up} is not supported (only IN)"));
            } else {
                rtype = Some(up);
                break;
            }
        }
        let Some(rtype) = rtype else {
            return err(n, "missing record type");
        };
        let ttl = ttl
            .or(self.default_ttl)
            .or(self.last_ttl)
            .unwrap_or(DEFAULT_TTL);
        self.last_ttl = Some(ttl);
        let rdata: Vec<&Token> = rest.collect();
        let name = self.relative(n, &owner)?;
        let data = match self.rdata(n, &rtype, &name, &rdata)? {
            Some(d) => d,
            None => return Ok(()),
        };
        self.out.records.push(ZoneEntry {
            line: n,
            name,
            ttl,
            data,
        });
        Ok(())
    }

    fn directive(&mut self, n: usize, t: &[Token]) -> Result<(), ZoneFileError> {
        let arg = |i: usize| -> Result<&str, ZoneFileError> {
            t.get(i).map(|t| t.text.as_str()).ok_or(ZoneFileError {
                line: n,
                message: format!("{} needs an argument", t[0].text),
            })
        };
        match t[0].text.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let o = self.absolute(n, arg(1)?)?;
                self.origin = format!("{o}.");
            }
            "$TTL" => {
                let v = arg(1)?;
                self.default_ttl = Some(parse_ttl(v).map_err(|_| ZoneFileError {
                    line: n,
                    message: format!("bad $TTL {v:?}"),
                })?);
            }
            "$INCLUDE" => return err(n, "$INCLUDE is not supported"),
            other => return err(n, format!("unknown directive {other}")),
        }
        if t.len() > 2 {
            return err(n, format!("unexpected {:?} after {}", t[2].text, t[0].text));
        }
        Ok(())
    }

    /// `name` as an absolute lowercase name without the trailing dot.
    fn absolute(&self, n: usize, name: &str) -> Result<String, ZoneFileError> {
        let full = if name == "@" {
            self.origin.clone()
        } else if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.{}", self.origin)
        };
        let full = full.trim_end_matches('.').to_ascii_lowercase();
        if full.is_empty() {
            return err(n, "the root name is not allowed here");
        }
        for label in full.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*');
            if !ok {
                return err(n, format!("bad name {name:?}"));
            }
        }
        Ok(full)
    }

    /// Zone-relative form of an absolute name, `@` for the apex.
    fn relative(&self, n: usize, abs: &str) -> Result<String, ZoneFileError> {
        if abs == self.zone {
            return Ok("@".into());
        }
        match abs.strip_suffix(&format!(".{}", self.zone)) {
            Some(r) => Ok(r.to_string()),
            None => err(n, format!("{abs} is outside zone {}", self.zone)),
        }
    }

    fn rdata(
        &mut self,
        n: usize,
        rtype: &str,
        name: &str,
        t: &[&Token],
    ) -> Result<Option<RecordData>, ZoneFileError> {
        let want = |k: usize| -> Result<(), ZoneFileError> {
            if t.len() == k {
                Ok(())
            } else {
                err(n, format!("{rtype} needs {k} value(s), found {}", t.len()))
            }
        };
        let num = |s: &Token, what: &str| -> Result<u16, ZoneFileError> {
            s.text.parse().map_err(|_| ZoneFileError {
                line: n,
                message: format!("{rtype}: bad {what} {:?}", s.text),
            })
        };
        let value = match rtype {
            "A" => {
                want(1)?;
                let ip = Ipv4Addr::from_str(&t[0].text).map_err(|_| ZoneFileError {
                    line: n,
                    message: format!("A: bad IPv4 address {:?}", t[0].text),
                })?;
                Value::String(ip.to_string())
            }
            "AAAA" => {
                want(1)?;
                let ip = Ipv6Addr::from_str(&t[0].text).map_err(|_| ZoneFileError {
                    line: n,
                    message: format!("AAAA: bad IPv6 address {:?}", t[0].text),
                })?;
                Value::String(ip.to_string())
            }
            "NS" if name == "@" => {
                self.skip(n, "NS at the apex (microdns serves its own)");
                return Ok(None);
            }
            "CNAME" | "PTR" | "NS" => {
                want(1)?;
                Value::String(self.absolute(n, &t[0].text)?)
            }
            "TXT" => {
                if t.is_empty() {
                    return err(n, "TXT needs a value");
                }
                Value::String(t.iter().map(|t| t.text.as_str()).collect())
            }
            "MX" => {
                want(2)?;
                json!({"preference": num(t[0], "preference")?, "exchange": self.absolute(n, &t[1].text)?})
            }
            "SRV" => {
                want(4)?;
                json!({
                    "priority": num(t[0], "priority")?,
                    "weight": num(t[1], "weight")?,
                    "port": num(t[2], "port")?,
                    "target": self.absolute(n, &t[3].text)?,
                })
            }
            "SOA" => {
                self.skip(n, "SOA (microdns keeps its own)");
                return Ok(None);
            }
            other => {
                if RecordType::from_str(other).is_ok() {
                    self.skip(n, &format!("{other} is not imported"));
                    return Ok(None);
                }
                return err(n, format!("unknown record type {other:?}"));
            }
        };
        Ok(Some(RecordData::new(rtype, value)))
    }

    fn skip(&mut self, n: usize, why: &str) {
        self.out.skipped.push((n, why.to_string()));
    }
}

#[cfg(test)]
mod tests;
