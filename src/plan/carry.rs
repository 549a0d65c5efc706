//! The components a promotion carries: its `components` globs, on ids, names or status names.
//! The others are not part of that promotion at all (not planned, not held, not tagged).

use globset::GlobMatcher;

use super::{Entry, EnvInventory, PlanError};
use crate::config::{Config, Promotion};

/// A promotion's `components`, compiled; the config tells each component's status names.
pub struct Carried<'c> {
    /// `None`: every component.
    patterns: Option<Vec<(String, GlobMatcher)>>,
    config: &'c Config,
}

impl<'c> Carried<'c> {
    pub fn of(config: &'c Config, promotion: &Promotion) -> Result<Carried<'c>, PlanError> {
        if promotion.components.is_empty() {
            return Ok(Carried {
                patterns: None,
                config,
            });
        }
        let patterns = promotion
            .components
            .iter()
            .map(|p| {
                globset::Glob::new(p)
                    .map(|g| (p.clone(), g.compile_matcher()))
                    .map_err(|e| PlanError::BadFilter(p.clone(), e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Carried {
            patterns: Some(patterns),
            config,
        })
    }

    fn matches(&self, m: &GlobMatcher, e: &Entry) -> bool {
        m.is_match(&e.id)
            || m.is_match(e.name())
            || e.status_names(self.config).iter().any(|n| m.is_match(n))
    }

    /// Whether the promotion carries `e`.
    pub fn admits(&self, e: &Entry) -> bool {
        self.patterns
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|(_, m)| self.matches(m, e)))
    }

    /// The first pattern that matches no component of `inv` (the promotion's source).
    pub fn unmatched(&self, inv: &EnvInventory) -> Option<&str> {
        self.patterns.iter().flatten().find_map(|(p, m)| {
            (!inv.components.iter().any(|e| self.matches(m, e))).then_some(p.as_str())
        })
    }
}

/// `inv` (of `promotion`'s source) with only the components the promotion carries; a
/// `components` entry that matches nothing there is an error, as a `--component` filter is.
pub fn carried(
    config: &Config,
    promotion: &Promotion,
    mut inv: EnvInventory,
) -> Result<EnvInventory, PlanError> {
    let carried = Carried::of(config, promotion)?;
    if let Some(pattern) = carried.unmatched(&inv) {
        return Err(PlanError::UnknownCarried {
            promotion: format!("{} -> {}", promotion.from, promotion.to),
            pattern: pattern.to_string(),
            env: inv.env.clone(),
            known: inv.components.iter().map(|e| e.id.to_string()).collect(),
        });
    }
    inv.components.retain(|e| carried.admits(e));
    Ok(inv)
}
