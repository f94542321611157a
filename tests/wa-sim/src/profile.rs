//! Contacts' profiles: the "about" text (usync `status`) and the profile
//! picture (usync `picture`, `w:profile:picture` iq), set by tests; and
//! the presence subscriptions the client made.

use crate::Simulator;
use crate::contact::Contact;
use crate::nodes::{attr, iq_result};
use crate::state::Shared;
use std::sync::Arc;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

/// What a contact shows others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    /// The "about" text.
    pub(crate) about: Option<String>,
    /// The current picture id.
    pub(crate) picture_id: Option<String>,
}

impl Contact {
    /// Sets the contact's "about" text.
    pub fn set_about(&self, text: &str) {
        let user = self.state.user.clone();
        self.shared.lock().profiles.entry(user).or_default().about = Some(text.into());
    }

    /// Gives the contact a profile picture with id `id` (its URL is
    /// `http://<media host>/pp/<number>/<id>.jpg`).
    pub fn set_picture(&self, id: &str) {
        let user = self.state.user.clone();
        self.shared
            .lock()
            .profiles
            .entry(user)
            .or_default()
            .picture_id = Some(id.into());
    }
}

/// The usync children for `user`'s profile: `status` and `picture`.
pub(crate) fn usync_child(shared: &Shared, user: &str, protocol: &str) -> Option<Node> {
    let profile = shared
        .lock()
        .profiles
        .get(user)
        .cloned()
        .unwrap_or_default();
    match protocol {
        "status" => Some(
            NodeBuilder::new("status")
                .attr("t", crate::nodes::now_secs())
                .string_content(profile.about.unwrap_or_default())
                .build(),
        ),
        "picture" => Some(match profile.picture_id {
            Some(id) => NodeBuilder::new("picture").attr("id", id).build(),
            None => NodeBuilder::new("picture").build(),
        }),
        _ => None,
    }
}

/// Answers `w:profile:picture` gets: the picture, or a 404 inside `<picture>`.
pub(crate) fn picture_iq(shared: &Arc<Shared>, id: &str, node: &NodeRef<'_>) -> Node {
    let target = attr(node, "target").unwrap_or_default();
    let user = target
        .split(['@', ':'])
        .next()
        .unwrap_or_default()
        .to_string();
    let kind = node
        .get_optional_child("picture")
        .and_then(|p| attr(p, "type"))
        .unwrap_or_else(|| "image".into());
    let picture = shared
        .lock()
        .profiles
        .get(&user)
        .and_then(|p| p.picture_id.clone());
    let child = match picture {
        Some(pic) => NodeBuilder::new("picture")
            .attr("id", pic.clone())
            .attr("type", kind)
            .attr(
                "url",
                format!("http://{}/pp/{user}/{pic}.jpg", shared.media_host),
            )
            .attr("direct_path", format!("/pp/{user}/{pic}.jpg"))
            .build(),
        None => NodeBuilder::new("picture")
            .children([NodeBuilder::new("error")
                .attr("code", "404")
                .attr("text", "item-not-found")
                .build()])
            .build(),
    };
    iq_result(id, vec![child])
}

impl Simulator {
    /// JIDs whose presence the client subscribed to, oldest first.
    pub fn presence_subscriptions(&self) -> Vec<String> {
        self.shared.lock().presence_subscriptions.clone()
    }
}
