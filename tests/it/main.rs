//! The one integration-test binary. Each module is one area; `support` holds shared helpers.

mod cli_file;
mod edit_hcl;
mod edit_props;
mod support;
