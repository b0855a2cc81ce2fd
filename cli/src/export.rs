//! `scaling-guard export`: the policy compiled into preventive controls
//! ([`shared::export`]): SCP / permissions-boundary documents, the EC2
//! Allowed AMIs criteria and an AWS Organizations EC2 declarative policy,
//! each within AWS's size limit (or split, and said so), with the checks no
//! launch-time control expresses. Reads no AWS: the policy alone.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use shared::export::declarative::DECLARATIVE_MAX_CHARS;
use shared::export::scp::{BOUNDARY_MAX_CHARS, SCP_MAX_CHARS};
use shared::export::{
    AtLaunch, CheckExport, Export, Extent, Layer, Scope, enforcement, layers_text,
};

use crate::table::Table;

/// What a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An SCP (or a permissions boundary: the same statements, a larger limit).
    Scp,
    /// `aws ec2 enable-allowed-images-settings` then
    /// `replace-image-criteria-in-allowed-images-settings --image-criteria`.
    AllowedAmis,
    /// An AWS Organizations policy of type `DECLARATIVE_POLICY_EC2`.
    DeclarativePolicy,
}

/// One document as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Written {
    /// Its file name under `--out`.
    pub file: String,
    pub kind: Kind,
    /// Whom an SCP bites.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Its size as written (minified), and AWS's limit for its kind.
    pub characters: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    pub content: Value,
}

/// The export, as `--format json` prints it and `--out` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exported {
    pub cluster: String,
    pub documents: Vec<Written>,
    /// Every check the policy turns on: where it is enforced, and how much
    /// of it the documents carry.
    pub checks: Vec<CheckExport>,
    pub notes: Vec<String>,
}

impl Exported {
    pub fn of(export: Export) -> Self {
        let mut documents = Vec::new();
        let scps = &export.scp.documents;
        for (index, document) in scps.iter().enumerate() {
            // The document's number among those of its scope, from 1.
            let number = scps
                .iter()
                .take(index + 1)
                .filter(|d| d.scope == document.scope)
                .count();
            let file = format!("scp-{}-{number}.json", document.scope.as_str());
            documents.push(written(
                file,
                Kind::Scp,
                Some(document.scope),
                Some(SCP_MAX_CHARS),
                document.to_json(),
            ));
        }
        if !export.allowed_images.criteria.is_empty() {
            let content = export.allowed_images.to_api_json();
            documents.push(written(
                "allowed-amis.json".into(),
                Kind::AllowedAmis,
                None,
                None,
                content,
            ));
        }
        for (index, document) in export.declarative.documents.iter().enumerate() {
            let file = format!("declarative-policy-{}.json", index + 1);
            documents.push(written(
                file,
                Kind::DeclarativePolicy,
                None,
                Some(DECLARATIVE_MAX_CHARS),
                document.clone(),
            ));
        }
        Self {
            cluster: export.cluster,
            documents,
            checks: export.checks,
            notes: export.notes,
        }
    }

    /// Writes every document and `checks.json` (the checks and notes) into
    /// `dir`, which is created when missing.
    pub fn write_to(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut paths = Vec::new();
        for document in &self.documents {
            let path = dir.join(&document.file);
            std::fs::write(&path, pretty(&document.content))?;
            paths.push(path);
        }
        let checks = serde_json::json!({"cluster": self.cluster, "checks": self.checks, "notes": self.notes});
        let path = dir.join("checks.json");
        std::fs::write(&path, pretty(&checks))?;
        paths.push(path);
        Ok(paths)
    }
}

fn pretty(value: &Value) -> String {
    format!("{value:#}\n")
}

fn written(
    file: String,
    kind: Kind,
    scope: Option<Scope>,
    limit: Option<usize>,
    content: Value,
) -> Written {
    Written {
        file,
        kind,
        scope,
        characters: content.to_string().len(),
        limit,
        content,
    }
}

/// The export for people: the documents (their sizes; their content unless
/// written to `--out`), every check's layers, what no control expresses,
/// and the notes.
pub fn render(exported: &Exported, out_dir: Option<&Path>) -> String {
    let mut out = format!("preventive controls for cluster {}\n", exported.cluster);
    out.push_str(&documents_section(exported, out_dir));
    out.push_str(&checks_section(&exported.checks));
    out.push_str(&not_exported_section(&exported.checks));
    if !exported.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for note in &exported.notes {
            let _ = writeln!(out, "  - {note}");
        }
    }
    out
}

