//! The OpenAPI 3.1 document: `docs/openapi/base.json` plus one fragment per
//! resource group, embedded at build time, merged once and served at
//! `GET /openapi.json` (no auth).
//!
//! Merging refuses a fragment with keys other than `paths` and
//! `components.schemas`, and a path or schema name defined twice: the
//! daemon checks it before listening and the unit tests check it too, so a
//! clash is never a silent overwrite.
//!
//! The answers the server gives before any route sees a request (`429
//! rate_limited`, `503 too_many_connections`: see `crate::server`) are added
//! to every operation by the merge ([`SERVER_RESPONSES`]), so no fragment
//! repeats them and no new route can miss them.

use super::reply::{ApiError, Body};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode, header};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The base document.
const BASE: &str = include_str!("../../docs/openapi/base.json");

/// Every fragment, in merge order: the one place a new file is added.
pub const FRAGMENTS: &[(&str, &str)] = &[
    (
        "server.json",
        include_str!("../../docs/openapi/server.json"),
    ),
    (
        "session.json",
        include_str!("../../docs/openapi/session.json"),
    ),
    (
        "webhook.json",
        include_str!("../../docs/openapi/webhook.json"),
    ),
    (
        "events.json",
        include_str!("../../docs/openapi/events.json"),
    ),
    ("send.json", include_str!("../../docs/openapi/send.json")),
    (
        "wago_go.json",
        include_str!("../../docs/openapi/wago_go.json"),
    ),
    (
        "message.json",
        include_str!("../../docs/openapi/message.json"),
    ),
    ("user.json", include_str!("../../docs/openapi/user.json")),
    ("group.json", include_str!("../../docs/openapi/group.json")),
    ("media.json", include_str!("../../docs/openapi/media.json")),
    (
        "display.json",
        include_str!("../../docs/openapi/display.json"),
    ),
    ("guard.json", include_str!("../../docs/openapi/guard.json")),
];

/// Answers of the server itself, whatever the route: status and the shared
/// response of `base.json` each operation gets (unless it lists that status).
pub const SERVER_RESPONSES: &[(&str, &str)] = &[
    ("429", "#/components/responses/RateLimited"),
    ("503", "#/components/responses/TooManyConnections"),
];

/// The HTTP methods that are operations under a path item.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Adds [`SERVER_RESPONSES`] to every operation of `doc`.
fn add_server_responses(doc: &mut Map<String, Value>) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, op) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, r) in SERVER_RESPONSES {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| serde_json::json!({ "$ref": r }));
            }
        }
    }
}

/// Why the document cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// A file is not valid JSON.
    #[error("docs/openapi/{file}: {reason}")]
    Parse {
        /// The file.
        file: &'static str,
        /// serde_json's message.
        reason: String,
    },
    /// A fragment has a key other than `paths` and `components.schemas`.
    #[error(
        "docs/openapi/{file}: a fragment may only hold `paths` and `components.schemas`, not `{key}`"
    )]
    Key {
        /// The file.
        file: &'static str,
        /// The key at fault.
        key: String,
    },
    /// A path or schema defined twice.
    #[error("docs/openapi/{file}: {what} `{name}` is already defined by another file")]
    Duplicate {
        /// The file that defines it again.
        file: &'static str,
        /// `path` or `schema`.
        what: &'static str,
        /// The name.
        name: String,
    },
}

fn parse(file: &'static str, text: &str) -> Result<Map<String, Value>, OpenApiError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(OpenApiError::Parse {
            file,
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(OpenApiError::Parse {
            file,
            reason: e.to_string(),
        }),
    }
}

/// The object at `key` of `m`, created empty if missing; `None` if it is not an object.
fn object<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    m.entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Merges `base` and `fragments` (name, text) into one document.
pub fn merge(
    base: &'static str,
    fragments: &[(&'static str, &'static str)],
) -> Result<Value, OpenApiError> {
    let mut doc = parse("base.json", base)?;
    for (file, text) in fragments {
        let file = *file;
        let frag = parse(file, text)?;
        for (key, value) in frag {
            let target = match key.as_str() {
                "paths" => object(&mut doc, "paths"),
                "components" => {
                    if let Some(bad) = value
                        .as_object()
                        .and_then(|c| c.keys().find(|k| *k != "schemas"))
                    {
                        return Err(OpenApiError::Key {
                            file,
                            key: format!("components.{bad}"),
                        });
                    }
                    object(&mut doc, "components").and_then(|c| object(c, "schemas"))
                }
                _ => return Err(OpenApiError::Key { file, key }),
            };
            let what = if key == "paths" { "path" } else { "schema" };
            let entries = match (&key[..], value) {
                ("paths", Value::Object(m)) => m,
                ("components", Value::Object(mut c)) => match c.remove("schemas") {
                    Some(Value::Object(s)) => s,
                    None => Map::new(),
                    Some(_) => {
                        return Err(OpenApiError::Key {
                            file,
                            key: "components.schemas".into(),
                        });
                    }
                },
                _ => return Err(OpenApiError::Key { file, key }),
            };
            let Some(target) = target else {
                return Err(OpenApiError::Key { file, key });
            };
            for (name, v) in entries {
                if target.contains_key(&name) {
                    return Err(OpenApiError::Duplicate { file, what, name });
                }
                target.insert(name, v);
            }
        }
    }
    add_server_responses(&mut doc);
    Ok(Value::Object(doc))
}

/// The merged document, serialized once.
pub fn document() -> Result<&'static Bytes, &'static OpenApiError> {
    static DOC: OnceLock<Result<Bytes, OpenApiError>> = OnceLock::new();
    DOC.get_or_init(|| {
        merge(BASE, FRAGMENTS).map(|v| Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
    })
    .as_ref()
}

/// `GET /openapi.json`.
pub fn serve() -> Result<Response<Body>, ApiError> {
    let bytes = document().map_err(|e| {
        tracing::error!(error = %e, "OpenAPI document");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the OpenAPI document is broken; see the log",
        )
    })?;
    let mut resp = Response::new(Full::new(bytes.clone()).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
