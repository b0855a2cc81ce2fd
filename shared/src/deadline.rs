//! The invocation's deadline (`Lambda-Runtime-Deadline-Ms`), so that a handler
//! finishes what it owns before Lambda ends the invocation.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// When the invocation ends. Kept as a tokio instant, so that tests with
/// paused time see it pass without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// The deadline of a Lambda invocation, from its context.
    pub fn at(deadline: SystemTime) -> Self {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Self(Instant::now() + left)
    }

    /// `left` from now.
    pub fn after(left: Duration) -> Self {
        Self(Instant::now() + left)
    }

    /// Time left before the deadline (zero once it passed).
    pub fn left(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// The instant `reserve` before the deadline: where a step must stop so
    /// that what follows it still has `reserve`.
    pub fn less(self, reserve: Duration) -> Instant {
        self.0.checked_sub(reserve).unwrap_or_else(Instant::now)
    }

    /// Runs `step` until `reserve` before the deadline; `None` when it did not
    /// finish by then.
    pub async fn run<F: Future>(self, reserve: Duration, step: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.less(reserve), step).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_step_stops_at_the_deadline_less_its_reserve() {
        let deadline = Deadline::after(Duration::from_secs(30));
        let slow = tokio::time::sleep(Duration::from_secs(25));
        assert_eq!(deadline.run(Duration::from_secs(10), slow).await, None);
        assert_eq!(deadline.left(), Duration::from_secs(10));
        let quick = async { 7 };
        assert_eq!(deadline.run(Duration::from_secs(5), quick).await, Some(7));
    }

    #[test]
    fn a_deadline_in_the_past_leaves_nothing() {
        let past = SystemTime::now() - Duration::from_secs(5);
        assert_eq!(Deadline::at(past).left(), Duration::ZERO);
    }
}
