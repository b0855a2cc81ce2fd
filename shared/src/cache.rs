//! Facts cached across warm invocations: bounded, with a time to live.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::facts::{ImageFacts, SubnetFacts};
use crate::ports::{AwsResult, NetworkImageRead, RecommendedImagesRead};

/// A small map with a capacity and a time to live. When full, expired entries
/// go first, then the oldest. Hand-written rather than `moka`: a few dozen
/// lines against a large dependency, for a map that holds tens of entries.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.get_at(key, Instant::now())
    }

    pub fn insert(&self, key: &str, value: V) {
        self.insert_at(key, value, Instant::now());
    }

    fn get_at(&self, key: &str, now: Instant) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(stored, _)| now.saturating_duration_since(*stored) < self.ttl)
            .map(|(_, value)| value.clone())
    }

    fn insert_at(&self, key: &str, value: V, now: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity && !entries.contains_key(key) {
            entries.retain(|_, (stored, _)| now.saturating_duration_since(*stored) < self.ttl);
            let oldest = entries
                .iter()
                .min_by_key(|(_, (stored, _))| *stored)
                .map(|(k, _)| k.clone());
            if let (true, Some(oldest)) = (entries.len() >= self.capacity, oldest) {
                entries.remove(&oldest);
            }
        }
        entries.insert(key.to_owned(), (now, value));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long AWS's recommended images are kept: AWS publishes new ones about
/// weekly, so an hour-old answer is as good as a fresh one.
pub const RECOMMENDED_IMAGES_TTL: Duration = Duration::from_secs(3600);

/// Wraps any image/subnet reader with caches. Only found images and subnets
/// are cached: a missing image may appear a moment later and must not stay
/// "missing". Recommended images are cached as a whole answer, empty ones
/// too (a version AWS does not publish stays unpublished for the hour).
/// Errors are never cached.
#[derive(Debug)]
pub struct CachedNetworkImages<R> {
    inner: R,
    images: TtlCache<ImageFacts>,
    subnets: TtlCache<SubnetFacts>,
    /// Keyed by the parameter names, joined by `,`.
    recommended: TtlCache<Vec<ImageFacts>>,
}

impl<R> CachedNetworkImages<R> {
    /// Images can be deprecated or deregistered, subnets reconfigured: both
    /// are re-read after a few minutes.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            images: TtlCache::new(256, Duration::from_secs(600)),
            subnets: TtlCache::new(256, Duration::from_secs(300)),
            recommended: TtlCache::new(16, RECOMMENDED_IMAGES_TTL),
        }
    }

    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: NetworkImageRead> NetworkImageRead for CachedNetworkImages<R> {
    async fn image(&self, image_id: &str) -> AwsResult<Option<ImageFacts>> {
        if let Some(hit) = self.images.get(image_id) {
            return Ok(Some(hit));
        }
        let found = self.inner.image(image_id).await?;
        if let Some(image) = &found {
            self.images.insert(image_id, image.clone());
        }
        Ok(found)
    }

    async fn subnet(&self, subnet_id: &str) -> AwsResult<Option<SubnetFacts>> {
        if let Some(hit) = self.subnets.get(subnet_id) {
            return Ok(Some(hit));
        }
        let found = self.inner.subnet(subnet_id).await?;
        if let Some(subnet) = &found {
            self.subnets.insert(subnet_id, subnet.clone());
        }
        Ok(found)
    }
}

