//! Maps a function's payload format 2.0 response to HTTP: `statusCode`, `headers`,
//! `cookies` (one `set-cookie` each), base64 bodies, and the inference API Gateway applies to
//! valid JSON without `statusCode` (200, `application/json`, the JSON as the body). A 1.0
//! response ([`map_v1`]) must say its `statusCode`: there is no inference in that format.

use base64::Engine;
use serde_json::Value;

/// An HTTP response to send to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// Status code.
    pub status: u16,
    /// Headers (a name may repeat, as `set-cookie` does).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Maps the payload, or `None` when API Gateway would call it malformed (not JSON, a status
/// out of range, a body that is not valid base64 where it says so).
pub fn map(payload: &[u8]) -> Option<Mapped> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let Some(obj) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return Some(Mapped {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: payload.to_vec(),
        });
    };
    let status = obj.get("statusCode")?.as_u64().filter(|s| (100..=599).contains(s))? as u16;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(h)) = obj.get("headers") {
        for (k, v) in h {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            headers.push((k.to_ascii_lowercase(), v));
        }
    }
    if let Some(Value::Object(mv)) = obj.get("multiValueHeaders") {
        for (k, vs) in mv {
            for v in vs.as_array().into_iter().flatten().filter_map(Value::as_str) {
                headers.push((k.to_ascii_lowercase(), v.to_owned()));
            }
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        headers.extend(cookies.iter().filter_map(Value::as_str).map(|c| ("set-cookie".to_owned(), c.to_owned())));
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if obj.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            base64::engine::general_purpose::STANDARD.decode(s).ok()?
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    Some(Mapped { status, headers, body })
}

/// Maps a payload format 1.0 response: `statusCode` (required: 1.0 infers nothing),
/// `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`; `None` when API Gateway would
/// call it malformed.
pub fn map_v1(payload: &[u8]) -> Option<Mapped> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let obj = value.as_object().filter(|o| o.contains_key("statusCode"))?;
    // The 2.0 mapping of a structured response is the same but for `cookies`, which 1.0 lacks.
    let mut without_cookies = obj.clone();
    without_cookies.remove("cookies");
    map(&serde_json::to_vec(&without_cookies).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_response() {
        let m = map(br#"{"statusCode":201,"headers":{"Content-Type":"application/json","x-a":"1"},"cookies":["a=1","b=2"],"body":"{}","isBase64Encoded":false}"#).unwrap();
        assert_eq!(m.status, 201);
        assert!(m.headers.contains(&("content-type".into(), "application/json".into())));
        assert_eq!(m.headers.iter().filter(|(k, _)| k == "set-cookie").count(), 2);
        assert_eq!(m.body, b"{}");
    }

    #[test]
    fn inference_without_status_code() {
        let m = map(br#"{"message":"hi"}"#).unwrap();
        assert_eq!((m.status, m.body.as_slice()), (200, &br#"{"message":"hi"}"#[..]));
        assert_eq!(map(br#""Hello""#).unwrap().status, 200);
    }

    #[test]
    fn a_1_0_response_must_say_its_status() {
        let m = map_v1(br#"{"statusCode":200,"multiValueHeaders":{"set-cookie":["a=1","b=2"]},"body":"ok"}"#).unwrap();
        assert_eq!((m.status, m.body.as_slice()), (200, &b"ok"[..]));
        assert_eq!(m.headers.iter().filter(|(k, _)| k == "set-cookie").count(), 2);
        assert!(map_v1(br#"{"message":"hi"}"#).is_none(), "no inference in 1.0");
        assert!(map_v1(br#"{"statusCode":200,"cookies":["c=1"]}"#).unwrap().headers.is_empty());
    }

    #[test]
    fn base64_and_malformed() {
        assert_eq!(map(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#).unwrap().body, b"hi");
        assert!(map(br#"{"statusCode":200,"body":"***","isBase64Encoded":true}"#).is_none());
        assert!(map(b"not json").is_none());
        assert!(map(br#"{"statusCode":700}"#).is_none());
        assert!(map(br#"{"statusCode":"200"}"#).is_none());
    }
}
