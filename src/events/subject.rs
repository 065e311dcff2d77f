//! Subjects: `mkube.<node>.<area>[.<key>…]`. Each key part is escaped into one subject token,
//! because pod names and zones may contain dots: bytes outside `[A-Za-z0-9_-]` become `%XX`,
//! and the empty string becomes a lone `%`.

use super::catalogue::Event;

pub const PREFIX: &str = "mkube";

pub fn escape_token(raw: &str) -> String {
    if raw.is_empty() {
        return "%".to_string();
    }
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn unescape_token(token: &str) -> Option<String> {
    if token == "%" {
        return Some(String::new());
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = token.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The subject every event of this node's stream lives under: `mkube.<node>.>`.
pub fn stream_filter(node: &str) -> String {
    format!("{PREFIX}.{}.>", escape_token(node))
}

/// All subjects of one area: `mkube.<node>.<area>` and below.
pub fn area_filter(node: &str, area: &str) -> String {
    format!("{PREFIX}.{}.{area}.>", escape_token(node))
}

/// The subject of one object of an area: `mkube.<node>.<area>.<key…>` (keys escaped), the
/// subject every event about that object is appended to.
pub fn for_key(node: &str, area: &str, key: &[&str]) -> String {
    let mut subject = format!("{PREFIX}.{}.{area}", escape_token(node));
    for part in key {
        subject.push('.');
        subject.push_str(&escape_token(part));
    }
    subject
}

pub fn for_event(node: &str, event: &Event) -> String {
    let mut subject = format!("{PREFIX}.{}.{}", escape_token(node), event.area());
    for part in event.key() {
        subject.push('.');
        subject.push_str(&escape_token(&part));
    }
    subject
}

/// NATS subject matching: `*` matches one token, a final `>` one or more.
pub fn matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for f in filter.split('.') {
        match (f, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (f, Some(s)) if f == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_yields_one_token() {
        for raw in ["web", "dns.g10.lo", "a b*c>d%e", "", "ünï", "x_y-z"] {
            let t = escape_token(raw);
            assert!(!t.contains('.') && !t.contains('*') && !t.contains('>') && !t.contains(' '));
            assert!(!t.is_empty());
            assert_eq!(unescape_token(&t).as_deref(), Some(raw));
        }
        assert_eq!(escape_token("gt.lo"), "gt%2Elo");
        assert_eq!(unescape_token("%zz"), None);
    }

    #[test]
    fn wildcard_matching_follows_nats() {
        assert!(matches("mkube.n.>", "mkube.n.pods.default.web"));
        assert!(matches("mkube.n.*.default.web", "mkube.n.pods.default.web"));
        assert!(!matches("mkube.n.ipam.>", "mkube.n.pods.default.web"));
        assert!(!matches("mkube.n.pods", "mkube.n.pods.default"));
        assert!(matches("mkube.n.consistency", "mkube.n.consistency"));
        assert!(!matches("mkube.n.consistency.>", "mkube.n.consistency"));
    }
}
