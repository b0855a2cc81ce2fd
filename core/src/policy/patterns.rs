//! Glob pattern lists (`m6i.*`, `amazon-eks-node-al2023-*`), compiled once.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// An ordered list of glob patterns. Empty means "no list": callers treat the
/// rule as off.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    texts: Vec<String>,
    set: GlobSet,
}

impl Patterns {
    /// Compiles every pattern; the error names each one that does not compile.
    pub fn new(texts: Vec<String>) -> Result<Self, Vec<String>> {
        let mut builder = GlobSetBuilder::new();
        let mut problems = Vec::new();
        for text in &texts {
            match glob(text) {
                Ok(glob) => {
                    builder.add(glob);
                }
                Err(err) => {
                    problems.push(format!("pattern `{text}` does not compile: {}", err.kind()))
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let set = builder
            .build()
            .map_err(|err| vec![format!("patterns do not compile: {err}")])?;
        Ok(Self { texts, set })
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The first pattern (in the order given) that matches `candidate`.
    pub fn first_match(&self, candidate: &str) -> Option<&str> {
        self.set
            .matches(candidate)
            .into_iter()
            .min()
            .and_then(|index| self.texts.get(index))
            .map(String::as_str)
    }
}

fn glob(text: &str) -> Result<Glob, globset::Error> {
    // `*` crosses `/` and `.`: image names and instance types are flat names, not paths.
    GlobBuilder::new(text)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_reports_the_earliest_pattern_in_list_order() {
        let patterns = Patterns::new(vec!["m6i.*".into(), "*.large".into()]).unwrap();
        assert_eq!(patterns.first_match("m6i.large"), Some("m6i.*"));
        assert_eq!(patterns.first_match("c7g.large"), Some("*.large"));
        assert_eq!(patterns.first_match("c7g.xlarge"), None);
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_named() {
        let problems = Patterns::new(vec!["m6i.[".into(), "ok.*".into()]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("pattern `m6i.[` does not compile"),
            "{problems:?}"
        );
    }
}
