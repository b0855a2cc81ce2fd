//! What a slow `DescribeInstances` made the audit do: its pages timed out
//! and were asked again smaller ([`shared::aws::PageSizes::shrinking`]).
//! The audit completed; the report says where it was slow, so that an
//! operator knows why it took long and which region (or, in `org audit`,
//! which account) to look at.

use serde::Serialize;
use shared::aws::SlowListing;

use crate::args::Timeout;

/// Where the listing was slow and what page size it came down to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlowNote {
    pub region: String,
    /// The `--timeout` the pages exceeded.
    pub timeout_seconds: u64,
    /// How many pages timed out.
    pub timeouts: u32,
    /// The page size the listing came down to.
    pub page_size: i32,
}

impl SlowNote {
    /// The note of a listing in `region`; `None` when no page timed out.
    pub fn of(listing: Option<SlowListing>, region: &str, timeout: Timeout) -> Option<Self> {
        listing.map(|listing| Self {
            region: region.to_owned(),
            timeout_seconds: timeout.seconds,
            timeouts: listing.timeouts,
            page_size: listing.page_size,
        })
    }

    /// One line for people.
    pub fn line(&self) -> String {
        format!(
            "slow: DescribeInstances in {} timed out {} time(s) after {} s; the listing came down to pages of {}",
            self.region, self.timeouts, self.timeout_seconds, self.page_size
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_without_timeouts_has_no_note() {
        assert_eq!(
            SlowNote::of(None, "eu-west-1", Timeout { seconds: 2 }),
            None
        );
    }

    #[test]
    fn the_note_names_the_region_the_timeout_and_the_page_size() {
        let listing = SlowListing {
            timeouts: 2,
            page_size: 50,
        };
        let note = SlowNote::of(Some(listing), "eu-west-1", Timeout { seconds: 2 }).unwrap();
        assert_eq!(
            note.line(),
            "slow: DescribeInstances in eu-west-1 timed out 2 time(s) after 2 s; the listing came down to pages of 50"
        );
    }
}
