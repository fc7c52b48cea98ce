//! Tests: valid and invalid tables (reasons as InfluxDB 1.x words them, most checked against a
//! real 1.6.7), bodies with several lines, the writer, precision, property tests, seed replay
//! and a throughput measurement.

use std::borrow::Cow;

use proptest::prelude::*;

use super::check::body_roundtrip;
use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn f(v: f64) -> FieldValue<'static> {
    FieldValue::Float(v)
}
fn i(v: i64) -> FieldValue<'static> {
    FieldValue::Integer(v)
}
fn u(v: u64) -> FieldValue<'static> {
    FieldValue::Unsigned(v)
}
fn b(v: bool) -> FieldValue<'static> {
    FieldValue::Boolean(v)
}
fn s(v: &str) -> FieldValue<'_> {
    FieldValue::String(Cow::Borrowed(v))
}

fn pl<'a>(
    measurement: &'a str,
    tags: &[(&'a str, &'a str)],
    fields: Vec<(&'a str, FieldValue<'a>)>,
    timestamp: Option<i64>,
) -> ParsedLine<'a> {
    ParsedLine {
        measurement: Cow::Borrowed(measurement),
        tags: tags
            .iter()
            .map(|&(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
            .collect(),
        fields: fields
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .collect(),
        timestamp,
    }
}

/// Parses a body that must hold exactly one line.
fn one(body: &str) -> Result<ParsedLine<'_>, LineError> {
    let mut lines = parse_lines(body);
    let first = lines.next().expect("one line");
    assert!(lines.next().is_none(), "more than one line in {body:?}");
    first
}

fn written(line: &ParsedLine<'_>) -> String {
    let mut out = String::new();
    write_line(&mut out, line).expect("writable");
    out
}

// ---------------------------------------------------------------------------------------------
// Valid lines

