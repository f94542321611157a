//! The merged OpenAPI document: it parses, every `$ref` resolves, clashes are
//! refused, and it documents exactly the routes of `routes::ROUTES`.

use super::*;
use crate::api::routes::ROUTES;
use std::collections::BTreeSet;

/// Routes on main whose fragment comes with another branch (the outbound
/// work documents them in `send.json`/`message.json`). Once a route here is
/// documented, the test fails until it is removed from this list.
const PENDING: &[(&str, &str)] = &[];

fn doc() -> Value {
    merge(BASE, FRAGMENTS).expect("the document merges")
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((method.to_ascii_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

#[test]
fn merged_document_is_openapi_31_and_served_bytes_parse() {
    let d = doc();
    assert_eq!(d["openapi"], "3.1.0");
    let served = document().expect("document");
    let v: Value = serde_json::from_slice(served).expect("served JSON parses");
    assert_eq!(v, d);
}

#[test]
fn every_ref_resolves() {
    let d = doc();
    let mut all = Vec::new();
    refs(&d, &mut all);
    assert!(all.len() > 20, "the document uses shared parts by $ref");
    for r in all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local refs: {r}"));
        assert!(d.pointer(pointer).is_some(), "unresolved $ref {r}");
    }
}

#[test]
fn every_operation_lists_the_servers_own_answers() {
    let d = doc();
    for (status, r) in SERVER_RESPONSES {
        let shared = d
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} in base.json"));
        assert!(
            shared["headers"]["Retry-After"].is_object(),
            "{r} documents Retry-After"
        );
        // By the shared response, unless a fragment lists its own
        // (which then must describe the server's answer too).
        for (method, path, op) in operations(&d) {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path}: {status}"
            );
        }
    }
}

#[test]
fn operations_are_complete() {
    let d = doc();
    let tags: BTreeSet<&str> = d["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let schemes = d["components"]["securitySchemes"]
        .as_object()
        .expect("schemes");
    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&d) {
        let at = format!("{method} {path}");
        assert!(op["summary"].is_string(), "{at}: summary");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: operationId"));
        assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");
        let op_tags = op["tags"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: tags"));
        assert!(!op_tags.is_empty(), "{at}: tags");
        for t in op_tags {
            assert!(
                tags.contains(t.as_str().unwrap_or("")),
                "{at}: unknown tag {t}"
            );
        }
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: security"));
        for req in security {
            for name in req.as_object().expect("requirement").keys() {
                assert!(schemes.contains_key(name), "{at}: unknown scheme {name}");
            }
        }
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}: responses"));
        assert!(responses.keys().any(|s| s.starts_with('2')), "{at}: a 2xx");
        if !security.is_empty() {
            assert!(
                responses.contains_key("401"),
                "{at}: authenticated routes list 401"
            );
        }
        // Path parameters are declared.
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            let name = seg.trim_matches(|c| c == '{' || c == '}');
            let declared = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(
                    d["paths"][&path]["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten(),
                )
                .any(|p| p["name"] == name && p["in"] == "path");
            assert!(declared, "{at}: path parameter {name}");
        }
    }
}

#[test]
fn documents_exactly_the_routes_the_router_answers() {
    let d = doc();
    let documented: BTreeSet<(String, String)> =
        operations(&d).into_iter().map(|(m, p, _)| (m, p)).collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let pending: BTreeSet<(String, String)> = PENDING
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    for r in &pending {
        assert!(
            !documented.contains(r),
            "{r:?} is documented now: remove it from PENDING in src/api/openapi_tests.rs"
        );
    }
    for r in routed.difference(&documented) {
        assert!(
            pending.contains(r),
            "{r:?} is routed (src/api/routes.rs) but not documented in docs/openapi/"
        );
    }
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "{unrouted:?} documented but not in ROUTES (src/api/routes.rs); the router must answer them"
    );
}

#[test]
fn clashes_and_foreign_keys_are_refused() {
    const A: &str = r#"{"paths": {"/x": {}}, "components": {"schemas": {"XThing": {}}}}"#;
    const B: &str = r#"{"paths": {"/x": {}}}"#;
    const C: &str = r#"{"components": {"schemas": {"XThing": {"type": "string"}}}}"#;
    const D: &str = r#"{"info": {}}"#;
    const E: &str = r#"{"components": {"responses": {}}}"#;
    const F: &str = r#"{"components": {"schemas": {"Error": {}}}}"#;
    assert!(merge(BASE, &[("a.json", A)]).is_ok());
    let err = |frags: &[(&'static str, &'static str)]| {
        merge(BASE, frags).expect_err("refused").to_string()
    };
    assert!(err(&[("a.json", A), ("b.json", B)]).contains("path `/x`"));
    assert!(err(&[("a.json", A), ("c.json", C)]).contains("schema `XThing`"));
    assert!(err(&[("f.json", F)]).contains("schema `Error`"));
    assert!(err(&[("d.json", D)]).contains("`info`"));
    assert!(err(&[("e.json", E)]).contains("components.responses"));
    assert!(err(&[("g.json", "{")]).contains("g.json"));
}
