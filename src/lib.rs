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
