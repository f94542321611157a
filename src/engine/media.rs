//! Received media: the file of an inbound image, video, audio, document or
//! sticker, downloaded through the library on first request (from the
//! reference the durability hook stored) and kept under the data directory
//! within a total size (oldest files go first) and an age (older files are
//! deleted and fetched again on request while WhatsApp still has them).
//!
//! Files are written to a temporary name and renamed, so a power cut
//! leaves either the whole file or none. Blocking file work runs off the
//! async workers.

use super::{Engine, EngineError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::waproto::whatsapp as wa;

/// Where and how long received media is kept.
#[derive(Debug, Clone)]
pub struct ReceivedMedia {
    /// Directory of the kept files (`<data_dir>/media`).
    pub dir: PathBuf,
    /// Total size of the kept files.
    pub max_total_bytes: u64,
    /// Kept files older than this are deleted.
    pub retention: Duration,
}

/// One received file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The decrypted bytes.
    pub bytes: Vec<u8>,
    /// Its MIME type (from the message; `application/octet-stream` if absent).
    pub mimetype: String,
    /// The sender's file name, for documents.
    pub file_name: Option<String>,
}

/// The file name a message's media is kept under: the session and id,
/// hex-encoded so no input can reach outside the directory.
fn file_path(dir: &Path, session: &str, id: &str) -> PathBuf {
    dir.join(format!(
        "{}-{}",
        hex::encode(session.as_bytes()),
        hex::encode(id.as_bytes())
    ))
}

/// Kept files with their size and age, oldest first.
fn listing(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    e.path(),
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                )
            })
        })
        .collect();
    files.sort_by_key(|(_, _, at)| *at);
    files
}