#[test]
fn valid_lines() {
    let long_float = format!("{}.5", "1".repeat(300));
    let cases: Vec<(&str, ParsedLine<'_>)> = vec![
        ("cpu value=1", pl("cpu", &[], vec![("value", f(1.0))], None)),
        (
            "cpu,host=a,region=us value=1.5,count=3i,big=4u,ok=true,msg=\"hi there\" 1700000000000000000",
            pl(
                "cpu",
                &[("host", "a"), ("region", "us")],
                vec![
                    ("value", f(1.5)),
                    ("count", i(3)),
                    ("big", u(4)),
                    ("ok", b(true)),
                    ("msg", s("hi there")),
                ],
                Some(1_700_000_000_000_000_000),
            ),
        ),
        // Tags keep the order written.
        (
            "m,z=1,a=2 f=1",
            pl("m", &[("z", "1"), ("a", "2")], vec![("f", f(1.0))], None),
        ),
        // Measurement escapes: `\,` `\ ` and (as 1.x's escape.Unescape) `\=` `\"`; other
        // backslashes stay.
        ("c\\,p\\ u f=1", pl("c,p u", &[], vec![("f", f(1.0))], None)),
        ("a\\=b f=1", pl("a=b", &[], vec![("f", f(1.0))], None)),
        ("c\\\"d f=1", pl("c\"d", &[], vec![("f", f(1.0))], None)),
        ("a=b\"c f=1", pl("a=b\"c", &[], vec![("f", f(1.0))], None)),
        ("p\\x f=1", pl("p\\x", &[], vec![("f", f(1.0))], None)),
        ("e\\\\,x f=1", pl("e\\,x", &[], vec![("f", f(1.0))], None)),
        ("\\#m f=1", pl("\\#m", &[], vec![("f", f(1.0))], None)),
        ("m#x f=1", pl("m#x", &[], vec![("f", f(1.0))], None)),
        ("\\ lead f=1", pl(" lead", &[], vec![("f", f(1.0))], None)),
        // A backslash-newline continues the name (as 1.x's scanLine).
        (
            "m\\\nm f=1 13",
            pl("m\\\nm", &[], vec![("f", f(1.0))], Some(13)),
        ),
        // Tag escapes: `\,` `\ ` `\=`; `\"` stays.
        (
            "m,t\\ k=v\\,1,a\\=b=c\\ d f=1",
            pl(
                "m",
                &[("t k", "v,1"), ("a=b", "c d")],
                vec![("f", f(1.0))],
                None,
            ),
        ),
        (
            "m,t\\\"=v\\\" f=1",
            pl("m", &[("t\\\"", "v\\\"")], vec![("f", f(1.0))], None),
        ),
        (
            "m,t=a\\\\\\,b f=1",
            pl("m", &[("t", "a\\\\,b")], vec![("f", f(1.0))], None),
        ),
        // 1.x accepts `=` as the first byte of a tag value.
        (
            "m,t==a f=1",
            pl("m", &[("t", "=a")], vec![("f", f(1.0))], None),
        ),
        // Field key escapes: `\,` `\ ` `\=` `\"`.
        (
            "k f\\\"\\=\\ \\,=1",
            pl("k", &[], vec![("f\"= ,", f(1.0))], None),
        ),
        (
            "k a\\\\\\,b=1",
            pl("k", &[], vec![("a\\\\,b", f(1.0))], None),
        ),
        ("k a\"b=1", pl("k", &[], vec![("a\"b", f(1.0))], None)),
        // String values: only `\"` and `\\` are escapes.
        (
            "k f=\"a\\\\b\\\"c\\nd\\x\"",
            pl("k", &[], vec![("f", s("a\\b\"c\\nd\\x"))], None),
        ),
        (
            "k f=\"a, b=c d\",g=1i",
            pl("k", &[], vec![("f", s("a, b=c d")), ("g", i(1))], None),
        ),
        ("k f=\"\"", pl("k", &[], vec![("f", s(""))], None)),
        ("k f=\"a\\\\\"", pl("k", &[], vec![("f", s("a\\"))], None)),
        // A quoted newline is part of the value (1.x stores it).
        (
            "k f=\"a\nb\" 10",
            pl("k", &[], vec![("f", s("a\nb"))], Some(10)),
        ),
        (
            "uni,tåg=värde fält=\"ünï 😀\" 5",
            pl(
                "uni",
                &[("tåg", "värde")],
                vec![("fält", s("ünï 😀"))],
                Some(5),
            ),
        ),
        // Floats.
        ("m f=1.", pl("m", &[], vec![("f", f(1.0))], None)),
        ("m f=.5", pl("m", &[], vec![("f", f(0.5))], None)),
        ("m f=-.5", pl("m", &[], vec![("f", f(-0.5))], None)),
        ("m f=-1.5", pl("m", &[], vec![("f", f(-1.5))], None)),
        ("m f=1e10", pl("m", &[], vec![("f", f(1e10))], None)),
        ("m f=1.5E-3", pl("m", &[], vec![("f", f(1.5e-3))], None)),
        ("m f=1e+5", pl("m", &[], vec![("f", f(1e5))], None)),
        ("m f=1.e5", pl("m", &[], vec![("f", f(1e5))], None)),
        ("m f=-0", pl("m", &[], vec![("f", f(-0.0))], None)),
        ("m f=-0.0", pl("m", &[], vec![("f", f(-0.0))], None)),
        ("m f=000001.5", pl("m", &[], vec![("f", f(1.5))], None)),
        ("m f=1e-400", pl("m", &[], vec![("f", f(0.0))], None)),
        (
            "m f=1.7976931348623157e308",
            pl("m", &[], vec![("f", f(f64::MAX))], None),
        ),
        ("m f=5e-324", pl("m", &[], vec![("f", f(5e-324))], None)),
        // Integers and unsigned at their limits.
        (
            "m a=9223372036854775807i,b=-9223372036854775808i,c=-0i,d=007i",
            pl(
                "m",
                &[],
                vec![
                    ("a", i(i64::MAX)),
                    ("b", i(i64::MIN)),
                    ("c", i(0)),
                    ("d", i(7)),
                ],
                None,
            ),
        ),
        (
            "m a=0u,b=18446744073709551615u,c=00018446744073709551615u",
            pl(
                "m",
                &[],
                vec![("a", u(0)), ("b", u(u64::MAX)), ("c", u(u64::MAX))],
                None,
            ),
        ),
        // The ten boolean spellings.
        (
            "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE",
            pl(
                "m",
                &[],
                vec![
                    ("a", b(true)),
                    ("b", b(true)),
                    ("c", b(true)),
                    ("d", b(true)),
                    ("e", b(true)),
                    ("f", b(false)),
                    ("g", b(false)),
                    ("h", b(false)),
                    ("i", b(false)),
                    ("j", b(false)),
                ],
                None,
            ),
        ),
        // Duplicate field keys are kept in order (1.x: last wins; the engine dedups).
        (
            "m f=1,f=2i",
            pl("m", &[], vec![("f", f(1.0)), ("f", i(2))], None),
        ),
        // Timestamps and the blanks 1.x accepts around them.
        ("m f=1 -1", pl("m", &[], vec![("f", f(1.0))], Some(-1))),
        ("m f=1 -0", pl("m", &[], vec![("f", f(1.0))], Some(0))),
        (
            "m f=1 9223372036854775806",
            pl("m", &[], vec![("f", f(1.0))], Some(MAX_NANO_TIME)),
        ),
        (
            "m f=1 -9223372036854775806",
            pl("m", &[], vec![("f", f(1.0))], Some(MIN_NANO_TIME)),
        ),
        ("m f=1  \t 5", pl("m", &[], vec![("f", f(1.0))], Some(5))),
        ("m f=1 5   ", pl("m", &[], vec![("f", f(1.0))], Some(5))),
        ("m f=1 ", pl("m", &[], vec![("f", f(1.0))], None)),
        ("m f=1 \t", pl("m", &[], vec![("f", f(1.0))], None)),
        ("m \t f=1", pl("m", &[], vec![("f", f(1.0))], None)),
        ("  \t m f=1 8", pl("m", &[], vec![("f", f(1.0))], Some(8))),
        ("\0m f=1", pl("m", &[], vec![("f", f(1.0))], None)),
    ];
    for (input, want) in &cases {
        match one(input) {
            Ok(got) => assert!(
                got.bitwise_eq(want),
                "{input:?}: got {got:?}, want {want:?}"
            ),
            Err(e) => panic!("{input:?}: {e}"),
        }
    }
    // A 300-digit float is still a float (1.x range-checks it; it is in range).
    let body = format!("m f={long_float}");
    assert!(
        matches!(one(&body).map(|l| l.fields[0].1.clone()), Ok(FieldValue::Float(v)) if v > 1e299)
    );
}

#[test]
fn unescaped_names_borrow_the_body() {
    let line = one("cpu,host=a v=1,s=\"x\"").expect("valid");
    assert!(matches!(line.measurement, Cow::Borrowed(_)));
    assert!(matches!(line.tags[0].1, Cow::Borrowed(_)));
    assert!(matches!(
        line.fields[1].1,
        FieldValue::String(Cow::Borrowed(_))
    ));
    let line = one("c\\ pu v=\"a\\\"b\"").expect("valid");
    assert!(matches!(line.measurement, Cow::Owned(_)));
    assert!(matches!(
        line.fields[0].1,
        FieldValue::String(Cow::Owned(_))
    ));
}

