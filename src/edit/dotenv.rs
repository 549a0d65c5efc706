//! dotenv: placeholder, implemented in its own change.

use super::QuoteStyle;

/// Render `value` as a dotenv value, keeping its quotes.
pub fn render_value(value: &str, _style: QuoteStyle) -> String {
    value.to_string()
}
