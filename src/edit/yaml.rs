//! YAML: placeholder, implemented in its own change.

use super::QuoteStyle;

/// Render `value` as a YAML scalar, keeping `style` unless a plain scalar would change type.
pub fn render_scalar(value: &str, _style: QuoteStyle) -> String {
    format!("\"{value}\"")
}
