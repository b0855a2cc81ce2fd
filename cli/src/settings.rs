//! Where the CLI's policy comes from: the `GUARD_*` variables of the
//! environment (as the functions read them), or a policy file given with
//! `--policy` — `KEY=VALUE` lines, like an env file.
//!
//! With `--policy`, only the file counts: `GUARD_*` variables left in the
//! shell are ignored (and said so), so that the result does not depend on a
//! stale `export`.
//!
//! The policy is then parsed and validated by `shared` exactly as the
//! functions do, with one difference: `GUARD_ALERT_TOPIC_ARN` may be missing.
//! The CLI never publishes, so it fills in [`PLACEHOLDER_TOPIC_ARN`] and says
//! so in a note; the functions still require the real topic.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use shared::policy::Policy;
use shared::policy::settings::{self, PREFIX};

/// The topic filled in when `GUARD_ALERT_TOPIC_ARN` is missing or blank.
pub const PLACEHOLDER_TOPIC_ARN: &str =
    "arn:aws:sns:us-east-1:000000000000:scaling-guard-cli-placeholder";
/// `GUARD_ALERT_TOPIC_ARN`, the one setting the CLI may do without.
pub const TOPIC_SETTING: &str = settings::ALERT_TOPIC_ARN.name;

/// Where the settings were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment => f.write_str("environment (`GUARD_*` variables)"),
            Source::File(path) => write!(f, "file `{}`", path.display()),
        }
    }
}

/// The policy settings as given, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub source: Source,
    /// `GUARD_*` settings, as given (values unparsed).
    pub vars: BTreeMap<String, String>,
    /// Problems with the input itself (a malformed line); they make the
    /// policy invalid like the policy's own problems.
    pub problems: Vec<String>,
    /// Things worth saying that do not make the policy invalid.
    pub notes: Vec<String>,
}

/// A validated policy and the notes about how it was read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub policy: Policy,
    /// The input's notes (ignored lines or variables).
    pub notes: Vec<String>,
    /// `GUARD_ALERT_TOPIC_ARN` was missing and the placeholder is used
    /// (`validate` says so).
    pub placeholder_topic: bool,
}

