//! PNG output: for tests, golden images and the gateway's `GET /display/screen.png`.

use super::canvas::Canvas;

/// Encodes a canvas as an 8-bit RGB PNG.
pub fn encode(c: &Canvas) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, c.width, c.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        let flat: Vec<u8> = c.pixels.iter().flatten().copied().collect();
        w.write_image_data(&flat).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Decodes an 8-bit RGB PNG (as [`encode`] writes) back to a canvas.
pub fn decode(bytes: &[u8]) -> Result<Canvas, String> {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut r = dec.read_info().map_err(|e| e.to_string())?;
    let size = r
        .output_buffer_size()
        .ok_or_else(|| "the image is too large to decode".to_string())?;
    let mut buf = vec![0u8; size];
    let info = r.next_frame(&mut buf).map_err(|e| e.to_string())?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return Err(format!(
            "not 8-bit RGB: {:?} {:?}",
            info.color_type, info.bit_depth
        ));
    }
    let pixels = buf[..info.buffer_size()]
        .chunks(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok(Canvas {
        width: info.width,
        height: info.height,
        pixels,
    })
}
