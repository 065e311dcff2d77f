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

/// The node a subject belongs to: the unescaped second token of `mkube.<node>.<area>…`, or
/// `None` when the subject is not shaped like an mkube subject.
pub fn node_of(subject: &str) -> Option<String> {
    let mut tokens = subject.split('.');
    let (Some(PREFIX), Some(node), Some(area)) = (tokens.next(), tokens.next(), tokens.next())
    else {
        return None;
    };
    if area.is_empty() {
        return None;
    }
    unescape_token(node)
}

/// The area of a subject: the third token of `mkube.<node>.<area>…`.
pub fn area_of(subject: &str) -> Option<&str> {
    subject.split('.').nth(2).filter(|a| !a.is_empty())
}

/// Whether every subject `inner` matches is also matched by `outer` (both may hold wildcards).
pub fn covers(outer: &str, inner: &str) -> bool {
    let mut inner_tokens = inner.split('.');
    for o in outer.split('.') {
        match (o, inner_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(i)) if i != ">" => {}
            (o, Some(i)) if o == i && o != "*" && o != ">" => {}
            _ => return false,
        }
    }
    inner_tokens.next().is_none()
}

/// Whether some subject is matched by both filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut b_tokens = b.split('.');
    for t in a.split('.') {
        match (t, b_tokens.next()) {
            (">", Some(_)) | (_, Some(">")) => return true,
            ("*", Some(_)) | (_, Some("*")) => {}
            (t, Some(u)) if t == u => {}
            _ => return false,
        }
    }
    b_tokens.next().is_none()
}

/// What a stream's subject list needs so that it holds `wanted` (a node's `mkube.<node>.>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectsMerge {
    /// A subject of the stream already covers `wanted` (e.g. the node's own, or `mkube.>`).
    Covered,
    /// The new list: every other subject kept, `wanted` added. Subjects `wanted` covers are
    /// folded into it, because JetStream refuses overlapping subjects within one stream.
    Update(Vec<String>),
    /// This subject of the stream overlaps `wanted` without covering it: adding `wanted`
    /// would be refused, and dropping the other would take someone's events away.
    Conflict(String),
}

/// Merges `wanted` into a stream's `existing` subjects without removing anything they match.
pub fn merge_subjects(existing: &[String], wanted: &str) -> SubjectsMerge {
    if existing.iter().any(|s| covers(s, wanted)) {
        return SubjectsMerge::Covered;
    }
    if let Some(partial) = existing
        .iter()
        .find(|s| overlaps(s, wanted) && !covers(wanted, s))
    {
        return SubjectsMerge::Conflict(partial.clone());
    }
    let mut merged: Vec<String> = existing
        .iter()
        .filter(|s| !covers(wanted, s))
        .cloned()
        .collect();
    merged.push(wanted.to_string());
    SubjectsMerge::Update(merged)
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
    fn the_node_of_a_subject_is_its_unescaped_second_token() {
        assert_eq!(node_of("mkube.a.pods.default.web").as_deref(), Some("a"));
        assert_eq!(
            node_of("mkube.gt%2Elo.consistency").as_deref(),
            Some("gt.lo")
        );
        assert_eq!(node_of("mkube.a"), None);
        assert_eq!(node_of("mkube.a."), None);
        assert_eq!(node_of("other.a.pods"), None);
        assert_eq!(node_of("mkube.%zz.pods"), None);
    }

    #[test]
    fn covering_and_overlapping_filters() {
        assert!(covers("mkube.>", "mkube.a.>"));
        assert!(covers("mkube.a.>", "mkube.a.>"));
        assert!(covers("mkube.*.>", "mkube.a.>"));
        assert!(covers("mkube.a.>", "mkube.a.pods.>"));
        assert!(!covers("mkube.a.>", "mkube.b.>"));
        assert!(!covers("mkube.a.pods.>", "mkube.a.>"));
        assert!(!covers("mkube.a.*", "mkube.a.>"));
        assert!(!covers("mkube.a.>", "mkube.a"));
        assert!(covers("mkube.a.pods", "mkube.a.pods"));
        assert!(!covers("mkube.a.pods", "mkube.a.*"));
        assert!(overlaps("mkube.*.pods.>", "mkube.a.>"));
        assert!(overlaps("mkube.a.>", "mkube.>"));
        assert!(overlaps("mkube.a.*", "mkube.a.>"));
        assert!(!overlaps("mkube.a.>", "mkube.b.>"));
        assert!(!overlaps("mkube.a", "mkube.a.>"));
        assert!(!overlaps("other.>", "mkube.a.>"));
    }

    /// Issue 11 item 5: a second node adds its subject to the shared stream, never removing
    /// another node's.
    #[test]
    fn merging_a_nodes_subject_keeps_every_other_subject() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let b = stream_filter("b");
        assert_eq!(
            merge_subjects(&list(&["mkube.a.>"]), &b),
            SubjectsMerge::Update(list(&["mkube.a.>", "mkube.b.>"]))
        );
        // Node a reconnecting after b joined: nothing to change, b's subject stays.
        assert_eq!(
            merge_subjects(&list(&["mkube.a.>", "mkube.b.>"]), &stream_filter("a")),
            SubjectsMerge::Covered
        );
        assert_eq!(
            merge_subjects(&list(&["mkube.>"]), &b),
            SubjectsMerge::Covered
        );
        assert_eq!(
            merge_subjects(&list(&["mkube.*.>"]), &b),
            SubjectsMerge::Covered
        );
        // A narrower subject of b's is folded into b's whole subject (JetStream refuses
        // overlaps within a stream); nothing it matched is lost.
        assert_eq!(
            merge_subjects(&list(&["mkube.a.>", "mkube.b.pods.>", "x.y"]), &b),
            SubjectsMerge::Update(list(&["mkube.a.>", "x.y", "mkube.b.>"]))
        );
        assert_eq!(
            merge_subjects(&list(&["mkube.*.pods.>"]), &b),
            SubjectsMerge::Conflict("mkube.*.pods.>".into())
        );
        assert_eq!(
            merge_subjects(&[], &b),
            SubjectsMerge::Update(list(&["mkube.b.>"]))
        );
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