#[test]
fn sorted_tags_and_into_owned() {
    let line = one("m,z=1,a=2,m=3 f=1").expect("valid");
    assert_eq!(line.sorted_tags(), vec![("a", "2"), ("m", "3"), ("z", "1")]);
    let owned: ParsedLine<'static> = line.clone().into_owned();
    assert!(owned.bitwise_eq(&line));
}

// ---------------------------------------------------------------------------------------------
// Invalid lines

#[test]
fn invalid_lines() {
    let cases: &[(&str, &str)] = &[
        ("m", "missing fields"),
        ("m,t=a", "missing fields"),
        ("m\\ ", "missing fields"),
        ("\r", "missing fields"),
        ("m ", "invalid field format"),
        ("m,t=a ", "invalid field format"),
        (",t=a f=1", "missing measurement"),
        ("m,=a f=1", "missing tag key"),
        ("m, f=1", "missing tag key"),
        ("m,t=a, f=1", "missing tag key"),
        ("m,", "missing tag key"),
        ("m,t f=1", "missing tag value"),
        ("m,t= f=1", "missing tag value"),
        ("m,t", "missing tag value"),
        ("m,t=", "missing tag value"),
        ("m,t\\\\=v f=1", "missing tag value"),
        ("m,t=a=b f=1", "invalid tag format"),
        ("m,t=a\\ f=1", "invalid tag format"),
        ("m,t=a\\\\,b=c f=1", "invalid tag format"),
        ("m,t=a,t=b f=1", "duplicate tags"),
        ("m,b=1,a=2,b=3 f=1", "duplicate tags"),
        ("m =1", "missing field key"),
        ("m f=1,=2", "missing field key"),
        ("m \t=1", "missing field key"),
        ("m f=", "missing field value"),
        ("m f=,g=1", "missing field value"),
        ("m f= 1", "missing field value"),
        ("m f", "invalid field format"),
        ("m f=1,", "invalid field format"),
        ("m f=1,g", "invalid field format"),
        ("m f=1,,g=2", "invalid field format"),
        ("m f=1 g=2", "bad timestamp"),
        ("m f=\"a\"=2", "invalid field format"),
        ("m f=\"abc\"x", "invalid field format"),
        ("m f=\"x\"\r", "invalid field format"),
        ("m a\\\\=1", "invalid field format"),
        ("m f=\"a", "unbalanced quotes"),
        ("m f=\"a\\\"", "unbalanced quotes"),
        ("m f=\"a\\", "unbalanced quotes"),
        ("m f=1.2.3", "invalid number"),
        ("m f=1x", "invalid number"),
        ("m f=NaN", "invalid number"),
        ("m f=nan", "invalid number"),
        ("m f=-inf", "invalid number"),
        ("m f=-", "invalid number"),
        ("m f=-,g=1", "invalid number"),
        ("m f=.", "invalid number"),
        ("m f=-.", "invalid number"),
        ("m f=-i", "invalid number"),
        ("m f=1.5i", "invalid number"),
        ("m f=1e5i", "invalid number"),
        ("m f=9i10", "invalid number"),
        ("m f=1iu", "invalid number"),
        ("m f=-1u", "invalid number"),
        ("m f=1.5u", "invalid number"),
        ("m f=1=2", "invalid number"),
        ("m f=1\r", "invalid number"),
        ("m f=1\0", "invalid number"),
        ("m f=1\t2", "invalid number"),
        ("m f=1e-+5", "invalid number"),
        ("m f=1e", "invalid float"),
        ("m f=1e400", "invalid float"),
        ("m f=-1e400", "invalid float"),
        ("m f=-e", "invalid float"),
        ("m f=.e5", "invalid float"),
        ("m f=1e5e5", "invalid float"),
        ("m f=1e5.5", "invalid float"),
        (
            "m f=9223372036854775808i",
            "unable to parse integer 9223372036854775808: strconv.ParseInt: parsing \"9223372036854775808\": value out of range",
        ),
        (
            "m f=-9223372036854775809i",
            "unable to parse integer -9223372036854775809: strconv.ParseInt: parsing \"-9223372036854775809\": value out of range",
        ),
        (
            "m f=18446744073709551616u",
            "unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing \"18446744073709551616\": value out of range",
        ),
        ("m f=+1", "invalid boolean"),
        ("m f=inf", "invalid boolean"),
        ("m f=tRue", "invalid boolean"),
        ("m f=yes", "invalid boolean"),
        ("m f=true\"", "invalid boolean"),
        ("m f=[1]", "invalid boolean"),
        ("m f=true\r", "invalid boolean"),
        ("m f=1 1\r", "bad timestamp"),
        ("m f=1 1.5", "bad timestamp"),
        ("m f=1 abc", "bad timestamp"),
        ("m f=1 1-2", "bad timestamp"),
        ("m f=1 --1", "bad timestamp"),
        ("m f=1 +1", "bad timestamp"),
        ("m f=1 -", "strconv.ParseInt: parsing \"-\": invalid syntax"),
        (
            "m f=1 99999999999999999999",
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "m f=1 9223372036854775807",
            "time outside range -9223372036854775806 - 9223372036854775806",
        ),
        (
            "m f=1 -9223372036854775808",
            "time outside range -9223372036854775806 - 9223372036854775806",
        ),
        ("m f=1 1 2", "point is invalid"),
        ("m f=1 1\t", "bad timestamp"),
    ];
    for (input, reason) in cases {
        match one(input) {
            Ok(line) => panic!("{input:?} parsed as {line:?}, want {reason:?}"),
            Err(e) => {
                assert_eq!(e.kind.to_string(), *reason, "{input:?}");
                assert_eq!(e.line_number, 1, "{input:?}");
                assert_eq!(
                    e.to_string(),
                    format!("unable to parse '{input}': {reason}")
                );
            }
        }
    }
}

