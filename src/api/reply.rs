//! The JSON envelope every response uses, and the API's error type.
//!
//! Success: `{"success": true, "data": …}`. Error: `{"success": false,
//! "error": "snake_case_code", "message": "…", "details": {…}}`. Codes are
//! stable: clients switch on them. Storage and I/O details never leave here;
//! they are logged and replaced by a generic message.

use crate::store::StoreError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Response, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};
use std::convert::Infallible;

/// The response body type of every route (boxed so streams can join later).
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// An error answer: status, stable code, human message, optional details.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human-readable text.
    pub message: String,
    /// Extra facts, such as the field at fault.
    pub details: Option<Box<Value>>,
    /// Extra headers (Allow on a 405).
    pub allow: Option<std::borrow::Cow<'static, str>>,
    /// Seconds in `Retry-After` (a throttled send).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            allow: None,
            retry_after: None,
        }
    }

    /// A 422 naming the field at fault.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            message.clone(),
        );
        e.details = Some(Box::new(json!({ "field": field, "reason": message })));
        e
    }

    /// 401: no token or an unknown one.
    pub fn unauthorized(message: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a valid token of the wrong scope.
    pub fn forbidden(message: &str) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route for {path}"),
        )
    }

    /// 405 with the methods the path does allow.
    pub fn method_not_allowed(allow: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        let allow = allow.into();
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this route allows {allow}"),
        );
        e.allow = Some(allow);
        e
    }

    /// Turns the error into its JSON response.
    pub fn into_response(self) -> Response<Body> {
        let mut body = json!({
            "success": false,
            "error": self.code,
            "message": self.message,
        });
        if let Some(d) = self.details {
            body["details"] = *d;
        }
        let mut resp = json_response(self.status, &body);
        if let Some(allow) = self.allow
            && let Ok(v) = header::HeaderValue::from_str(&allow)
        {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "the box's storage is full",
            ),
            StoreError::Conflict(what) => {
                let mut err = ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("{what} is already in use"),
                );
                err.details = Some(Box::new(json!({ "field": what })));
                err
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the gateway could not complete the request; see its log",
                )
            }
        }
    }
}

/// `{"success": true, "data": data}` with `status`.
pub fn ok<T: Serialize>(status: StatusCode, data: T) -> Response<Body> {
    match serde_json::to_value(data) {
        Ok(data) => json_response(status, &json!({ "success": true, "data": data })),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "serialization failed",
            )
            .into_response()
        }
    }
}

/// A bare JSON response (used by `/health`, whose shape is fixed by other gateways).
pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(bytes)).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
