//! A QR code (ISO/IEC 18004) as inline SVG, for the setup page: a phone's camera
//! opens the profile's URL without typing it.
//!
//! Where it sits: the `qrcode` crate makes the modules (no rendering features); this
//! module draws them through maud: one `rect` per dark module on a white square with
//! the four-module quiet zone the standard asks for. Nothing here is `PreEscaped`:
//! the only text drawn is numbers, and the encoded URL itself never appears in the
//! SVG. Inline SVG is no image load, so the CSP needs nothing for it.

use maud::{Markup, html};
use qrcode::{Color, EcLevel, QrCode};

/// The quiet zone around the code, in modules (ISO/IEC 18004 §6.3.8).
const QUIET: usize = 4;

/// `data` as a QR code drawn in SVG (error correction level M), with `label` as its
/// accessible name; `None` when `data` is too long for any QR version.
pub fn svg(data: &str, label: &str) -> Option<Markup> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let side = width + 2 * QUIET;
    let view_box = format!("0 0 {side} {side}");
    let colors = code.to_colors();
    let dark = colors
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == Color::Dark)
        .map(|(i, _)| (i % width + QUIET, i / width + QUIET));
    Some(html! {
        svg.qr xmlns="http://www.w3.org/2000/svg" viewBox=(view_box) role="img"
            aria-label=(label) shape-rendering="crispEdges" {
            rect x="0" y="0" width=(side) height=(side) fill="#fff" {}
            @for (x, y) in dark {
                rect x=(x) y=(y) width="1" height="1" fill="#000" {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_rect_per_dark_module() {
        let data = "https://mail.example.net/account/mobileconfig";
        let svg = svg(data, "profile").expect("fits").into_string();
        let code = QrCode::with_error_correction_level(data, EcLevel::M).unwrap();
        let dark = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        assert_eq!(svg.matches("<rect ").count(), dark + 1);
        assert!(dark > 200, "{dark}");
        assert!(svg.starts_with("<svg class=\"qr\""), "{svg}");
        assert!(
            !svg.contains("mobileconfig"),
            "the URL is drawn, not written"
        );
        assert!(svg.contains("viewBox=\"0 0 "));
    }

    #[test]
    fn too_long_is_none() {
        assert!(svg(&"x".repeat(5000), "x").is_none());
    }
}
