//! Time conversions at the edges: RFC 3339 text in alerts and AWS answers,
//! `SystemTime` in the domain.

use std::time::SystemTime;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// `2026-11-26T14:16:44Z`, or the empty string for a time before 1970 that
/// cannot be formatted.
pub fn format_rfc3339(time: SystemTime) -> String {
    DateTime::from(time)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// Parses `2024-01-31T12:00:00.000Z` (the format EC2 uses for image dates).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    DateTime::from_str(text, Format::DateTime)
        .ok()
        .and_then(|time| SystemTime::try_from(time).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trips_an_ec2_image_date() {
        let time = parse_rfc3339("2024-01-31T12:00:00.000Z").unwrap();
        assert_eq!(
            time,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_706_702_400)
        );
        assert_eq!(format_rfc3339(time), "2024-01-31T12:00:00Z");
    }

    #[test]
    fn garbage_is_not_a_date() {
        assert_eq!(parse_rfc3339("last tuesday"), None);
    }
}
