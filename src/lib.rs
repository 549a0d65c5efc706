//! `promote`: promote versions between GitOps environments, editing only the version bytes.

pub mod action;
pub mod cmd;
pub mod config;
pub mod edit;
pub mod event;
pub mod forge;
pub mod gate;
pub mod plan;
pub mod repo;
pub mod source;

/// A short string kept inline (names, versions, ids and paths of up to 24 bytes need no
/// allocation): a plan holds several per component, and most are that short.
pub type Text = compact_str::CompactString;
