//! JSON ↔ DynamoDB `AttributeValue` conversion for item bodies.
//!
//! Written by hand rather than with `serde_dynamo`: it is a few dozen lines, and owning it lets
//! an out-of-range number become a 400 that names the field instead of a DynamoDB
//! ValidationException surfacing as a 500.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Map, Number, Value};

/// DynamoDB numbers: magnitude from 1E-130 to under 1E+126 (or zero).
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html>
const MIN_MAGNITUDE: f64 = 1e-130;
const MAX_MAGNITUDE: f64 = 1e126;

/// Converts one JSON value; `path` names it in error messages.
pub fn to_attr(value: &Value, path: &str) -> Result<AttributeValue, String> {
    Ok(match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && f != 0.0
                && !(MIN_MAGNITUDE..MAX_MAGNITUDE).contains(&f.abs())
            {
                return Err(format!(
                    "field '{path}' is {n}; DynamoDB numbers must be 0 or have a magnitude between 1e-130 and 1e126"
                ));
            }
            AttributeValue::N(n.to_string())
        }
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(
            items.iter().enumerate().map(|(i, v)| to_attr(v, &format!("{path}[{i}]"))).collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), to_attr(v, &format!("{path}.{k}"))?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Converts one attribute back to JSON. Sets become arrays and binary becomes base64 text, so
/// items written by other tools still read back whole.
pub fn from_attr(attr: &AttributeValue) -> Value {
    match attr {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect()),
        AttributeValue::M(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect()),
        AttributeValue::Ss(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| number(n)).collect()),
        AttributeValue::B(blob) => Value::String(base64::engine::general_purpose::STANDARD.encode(blob.as_ref())),
        AttributeValue::Bs(blobs) => Value::Array(
            blobs.iter().map(|b| Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))).collect(),
        ),
        // A variant added to the SDK after this code was written: keep it visible, not dropped.
        _ => Value::String(format!("{attr:?}")),
    }
}

/// DynamoDB sends numbers as strings; keep integers exact and fall back to the text when the
/// value does not fit a JSON number.
fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::Number(u.into());
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_owned()),
    }
}

/// Converts a whole stored item to a JSON object.
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    item.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_json() {
        let v = json!({"s": "x", "n": 42, "f": 1.5, "neg": -7, "b": true, "z": null,
                        "l": [1, "two", {"three": 3}], "m": {"k": [false]}, "empty": ""});
        let attr = to_attr(&v, "body").unwrap();
        assert_eq!(from_attr(&attr), v);
    }

    #[test]
    fn big_integers_stay_exact() {
        let v = json!(u64::MAX);
        assert_eq!(from_attr(&to_attr(&v, "n").unwrap()), v);
        assert_eq!(number("12345678901234567890123456789"), Value::from(1.2345678901234568e28));
        assert_eq!(number("not-a-number"), Value::String("not-a-number".into()));
    }

    #[test]
    fn out_of_range_numbers_name_the_field() {
        let err = to_attr(&json!({"a": {"b": 1e-200}}), "body").unwrap_err();
        assert!(err.contains("body.a.b"), "{err}");
        assert!(to_attr(&json!(1e130), "x").is_err());
        assert!(to_attr(&json!(0.0), "x").is_ok());
    }

    #[test]
    fn sets_and_binary_read_back() {
        let ss = AttributeValue::Ss(vec!["a".into(), "b".into()]);
        assert_eq!(from_attr(&ss), json!(["a", "b"]));
        let b = AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![0u8, 1, 2]));
        assert_eq!(from_attr(&b), json!("AAEC"));
    }
}
