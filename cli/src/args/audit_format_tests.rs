use rstest::rstest;

use super::*;

fn audit_format(args: &[&str]) -> Result<AuditFormat, clap::Error> {
    let args = Args::try_parse_from([&["scaling-guard", "audit"], args].concat())?;
    match args.command {
        Command::Audit { format, .. } => Ok(format),
        other => panic!("not audit: {other:?}"),
    }
}

#[rstest]
#[case::text_by_default(&[], AuditFormat::Text)]
#[case::text(&["--format", "text"], AuditFormat::Text)]
#[case::json(&["--format", "json"], AuditFormat::Json)]
#[case::json_alias(&["--json"], AuditFormat::Json)]
#[case::asff(&["--format", "asff"], AuditFormat::Asff)]
#[case::ocsf(&["--format=ocsf"], AuditFormat::Ocsf)]
fn audit_prints_in_the_format_asked(#[case] args: &[&str], #[case] expected: AuditFormat) {
    assert_eq!(audit_format(args).unwrap(), expected);
}

#[test]
fn json_and_another_format_together_are_a_usage_error() {
    let err = audit_format(&["--json", "--format", "ocsf"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--format"), "{err}");
    // `--json --format json` says the same thing twice: still refused, as
    // clap refuses any conflicting pair given together.
    assert!(audit_format(&["--json", "--format", "json"]).is_err());
}

#[test]
fn an_unknown_format_is_a_usage_error_naming_the_formats() {
    let err = audit_format(&["--format", "sarif"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let message = err.to_string();
    for name in ["text", "json", "asff", "ocsf"] {
        assert!(message.contains(name), "{message}");
    }
}
