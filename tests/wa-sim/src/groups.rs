//! Groups: the server's group state and its answers to the client's
//! `w:g2` iqs (create, participating list, info, add/remove/promote/demote,
//! invite link, leave, subject, description), plus `w:gp2` notifications
//! about changes other members make. Group messages are not simulated.

use crate::Simulator;
use crate::conn::ConnCtx;
use crate::nodes::{self, attr, iq_error, iq_result};
use crate::state::Shared;
use anyhow::bail;
use std::sync::Arc;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

/// One group as the server knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimGroup {
    /// `1203630000000000NN@g.us`.
    pub jid: String,
    /// The name.
    pub subject: String,
    /// The topic (description), if set.
    pub description: Option<String>,
    /// Who created it (user JID).
    pub creator: String,
    /// Members (user JIDs) with their rank: `superadmin`, `admin` or `member`.
    pub participants: Vec<(String, String)>,
    /// The current invite code.
    pub invite_code: String,
}

impl SimGroup {
    fn node(&self) -> Node {
        let id = self.jid.split('@').next().unwrap_or_default().to_string();
        let mut children: Vec<Node> = self
            .participants
            .iter()
            .map(|(jid, rank)| {
                let mut b = NodeBuilder::new("participant").attr("jid", jid.clone());
                if rank != "member" {
                    b = b.attr("type", rank.clone());
                }
                b.build()
            })
            .collect();
        if let Some(d) = &self.description {
            children.push(
                NodeBuilder::new("description")
                    .attr("id", "D1")
                    .children([NodeBuilder::new("body").string_content(d.clone()).build()])
                    .build(),
            );
        }
        NodeBuilder::new("group")
            .attr("id", id)
            .attr("subject", self.subject.clone())
            .attr("creator", self.creator.clone())
            .attr("creation", nodes::now_secs())
            .attr("s_t", nodes::now_secs())
            .attr("s_o", self.creator.clone())
            .children(children)
            .build()
    }
}

/// The participant-change tags as `'static` node names.
fn static_tag(tag: &str) -> &'static str {
    match tag {
        "add" => "add",
        "remove" => "remove",
        "promote" => "promote",
        _ => "demote",
    }
}

fn user_jid(jid: &str) -> String {
    let user = jid.split(['@', ':']).next().unwrap_or_default();
    format!("{user}@s.whatsapp.net")
}

/// Answers one `w:g2` iq from the client.
pub(crate) fn iq(shared: &Arc<Shared>, ctx: &ConnCtx, id: &str, node: &NodeRef<'_>) -> Node {
    let Some(device) = &ctx.device else {
        return iq_error(id, 401, "not-authorized");
    };
    let me = format!("{}@s.whatsapp.net", device.user);
    let to = attr(node, "to").unwrap_or_default();
    let Some(first) = node.children().and_then(|c| c.first()) else {
        return iq_error(id, 400, "bad-request");
    };
    let tag = first.tag.as_ref().to_string();
    let mut inner = shared.lock();
    if tag == "create" {
        inner.next_group += 1;
        let jid = format!("1203630000000000{:02}@g.us", inner.next_group);
        let mut participants = vec![(me.clone(), "superadmin".to_string())];
        for p in first.get_children_by_tag("participant") {
            if let Some(j) = attr(p, "jid") {
                participants.push((user_jid(&j), "member".into()));
            }
        }
        let group = SimGroup {
            jid: jid.clone(),
            subject: attr(first, "subject").unwrap_or_default(),
            description: None,
            creator: me,
            participants,
            invite_code: format!("INV{}", nodes::new_id()),
        };
        let reply = group.node();
        inner.groups.insert(jid, group);
        drop(inner);
        shared.bump();
        return iq_result(id, vec![reply]);
    }
    if tag == "participating" {
        let list: Vec<Node> = inner
            .groups
            .values()
            .filter(|g| g.participants.iter().any(|(j, _)| *j == me))
            .map(SimGroup::node)
            .collect();
        return iq_result(id, vec![NodeBuilder::new("groups").children(list).build()]);
    }
    if tag == "leave" {
        for g in first.get_children_by_tag("group") {
            let gid = attr(g, "id").unwrap_or_default();
            if let Some(group) = inner.groups.get_mut(&gid) {
                group.participants.retain(|(j, _)| *j != me);
            }
        }
        drop(inner);
        shared.bump();
        return iq_result(id, vec![]);
    }
    let Some(group) = inner.groups.get_mut(&to) else {
        return iq_error(id, 404, "item-not-found");
    };
    if !group.participants.iter().any(|(j, _)| *j == me) {
        return iq_error(id, 403, "forbidden");
    }
    let reply = match tag.as_str() {
        "query" => iq_result(id, vec![group.node()]),
        "invite" => iq_result(
            id,
            vec![
                NodeBuilder::new("invite")
                    .attr("code", group.invite_code.clone())
                    .build(),
            ],
        ),
        "subject" => {
            group.subject = first
                .content_as_string()
                .map(|s| s.to_string())
                .unwrap_or_default();
            iq_result(id, vec![])
        }
        "description" => {
            group.description = first
                .get_optional_child("body")
                .and_then(|b| b.content_as_string())
                .map(|s| s.to_string());
            iq_result(id, vec![])
        }
        "add" | "remove" | "promote" | "demote" => {
            let mut results = Vec::new();
            for p in first.get_children_by_tag("participant") {
                let jid = user_jid(&attr(p, "jid").unwrap_or_default());
                let pos = group.participants.iter().position(|(j, _)| *j == jid);
                let error = match (tag.as_str(), pos) {
                    ("add", None) => {
                        group.participants.push((jid.clone(), "member".into()));
                        None
                    }
                    ("add", Some(_)) => Some("409"),
                    (_, None) => Some("404"),
                    ("remove", Some(i)) => {
                        group.participants.remove(i);
                        None
                    }
                    (action, Some(i)) => {
                        group.participants[i].1 = if action == "promote" {
                            "admin"
                        } else {
                            "member"
                        }
                        .into();
                        None
                    }
                };
                let mut b = NodeBuilder::new("participant").attr("jid", jid);
                if let Some(code) = error {
                    b = b.attr("error", code);
                }
                results.push(b.build());
            }
            iq_result(
                id,
                vec![NodeBuilder::new(static_tag(&tag)).children(results).build()],
            )
        }
        _ => iq_result(id, vec![]),
    };
    drop(inner);
    shared.bump();
    reply
}

