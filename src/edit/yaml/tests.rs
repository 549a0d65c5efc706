//! Unit tests of the YAML reader: byte spans, properties, empty values, errors.

use super::*;

fn scalar_at<'a>(doc: &'a Node, path: &str) -> &'a Node {
    doc.lookup(path).expect("path exists")
}

#[test]
fn spans_are_bytes_and_exclude_properties_and_comments() {
    let text = "é: ü\nv: &a \"1.2\" # c\nw: *a\nx: !!str 'it''s' # c\ny: 3.4   # c\n";
    let (docs, lines) = parse("t.yaml", text).expect("parses");
    let v = scalar_at(&docs[0], "v");
    assert_eq!(&text[v.span.clone()], "\"1.2\"");
    assert_eq!(v.line_col(&lines), (2, 7));
    let x = scalar_at(&docs[0], "x");
    assert_eq!(&text[x.span.clone()], "'it''s'");
    assert_eq!(x.as_str(), Some("it's"));
    let y = scalar_at(&docs[0], "y");
    assert_eq!(&text[y.span.clone()], "3.4");
    let w = scalar_at(&docs[0], "w");
    assert_eq!(w.value, Value::Alias("a".into()));
    assert_eq!(&text[w.span.clone()], "*a");
}

#[test]
fn flow_mappings_and_crlf() {
    let text = "images:\r\n  - {name: x, newTag: \"1.2\"}\r\n  - {name: y, newTag: 2.0}\r\n";
    let (docs, lines) = parse("k.yaml", text).expect("parses");
    let t = scalar_at(&docs[0], "images[0].newTag");
    assert_eq!(&text[t.span.clone()], "\"1.2\"");
    let t = scalar_at(&docs[0], "images[1].newTag");
    assert_eq!(&text[t.span.clone()], "2.0");
    assert_eq!(t.line_col(&lines).0, 3);
}

#[test]
fn byte_order_mark_and_multi_line_quotes() {
    let text = "\u{feff}a: 1.0\nb: \"x\n  y\" # c\nc: |\n  z\n...\n";
    let (docs, _) = parse("bom.yaml", text).expect("parses");
    let a = scalar_at(&docs[0], "a");
    assert_eq!(&text[a.span.clone()], "1.0");
    let b = scalar_at(&docs[0], "b");
    assert_eq!(&text[b.span.clone()], "\"x\n  y\"");
    let c = scalar_at(&docs[0], "c");
    assert_eq!(&text[c.span.clone()], "|\n  z\n");
}

#[test]
fn empty_values_stay_on_their_line() {
    let text = "a:\nb: !!str\nc: &x\n---\n---\nd: 1\n";
    let (docs, lines) = parse("e.yaml", text).expect("parses");
    for (path, pos) in [("a", (1, 3)), ("b", (2, 9)), ("c", (3, 6))] {
        let n = scalar_at(&docs[0], path);
        assert_eq!((n.as_str(), n.span.len()), (Some(""), 0), "{path}");
        assert_eq!(n.line_col(&lines), pos, "{path}");
    }
    assert_eq!(docs[1].span.len(), 0);
}

#[test]
fn multi_documents_and_errors() {
    let (docs, _) = parse("m.yaml", "a: 1\n---\nb: 2\n---\n").expect("parses");
    assert_eq!(docs.len(), 3);
    let err = parse("d.yaml", "a: 1\nb: 2\na: 3\n").expect_err("duplicate");
    assert!(
        matches!(
            err,
            EditError::Parse {
                line: 3,
                column: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = parse("b.yaml", "a: [1, 2\nb: 3\n").expect_err("broken");
    assert!(matches!(err, EditError::Parse { .. }), "{err}");
}
