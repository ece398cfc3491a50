//! Retries: a bounded loop with jittered exponential backoff that honours `Retry-After`.
//!
//! The backoff is an iterator of delays, so it is tested without a clock. The loop does not
//! sleep after its last attempt and returns the last error.

use std::future::Future;
use std::time::{Duration, SystemTime};

use super::error::ApiError;

/// How many times and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. At least 1.
    pub attempts: u32,
    /// Delay before the second attempt, before jitter.
    pub base: Duration,
    /// Longest delay between attempts, and the longest `Retry-After` honoured.
    pub cap: Duration,
    /// Seed of the jitter, so tests are reproducible.
    pub seed: u64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            seed: 0x5eed,
        }
    }
}

/// Exponential delays with "equal jitter": each delay is between half and all of
/// `min(cap, base * 2^n)`, so retries spread out but never collapse to zero.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
    rng: u64,
}

impl Backoff {
    #[must_use]
    pub fn new(policy: &RetryPolicy) -> Backoff {
        Backoff {
            next: policy.base,
            cap: policy.cap,
            rng: policy.seed | 1,
        }
    }

    /// splitmix64: small, fast, and good enough for jitter.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let full = self.next.min(self.cap);
        self.next = self.next.saturating_mul(2);
        let half = full / 2;
        let jitter_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let extra = if jitter_ns == 0 {
            0
        } else {
            self.random() % jitter_ns
        };
        Some(half + Duration::from_nanos(extra))
    }
}

/// Parses a `Retry-After` header: delay seconds or an HTTP date.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or runs out of attempts.
/// Between attempts it waits for the server's `Retry-After` (capped) or the next backoff delay,
/// whichever is longer.
///
/// # Errors
/// The last error, when every attempt failed or one failed in a way retrying cannot fix.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> Result<T, ApiError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut backoff = Backoff::new(policy);
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    loop {
        let err = match op(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if attempt >= attempts || !err.is_retryable() {
            return Err(err);
        }
        let delay = backoff.next().unwrap_or(policy.cap);
        let delay = err
            .retry_after()
            .map_or(delay, |server| server.min(policy.cap).max(delay));
        tracing::debug!(attempt, ?delay, error = %err, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// What a checked create ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T> {
    /// The server answered the create.
    Answered(T),
    /// An attempt's answer was lost, but the object it created was found: the create landed.
    Found(T),
}

/// Runs a create that is not idempotent (a retry after a lost answer would make a second
/// object): `op` is one attempt, without retries of its own. After a failure that retrying could
/// fix, it waits as [`retry`] does, then asks `landed` whether an earlier attempt created the
/// object after all (list and match); only when nothing is found is the create sent again.
///
/// # Errors
/// The last error of `op` when every attempt failed, or one failed in a way retrying cannot
/// fix; the error of `landed` when the check itself fails (the create is then not repeated,
/// since whether it landed is unknown).
pub async fn retry_checked<T, F, Fut, L, LFut>(
    policy: &RetryPolicy,
    mut op: F,
    mut landed: L,
) -> Result<Created<T>, ApiError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
    L: FnMut() -> LFut,
    LFut: Future<Output = Result<Option<T>, ApiError>>,
{
    let mut backoff = Backoff::new(policy);
    let attempts = policy.attempts.max(1);
    let mut attempt = 1;
    loop {
        let err = match op(attempt).await {
            Ok(value) => return Ok(Created::Answered(value)),
            Err(err) => err,
        };
        if !err.is_retryable() {
            return Err(err);
        }
        let delay = backoff.next().unwrap_or(policy.cap);
        let delay = err
            .retry_after()
            .map_or(delay, |server| server.min(policy.cap).max(delay));
        tracing::debug!(attempt, ?delay, error = %err, "checking whether the create landed");
        tokio::time::sleep(delay).await;
        if let Some(found) = landed().await? {
            return Ok(Created::Found(found));
        }
        if attempt >= attempts {
            return Err(err);
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            seed: 7,
        };
        let delays: Vec<Duration> = Backoff::new(&policy).take(8).collect();
        for (i, d) in delays.iter().enumerate() {
            let full =
                (Duration::from_millis(100) * 2u32.pow(i as u32)).min(Duration::from_secs(1));
            assert!(
                *d >= full / 2 && *d <= full,
                "delay {i} = {d:?}, full {full:?}"
            );
        }
        assert_eq!(
            delays,
            Backoff::new(&policy).take(8).collect::<Vec<_>>(),
            "same seed, same delays"
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn retries_then_returns_the_last_error() {
        let policy = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            seed: 1,
        };
        let mut calls = 0;
        let result: Result<(), ApiError> = retry(&policy, |_| {
            calls += 1;
            let n = calls;
            async move {
                Err(ApiError::Status {
                    method: "GET".into(),
                    url: "u".into(),
                    status: 500,
                    body: format!("try {n}"),
                    retry_after: None,
                })
            }
        })
        .await;
        assert_eq!(calls, 3);
        assert!(matches!(result, Err(ApiError::Status { body, .. }) if body == "try 3"));
    }

    #[tokio::test]
    async fn does_not_retry_client_errors() {
        let policy = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            seed: 1,
        };
        let mut calls = 0;
        let result: Result<(), ApiError> = retry(&policy, |_| {
            calls += 1;
            async {
                Err(ApiError::Status {
                    method: "GET".into(),
                    url: "u".into(),
                    status: 400,
                    body: String::new(),
                    retry_after: None,
                })
            }
        })
        .await;
        assert_eq!(calls, 1);
        assert!(result.is_err());
    }
}
