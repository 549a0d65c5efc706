//! Commands on a whole repository and its config: `plan`, `apply`, `check`, the versions matrix.
//! Placeholder: implemented in its own change.