impl<R: RecommendedImagesRead> RecommendedImagesRead for CachedNetworkImages<R> {
    async fn recommended_images(&self, parameters: &[String]) -> AwsResult<Vec<ImageFacts>> {
        let key = parameters.join(",");
        if let Some(hit) = self.recommended.get(&key) {
            return Ok(hit);
        }
        let images = self.inner.recommended_images(parameters).await?;
        self.recommended.insert(&key, images.clone());
        Ok(images)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::ports::AwsError;

    /// Answers recommended images from a fixed list, counting its calls; fails
    /// while `failing` is set.
    #[derive(Debug, Default)]
    struct CountingRecommended {
        calls: AtomicUsize,
        failing: AtomicBool,
        images: Vec<ImageFacts>,
    }

    impl CountingRecommended {
        fn answering(image_ids: &[&str]) -> Self {
            Self {
                images: image_ids
                    .iter()
                    .map(|id| ImageFacts {
                        image_id: (*id).to_owned(),
                        ..ImageFacts::default()
                    })
                    .collect(),
                ..Self::default()
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl RecommendedImagesRead for CountingRecommended {
        async fn recommended_images(&self, _parameters: &[String]) -> AwsResult<Vec<ImageFacts>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.failing.load(Ordering::SeqCst) {
                return Err(AwsError::new(
                    "GetParameters",
                    Some("ThrottlingException"),
                    "rate exceeded",
                ));
            }
            Ok(self.images.clone())
        }
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    const AL2023: &str = "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/image_id";
    const BOTTLEROCKET: &str = "/aws/service/bottlerocket/aws-k8s-1.30/x86_64/latest/image_id";

    #[tokio::test]
    async fn recommended_images_are_read_once_within_their_time_to_live() {
        let cached = CachedNetworkImages::new(CountingRecommended::answering(&["ami-1"]));

        let first = cached.recommended_images(&names(&[AL2023])).await;
        let second = cached.recommended_images(&names(&[AL2023])).await;

        assert_eq!(first, second);
        assert_eq!(first.map(|images| images.len()), Ok(1));
        assert_eq!(cached.inner().calls(), 1);
    }

    #[tokio::test]
    async fn different_parameter_lists_are_cached_apart() {
        let cached = CachedNetworkImages::new(CountingRecommended::answering(&["ami-1"]));

        for parameters in [
            names(&[AL2023]),
            names(&[BOTTLEROCKET]),
            names(&[AL2023, BOTTLEROCKET]),
            names(&[AL2023]),
        ] {
            assert!(cached.recommended_images(&parameters).await.is_ok());
        }

        assert_eq!(cached.inner().calls(), 3);
    }

    #[tokio::test]
    async fn an_empty_recommended_answer_is_cached() {
        let cached = CachedNetworkImages::new(CountingRecommended::answering(&[]));

        assert_eq!(
            cached.recommended_images(&names(&[AL2023])).await,
            Ok(vec![])
        );
        assert_eq!(
            cached.recommended_images(&names(&[AL2023])).await,
            Ok(vec![])
        );

        assert_eq!(cached.inner().calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_recommended_read_is_not_cached() {
        // Given a reader that fails once
        let cached = CachedNetworkImages::new(CountingRecommended::answering(&["ami-1"]));
        cached.inner().failing.store(true, Ordering::SeqCst);
        assert!(cached.recommended_images(&names(&[AL2023])).await.is_err());

        // When it answers again
        cached.inner().failing.store(false, Ordering::SeqCst);
        let answer = cached.recommended_images(&names(&[AL2023])).await;

        // Then the next read asks it, and that answer is kept
        assert_eq!(answer.map(|images| images.len()), Ok(1));
        assert!(cached.recommended_images(&names(&[AL2023])).await.is_ok());
        assert_eq!(cached.inner().calls(), 2);
    }

    #[test]
    fn an_entry_expires_after_its_time_to_live() {
        let cache = TtlCache::new(4, Duration::from_secs(60));
        let start = Instant::now();
        cache.insert_at("ami-1", 1, start);
        assert_eq!(
            cache.get_at("ami-1", start + Duration::from_secs(59)),
            Some(1)
        );
        assert_eq!(cache.get_at("ami-1", start + Duration::from_secs(60)), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_the_oldest() {
        let cache = TtlCache::new(2, Duration::from_secs(60));
        let start = Instant::now();
        cache.insert_at("a", 1, start);
        cache.insert_at("b", 2, start + Duration::from_secs(10));
        cache.insert_at("c", 3, start + Duration::from_secs(20));
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.get_at("a", start + Duration::from_secs(20)),
            None,
            "oldest dropped"
        );
        assert_eq!(cache.get_at("c", start + Duration::from_secs(20)), Some(3));
        cache.insert_at("d", 4, start + Duration::from_secs(75));
        assert_eq!(
            cache.get_at("b", start + Duration::from_secs(75)),
            None,
            "expired dropped"
        );
        assert_eq!(cache.get_at("c", start + Duration::from_secs(75)), Some(3));
        assert_eq!(cache.len(), 2);
    }
}
