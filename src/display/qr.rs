//! QR modules for the pairing screen: EC level M, as the pairing note asks.

/// The QR code's modules as rows (`true` = dark), error correction M.
pub fn modules(data: &str) -> Result<Vec<Vec<bool>>, String> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| e.to_string())?;
    let width = code.width();
    Ok(code
        .to_colors()
        .chunks(width)
        .map(|row| row.iter().map(|c| *c == qrcode::Color::Dark).collect())
        .collect())
}