/// Every problem of an invalid policy (the input's and the policy's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    pub origin: String,
    pub problems: Vec<String>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "invalid policy from {} ({count} {noun}):", self.origin)?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl Settings {
    /// The `GUARD_*` variables among `vars` (the process environment).
    pub fn from_env(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut settings = Settings::empty(Source::Environment);
        for (key, value) in vars {
            let Some(key) = key.to_str().filter(|k| k.starts_with(PREFIX)) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => {
                    settings.vars.insert(key.to_owned(), value);
                }
                Err(_) => settings
                    .problems
                    .push(format!("`{key}` is not valid utf-8")),
            }
        }
        settings
    }

    /// Reads a policy file. `env_keys` are the `GUARD_*` variables of the
    /// environment, which the file replaces (a note names them).
    pub fn from_file(path: &Path, env_keys: &[String]) -> Result<Self, std::io::Error> {
        let text = std::fs::read_to_string(path)?;
        let mut settings = Settings::parse_file(&text, Source::File(path.to_owned()));
        if !env_keys.is_empty() {
            settings.notes.push(format!(
                "the policy file replaces the environment: {} ignored",
                env_keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(settings)
    }

    /// Parses the text of a policy file: `KEY=VALUE` per line; blank lines and
    /// lines starting with `#` are skipped; `export ` before a key is allowed;
    /// a value may be quoted (`"…"` or `'…'`, taken as is), and an unquoted
    /// value ends at ` #` (a trailing comment). Keys that do not start with
    /// `GUARD_` are ignored with a note; a key set twice is a problem.
    pub fn parse_file(text: &str, source: Source) -> Self {
        let mut settings = Settings::empty(source);
        let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index.saturating_add(1);
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").map_or(line, str::trim_start);
            let Some((key, value)) = line.split_once('=') else {
                settings
                    .problems
                    .push(format!("line {number}: expected `KEY=VALUE`, not `{line}`"));
                continue;
            };
            let key = key.trim();
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                settings.problems.push(format!(
                    "line {number}: `{key}` is not a variable name (letters, digits and `_`)"
                ));
                continue;
            }
            if !key.starts_with(PREFIX) {
                settings.notes.push(format!(
                    "line {number}: `{key}` is not a policy setting (they start with `{PREFIX}`) and is ignored"
                ));
                continue;
            }
            if let Some(first) = first_line.get(key) {
                settings.problems.push(format!(
                    "line {number}: `{key}` is set again (first on line {first})"
                ));
                continue;
            }
            first_line.insert(key.to_owned(), number);
            settings.vars.insert(key.to_owned(), unquote(value));
        }
        settings
    }

    fn empty(source: Source) -> Self {
        Self {
            source,
            vars: BTreeMap::new(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Whether a setting was given a value (blank counts as not given, as in
    /// the functions: CloudFormation passes blank parameters as empty strings).
    pub fn is_given(&self, key: &str) -> bool {
        self.vars.get(key).is_some_and(|v| !v.trim().is_empty())
    }

    /// Validates the settings as the functions do, with the topic optional.
    pub fn load(&self) -> Result<Loaded, Invalid> {
        let mut vars = self.vars.clone();
        let placeholder_topic = !self.is_given(TOPIC_SETTING);
        if placeholder_topic {
            vars.insert(TOPIC_SETTING.to_owned(), PLACEHOLDER_TOPIC_ARN.to_owned());
        }
        let mut notes = self.notes.clone();
        let mut problems = self.problems.clone();
        let now = SystemTime::now();
        match Policy::from_vars_at(vars, now) {
            Ok(policy) if problems.is_empty() => {
                // Expired exceptions are valid (they exempt nothing): said, not refused.
                notes.extend(policy.exceptions.expiry_notes(now));
                Ok(Loaded {
                    policy,
                    notes,
                    placeholder_topic,
                })
            }
            Ok(_) => Err(self.invalid(problems)),
            Err(err) => {
                problems.extend(err.problems);
                Err(self.invalid(problems))
            }
        }
    }

    fn invalid(&self, problems: Vec<String>) -> Invalid {
        Invalid {
            origin: self.source.to_string(),
            problems,
        }
    }
}

/// The value of a `KEY=VALUE` line: quotes removed, or a trailing ` #…`
/// comment cut from an unquoted value.
fn unquote(value: &str) -> String {
    let value = value.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner.to_owned();
        }
    }
    let cut = value
        .char_indices()
        .find(|(at, c)| {
            *c == '#'
                && value
                    .get(..*at)
                    .and_then(|before| before.chars().last())
                    .is_some_and(char::is_whitespace)
        })
        .map_or(value.len(), |(at, _)| at);
    value.get(..cut).unwrap_or(value).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    use super::*;

    fn file(text: &str) -> Settings {
        Settings::parse_file(text, Source::File("policy.env".into()))
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_policy_file_reads_like_an_env_file() {
        let settings = file(
            "# prod policy\n\
             \n\
             GUARD_CLUSTER=prod\n\
             export GUARD_MODE = audit\n\
             GUARD_ALLOWED_INSTANCE_TYPES=\"m6i.*,c7g.2xlarge\"\n\
             GUARD_ALLOWED_AMI_NAME_PATTERNS='amazon-eks-node-al2023-* # not a comment'\n\
             GUARD_MAX_VCPUS=512   # about 64 nodes\n\
             GUARD_HOOK_NAME=hook#1\n\
             GUARD_AUDIT_ONLY_CHECKS=\r\n",
        );
        assert_eq!(
            settings.vars,
            vars(&[
                ("GUARD_CLUSTER", "prod"),
                ("GUARD_MODE", "audit"),
                ("GUARD_ALLOWED_INSTANCE_TYPES", "m6i.*,c7g.2xlarge"),
                (
                    "GUARD_ALLOWED_AMI_NAME_PATTERNS",
                    "amazon-eks-node-al2023-* # not a comment"
                ),
                ("GUARD_MAX_VCPUS", "512"),
                ("GUARD_HOOK_NAME", "hook#1"),
                ("GUARD_AUDIT_ONLY_CHECKS", ""),
            ])
        );
        assert_eq!(settings.problems, Vec::<String>::new());
        assert_eq!(settings.notes, Vec::<String>::new());
    }

    #[rstest]
    #[case::no_equals(
        "GUARD_CLUSTER prod",
        "line 1: expected `KEY=VALUE`, not `GUARD_CLUSTER prod`"
    )]
    #[case::empty_key("=prod", "line 1: `` is not a variable name (letters, digits and `_`)")]
    #[case::bad_key(
        "GUARD-CLUSTER=prod",
        "line 1: `GUARD-CLUSTER` is not a variable name (letters, digits and `_`)"
    )]
    #[case::twice(
        "GUARD_CLUSTER=prod\n# again\nGUARD_CLUSTER=staging",
        "line 3: `GUARD_CLUSTER` is set again (first on line 1)"
    )]
    fn a_malformed_line_is_a_problem_naming_its_line(#[case] text: &str, #[case] problem: &str) {
        assert_eq!(file(text).problems, vec![problem.to_owned()]);
    }

    #[test]
    fn other_variables_in_the_file_are_ignored_with_a_note() {
        let settings = file("AWS_PROFILE=prod\nGUARD_CLUSTER=prod");
        assert_eq!(settings.vars, vars(&[("GUARD_CLUSTER", "prod")]));
        assert_eq!(
            settings.notes,
            vec![
                "line 1: `AWS_PROFILE` is not a policy setting (they start with `GUARD_`) and is ignored"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn the_environment_gives_only_its_guard_variables() {
        let env = [
            ("GUARD_CLUSTER", "prod"),
            ("HOME", "/root"),
            ("GUARD_MODE", "audit"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let settings = Settings::from_env(env);
        assert_eq!(
            settings.vars,
            vars(&[("GUARD_CLUSTER", "prod"), ("GUARD_MODE", "audit")])
        );
        assert_eq!(settings.source, Source::Environment);
    }

    #[test]
    fn a_missing_or_blank_topic_gets_the_placeholder() {
        for text in [
            "GUARD_CLUSTER=prod",
            "GUARD_CLUSTER=prod\nGUARD_ALERT_TOPIC_ARN= ",
        ] {
            let loaded = file(text).load().unwrap();
            assert!(loaded.placeholder_topic);
            assert_eq!(loaded.policy.alert_topic_arn, PLACEHOLDER_TOPIC_ARN);
        }
    }

    #[test]
    fn a_given_topic_is_kept_and_validated() {
        let loaded = file(
            "GUARD_CLUSTER=prod\nGUARD_ALERT_TOPIC_ARN=arn:aws:sns:eu-west-1:123456789012:alerts",
        )
        .load()
        .unwrap();
        assert!(!loaded.placeholder_topic);
        assert!(loaded.notes.is_empty());
        let err = file("GUARD_CLUSTER=prod\nGUARD_ALERT_TOPIC_ARN=alerts")
            .load()
            .unwrap_err();
        assert_eq!(
            err.problems,
            vec!["`GUARD_ALERT_TOPIC_ARN` is not an sns topic arn: `alerts`".to_owned()]
        );
    }

    #[test]
    fn file_problems_and_policy_problems_are_listed_together() {
        let err = file("GUARD_CLUSTER=prod\nGUARD_MODE=strict\noops\nGUARD_TYPO=1")
            .load()
            .unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                "line 3: expected `KEY=VALUE`, not `oops`".to_owned(),
                "unknown setting `GUARD_TYPO`".to_owned(),
                "`GUARD_MODE` must be one of `enforce`, `audit`, not `strict`".to_owned(),
            ]
        );
        assert_eq!(
            err.to_string(),
            "invalid policy from file `policy.env` (3 problems):\n  \
             - line 3: expected `KEY=VALUE`, not `oops`\n  \
             - unknown setting `GUARD_TYPO`\n  \
             - `GUARD_MODE` must be one of `enforce`, `audit`, not `strict`"
        );
    }

    #[test]
    fn a_malformed_line_alone_makes_the_policy_invalid() {
        let err = file("GUARD_CLUSTER=prod\noops").load().unwrap_err();
        assert_eq!(err.problems.len(), 1);
    }
}
