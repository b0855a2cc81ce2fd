//! Images: EC2's, by id, and AWS's recommended ones, named by SSM public
//! parameters (`/aws/service/eks/optimized-ami/...`).

use super::aws_error;
use super::ec2::Ec2;
use crate::facts::{ImageFacts, SubnetFacts};
use crate::ports::{AwsResult, NetworkImageRead, RecommendedImagesRead};

/// `GetParameters` takes at most 10 names per request.
const PARAMETERS_PER_REQUEST: usize = 10;

/// Where the node checks read images: EC2 for an image or a subnet by id,
/// SSM for the ids of AWS's recommended images.
#[derive(Debug, Clone)]
pub struct ImageSources {
    ec2: Ec2,
    ssm: aws_sdk_ssm::Client,
}

impl ImageSources {
    pub fn new(ec2: Ec2, ssm: aws_sdk_ssm::Client) -> Self {
        Self { ec2, ssm }
    }

    /// The image ids that `parameters` hold, sorted and deduplicated: one
    /// `GetParameters` per 10 names. A name AWS does not publish comes back
    /// in `InvalidParameters` and is skipped; so is a value that is not an
    /// image id (`ami-...`).
    async fn image_ids(&self, parameters: &[String]) -> AwsResult<Vec<String>> {
        let mut image_ids = Vec::new();
        for batch in parameters.chunks(PARAMETERS_PER_REQUEST) {
            let output = self
                .ssm
                .get_parameters()
                .set_names(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|err| aws_error("GetParameters", err))?;
            image_ids.extend(
                output
                    .parameters()
                    .iter()
                    .filter_map(|parameter| parameter.value())
                    .filter(|value| value.starts_with("ami-"))
                    .map(str::to_owned),
            );
        }
        image_ids.sort();
        image_ids.dedup();
        Ok(image_ids)
    }
}

impl NetworkImageRead for ImageSources {
    async fn image(&self, image_id: &str) -> AwsResult<Option<ImageFacts>> {
        self.ec2.image(image_id).await
    }

    async fn subnet(&self, subnet_id: &str) -> AwsResult<Option<SubnetFacts>> {
        self.ec2.subnet(subnet_id).await
    }
}

impl RecommendedImagesRead for ImageSources {
    /// `GetParameters`, then one `DescribeImages` of the ids found (none when
    /// no parameter is published), sorted by image id. An image AWS no longer
    /// shows is absent.
    async fn recommended_images(&self, parameters: &[String]) -> AwsResult<Vec<ImageFacts>> {
        let image_ids = self.image_ids(parameters).await?;
        let mut images = self.ec2.images(&image_ids).await?;
        images.sort_by(|a, b| a.image_id.cmp(&b.image_id));
        Ok(images)
    }
}
