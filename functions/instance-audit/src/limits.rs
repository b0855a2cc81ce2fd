//! How much the audit may change in one run: a limit the sweep enforces
//! (`handler`) and the alerts quote in their advice (`alerts`). It lives
//! below both so that the imports run one way, handler → alerts → limits.

/// At most this many instances are changed per sweep; the rest wait for the
/// next sweep. A policy change (or a mistake in it) must not stop or
/// terminate a whole cluster within one run.
pub const MAX_REMEDIATIONS_PER_SWEEP: usize = 20;
