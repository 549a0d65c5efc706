//! The one integration-test binary. Each module is one area; `support` holds shared helpers.

mod action_e2e;
mod api_calls;
mod cli_file;
mod deliver;
mod deliver_e2e;
mod edit_hcl;
mod edit_props;
mod edit_yaml;
mod events;
mod fake_github;
mod gate_e2e;
mod git_forge;
mod git_mode;
mod github_contract;
mod github_delivery;
mod globs;
mod hardening;
mod http_limits;
mod plan;
mod replay;
mod repo;
mod robustness;
mod support;