#[test]
fn error_quotes_line_without_leading_blanks() {
    let e = one("  \tm f=1 x").expect_err("bad timestamp");
    assert_eq!(e.line, "m f=1 x");
    assert_eq!(e.to_string(), "unable to parse 'm f=1 x': bad timestamp");
}

#[test]
fn string_length_limit() {
    let ok = format!("m f=\"{}\"", "x".repeat(MAX_STRING_LEN));
    assert!(one(&ok).is_ok());
    let too_long = format!("m f=\"{}\"", "x".repeat(MAX_STRING_LEN + 1));
    assert_eq!(
        one(&too_long).map(|_| ()).map_err(|e| e.kind),
        Err(LineErrorKind::StringTooLong(MAX_STRING_LEN + 1))
    );
    // The limit is on the unescaped value: 65536 escaped quotes are 65536 bytes.
    let escaped = format!("m f=\"{}\"", "\\\"".repeat(MAX_STRING_LEN));
    assert!(one(&escaped).is_ok());
}

#[test]
fn key_length_limit() {
    // Key = measurement and tags as written.
    let ok = format!("{} f=1", "m".repeat(MAX_KEY_LEN - 5));
    assert!(one(&ok).is_ok());
    let long = format!("m,t={} f=1", "v".repeat(MAX_KEY_LEN));
    let e = one(&long).expect_err("too long");
    assert_eq!(e.kind, LineErrorKind::MaxKeyLength(MAX_KEY_LEN + 4));
    assert_eq!(e.kind.to_string(), "max key length exceeded: 65539 > 65535");
    // Key + 4 + field key.
    let long_field = format!(
        "{} a=1,{}=2",
        "m".repeat(100),
        "f".repeat(MAX_KEY_LEN - 100)
    );
    let e = one(&long_field).expect_err("too long");
    assert_eq!(e.kind, LineErrorKind::MaxKeyLength(MAX_KEY_LEN + 4));
}

#[test]
fn many_tags_unsorted_duplicates_found() {
    let mut body = String::from("m");
    for k in (0..2000).rev() {
        body.push_str(&format!(",k{k}=v"));
    }
    body.push_str(" f=1");
    assert_eq!(one(&body).map(|l| l.tags.len()).ok(), Some(2000));
    body = body.replace(" f=1", ",k1000=w f=1");
    assert_eq!(
        one(&body).map_err(|e| e.kind).err(),
        Some(LineErrorKind::DuplicateTags)
    );
}

#[test]
fn pathological_inputs_stay_linear() {
    // Each body is ~1 MiB; a quadratic step would take minutes, linear ones take milliseconds.
    const SIZE: usize = 1 << 20;
    let tags: String = (0..SIZE / 8).map(|k| format!(",k{k}=v")).collect();
    let fields: String = (0..SIZE / 8).map(|k| format!("f{k}=1i,")).collect();
    let bodies = [
        "\\".repeat(SIZE),
        "\"".repeat(SIZE),
        "m f=\"".to_string() + &"\\\"".repeat(SIZE / 2),
        "m f=\"x\n".repeat(SIZE / 8),
        ",\n".repeat(SIZE / 2),
        "#\n".repeat(SIZE / 2),
        "m".to_string() + &tags + " f=1",
        "m".to_string() + &tags.replace(",k", ",k1") + " f=1",
        "m ".to_string() + fields.trim_end_matches(','),
        "m f=".to_string() + &"1".repeat(SIZE),
        "m f=1 ".to_string() + &" ".repeat(SIZE),
        "a=".repeat(SIZE / 2),
    ];
    let start = std::time::Instant::now();
    for body in &bodies {
        let mut count = 0;
        for result in parse_lines(body) {
            count += 1;
            if let Ok(line) = result {
                let mut out = String::new();
                let _ = write_line(&mut out, &line);
            }
        }
        assert!(count <= body.len());
    }
    let elapsed = start.elapsed();
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[test]
fn empty_blank_and_comment_bodies() {
    for body in [
        "",
        "\n",
        "\n\n\n",
        "   \t\n \0 \n",
        "# only a comment",
        "# one\n  # two\n\n#three\n",
        "# a=1 \"unbalanced quote in a comment\n",
    ] {
        assert_eq!(parse_lines(body).count(), 0, "{body:?}");
    }
}

#[test]
fn mixed_body_keeps_going_with_line_numbers() {
    let body = "# header\n\ncpu v=1 1\nbad line\n  \n mem v=2i 2\ncpu v= 3\n# c\ncpu v=4 4";
    let results: Vec<_> = parse_lines(body).collect();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().map(|l| l.timestamp).ok(), Some(Some(1)));
    let e = results[1].as_ref().expect_err("bad");
    assert_eq!((e.line_number, e.line.as_str()), (4, "bad line"));
    assert_eq!(e.kind, LineErrorKind::InvalidFieldFormat);
    assert_eq!(
        results[2].as_ref().map(|l| l.measurement.to_string()).ok(),
        Some("mem".to_string())
    );
    let e = results[3].as_ref().expect_err("bad");
    assert_eq!((e.line_number, e.line.as_str()), (7, "cpu v= 3"));
    assert_eq!(e.kind, LineErrorKind::MissingFieldValue);
    assert_eq!(results[4].as_ref().map(|l| l.timestamp).ok(), Some(Some(4)));
}

