//! HCL: placeholder, implemented in its own change.

/// Render `value` as an HCL string literal.
pub fn render_string(value: &str) -> String {
    format!("\"{value}\"")
}
