//! Media through the simulator's in-memory CDN: the client's upload reaches
//! the contact intact, and a contact's image downloads in the client.

mod common;

use common::{STEP, init_logs, paired_client};
use wa_sim::Simulator;
use whatsapp_rust::Jid;
use whatsapp_rust::http::{HttpClient, HttpRequest};
use whatsapp_rust::media::{ImageOptions, image_message};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::upload::UploadOptions;
use whatsapp_rust::wacore::download::MediaType;

const CONTACT: &str = "15559870000";

/// Bytes that are not all the same, so a wrong offset or key shows.
fn picture() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn client_image_reaches_contact_intact() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (client, _backend, _device) = paired_client(&sim).await;

    let upload = client
        .client
        .upload(picture(), MediaType::Image, UploadOptions::default())
        .await
        .expect("upload succeeds");
    let message = image_message(
        upload,
        ImageOptions {
            caption: Some("a picture".to_string()),
            mimetype: Some("image/png".to_string()),
            ..Default::default()
        },
    );
    let to: Jid = contact.jid().parse().expect("valid JID");
    let sent = client
        .client
        .send_message(to, message)
        .await
        .expect("send succeeds");

    let got = contact.wait_for_text(STEP).await.expect("contact gets it");
    assert_eq!(got.id, sent.message_id);
    assert_eq!(got.kind, "media");
    let image = got.message.image_message.as_option().expect("an image");
    assert_eq!(image.caption.as_deref(), Some("a picture"));
    assert_eq!(
        contact
            .download_media(&got)
            .await
            .expect("contact downloads"),
        picture()
    );
    client.stop().await;
}

#[tokio::test]
async fn contact_image_downloads_in_client() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;

    let id = contact
        .send_image(&sim.phone().jid(), &picture(), "image/png", Some("look"))
        .await
        .expect("contact sends an image");
    let image = client
        .wait_for("image Messages", STEP, |e| match e {
            Event::Messages(batch) => batch
                .iter()
                .find(|m| m.info.id == id)
                .and_then(|m| m.message.image_message.as_option().cloned()),
            _ => None,
        })
        .await;
    assert_eq!(image.caption.as_deref(), Some("look"));
    let bytes = client
        .client
        .download(&image)
        .await
        .expect("client downloads");
    assert_eq!(bytes, picture());
    client.stop().await;
}

/// The simulator's HTTP client refuses anything but its own media host.
#[tokio::test]
async fn http_client_refuses_other_hosts() {
    let sim = Simulator::start().await.expect("simulator starts");
    let http = sim.http_client();
    let refused = http
        .execute(HttpRequest::get("https://web.whatsapp.com/check-update"))
        .await;
    assert!(refused.is_err());
}

/// One raw HTTP/1.1 request to `base` (`http://127.0.0.1:PORT`); returns
/// the status and the body.
async fn raw_http(base: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the media host");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("write head");
    tcp.write_all(body).await.expect("write body");
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.expect("read answer");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let status = String::from_utf8_lossy(&out[9..12])
        .parse()
        .expect("status code");
    (status, out[split + 4..].to_vec())
}

#[tokio::test]
async fn media_host_over_http_shares_the_blob_store() {
    let sim = Simulator::start().await.expect("simulator starts");
    let base = sim.media_url();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    // An upload over HTTP, as a client in another process makes it.
    let (status, body) =
        raw_http(&base, "POST", "/mms/image/tok?auth=a&token=tok", &picture()).await;
    assert_eq!(status, 200);
    let json = String::from_utf8(body).expect("utf-8");
    let direct_path = json
        .split("\"direct_path\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a direct_path");
    // Downloaded over HTTP and through the in-process client alike.
    let (status, got) = raw_http(&base, "GET", &format!("{direct_path}?hash=x"), b"").await;
    assert_eq!(status, 200);
    assert_eq!(got, picture());
    let url = json
        .split("\"url\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a url");
    let resp = sim
        .http_client()
        .execute(HttpRequest::get(url))
        .await
        .expect("in-process download");
    assert_eq!(resp.body, picture());
    let (status, _) = raw_http(&base, "GET", "/v/t62.sim/unknown", b"").await;
    assert_eq!(status, 404);
    // Offline: the media host refuses connections too.
    sim.set_online(false);
    let addr = base.trim_start_matches("http://").to_string();
    let refused = async {
        use tokio::io::AsyncReadExt;
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.ok()?;
        let mut buf = [0u8; 1];
        tcp.read(&mut buf).await.ok().filter(|n| *n > 0)
    }
    .await;
    assert!(refused.is_none(), "no answer while offline");
}
