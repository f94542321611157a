//! Small helpers for reading and building binary-XML stanzas. Shared
//! vocabulary only: no protocol decisions live here.

use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

/// The server's own JID as it appears in `from` / `to` attributes.
pub(crate) const SERVER: &str = "s.whatsapp.net";

/// Seconds since the Unix epoch, as a stanza `t` attribute.
pub(crate) fn now_secs() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string()
}

/// A fresh random id in the style WhatsApp uses for stanzas and messages.
pub(crate) fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    let mut id = String::from("3EB0");
    for b in bytes {
        id.push_str(&format!("{b:02X}"));
    }
    id
}

/// An attribute as an owned string.
pub(crate) fn attr(node: &NodeRef<'_>, key: &str) -> Option<String> {
    node.get_attr(key).map(|v| v.as_str().into_owned())
}

/// The byte content of the first child named `tag`.
pub(crate) fn child_bytes<'a>(node: &'a NodeRef<'_>, tag: &str) -> Option<&'a [u8]> {
    node.get_optional_child(tag).and_then(|c| c.content_bytes())
}

/// `<iq type="result" id=… from="s.whatsapp.net">children</iq>`.
pub(crate) fn iq_result(id: &str, children: Vec<Node>) -> Node {
    let b = NodeBuilder::new("iq")
        .attr("type", "result")
        .attr("id", id.to_string())
        .attr("from", SERVER);
    if children.is_empty() {
        b.build()
    } else {
        b.children(children).build()
    }
}

/// `<iq type="error" id=…><error code=… text=…/></iq>`.
pub(crate) fn iq_error(id: &str, code: u16, text: &str) -> Node {
    NodeBuilder::new("iq")
        .attr("type", "error")
        .attr("id", id.to_string())
        .attr("from", SERVER)
        .children([NodeBuilder::new("error")
            .attr("code", code.to_string())
            .attr("text", text.to_string())
            .build()])
        .build()
}

/// Parses a big-endian unsigned integer of up to 4 bytes.
pub(crate) fn be_uint(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Copies a 32-byte key out of a slice.
pub(crate) fn key32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn be_uint_reads_one_to_four_bytes() {
        let cases: [(&[u8], Option<u32>); 5] = [
            (&[], None),
            (&[5], Some(5)),
            (&[0, 0, 1], Some(1)),
            (&[1, 0, 0, 0], Some(1 << 24)),
            (&[1, 0, 0, 0, 0], None),
        ];
        for (bytes, want) in cases {
            assert_eq!(be_uint(bytes), want, "{bytes:?}");
        }
    }

    #[test]
    fn ids_are_unique_and_prefixed() {
        let a = new_id();
        let b = new_id();
        assert!(a.starts_with("3EB0") && a.len() == 20, "{a}");
        assert_ne!(a, b);
    }
}