fn documents_section(exported: &Exported, out_dir: Option<&Path>) -> String {
    if exported.documents.is_empty() {
        return "\nno document: no check the policy blocks can be expressed at launch\n".to_owned();
    }
    let mut table = Table::new(["DOCUMENT", "KIND", "SCOPE", "CHARACTERS"]);
    for document in &exported.documents {
        let size = match document.limit {
            Some(limit) => format!("{} of {limit}", document.characters),
            None => document.characters.to_string(),
        };
        let scope = document.scope.map_or("account", Scope::as_str);
        table.row([
            document.file.clone(),
            kind_name(document.kind).to_owned(),
            scope.to_owned(),
            size,
        ]);
    }
    let mut out = format!("\n{}", table.render());
    let _ = writeln!(
        out,
        "(an SCP's statements also serve as a permissions boundary, whose limit is {BOUNDARY_MAX_CHARS})"
    );
    match out_dir {
        Some(dir) => {
            let _ = writeln!(out, "written to {}", dir.display());
        }
        None => {
            for document in &exported.documents {
                let _ = write!(out, "\n# {}\n{}", document.file, pretty(&document.content));
            }
        }
    }
    out
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Scp => "SCP",
        Kind::AllowedAmis => "Allowed AMIs",
        Kind::DeclarativePolicy => "declarative policy",
    }
}

/// Every check the policy turns on: the preventive layers the documents
/// give it, how much of it they carry, and every layer that enforces it.
fn checks_section(checks: &[CheckExport]) -> String {
    let mut table = Table::new(["CHECK", "EXPORTED TO", "EXTENT", "ENFORCED BY"]);
    for check in checks {
        let exported: Vec<&str> = check
            .exported_to
            .iter()
            .map(|l: &Layer| l.as_str())
            .collect();
        let exported = if exported.is_empty() {
            "-".to_owned()
        } else {
            exported.join(", ")
        };
        table.row([
            check.check.as_str().to_owned(),
            exported,
            extent_name(check.extent).to_owned(),
            layers_text(check.check),
        ]);
    }
    format!("\n{}", table.render())
}

fn extent_name(extent: Extent) -> &'static str {
    match extent {
        Extent::Full => "full",
        Extent::Partial => "partial",
        Extent::None => "none",
    }
}

/// Whether a check belongs in a section.
type Belongs<'a> = dyn Fn(&CheckExport) -> bool + 'a;

/// The checks carried in part or not at all, each with its reasons: first
/// those no launch-time control can express, then those this policy keeps
/// out (exempted, reports only, too large), then those carried in part.
fn not_exported_section(checks: &[CheckExport]) -> String {
    let never = |c: &CheckExport| matches!(enforcement(c.check).at_launch, AtLaunch::Never(_));
    let sections: [(&str, &Belongs<'_>); 3] = [
        (
            "not expressible at launch (the guard alone enforces them):",
            &|c| c.extent == Extent::None && never(c),
        ),
        (
            "not exported under this policy (the guard alone enforces them):",
            &|c| c.extent == Extent::None && !never(c),
        ),
        ("carried in part (the guard enforces the rest):", &|c| {
            c.extent == Extent::Partial
        }),
    ];
    let mut out = String::new();
    for (title, belongs) in sections {
        let rows: Vec<&CheckExport> = checks.iter().filter(|c| belongs(c)).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}");
        for row in rows {
            let _ = writeln!(out, "  {}: {}", row.check, row.reasons.join("; "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use shared::export;
    use shared::fixtures::every_check_policy;

    use super::*;

    #[test]
    fn the_text_lists_each_document_with_its_size_and_the_checks_no_control_expresses() {
        let exported = Exported::of(export::compile(&every_check_policy(&[(
            "GUARD_MAX_VCPUS",
            "64",
        )])));

        let text = render(&exported, Some(Path::new("out")));

        let files: Vec<&str> = exported.documents.iter().map(|d| d.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "scp-cluster-1.json",
                "scp-account-1.json",
                "allowed-amis.json",
                "declarative-policy-1.json"
            ]
        );
        assert!(text.contains("\nscp-cluster-1.json "), "{text}");
        assert!(text.contains(" of 5120\n"), "{text}");
        assert!(
            text.contains(
                "\nnot expressible at launch (the guard alone enforces them):\n  image.outdated: "
            ),
            "{text}"
        );
        assert!(
            text.contains("\n  budget.vcpus: a budget is a sum"),
            "{text}"
        );
        assert!(text.contains("written to out\n"), "{text}");
    }
}
