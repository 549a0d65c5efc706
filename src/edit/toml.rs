//! TOML: placeholder, implemented in its own change.

use super::QuoteStyle;

/// Render `value` as a TOML string, keeping literal (`'`) or basic (`"`) quotes.
pub fn render_string(value: &str, _style: QuoteStyle) -> String {
    format!("\"{value}\"")
}