/// Deletes kept files older than the retention age.
pub fn sweep(cfg: &ReceivedMedia) {
    let now = SystemTime::now();
    for (path, _, at) in listing(&cfg.dir) {
        if now.duration_since(at).unwrap_or_default() > cfg.retention {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How often kept files are checked against the retention age.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Deletes expired kept files now and then every [`SWEEP_EVERY`] until `stop`.
pub async fn run_sweeper(cfg: ReceivedMedia, stop: tokio_util::sync::CancellationToken) {
    loop {
        let c = cfg.clone();
        let _ = tokio::task::spawn_blocking(move || sweep(&c)).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// Keeps `bytes` at `path`, first deleting the oldest files until the total
/// fits the quota. The caller checked that `bytes` alone fits.
fn keep(cfg: &ReceivedMedia, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(&cfg.dir)?;
    let files = listing(&cfg.dir);
    let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
    for (old, len, _) in files {
        if total + bytes.len() as u64 <= cfg.max_total_bytes {
            break;
        }
        if std::fs::remove_file(&old).is_ok() {
            total = total.saturating_sub(len);
        }
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The download fails because WhatsApp no longer has the file.
fn is_expired(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    text.contains("not found/expired")
        || text.contains("status: 404")
        || text.contains("status: 410")
}

impl Engine {
    /// The file of received message `id`: kept, or downloaded now.
    pub async fn received_media(&self, session: &str, id: &str) -> Result<MediaFile, EngineError> {
        let unknown =
            || EngineError::UnknownMedia(format!("no received message with media has id {id}"));
        let cfg = self.inner.cfg.received_media.clone().ok_or_else(unknown)?;
        let (kind, encoded) = self
            .inner
            .store
            .media_ref(session, id)
            .await?
            .ok_or_else(unknown)?;
        let message = wa::Message::decode_from_slice(&encoded)
            .map_err(|e| EngineError::Backend(format!("stored media reference: {e}")))?;
        let (mimetype, file_name) = describe(&message);
        let path = file_path(&cfg.dir, session, id);
        let (c, p) = (cfg.clone(), path.clone());
        let kept = tokio::task::spawn_blocking(move || {
            sweep(&c);
            std::fs::read(&p).ok()
        })
        .await
        .ok()
        .flatten();
        if let Some(bytes) = kept {
            return Ok(MediaFile {
                bytes,
                mimetype,
                file_name,
            });
        }
        let client = self.connected_client(session)?;
        let downloaded = match kind.as_str() {
            "image" => download(&client, message.image_message.as_option()).await,
            "video" => download(&client, message.video_message.as_option()).await,
            "audio" => download(&client, message.audio_message.as_option()).await,
            "document" => download(&client, message.document_message.as_option()).await,
            "sticker" => download(&client, message.sticker_message.as_option()).await,
            _ => return Err(unknown()),
        };
        let bytes = match downloaded {
            Some(Ok(b)) => b,
            Some(Err(e)) if is_expired(&e) => {
                return Err(EngineError::MediaExpired(format!(
                    "WhatsApp no longer has the file of message {id} (its copy expired); ask the sender to send it again"
                )));
            }
            Some(Err(e)) => return Err(EngineError::WhatsApp(format!("media download: {e:#}"))),
            None => return Err(unknown()),
        };
        if bytes.len() as u64 > cfg.max_total_bytes {
            return Err(EngineError::MediaOverQuota(format!(
                "the file of message {id} is {} bytes, more than the whole received-media quota ({} bytes; received_media.max_total_mib)",
                bytes.len(),
                cfg.max_total_bytes
            )));
        }
        let copy = bytes.clone();
        let kept = tokio::task::spawn_blocking(move || keep(&cfg, &path, &copy)).await;
        if !matches!(kept, Ok(Ok(()))) {
            tracing::warn!(session, id, "could not keep a received media file");
        }
        Ok(MediaFile {
            bytes,
            mimetype,
            file_name,
        })
    }
}

/// Forwarding received media in `form` webhooks: the file, kept or
/// downloaded now; nothing when it cannot be had.
impl crate::webhook::media::MediaSource for Engine {
    fn file<'a>(&'a self, session: &'a str, id: &'a str) -> crate::webhook::media::MediaFuture<'a> {
        Box::pin(async move {
            match self.received_media(session, id).await {
                Ok(f) => Some(crate::webhook::media::MediaPart {
                    file_name: f.file_name.unwrap_or_else(|| id.to_string()),
                    bytes: f.bytes,
                    mimetype: f.mimetype,
                }),
                Err(e) => {
                    tracing::info!(session, id, error = %e, "webhook sent without its file");
                    None
                }
            }
        })
    }
}

/// Downloads one media message through the library.
async fn download<D: whatsapp_rust::download::Downloadable>(
    client: &whatsapp_rust::Client,
    media: Option<&D>,
) -> Option<anyhow::Result<Vec<u8>>> {
    Some(client.download(media?).await)
}

/// The MIME type and file name a message declares.
fn describe(m: &wa::Message) -> (String, Option<String>) {
    let mime = m
        .image_message
        .as_option()
        .and_then(|x| x.mimetype.clone())
        .or_else(|| m.video_message.as_option().and_then(|x| x.mimetype.clone()))
        .or_else(|| m.audio_message.as_option().and_then(|x| x.mimetype.clone()))
        .or_else(|| {
            m.document_message
                .as_option()
                .and_then(|x| x.mimetype.clone())
        })
        .or_else(|| {
            m.sticker_message
                .as_option()
                .and_then(|x| x.mimetype.clone())
        })
        .filter(|s| !s.is_empty() && !s.contains(['\r', '\n']))
        .unwrap_or_else(|| "application/octet-stream".into());
    let name = m
        .document_message
        .as_option()
        .and_then(|d| d.file_name.clone());
    (mime, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &Path, max: u64) -> ReceivedMedia {
        ReceivedMedia {
            dir: dir.to_path_buf(),
            max_total_bytes: max,
            retention: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_oldest_files_go_first_when_the_quota_is_full() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let c = cfg(tmp.path(), 10);
        let a = file_path(tmp.path(), "s", "A");
        let b = file_path(tmp.path(), "s", "B");
        let d = file_path(tmp.path(), "s", "C");
        keep(&c, &a, &[1; 4]).expect("a");
        std::thread::sleep(Duration::from_millis(20));
        keep(&c, &b, &[2; 4]).expect("b");
        std::thread::sleep(Duration::from_millis(20));
        keep(&c, &d, &[3; 4]).expect("c");
        assert!(!a.exists(), "the oldest file made room");
        assert!(b.exists() && d.exists());
        let total: u64 = listing(tmp.path()).iter().map(|(_, l, _)| l).sum();
        assert!(total <= 10);
    }

    #[test]
    fn old_files_are_swept_and_names_stay_inside_the_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(tmp.path(), 100);
        let p = file_path(tmp.path(), "../s", "../../etc/passwd");
        assert_eq!(p.parent(), Some(tmp.path()));
        keep(&c, &p, b"x").expect("keep");
        c.retention = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(20));
        sweep(&c);
        assert!(!p.exists());
    }

    #[tokio::test]
    async fn the_sweeper_deletes_expired_files_and_stops_on_cancel() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut c = cfg(tmp.path(), 100);
        let p = file_path(tmp.path(), "s", "OLD");
        keep(&c, &p, b"x").expect("keep");
        c.retention = Duration::ZERO;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn(run_sweeper(c, stop.clone()));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while p.exists() {
            assert!(std::time::Instant::now() < deadline, "not swept");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the sweeper stops")
            .expect("join");
    }

    #[test]
    fn expiry_is_told_from_other_failures() {
        assert!(is_expired(&anyhow::anyhow!(
            "Download media not found/expired with status: 404"
        )));
        assert!(!is_expired(&anyhow::anyhow!("connection refused")));
    }
}
