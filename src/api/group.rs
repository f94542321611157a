//! Groups (`/group/...`, wuzapi spellings). All need the session connected
//! (409 `not_connected`); a group WhatsApp does not know, or one this
//! account is not in, is a 404 `unknown_group`.
//!
//! - `GET /group/list` → `{"Groups": [group]}`
//! - `GET /group/info?GroupJID=` (or `POST` `{"GroupJID"}`) → group
//! - `POST /group/create` `{"Name", "Participants": [phone]}` → group
//! - `POST /group/participants` `{"GroupJID", "Phone": [..], "Action":
//!   "add|remove|promote|demote"}` → `{"Participants": [{"JID", "Ok", "Error"}]}`
//! - `GET /group/invitelink?GroupJID=&Reset=false` → `{"InviteLink"}`
//! - `POST /group/leave` `{"GroupJID"}`, `POST /group/name` `{"GroupJID",
//!   "Name"}`, `POST /group/topic` `{"GroupJID", "Topic"}`
//!
//! A group is `{"JID", "Name", "Topic", "OwnerJID", "GroupCreated",
//! "Participants": [{"JID", "PhoneNumber", "LID", "IsAdmin", "IsSuperAdmin"}]}`.

use super::body::{self, Empty};
use super::reply::{ApiError, Body, ok};
use super::user::engine_err;
use super::{App, auth, query};
use crate::engine::contacts::MAX_BATCH;
use crate::engine::groups::{MAX_NAME_CHARS, MAX_TOPIC_CHARS, ParticipantAction, group_jid};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupOnly {
    #[serde(rename = "GroupJID")]
    group: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Participants", alias = "Phone", default)]
    participants: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Participants {
    #[serde(rename = "GroupJID")]
    group: String,
    #[serde(rename = "Phone", alias = "Participants")]
    phone: Vec<String>,
    #[serde(rename = "Action")]
    action: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Name {
    #[serde(rename = "GroupJID")]
    group: String,
    #[serde(rename = "Name")]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Topic {
    #[serde(rename = "GroupJID")]
    group: String,
    #[serde(rename = "Topic")]
    topic: String,
}

/// Checks `GroupJID` before anything else, so its errors name that field.
fn valid_group(g: &str) -> Result<(), ApiError> {
    group_jid(g)
        .map(|_| ())
        .map_err(|e| engine_err(e, "GroupJID"))
}

fn valid_members(phones: &[String], field: &str, min: usize) -> Result<(), ApiError> {
    if phones.len() < min || phones.len() > MAX_BATCH {
        return Err(ApiError::field(
            field,
            format!("must list {min} to {MAX_BATCH} numbers"),
        ));
    }
    crate::engine::contacts::person_jids(phones)
        .map(|_| ())
        .map_err(|e| engine_err(e, field))
}

fn valid_text(field: &str, text: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(ApiError::field(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

/// Dispatches `/group/{action}`.
pub async fn route(
    app: &App,
    req: Request<Incoming>,
    action: &str,
) -> Result<Response<Body>, ApiError> {
    let m = req.method().clone();
    let rec = auth::session(app, req.headers()).await?;
    let e = &app.engine;
    let s = rec.id.as_str();
    let data = match action {
        "list" => {
            json!({ "Groups": e.group_list(s).await.map_err(|e| engine_err(e, "GroupJID"))? })
        }
        "info" => {
            let g = if m == Method::GET {
                let q = query::pairs(req.uri().query());
                query::get(&q, "GroupJID")
                    .filter(|g| !g.is_empty())
                    .ok_or_else(|| ApiError::field("GroupJID", "is required"))?
                    .to_string()
            } else {
                body::json::<GroupOnly>(app, req, Empty::Refuse)
                    .await?
                    .group
            };
            valid_group(&g)?;
            e.group_info(s, &g)
                .await
                .map_err(|e| engine_err(e, "GroupJID"))?
        }
        "create" => {
            let r: Create = body::json(app, req, Empty::Refuse).await?;
            valid_text("Name", &r.name, 1, MAX_NAME_CHARS)?;
            valid_members(&r.participants, "Participants", 0)?;
            e.group_create(s, &r.name, &r.participants)
                .await
                .map_err(|e| engine_err(e, "Participants"))?
        }
        "participants" => {
            let r: Participants = body::json(app, req, Empty::Refuse).await?;
            valid_group(&r.group)?;
            let act = match r.action.to_ascii_lowercase().as_str() {
                "add" => ParticipantAction::Add,
                "remove" => ParticipantAction::Remove,
                "promote" => ParticipantAction::Promote,
                "demote" => ParticipantAction::Demote,
                _ => {
                    return Err(ApiError::field(
                        "Action",
                        "must be add, remove, promote or demote",
                    ));
                }
            };
            valid_members(&r.phone, "Phone", 1)?;
            let results = e
                .group_participants(s, &r.group, &r.phone, act)
                .await
                .map_err(|e| engine_err(e, "Phone"))?;
            json!({ "Participants": results })
        }
        "invitelink" => {
            let q = query::pairs(req.uri().query());
            let g = query::get(&q, "GroupJID")
                .filter(|g| !g.is_empty())
                .ok_or_else(|| ApiError::field("GroupJID", "is required"))?
                .to_string();
            let reset = match query::get(&q, "Reset") {
                None | Some("false") | Some("0") => false,
                Some("true") | Some("1") => true,
                Some(_) => return Err(ApiError::field("Reset", "must be true or false")),
            };
            valid_group(&g)?;
            let link = e
                .group_invite_link(s, &g, reset)
                .await
                .map_err(|e| engine_err(e, "GroupJID"))?;
            json!({ "InviteLink": link })
        }
        "leave" => {
            let r: GroupOnly = body::json(app, req, Empty::Refuse).await?;
            valid_group(&r.group)?;
            e.group_leave(s, &r.group)
                .await
                .map_err(|e| engine_err(e, "GroupJID"))?;
            json!({ "Details": "Left group" })
        }
        "name" => {
            let r: Name = body::json(app, req, Empty::Refuse).await?;
            valid_group(&r.group)?;
            valid_text("Name", &r.name, 1, MAX_NAME_CHARS)?;
            e.group_set_name(s, &r.group, &r.name)
                .await
                .map_err(|e| engine_err(e, "GroupJID"))?;
            json!({ "Details": "Group name set" })
        }
        "topic" => {
            let r: Topic = body::json(app, req, Empty::Refuse).await?;
            valid_group(&r.group)?;
            valid_text("Topic", &r.topic, 0, MAX_TOPIC_CHARS)?;
            e.group_set_topic(s, &r.group, &r.topic)
                .await
                .map_err(|e| engine_err(e, "GroupJID"))?;
            json!({ "Details": "Group topic set" })
        }
        _ => return Err(ApiError::no_route(&format!("/group/{action}"))),
    };
    Ok(ok(StatusCode::OK, data))
}
