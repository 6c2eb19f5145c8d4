//! QR codes for the 2FA setup page: the `otpauth://` URI rendered as a PNG data URL
//! (the passcode JSON's `qr_code`, docs/design.md, "Enable 2FA") or as an inline SVG.
//!
//! Pure logic: the module matrix comes from `qrcode`, the pixels are drawn here.

use std::fmt::Write as _;

use data_encoding::BASE64;
use qrcode::{Color, EcLevel, QrCode};

/// Light modules around the code; the QR specification asks for at least four.
pub const QUIET_ZONE: usize = 4;

/// Pixels per module edge in the PNG: large enough for phone cameras at a glance.
pub const PIXELS_PER_MODULE: usize = 6;

const BLACK: u8 = 0x00;
const WHITE: u8 = 0xff;

/// Why a QR code could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code (version 40) at level M.
    #[error("the text is too long for a QR code")]
    TooLong,
    /// The QR encoder refused the text for another reason.
    #[error("the text could not be encoded as a QR code: {0}")]
    Encoding(qrcode::types::QrError),
    /// Writing the PNG image failed.
    #[error("the QR code could not be written as PNG: {0}")]
    Png(#[from] png::EncodingError),
}

/// The code's module matrix, one `true` per dark module, row by row.
struct Matrix {
    width: usize,
    dark: Vec<bool>,
}

impl Matrix {
    /// Encodes `text` as bytes with error correction level M (15 % recoverable).
    fn encode(text: &str) -> Result<Self, QrError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| match e {
            qrcode::types::QrError::DataTooLong => QrError::TooLong,
            other => QrError::Encoding(other),
        })?;
        let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
        Ok(Self { width: code.width(), dark })
    }

    /// Width in modules including the quiet zone on both sides.
    fn padded_width(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// Whether the module at padded coordinates (`x`, `y`) is dark; the quiet zone is light.
    fn is_dark(&self, x: usize, y: usize) -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(QUIET_ZONE), y.checked_sub(QUIET_ZONE)) else {
            return false;
        };
        x < self.width && y < self.width && self.dark.get(y * self.width + x).copied().unwrap_or(false)
    }
}

/// Renders `text` as an 8-bit grayscale PNG, black on white, and returns it as a
/// `data:image/png;base64,…` URL ready for an `<img src>`.
pub fn png_data_url(text: &str) -> Result<String, QrError> {
    let png = png_bytes(text)?;
    Ok(format!("data:image/png;base64,{}", BASE64.encode(&png)))
}

/// The raw PNG file for `text`: `(modules + 2 × QUIET_ZONE) × PIXELS_PER_MODULE` pixels square.
fn png_bytes(text: &str) -> Result<Vec<u8>, QrError> {
    let matrix = Matrix::encode(text)?;
    let modules = matrix.padded_width();
    let side = modules * PIXELS_PER_MODULE;
    let mut pixels = Vec::with_capacity(side * side);
    for y in 0..modules {
        let row: Vec<u8> = (0..modules)
            .flat_map(|x| {
                let shade = if matrix.is_dark(x, y) { BLACK } else { WHITE };
                std::iter::repeat_n(shade, PIXELS_PER_MODULE)
            })
            .collect();
        for _ in 0..PIXELS_PER_MODULE {
            pixels.extend_from_slice(&row);
        }
    }
    // A version 40 code is 185 modules with its quiet zone: 1110 px, far below u32::MAX.
    let side_px = u32::try_from(side).map_err(|_| QrError::TooLong)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// Renders `text` as a self-contained `<svg>` element for inlining in a page.
///
/// Only geometry is emitted (one path of dark runs on a white square), so the text —
/// a setup secret — never appears in the markup and needs no escaping.
pub fn svg(text: &str) -> Result<String, QrError> {
    let matrix = Matrix::encode(text)?;
    let modules = matrix.padded_width();
    let side_px = modules * PIXELS_PER_MODULE;
    let mut path = String::new();
    for y in 0..modules {
        let mut x = 0;
        while x < modules {
            if !matrix.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < modules && matrix.is_dark(x, y) {
                x += 1;
            }
            // Writing into a String cannot fail.
            let _ = write!(path, "M{start} {y}h{}v1h-{}z", x - start, x - start);
        }
    }
    Ok(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" "#,
            r#"viewBox="0 0 {m} {m}" shape-rendering="crispEdges" role="img" aria-label="QR code">"#,
            r##"<rect width="{m}" height="{m}" fill="#fff"/><path fill="#000" d="{d}"/></svg>"##,
        ),
        px = side_px,
        m = modules,
        d = path,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const URI: &str = "otpauth://totp/Gatehouse:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
                       &issuer=Gatehouse&algorithm=SHA1&digits=6&period=30";

    /// Decodes a PNG into (width, height, grayscale pixels).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn png_is_a_square_black_and_white_image_of_the_expected_size() {
        let (width, height, pixels) = decode(&png_bytes(URI).unwrap());
        assert_eq!(width, height);
        // 121 bytes at level M need version 7: 45 modules, plus 8 quiet-zone modules.
        let modules = QrCode::with_error_correction_level(URI, EcLevel::M).unwrap().width();
        assert_eq!(modules, 45);
        assert_eq!(width as usize, (45 + 2 * QUIET_ZONE) * PIXELS_PER_MODULE);
        assert_eq!(width, 318);
        assert!(pixels.iter().all(|&p| p == BLACK || p == WHITE));
        assert!(pixels.contains(&BLACK));
    }

    #[test]
    fn png_quiet_zone_is_white_and_finder_pattern_starts_after_it() {
        let (width, _, pixels) = decode(&png_bytes(URI).unwrap());
        let side = width as usize;
        let margin = QUIET_ZONE * PIXELS_PER_MODULE;
        for y in 0..side {
            for x in 0..side {
                let inside = (margin..side - margin).contains(&x) && (margin..side - margin).contains(&y);
                if !inside {
                    assert_eq!(pixels[y * side + x], WHITE, "quiet zone pixel ({x}, {y})");
                }
            }
        }
        // The top-left finder pattern's corner is dark.
        assert_eq!(pixels[margin * side + margin], BLACK);
    }

    #[test]
    fn data_url_has_the_png_prefix_and_decodes() {
        let url = png_data_url(URI).unwrap();
        let payload = url.strip_prefix("data:image/png;base64,").unwrap();
        let bytes = BASE64.decode(payload.as_bytes()).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(bytes, png_bytes(URI).unwrap());
    }

    #[test]
    fn svg_is_inline_markup_without_the_text() {
        let markup = svg(URI).unwrap();
        assert!(markup.starts_with("<svg"));
        assert!(markup.ends_with("</svg>"));
        assert!(markup.contains(r#"viewBox="0 0 53 53""#));
        assert!(!markup.contains("otpauth") && !markup.contains("GEZDGNBV") && !markup.contains("alice"));
        let tricky = svg(r#"<script>alert("x")</script>&"#).unwrap();
        assert!(!tricky.contains("script") && !tricky.contains("alert"));
    }

    #[test]
    fn text_beyond_qr_capacity_is_refused() {
        let long = "A".repeat(8000);
        assert!(matches!(png_data_url(&long), Err(QrError::TooLong)));
        assert!(matches!(svg(&long), Err(QrError::TooLong)));
        assert_eq!(QrError::TooLong.to_string(), "the text is too long for a QR code");
    }
}