#[test]
fn crlf_lines_fail_like_influxdb_1x() {
    // Observed on 1.6.7: "unable to parse 's7 f=2 6\r': bad timestamp" and
    // "unable to parse '\r': missing fields"; LF lines of the same body are written.
    let body = "m f=1 1\r\nm f=2\r\n\r\nm f=3 3\nm f=4 4";
    let results: Vec<_> = parse_lines(body).collect();
    let errors: Vec<(usize, &str, String)> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| (e.line_number, e.line.as_str(), e.kind.to_string()))
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, "m f=1 1\r", "bad timestamp".to_string()),
            (2, "m f=2\r", "invalid number".to_string()),
            (3, "\r", "missing fields".to_string()),
        ]
    );
    // "m f=3 3\n" and "m f=4 4" are LF lines.
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
}

#[test]
fn multi_line_strings_and_line_numbers() {
    let body = "a f=\"x\ny\" 1\nbad\nb f=\"1\n2\n3\"\nc f=1";
    let results: Vec<_> = parse_lines(body).collect();
    assert_eq!(results.len(), 4);
    assert!(
        matches!(&results[0], Ok(l) if l.fields[0].1.bitwise_eq(&s("x\ny")) && l.timestamp == Some(1))
    );
    assert_eq!(
        results[1].as_ref().map_err(|e| e.line_number).err(),
        Some(3)
    );
    assert!(matches!(&results[2], Ok(l) if l.fields[0].1.bitwise_eq(&s("1\n2\n3"))));
    let later_error = parse_lines(&format!("{body}\nnope"))
        .filter_map(Result::err)
        .map(|e| e.line_number)
        .collect::<Vec<_>>();
    assert_eq!(later_error, vec![3, 8]);
}

#[test]
fn unbalanced_quote_swallows_rest_of_body_like_1x() {
    let body = "m f=\"x\nm f=2\nm f=3\n";
    let results: Vec<_> = parse_lines(body).collect();
    assert_eq!(results.len(), 1);
    let e = results[0].as_ref().expect_err("unbalanced");
    assert_eq!(e.kind, LineErrorKind::UnbalancedQuotes);
    assert_eq!(e.line, "m f=\"x\nm f=2\nm f=3");
}

#[test]
fn comment_ends_at_newline_even_with_quotes() {
    let lines: Vec<_> = parse_lines("# a=1 \"x\nm f=1 1\n  # b=\"y\nn f=2 2")
        .collect::<Result<_, _>>()
        .expect("valid");
    assert_eq!(lines.len(), 2);
}

#[test]
fn escaped_newline_in_fields_joins_lines_like_1x() {
    // scanLine skips the byte after a backslash, newline included.
    let results: Vec<_> = parse_lines("m f=1\\\nm f=2\nm f=3").collect();
    assert_eq!(results.len(), 2);
    let e = results[0].as_ref().expect_err("joined");
    assert_eq!(
        (e.line.as_str(), &e.kind),
        ("m f=1\\\nm f=2", &LineErrorKind::InvalidNumber)
    );
    assert_eq!(results[1].as_ref().map(|l| l.fields.len()).ok(), Some(1));
}

#[test]
fn iterator_is_fused() {
    let mut lines = parse_lines("m f=1");
    assert!(lines.next().is_some());
    assert!(lines.next().is_none());
    assert!(lines.next().is_none());
}

// ---------------------------------------------------------------------------------------------
// Precision

#[test]
fn precision_params() {
    for (param, want) in [
        ("n", Precision::Nanoseconds),
        ("ns", Precision::Nanoseconds),
        ("", Precision::Nanoseconds),
        ("xx", Precision::Nanoseconds),
        ("us", Precision::Nanoseconds),
        ("u", Precision::Microseconds),
        ("µ", Precision::Microseconds),
        ("μ", Precision::Microseconds),
        ("ms", Precision::Milliseconds),
        ("s", Precision::Seconds),
        ("m", Precision::Minutes),
        ("h", Precision::Hours),
    ] {
        assert_eq!(Precision::from_param(param), want, "{param:?}");
    }
}

#[test]
fn precision_scaling_and_range() {
    assert_eq!(Precision::Seconds.to_nanos(2), Some(2_000_000_000));
    assert_eq!(Precision::Hours.to_nanos(-1), Some(-3_600_000_000_000));
    assert_eq!(Precision::Minutes.to_nanos(1), Some(60_000_000_000));
    assert_eq!(Precision::Microseconds.to_nanos(7), Some(7_000));
    assert_eq!(Precision::Seconds.to_nanos(i64::MAX), None);
    assert_eq!(Precision::Nanoseconds.to_nanos(i64::MAX), None);
    assert_eq!(Precision::Nanoseconds.to_nanos(i64::MIN + 1), None);
    assert_eq!(
        Precision::Nanoseconds.to_nanos(MIN_NANO_TIME),
        Some(MIN_NANO_TIME)
    );
    assert_eq!(Precision::Seconds.truncate(1_999_999_999), 1_000_000_000);
    assert_eq!(Precision::Seconds.truncate(-1), -1_000_000_000);
    let hour = Precision::Hours.nanos_per_unit();
    let t = Precision::Hours.truncate(i64::MIN);
    assert!(t % hour == 0 && t - i64::MIN < hour, "{t}");
    assert_eq!(Precision::Nanoseconds.truncate(i64::MIN), i64::MIN);

    let lines: Vec<_> =
        parse_lines_with_precision("m f=1 3\nm f=1 9300000000", Precision::Seconds).collect();
    assert_eq!(
        lines[0].as_ref().map(|l| l.timestamp).ok(),
        Some(Some(3_000_000_000))
    );
    assert_eq!(
        lines[1].as_ref().map_err(|e| e.kind.clone()).err(),
        Some(LineErrorKind::TimeOutOfRange)
    );
}

