//! Query strings: `a=1&b=x%20y` into pairs, percent-decoded.

/// Decodes `%XX` and `+` (as space); invalid escapes are kept as they are.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query's pairs, in order.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The first value of `key`.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        let p = pairs(Some(
            "chat=1555%40s.whatsapp.net&after=3&x&y=a+b&bad=%zz&end=%4",
        ));
        assert_eq!(get(&p, "chat"), Some("1555@s.whatsapp.net"));
        assert_eq!(get(&p, "after"), Some("3"));
        assert_eq!(get(&p, "x"), Some(""));
        assert_eq!(get(&p, "y"), Some("a b"));
        assert_eq!(get(&p, "bad"), Some("%zz"));
        assert_eq!(get(&p, "end"), Some("%4"));
        assert!(pairs(None).is_empty());
    }
}
