//! The one integration-test binary. Each module is one area; `support` holds shared helpers.

mod deliver;
mod fake_github;
mod github_contract;
mod support;