impl Simulator {
    /// The group `jid` as the server knows it now.
    pub fn group(&self, jid: &str) -> Option<SimGroup> {
        self.shared.lock().groups.get(jid).cloned()
    }

    /// Creates a group made by `creator` (a contact's number) with these
    /// members (numbers or JIDs; the account's number adds the account).
    /// No notification is sent. Returns the group JID.
    pub fn create_group(&self, creator: &str, subject: &str, members: &[&str]) -> String {
        let mut inner = self.shared.lock();
        inner.next_group += 1;
        let jid = format!("1203630000000000{:02}@g.us", inner.next_group);
        let mut participants = vec![(user_jid(creator), "superadmin".to_string())];
        participants.extend(members.iter().map(|m| (user_jid(m), "member".to_string())));
        inner.groups.insert(
            jid.clone(),
            SimGroup {
                jid: jid.clone(),
                subject: subject.into(),
                description: None,
                creator: user_jid(creator),
                participants,
                invite_code: format!("INV{}", nodes::new_id()),
            },
        );
        drop(inner);
        self.shared.bump();
        jid
    }

    /// `author` (a number) changes the group: `action` is the `w:gp2`
    /// child (`subject`, `add`, `remove`, `promote`, `demote`,
    /// `description`); `value` is the new subject/description or the
    /// participants' numbers. Applies it to the state and notifies the
    /// account's companions.
    pub fn group_change(
        &self,
        group: &str,
        author: &str,
        action: &str,
        value: &[&str],
    ) -> anyhow::Result<()> {
        let child = {
            let mut inner = self.shared.lock();
            let Some(g) = inner.groups.get_mut(group) else {
                bail!("no group {group}");
            };
            match action {
                "subject" => {
                    let s = value.first().copied().unwrap_or_default().to_string();
                    g.subject = s.clone();
                    NodeBuilder::new("subject")
                        .attr("subject", s)
                        .attr("s_o", user_jid(author))
                        .attr("s_t", nodes::now_secs())
                        .build()
                }
                "description" => {
                    let d = value.first().copied().unwrap_or_default().to_string();
                    g.description = Some(d.clone());
                    NodeBuilder::new("description")
                        .attr("id", nodes::new_id())
                        .children([NodeBuilder::new("body").string_content(d).build()])
                        .build()
                }
                "add" | "remove" | "promote" | "demote" => {
                    for v in value {
                        let jid = user_jid(v);
                        let pos = g.participants.iter().position(|(j, _)| *j == jid);
                        match (action, pos) {
                            ("add", None) => g.participants.push((jid, "member".into())),
                            ("remove", Some(i)) => {
                                g.participants.remove(i);
                            }
                            ("promote", Some(i)) => g.participants[i].1 = "admin".into(),
                            ("demote", Some(i)) => g.participants[i].1 = "member".into(),
                            _ => {}
                        }
                    }
                    NodeBuilder::new(static_tag(action))
                        .children(value.iter().map(|v| {
                            NodeBuilder::new("participant")
                                .attr("jid", user_jid(v))
                                .build()
                        }))
                        .build()
                }
                other => bail!("unsupported group action {other}"),
            }
        };
        self.shared.bump();
        let node = NodeBuilder::new("notification")
            .attr("type", "w:gp2")
            .attr("from", group.to_string())
            .attr("id", nodes::new_id())
            .attr("t", nodes::now_secs())
            .attr("participant", user_jid(author))
            .children([child])
            .build();
        for device in self.shared.all_companions() {
            self.shared.deliver(&device, node.clone());
        }
        Ok(())
    }
}
