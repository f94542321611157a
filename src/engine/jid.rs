//! Recipient addresses: what the API's `Phone` field accepts.
//!
//! A phone number in E.164 (with or without `+`, spaces, dashes, dots or
//! parentheses) becomes `<digits>@s.whatsapp.net`; a full JID is accepted for
//! people (`@s.whatsapp.net`), groups (`@g.us`), privacy ids (`@lid`),
//! channels (`@newsletter`) and broadcasts (`@broadcast`). Anything else is
//! refused with a reason the API turns into a 422 naming the field.

/// Shortest and longest E.164 number, in digits.
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadAddress(pub String);

/// Normalizes a `Phone` value to a full JID string.
pub fn normalize(input: &str) -> Result<String, BadAddress> {
    let s = input.trim();
    if s.is_empty() {
        return Err(BadAddress("is empty".into()));
    }
    if let Some((user, server)) = s.split_once('@') {
        let ok = match server {
            "s.whatsapp.net" | "lid" => is_digits(user) && user.len() <= 20,
            "g.us" => {
                !user.is_empty()
                    && user.len() <= 40
                    && user.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            }
            "newsletter" => is_digits(user) && user.len() <= 30,
            "broadcast" => user == "status" || (is_digits(user) && user.len() <= 30),
            "c.us" => return normalize_phone(user),
            _ => {
                return Err(BadAddress(format!(
                    "`{server}` is not a WhatsApp server; use @s.whatsapp.net, @g.us, @lid, @newsletter or @broadcast"
                )));
            }
        };
        return if ok {
            Ok(format!("{user}@{server}"))
        } else {
            Err(BadAddress(format!(
                "`{user}` is not a valid user part for @{server}"
            )))
        };
    }
    normalize_phone(s)
}

fn normalize_phone(s: &str) -> Result<String, BadAddress> {
    let body = s.strip_prefix('+').unwrap_or(s);
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(BadAddress(format!("`{s}` is not a phone number or JID"))),
        }
    }
    if !PHONE_DIGITS.contains(&digits.len()) || digits.starts_with('0') {
        return Err(BadAddress(format!(
            "`{s}` is not an international number: 7 to 15 digits with the country code, no leading 0"
        )));
    }
    Ok(format!("{digits}@s.whatsapp.net"))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The phone number of a person JID (`15551230000@s.whatsapp.net` → `15551230000`).
pub fn phone_of(jid: &str) -> Option<&str> {
    let (user, server) = jid.split_once('@')?;
    let user = user.split(':').next().unwrap_or(user);
    (server == "s.whatsapp.net" && is_digits(user)).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        let cases = [
            ("15551234567", "15551234567@s.whatsapp.net"),
            ("+1 555 123 4567", "15551234567@s.whatsapp.net"),
            ("+44 (20) 7946-0958", "442079460958@s.whatsapp.net"),
            ("15551234567@s.whatsapp.net", "15551234567@s.whatsapp.net"),
            ("15551234567@c.us", "15551234567@s.whatsapp.net"),
            ("120363025246125486@g.us", "120363025246125486@g.us"),
            ("15551234567-1603123456@g.us", "15551234567-1603123456@g.us"),
            ("100000012345678@lid", "100000012345678@lid"),
            (
                "120363144038483540@newsletter",
                "120363144038483540@newsletter",
            ),
            ("status@broadcast", "status@broadcast"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn refused() {
        for input in [
            "",
            "   ",
            "abc",
            "+0123456789",
            "12345",
            "1234567890123456",
            "1555@example.com",
            "abc@s.whatsapp.net",
            "1@g.us@x",
            "@g.us",
            "15551234567@",
            "+1 555 x 4567",
            "15551234567:2@s.whatsapp.net",
        ] {
            assert!(normalize(input).is_err(), "{input:?} must be refused");
        }
    }

    #[test]
    fn phone_of_person_jids() {
        assert_eq!(phone_of("15551234567@s.whatsapp.net"), Some("15551234567"));
        assert_eq!(
            phone_of("15551234567:3@s.whatsapp.net"),
            Some("15551234567")
        );
        assert_eq!(phone_of("1@g.us"), None);
    }
}