// ---------------------------------------------------------------------------------------------
// Writer

#[test]
fn writer_canonical_form() {
    let line = pl(
        "cpu",
        &[("host", "a")],
        vec![
            ("value", f(1.0)),
            ("n", i(-3)),
            ("u", u(4)),
            ("b", b(true)),
            ("s", s("a\"b\\c\nd")),
        ],
        Some(10),
    );
    assert_eq!(
        written(&line),
        "cpu,host=a value=1.0,n=-3i,u=4u,b=true,s=\"a\\\"b\\\\c\nd\" 10"
    );
    let line = pl(
        "c,p u=\"x",
        &[("t k=", "v,1 =")],
        vec![("f k,=\"", b(false))],
        None,
    );
    assert_eq!(
        written(&line),
        "c\\,p\\ u=\"x,t\\ k\\==v\\,1\\ \\= f\\ k\\,\\=\\\"=false"
    );
    // `=` and `"` in a measurement are escaped only after a backslash.
    assert_eq!(
        written(&pl("a\\=\\\"", &[], vec![("f", f(1.0))], None)),
        "a\\\\=\\\\\" f=1.0"
    );
    for (v, text) in [
        (1e21, "1e21"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (5e-324, "5e-324"),
        (1e16, "1e16"),
        (123.456, "123.456"),
        (f64::MAX, "1.7976931348623157e308"),
        (1e-7, "1e-7"),
    ] {
        assert_eq!(
            written(&pl("m", &[], vec![("f", f(v))], None)),
            format!("m f={text}")
        );
    }
    assert_eq!(
        written(&pl(
            "m",
            &[],
            vec![("a", i(i64::MIN)), ("b", u(u64::MAX))],
            None
        )),
        "m a=-9223372036854775808i,b=18446744073709551615u"
    );
}

#[test]
fn writer_round_trips_awkward_names() {
    let cases = [
        pl(
            "a\\\nb",
            &[("k\\\n", "v\\\nw")],
            vec![("f\\\n", f(1.0))],
            None,
        ),
        pl(" lead", &[(" k", "=v")], vec![(" f", f(1.0))], None),
        pl(
            "\\#",
            &[(",", ",")],
            vec![("\"", f(1.0)), ("\\\"", f(2.0))],
            None,
        ),
        pl(
            "x\\,y",
            &[("a\\ b", "c\\=d")],
            vec![("e\\\\,f", f(1.0))],
            None,
        ),
        pl("m", &[], vec![("f", s("\n\\\"\\"))], Some(MIN_NANO_TIME)),
    ];
    for line in &cases {
        let text = written(line);
        let back = one(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(back.bitwise_eq(line), "{text:?}: {back:?} != {line:?}");
    }
}

#[test]
fn writer_refuses_what_would_not_round_trip() {
    let bad = |line: ParsedLine<'_>| {
        let mut out = String::from("keep");
        let e = write_line(&mut out, &line).expect_err("refused");
        assert_eq!(out, "keep", "output left unchanged");
        e
    };
    assert_eq!(
        bad(pl("m", &[], vec![("f", f(f64::NAN))], None)),
        WriteError::NonFiniteFloat("f".into())
    );
    assert_eq!(
        bad(pl("m", &[], vec![("f", f(f64::NEG_INFINITY))], None)),
        WriteError::NonFiniteFloat("f".into())
    );
    assert_eq!(
        bad(pl("", &[], vec![("f", f(1.0))], None)),
        WriteError::Empty(Part::Measurement)
    );
    assert_eq!(
        bad(pl("m", &[("", "v")], vec![("f", f(1.0))], None)),
        WriteError::Empty(Part::TagKey)
    );
    assert_eq!(
        bad(pl("m", &[("k", "")], vec![("f", f(1.0))], None)),
        WriteError::Empty(Part::TagValue)
    );
    assert_eq!(
        bad(pl("m", &[], vec![("", f(1.0))], None)),
        WriteError::Empty(Part::FieldKey)
    );
    assert_eq!(bad(pl("m", &[], vec![], None)), WriteError::NoFields);
    assert_eq!(
        bad(pl(
            "m",
            &[("k", "1"), ("k", "2")],
            vec![("f", f(1.0))],
            None
        )),
        WriteError::DuplicateTag("k".into())
    );
    assert_eq!(
        bad(pl("m", &[], vec![("f", f(1.0))], Some(i64::MAX))),
        WriteError::TimestampOutOfRange(i64::MAX)
    );
    let long = "x".repeat(MAX_STRING_LEN + 1);
    assert!(matches!(
        bad(pl("m", &[], vec![("f", s(&long))], None)),
        WriteError::StringTooLong { len, .. } if len == MAX_STRING_LEN + 1
    ));
    let long_key = "k".repeat(MAX_KEY_LEN);
    assert!(matches!(
        bad(pl(&long_key, &[], vec![("f", f(1.0))], None)),
        WriteError::KeyTooLong(_)
    ));
    for line in [
        pl("#m", &[], vec![("f", f(1.0))], None),
        pl("\tm", &[], vec![("f", f(1.0))], None),
        pl("m\\", &[], vec![("f", f(1.0))], None),
        pl("m\nx", &[], vec![("f", f(1.0))], None),
        pl("m", &[("k\\", "v")], vec![("f", f(1.0))], None),
        pl("m", &[("k", "a\nb")], vec![("f", f(1.0))], None),
        pl("m", &[], vec![("f\\", f(1.0))], None),
        pl("m", &[], vec![("a\\,b", f(1.0))], None),
        pl("m", &[], vec![("a\\=b", f(1.0))], None),
        pl("m", &[], vec![("a\\\\\\ b", f(1.0))], None),
        pl("m", &[], vec![("a\nb", f(1.0))], None),
        pl("m", &[], vec![("\tf", f(1.0))], None),
    ] {
        assert!(
            matches!(bad(line.clone()), WriteError::Unrepresentable { .. }),
            "{line:?}"
        );
    }
    // A tab is fine at the start of a later field key.
    assert!(
        one(&written(&pl(
            "m",
            &[],
            vec![("a", f(1.0)), ("\tb", f(2.0))],
            None
        )))
        .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

fn adversarial_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::char::range('a', 'e'),
        2 => prop::sample::select(vec![
            ',', '=', ' ', '"', '\\', '#', '\t', '\0', '\r', '\n', 'é', '😀', '\u{2028}', '-',
            '.', 'i', 'u', 't', 'e', 'E', '0', '1', '+', '[',
        ]),
    ]
}

fn adversarial_string(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(adversarial_char(), len).prop_map(|v| v.into_iter().collect())
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            1e21,
            1e-7,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::EPSILON,
            0.1,
            123_456_789.0,
        ]),
        any::<f64>(),
    ]
}

