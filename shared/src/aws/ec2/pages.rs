//! The page sizes `DescribeInstances` lists a cluster with, and what a slow
//! endpoint made of them.
//!
//! The functions ask for pages of 1000, the most EC2 gives, within their 5 s
//! bound: a page that times out fails the call, as a Lambda must finish.
//! The operator CLI, run against thousands of instances on a slow link or a
//! slow emulator, instead asks again for a smaller page from the same
//! `NextToken` when a page times out ([`PageSizes::shrinking`]): the listing
//! completes, and the report says it came down to smaller pages.

use std::sync::{Arc, Mutex};

/// The functions' one page size: EC2's largest.
pub const LARGEST_PAGE: i32 = 1000;

/// The CLI's ladder: each size a quarter or a fifth of the last, so that a
/// page whose answer grows with its size comes within the timeout in one or
/// two steps, and the smallest still lists 1,000 instances in 20 calls.
const SHRINKING: [i32; 3] = [LARGEST_PAGE, 250, 50];

/// What a slow endpoint made the listing do: how many pages timed out, and
/// the page size it came down to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowListing {
    pub timeouts: u32,
    pub page_size: i32,
}

/// The page sizes to try, largest first, and the record of the timeouts
/// seen (shared by the adapter's clones).
#[derive(Debug, Clone)]
pub struct PageSizes {
    ladder: &'static [i32],
    slow: Arc<Mutex<Option<SlowListing>>>,
}

impl Default for PageSizes {
    /// The functions': pages of [`LARGEST_PAGE`], a timeout fails the call.
    fn default() -> Self {
        Self {
            ladder: &SHRINKING[..1],
            slow: Arc::default(),
        }
    }
}

impl PageSizes {
    /// The CLI's: a timed-out page is asked again smaller (1000, 250, 50).
    pub fn shrinking() -> Self {
        Self {
            ladder: &SHRINKING,
            ..Self::default()
        }
    }

    /// The size of the `step`th try (0: the first).
    pub fn size(&self, step: usize) -> Option<i32> {
        self.ladder.get(step).copied()
    }

    /// Records that a page of the `step`th size timed out; the next size, if
    /// there is a smaller one.
    pub fn timed_out(&self, step: usize) -> Option<i32> {
        let next = self.size(step + 1)?;
        if let Ok(mut slow) = self.slow.lock() {
            let timeouts = slow.map_or(0, |s| s.timeouts) + 1;
            *slow = Some(SlowListing {
                timeouts,
                page_size: next,
            });
        }
        Some(next)
    }

    /// The timeouts seen so far; `None` when no page timed out.
    pub fn slow(&self) -> Option<SlowListing> {
        self.slow.lock().ok().and_then(|slow| *slow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_pages_never_shrink() {
        let pages = PageSizes::default();
        assert_eq!(pages.size(0), Some(1000));
        assert_eq!(pages.timed_out(0), None);
        assert_eq!(pages.slow(), None);
    }

    #[test]
    fn the_cli_pages_shrink_step_by_step_and_say_so() {
        let pages = PageSizes::shrinking();
        let clone = pages.clone();
        assert_eq!(pages.timed_out(0), Some(250));
        assert_eq!(pages.timed_out(1), Some(50));
        assert_eq!(pages.timed_out(2), None, "50 is the smallest");
        assert_eq!(
            clone.slow(),
            Some(SlowListing {
                timeouts: 2,
                page_size: 50
            })
        );
    }
}
