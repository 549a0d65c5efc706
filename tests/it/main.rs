//! The one integration-test binary. Each module is one area; `support` holds shared helpers.

mod edit_yaml;
mod support;
