//! Unit tests for document splitting and error conversion.

use super::*;

fn chunks(text: &str) -> Vec<(String, usize, usize)> {
    let mut map = SourceMap::new();
    let id = map.add("t.yaml", text);
    split_documents(map.get(id))
        .into_iter()
        .map(|c| (c.text, c.base, c.line_offset))
        .collect()
}

#[test]
fn splits_at_markers_keeping_offsets() {
    let text = "org: a\n---\nproject: p\n--- # c\nproject: q\n";
    let got = chunks(text);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], ("org: a\n".to_owned(), 0, 0));
    assert_eq!(got[1].1, 7);
    assert_eq!(got[1].2, 1);
    assert_eq!(
        &text[got[2].1..got[2].1 + got[2].0.len()].replace("---", "   "),
        &got[2].0
    );
}

#[test]
fn skips_empty_and_comment_documents() {
    assert!(chunks("# only a comment\n---\n\n").is_empty());
    assert_eq!(chunks("---\norg: a\n...\n").len(), 1);
}

#[test]
fn dashes_inside_values_are_not_markers() {
    assert_eq!(
        chunks("org: a\ndescription: ---x\n  --- not a marker\n").len(),
        1
    );
}

#[test]
fn project_only_fields_are_the_project_fields_an_org_lacks() {
    for field in [
        "tags",
        "scores",
        "span_iframes",
        "alerts",
        "template",
        "previous_names",
    ] {
        assert!(super::is_project_only(field), "{field}");
    }
    for field in [
        "grants", "env_vars", "members", "org", "project", "nonsense",
    ] {
        assert!(!super::is_project_only(field), "{field}");
    }
}

#[test]
fn clearable_tells_absent_from_null_and_keeps_positions() {
    use super::clearable::Clearable;
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        a: Clearable<String>,
        #[serde(default)]
        b: Clearable<String>,
        #[serde(default)]
        c: Clearable<String>,
        #[serde(default)]
        d: Clearable<String>,
        #[serde(default)]
        e: Clearable<String>,
    }
    let doc: Doc = serde_saphyr::from_str("b: null\nc: ~\nd:\ne: text\n").expect("parses");
    assert_eq!(doc.a, Clearable::Absent);
    assert_eq!(doc.a.text(), None);
    for (cleared, line) in [(&doc.b, 1), (&doc.c, 2), (&doc.d, 3)] {
        let Clearable::Null(pos) = cleared else {
            panic!("{line}: not read as null: {cleared:?}")
        };
        assert_eq!(pos.line, line);
        assert_eq!(cleared.text().as_deref(), Some(""));
    }
    assert_eq!(doc.e.text().as_deref(), Some("text"));
    assert_eq!(doc.e.as_ref().map(|v| v.pos.line), Some(4));
    // A project's own key wins over its template's, unless it is left out.
    assert_eq!(doc.a.or(&doc.e).text().as_deref(), Some("text"));
    assert_eq!(doc.b.or(&doc.e).text().as_deref(), Some(""));
}
