//! The passport's QR code, drawn as SVG on the server.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG QR code of `url` (error correction M: survives a smudge on a
/// printed card), or `None` for a text too long for any QR version.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::qr_svg;

    #[test]
    fn a_url_becomes_an_svg_and_an_oversized_text_does_not() {
        let svg = qr_svg("http://127.0.0.1:7001/passport/GT-0001-A").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(qr_svg(&"x".repeat(5_000)).is_none());
    }
}
