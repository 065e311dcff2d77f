use super::*;

fn entries(text: &str) -> Vec<(String, u32, String, Value)> {
    parse(text, "gt.lo")
        .unwrap()
        .records
        .into_iter()
        .map(|e| (e.name, e.ttl, e.data.rtype, e.data.data))
        .collect()
}

fn e(name: &str, ttl: u32, t: &str, v: Value) -> (String, u32, String, Value) {
    (name.into(), ttl, t.into(), v)
}

#[test]
fn full_zone_with_soa_parentheses_and_comments() {
    let text = r#"
$ORIGIN gt.lo.
$TTL 1h
@   IN  SOA ns1.gt.lo. admin.gt.lo. (
        2026022401 ; serial
        3600 900 604800 300 )
@       IN NS ns1             ; apex NS is skipped
ns1     IN A 192.168.200.199
www  60 IN A 192.168.200.5
        IN A 192.168.200.6    ; omitted owner = www
mail.gt.lo. IN MX 10 mx1
alias   CNAME www
txt     TXT "v=spf1 -all" "second"
_sip._tcp SRV 10 20 5060 sip.example.com.
5       PTR host5
sub     NS ns.other.lo.
"#;
    let got = parse(text, "gt.lo").unwrap();
    assert_eq!(got.skipped.iter().map(|s| s.0).collect::<Vec<_>>(), [4, 7]);
    let r: Vec<_> = got
        .records
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.ttl,
                e.data.rtype.as_str(),
                e.data.data.clone(),
            )
        })
        .collect();
    assert_eq!(
        r,
        [
            ("ns1", 3600, "A", json!("192.168.200.199")),
            ("www", 60, "A", json!("192.168.200.5")),
            ("www", 3600, "A", json!("192.168.200.6")),
            (
                "mail",
                3600,
                "MX",
                json!({"preference": 10, "exchange": "mx1.gt.lo"})
            ),
            ("alias", 3600, "CNAME", json!("www.gt.lo")),
            ("txt", 3600, "TXT", json!("v=spf1 -allsecond")),
            (
                "_sip._tcp",
                3600,
                "SRV",
                json!({"priority": 10, "weight": 20, "port": 5060, "target": "sip.example.com"})
            ),
            ("5", 3600, "PTR", json!("host5.gt.lo")),
            ("sub", 3600, "NS", json!("ns.other.lo")),
        ]
    );
    assert_eq!(got.records[1].line, 9);
    assert_eq!(got.records[2].line, 10);
}

#[test]
fn origin_defaults_to_the_zone_and_changes_relative_names() {
    let text = "a A 10.0.0.1\n$ORIGIN kube.gt.lo.\nb A 10.0.0.2\n@ A 10.0.0.3\n$ORIGIN gt.lo.\n@ 30 AAAA 2001:DB8::1\n";
    assert_eq!(
        entries(text),
        [
            e("a", 300, "A", json!("10.0.0.1")),
            e("b.kube", 300, "A", json!("10.0.0.2")),
            e("kube", 300, "A", json!("10.0.0.3")),
            e("@", 30, "AAAA", json!("2001:db8::1")),
        ]
    );
}

#[test]
fn names_are_lowercased_and_ttl_class_order_is_free() {
    assert_eq!(
        entries("WWW IN 120 A 10.0.0.1\nx.GT.LO. 5m IN A 10.0.0.2\n"),
        [
            e("www", 120, "A", json!("10.0.0.1")),
            e("x", 300, "A", json!("10.0.0.2")),
        ]
    );
}

#[test]
fn ttl_falls_back_to_the_previous_record_without_ttl_directive() {
    assert_eq!(
        entries("a 42 A 10.0.0.1\nb A 10.0.0.2\n"),
        [
            e("a", 42, "A", json!("10.0.0.1")),
            e("b", 42, "A", json!("10.0.0.2")),
        ]
    );
}

#[test]
fn empty_file_and_comments_only_give_nothing() {
    assert!(entries("").is_empty());
    assert!(entries("; just a comment\n\n   \n").is_empty());
}

#[test]
fn unsupported_known_types_are_skipped_not_errors() {
    let got = parse("@ CAA 0 issue \"ca.example\"\n", "gt.lo").unwrap();
    assert!(got.records.is_empty());
    assert_eq!(got.skipped.len(), 1);
}

fn fails(text: &str) -> ZoneFileError {
    parse(text, "gt.lo").expect_err(text)
}

#[test]
fn malformed_input_names_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("ok A 10.0.0.1\nbad A 10.0.0.300\n", 2, "bad IPv4"),
        ("a A 10.0.0.1\n\nb BOGUS x\n", 3, "unknown record type"),
        ("a 10\n", 1, "missing record type"),
        ("  A 10.0.0.1\n", 1, "no owner"),
        ("a A\n", 1, "A needs 1 value"),
        ("a A 10.0.0.1 10.0.0.2\n", 1, "A needs 1 value"),
        ("x MX ten mx\n", 1, "bad preference"),
        ("x SRV 1 2 port t\n", 1, "bad port"),
        ("$TTL soon\n", 1, "bad $TTL"),
        ("$INCLUDE other.zone\n", 1, "$INCLUDE"),
        ("$FOO\n", 1, "unknown directive"),
        ("a A 10.0.0.1\nb TXT \"open\n", 2, "unterminated"),
        (
            "a A 10.0.0.1\n@ SOA ns admin ( 1 2\n 3 4 5\n",
            2,
            "never closed",
        ),
        ("a A 10.0.0.1 )\n", 1, "without '('"),
        ("other.lo. A 10.0.0.1\n", 1, "outside zone"),
        ("a..b A 10.0.0.1\n", 1, "bad name"),
        ("a CH A 10.0.0.1\n", 1, "only IN"),
        ("a A 10.0.0.1\nb AAAA 10.0.0.1\n", 2, "bad IPv6"),
        ("a\\.b A 10.0.0.1\n", 1, "backslash"),
    ];
    for (text, line, needle) in cases {
        let e = fails(text);
        assert_eq!(e.line, *line, "{text:?}: {e}");
        assert!(e.to_string().contains(needle), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("line {line}: ")));
    }
}

#[test]
fn multi_line_record_reports_its_first_line() {
    let got = parse("\n\nx MX (\n 10\n mx )\ny A 10.0.0.9\n", "gt.lo").unwrap();
    assert_eq!(got.records[0].line, 3);
    assert_eq!(got.records[1].line, 6);
}
