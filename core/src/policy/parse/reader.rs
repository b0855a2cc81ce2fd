//! Reads settings through their rows of the settings table (name, kind,
//! default) and collects problems instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};

use super::super::Choice;
use super::super::Patterns;
use super::super::settings::{Kind, PREFIX, Setting};

pub(super) struct Reader {
    vars: BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Reader {
    pub(super) fn new(vars: BTreeMap<String, String>) -> Self {
        Self {
            vars,
            problems: Vec::new(),
        }
    }

    /// Every problem found, in the order they were found.
    pub(super) fn into_problems(self) -> Vec<String> {
        self.problems
    }

    pub(super) fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    /// The trimmed value; empty counts as unset (CloudFormation passes empty
    /// strings for parameters left blank).
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value as given, `None` when unset or blank.
    pub(super) fn given(&self, setting: &Setting) -> Option<String> {
        self.get(setting.name).map(str::to_owned)
    }

    /// The value given, or the default's text (for `cluster`), or `None`.
    pub(super) fn text(&self, setting: &Setting, cluster: &str) -> Option<String> {
        self.given(setting)
            .or_else(|| setting.default.text(cluster))
    }

    /// The value of a setting the policy cannot do without.
    pub(super) fn required(&mut self, setting: &Setting) -> String {
        self.given(setting).unwrap_or_else(|| {
            self.problem(format!("`{}` is required", setting.name));
            String::new()
        })
    }

    /// The value given when `parse` reads it; else (unset, or a problem
    /// said) the default, read the same way.
    fn read<T>(
        &mut self,
        setting: &Setting,
        parse: impl Fn(&str) -> Option<T>,
        complaint: impl Fn(&str) -> String,
    ) -> Option<T> {
        if let Some(text) = self.given(setting) {
            match parse(&text) {
                Some(value) => return Some(value),
                None => self.problem(complaint(&text)),
            }
        }
        let default = setting.default.text("")?;
        let value = parse(&default);
        if value.is_none() {
            self.problem(format!(
                "`{}` has the default `{default}`, which it cannot read (a bug in the settings table)",
                setting.name
            ));
        }
        value
    }

    pub(super) fn flag(&mut self, setting: &Setting) -> bool {
        let name = setting.name;
        self.read(
            setting,
            |text| match text.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            |text| {
                let text = text.to_ascii_lowercase();
                format!("`{name}` must be `true` or `false`, not `{text}`")
            },
        )
        .unwrap_or(false)
    }

    pub(super) fn choice<T: Choice>(&mut self, setting: &Setting) -> T {
        let name = setting.name;
        let one_of = T::CHOICES
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.read(setting, T::parse, |text| {
            format!("`{name}` must be one of {one_of}, not `{text}`")
        })
        .unwrap_or(T::FIRST)
    }

    /// A whole number in the setting's range, or its default, or `None`.
    pub(super) fn number(&mut self, setting: &Setting) -> Option<u64> {
        let Kind::Number { min, max } = setting.kind else {
            self.problem(format!(
                "`{}` is not a number setting (a bug)",
                setting.name
            ));
            return None;
        };
        let name = setting.name;
        self.read(
            setting,
            |text| text.parse::<u64>().ok().filter(|n| (min..=max).contains(n)),
            |text| format!("`{name}` must be a whole number from {min} to {max}, not `{text}`"),
        )
    }

    /// A number that fits a `u32` by the setting's range.
    pub(super) fn small_number(&mut self, setting: &Setting) -> Option<u32> {
        self.number(setting)
            .and_then(|value| u32::try_from(value).ok())
    }

    /// The items given, or the default's; a setting whose blank is a value
    /// is given as soon as it is present.
    pub(super) fn list(&self, setting: &Setting) -> Vec<String> {
        let present = if setting.blank_is_a_value {
            self.vars.get(setting.name).map(|v| v.trim())
        } else {
            self.get(setting.name)
        };
        let text = match present {
            Some(text) => text.to_owned(),
            None => setting.default.text("").unwrap_or_default(),
        };
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A list whose every item must be what the setting's kind says.
    pub(super) fn checked_list(&mut self, setting: &Setting) -> BTreeSet<String> {
        let items = self.list(setting);
        if let Kind::List {
            item: Some(what),
            valid: Some(valid),
        } = setting.kind
        {
            for item in items.iter().filter(|item| !valid(item)) {
                self.problem(format!(
                    "`{}` has `{item}`, which is not {what}",
                    setting.name
                ));
            }
        }
        items.into_iter().collect()
    }

    pub(super) fn patterns(&mut self, setting: &Setting) -> Patterns {
        match Patterns::new(self.list(setting)) {
            Ok(patterns) => patterns,
            Err(problems) => {
                for problem in problems {
                    self.problem(format!("`{}`: {problem}", setting.name));
                }
                Patterns::default()
            }
        }
    }

    /// A secret long enough; a problem with it never quotes it.
    pub(super) fn secret(&mut self, setting: &Setting) -> Option<String> {
        let secret = self.given(setting)?;
        let Kind::Secret { min_chars } = setting.kind else {
            return Some(secret);
        };
        if secret.chars().count() < min_chars {
            self.problem(format!(
                "`{}` must be at least {min_chars} characters (its value is not shown)",
                setting.name
            ));
            return None;
        }
        Some(secret)
    }

    /// Every `GUARD_*` variable the table lacks: a typo.
    pub(super) fn unknown_settings(&mut self) {
        let unknown: Vec<String> = self
            .vars
            .keys()
            .filter(|key| key.starts_with(PREFIX) && Setting::named(key).is_none())
            .cloned()
            .collect();
        for key in unknown {
            self.problem(format!("unknown setting `{key}`"));
        }
    }
}
