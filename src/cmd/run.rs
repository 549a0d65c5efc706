//! `promote run`: action mode. Placeholder: implemented in its own change.