fn field_value() -> impl Strategy<Value = FieldValue<'static>> {
    prop_oneof![
        float().prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Integer),
        any::<u64>().prop_map(FieldValue::Unsigned),
        any::<bool>().prop_map(FieldValue::Boolean),
        adversarial_string(0..24).prop_map(|s| FieldValue::String(Cow::Owned(s))),
    ]
}

fn timestamp() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        any::<i64>().prop_map(Some),
        prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            MIN_NANO_TIME,
            -1,
            0,
            MAX_NANO_TIME,
            i64::MAX
        ])
        .prop_map(Some),
    ]
}

/// Any line, including ones the writer must refuse.
fn arbitrary_line() -> impl Strategy<Value = ParsedLine<'static>> {
    (
        adversarial_string(0..8),
        prop::collection::vec((adversarial_string(0..6), adversarial_string(0..6)), 0..4),
        prop::collection::vec((adversarial_string(0..6), field_value()), 0..5),
        timestamp(),
    )
        .prop_map(|(m, tags, fields, timestamp)| ParsedLine {
            measurement: Cow::Owned(m),
            tags: tags
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                .collect(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), v))
                .collect(),
            timestamp,
        })
}

/// Makes a key-section name representable: no newline, no trailing backslash, not empty.
fn tame_name(s: &str) -> String {
    let mut out: String = s.chars().filter(|&c| c != '\n').collect();
    while out.ends_with('\\') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Makes a field key representable: also an even backslash run before `,` `=` space.
fn tame_field_key(s: &str, first: bool) -> String {
    let mut out = String::new();
    let mut run = 0;
    for c in s.chars().filter(|&c| c != '\n') {
        if matches!(c, ',' | '=' | ' ') && run % 2 == 1 {
            out.push('\\');
        }
        run = if c == '\\' { run + 1 } else { 0 };
        out.push(c);
    }
    let mut out = tame_name(&out);
    if first && out.starts_with(['\t', '\0']) {
        out.insert(0, 'k');
    }
    out
}

/// Turns any line into one the writer must accept.
fn representable(mut line: ParsedLine<'static>) -> ParsedLine<'static> {
    let mut m = tame_name(&line.measurement);
    if m.starts_with(['#', '\t', '\0']) {
        m.insert(0, 'm');
    }
    line.measurement = Cow::Owned(m);
    let mut seen = std::collections::HashSet::new();
    line.tags = line
        .tags
        .into_iter()
        .map(|(k, v)| (tame_name(&k), tame_name(&v)))
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
        .collect();
    if line.fields.is_empty() {
        line.fields
            .push((Cow::Borrowed("f"), FieldValue::Boolean(true)));
    }
    line.fields = line
        .fields
        .into_iter()
        .enumerate()
        .map(|(idx, (k, v))| {
            let v = match v {
                FieldValue::Float(x) if !x.is_finite() => FieldValue::Float(0.0),
                v => v,
            };
            (Cow::Owned(tame_field_key(&k, idx == 0)), v)
        })
        .collect();
    line.timestamp = line
        .timestamp
        .map(|t| t.clamp(MIN_NANO_TIME, MAX_NANO_TIME));
    line
}

/// Bodies made of line-protocol fragments, to reach deep parser states often.
fn lp_like_body() -> impl Strategy<Value = String> {
    let pieces = vec![
        "m",
        "cpu",
        ",",
        "=",
        " ",
        "  ",
        "\t",
        "\"",
        "\\",
        "\n",
        "\r\n",
        "#",
        "t",
        "true",
        "F",
        "1",
        "-",
        ".",
        "5",
        "e",
        "E+",
        "i",
        "u",
        "abc",
        "é",
        "😀",
        "\0",
        "123456789",
        "9223372036854775807",
        ",t=v",
        " f=1",
        " f=\"s\"",
        " 1700000000000000000",
        "\\ ",
        "\\,",
        "\\=",
        "\\\"",
        "\\\n",
        "NaN",
    ];
    prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn written_lines_read_back_or_are_refused(line in arbitrary_line()) {
        let mut text = String::new();
        if write_line(&mut text, &line).is_ok() {
            let mut back = parse_lines(&text);
            let first = back.next();
            prop_assert!(back.next().is_none(), "{:?} split into several lines", text);
            match first {
                Some(Ok(parsed)) => prop_assert!(parsed.bitwise_eq(&line), "{:?}: {:?} != {:?}", text, parsed, line),
                other => prop_assert!(false, "{:?} (from {:?}) reads back as {:?}", text, line, other),
            }
        }
    }

    #[test]
    fn representable_lines_round_trip(line in arbitrary_line().prop_map(representable)) {
        let mut text = String::new();
        let written = write_line(&mut text, &line);
        prop_assert!(written.is_ok(), "{:?} refused: {:?}", line, written);
        let mut back = parse_lines(&text);
        match (back.next(), back.next()) {
            (Some(Ok(parsed)), None) => prop_assert!(parsed.bitwise_eq(&line), "{:?}: {:?} != {:?}", text, parsed, line),
            other => prop_assert!(false, "{:?} (from {:?}) reads back as {:?}", text, line, other),
        }
    }

    #[test]
    fn any_string_never_panics_and_round_trips(body in any::<String>()) {
        prop_assert!(body_roundtrip(&body).is_ok(), "{:?}", body_roundtrip(&body));
    }

    #[test]
    fn any_bytes_never_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let body = String::from_utf8_lossy(&bytes);
        prop_assert!(body_roundtrip(&body).is_ok(), "{:?}", body_roundtrip(&body));
    }

    #[test]
    fn lp_like_bodies_never_panic_and_round_trip(body in lp_like_body()) {
        prop_assert!(body_roundtrip(&body).is_ok(), "{:?}: {:?}", body, body_roundtrip(&body));
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds: the fuzz target's property, on every seed file.

#[test]
fn seeds_satisfy_the_fuzz_property() {
    let parsed = crate::seeds::replay("lp", 30, |bytes| {
        body_roundtrip(&String::from_utf8_lossy(bytes))
    });
    assert!(
        parsed > 30,
        "seeds should contain valid lines too ({parsed})"
    );
}

// ---------------------------------------------------------------------------------------------
// Throughput (printed; run `cargo test --release throughput -- --nocapture` for real numbers)

/// 10,000 OpenWISP-like lines: ping/traffic/cpu/memory, 3 tags, 2–6 fields, ns timestamps.
fn openwisp_body(lines: usize) -> String {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut body = String::new();
    for n in 0..lines {
        let r = next();
        let device = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            r as u32,
            (r >> 32) as u16,
            (r >> 48) & 0xfff,
            (r >> 20) & 0xfff,
            r & 0xffff_ffff_ffff
        );
        let ts = 1_700_000_000_000_000_000i64 + (n as i64) * 1_000_000_007;
        let v = next();
        let line = match n % 4 {
            0 => format!(
                "ping,content_type=config.device,object_id={device},organization_id=default reachable=1i,loss={:.1},rtt_min={:.3},rtt_avg={:.3},rtt_max={:.3} {ts}",
                (v % 100) as f64 / 10.0,
                (v % 1000) as f64 / 100.0,
                (v % 2000) as f64 / 100.0,
                (v % 5000) as f64 / 100.0,
            ),
            1 => format!(
                "traffic,content_type=config.device,object_id={device},ifname=wlan{} rx_bytes={}i,tx_bytes={}i {ts}",
                v % 3,
                v % 100_000_000,
                (v >> 20) % 100_000_000
            ),
            2 => format!(
                "cpu,content_type=config.device,object_id={device},organization_id=default cpu_usage={:.2},load_1={:.2},load_5={:.2},load_15={:.2} {ts}",
                (v % 10_000) as f64 / 100.0,
                (v % 400) as f64 / 100.0,
                (v % 300) as f64 / 100.0,
                (v % 200) as f64 / 100.0
            ),
            _ => format!(
                "memory,content_type=config.device,object_id={device},organization_id=default percent_used={:.4},total_memory={}i,free_memory={}i,buffered_memory={}i,shared_memory={}i,cached_memory={}i {ts}",
                (v % 1_000_000) as f64 / 10_000.0,
                268_435_456u64,
                v % 268_435_456,
                (v >> 8) % 16_777_216,
                (v >> 16) % 1_048_576,
                (v >> 24) % 33_554_432
            ),
        };
        body.push_str(&line);
        body.push('\n');
    }
    body
}

#[test]
fn throughput() {
    const LINES: usize = 10_000;
    let body = openwisp_body(LINES);
    // Sanity: every generated line parses and round-trips.
    assert_eq!(body_roundtrip(&body), Ok(LINES));

    let rounds = if cfg!(debug_assertions) { 3 } else { 50 };
    let mut best = std::time::Duration::MAX;
    let mut fields = 0usize;
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        for line in parse_lines(&body) {
            fields += line.map_or(0, |l| l.fields.len());
        }
        best = best.min(start.elapsed());
    }
    assert!(fields > 0);
    let secs = best.as_secs_f64().max(1e-9);
    println!(
        "lineproto throughput ({} build): {} lines, {} bytes, best of {rounds}: {:.2} ms = {:.0} MB/s, {:.2} M lines/s",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        LINES,
        body.len(),
        secs * 1e3,
        body.len() as f64 / secs / 1e6,
        LINES as f64 / secs / 1e6,
    );
}
