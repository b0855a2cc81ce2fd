//! Time conversions at the edges: RFC 3339 text in alerts and AWS answers,
//! `SystemTime` in the domain.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `2026-11-26T14:16:44Z` (`.123456Z` with microseconds, as the AWS SDK
/// writes them), or the empty string for a time before 1970 that cannot be
/// formatted.
pub fn format_rfc3339(time: SystemTime) -> String {
    let Ok(since_epoch) = time.duration_since(SystemTime::UNIX_EPOCH) else {
        return String::new();
    };
    let micros = since_epoch.subsec_micros();
    let whole =
        SystemTime::UNIX_EPOCH + std::time::Duration::new(since_epoch.as_secs(), micros * 1_000);
    OffsetDateTime::from(whole)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The UTC calendar day of `time`: the day a policy's dates (an exception's
/// `until=`) are compared with.
pub fn utc_date(time: SystemTime) -> time::Date {
    OffsetDateTime::from(time).date()
}

/// Parses `2024-01-31T12:00:00.000Z` (the format EC2 uses for image dates).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(SystemTime::from)
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
    fn formats_microseconds_as_the_sdk_did_and_nothing_finer() {
        let time = SystemTime::UNIX_EPOCH + Duration::new(1_706_702_400, 123_456_789);
        assert_eq!(format_rfc3339(time), "2024-01-31T12:00:00.123456Z");
        assert_eq!(
            format_rfc3339(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            ""
        );
    }

    #[test]
    fn garbage_is_not_a_date() {
        assert_eq!(parse_rfc3339("last tuesday"), None);
    }
}
