//! `#[derive(gale::Tuple)]`: the codec round-trips, and `NAME`/`FIELDS` describe the struct.

use gale::codec::{from_bytes, to_bytes};
use gale::{DecodeError, Tuple};

#[derive(Debug, Clone, PartialEq, gale::Tuple)]
struct Reading {
    sensor: u32,
    celsius: f64,
    label: String,
    tags: Vec<String>,
    previous: Option<i64>,
    r#type: bool,
}

#[derive(Debug, Clone, PartialEq, gale::Tuple)]
struct Empty {}

fn reading() -> Reading {
    Reading {
        sensor: 300,
        celsius: -12.5,
        label: "north wall".into(),
        tags: vec!["a".into(), "bé".into()],
        previous: Some(-7),
        r#type: true,
    }
}

#[test]
fn round_trips() {
    let r = reading();
    assert_eq!(from_bytes::<Reading>(&to_bytes(&r)), Ok(r));
    assert_eq!(from_bytes::<Empty>(&to_bytes(&Empty {})), Ok(Empty {}));
}

/// The encoding is the fields' encodings in declaration order, nothing more: the same
/// bytes a `tuple` declared in a `.topo` file produces.
#[test]
fn encodes_fields_in_order() {
    let r = reading();
    let mut expected = Vec::new();
    expected.extend(to_bytes(&r.sensor));
    expected.extend(to_bytes(&r.celsius));
    expected.extend(to_bytes(&r.label));
    expected.extend(to_bytes(&r.tags));
    expected.extend(to_bytes(&r.previous));
    expected.extend(to_bytes(&r.r#type));
    assert_eq!(to_bytes(&r), expected);
    assert!(to_bytes(&Empty {}).is_empty());
}

#[test]
fn truncated_input_is_an_error() {
    let bytes = to_bytes(&reading());
    for len in 0..bytes.len() {
        assert!(
            from_bytes::<Reading>(&bytes[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
    assert_eq!(from_bytes::<Reading>(&[]), Err(DecodeError::UnexpectedEnd));
}

#[test]
fn describes_the_schema() {
    assert_eq!(Reading::NAME, "Reading");
    assert_eq!(
        Reading::FIELDS,
        ["sensor", "celsius", "label", "tags", "previous", "type"]
    );
    assert_eq!(Empty::NAME, "Empty");
    assert!(Empty::FIELDS.is_empty());
    // What the generated `fields(x)` assertions evaluate, in a constant.
    const {
        assert!(gale::__private::has_field(Reading::FIELDS, "sensor"));
        assert!(!gale::__private::has_field(Reading::FIELDS, "kelvin"));
    }
}
