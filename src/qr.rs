//! Pairing QR codes: the one source of their modules (error correction M,
//! as the pairing note asks), drawn by the pairing screen (`display`) and
//! rendered as PNG data URLs for `GET /session/qr` (`api`). Knows nothing
//! of WhatsApp beyond the string it encodes.
//!
//! The pairing string (`ref,noiseKey,identityKey,advSecret,clientType`, about
//! 200–260 characters) fits a version 10–12 code at error correction M.

use base64::Engine as _;

/// Pixels per module in the PNG.
pub const MODULE_PX: u32 = 6;
/// Quiet zone around the code, in modules (the standard asks for 4).
pub const QUIET_MODULES: u32 = 4;

/// Why a code could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the QR code: {0}")]
pub struct QrError(String);

/// The QR code's modules as rows of booleans (`true` = dark).
pub fn modules(data: &str) -> Result<Vec<Vec<bool>>, QrError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| QrError(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    Ok(colors
        .chunks(width)
        .map(|row| row.iter().map(|c| *c == qrcode::Color::Dark).collect())
        .collect())
}

/// Renders `data` as an 8-bit grayscale PNG.
pub fn png(data: &str) -> Result<Vec<u8>, QrError> {
    let rows = modules(data)?;
    let n = rows.len() as u32;
    let side = (n + 2 * QUIET_MODULES) * MODULE_PX;
    let mut pixels = vec![255u8; (side * side) as usize];
    for (y, row) in rows.iter().enumerate() {
        for (x, dark) in row.iter().enumerate() {
            if !dark {
                continue;
            }
            let x0 = (x as u32 + QUIET_MODULES) * MODULE_PX;
            let y0 = (y as u32 + QUIET_MODULES) * MODULE_PX;
            for py in y0..y0 + MODULE_PX {
                let start = (py * side + x0) as usize;
                pixels[start..start + MODULE_PX as usize].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| QrError(e.to_string()))?;
        w.write_image_data(&pixels)
            .map_err(|e| QrError(e.to_string()))?;
    }
    Ok(out)
}

/// Renders `data` as `data:image/png;base64,…`.
pub fn data_url(data: &str) -> Result<String, QrError> {
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(data)?)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a grayscale PNG and reads the QR back with a real decoder.
    fn decode(png_bytes: &[u8]) -> String {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = dec.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("png size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        grids[0].decode().expect("decodes").1
    }

    #[test]
    fn png_round_trips_a_pairing_string() {
        let pairing = format!(
            "2@{},{},{},{},1",
            "A".repeat(80),
            "bm9pc2Uta2V5LWJhc2U2NC0zMi1ieXRlcy1sb25nLi4=",
            "aWRlbnRpdHkta2V5LWJhc2U2NC0zMi1ieXRlcy0uLi4=",
            "YWR2LXNlY3JldC1iYXNlNjQtMzItYnl0ZXMtbG9uZy4="
        );
        let bytes = png(&pairing).expect("render");
        assert_eq!(decode(&bytes), pairing);
        let url = data_url(&pairing).expect("data url");
        assert!(url.starts_with("data:image/png;base64,"));
    }
}
