//! The adapters behind the node checks (`shared::aws`), on the real SDK
//! clients against the emulator: the instance facts of a real launch, EBS
//! volumes, and AWS's recommended images read from SSM public parameters.
//! They count the AWS calls each read makes through the emulator's request
//! journal.

use aws_sdk_ec2::types::{
    ArchitectureValues, BlockDeviceMapping, EbsBlockDevice, InstanceMetadataOptionsRequest,
    InstanceType,
};
use scaling_guard_e2e::{CLUSTER, Clients, Cluster, Emulator, NODE_TYPE, REGION, sdk_config};
use shared::aws::{Adapters, Destinations};
use shared::facts::VolumeFacts;
use shared::ports::{InstanceRead, RecommendedImagesRead, VolumeRead};

const KEY_NAME: &str = "nodes-break-glass";
const KMS_KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// A volume id EC2 never issued.
const UNKNOWN_VOLUME: &str = "vol-0123456789abcdef0";

const AL2023_X86: &str =
    "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/image_id";
const AL2023_ARM: &str =
    "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/arm64/standard/recommended/image_id";
/// A Kubernetes version AWS publishes no image for.
const UNPUBLISHED: &str =
    "/aws/service/eks/optimized-ami/1.99/amazon-linux-2023/x86_64/standard/recommended/image_id";

/// The emulator with the seeded cluster, and the production adapters on it.
struct World {
    adapters: Adapters,
    clients: Clients,
    cluster: Cluster,
    // Dropped last: the clients talk to it.
    _emulator: Emulator,
}

impl World {
    async fn new() -> Self {
        let emulator = Emulator::start().expect("emulator");
        let clients = Clients::new(&emulator).await;
        let cluster = Cluster::seed(&clients).await.expect("seeded cluster");
        let adapters = Adapters::new(&sdk_config(&emulator).await, &Destinations::default());
        World {
            adapters,
            clients,
            cluster,
            _emulator: emulator,
        }
    }

    /// How many `operation` calls the emulator served since the last
    /// [`Self::forget_requests`].
    fn calls(&self, operation: &str) -> usize {
        self.clients
            .control
            .requests(Some(operation))
            .expect("request journal")
            .len()
    }

    fn forget_requests(&self) {
        self.clients
            .control
            .clear_requests()
            .expect("request journal");
    }

    /// Runs one node with a key pair, a hop limit of 1, an unencrypted root
    /// volume and an encrypted data volume. (With `BlockDeviceMappings` in
    /// the request, moto attaches no default root: both are mapped.)
    async fn run_node_with_data_volume(&self) -> String {
        let ec2 = &self.clients.ec2;
        ec2.create_key_pair()
            .key_name(KEY_NAME)
            .send()
            .await
            .expect("CreateKeyPair");
        let root = BlockDeviceMapping::builder()
            .device_name("/dev/xvda")
            .ebs(EbsBlockDevice::builder().volume_size(8).build())
            .build();
        let data = BlockDeviceMapping::builder()
            .device_name("/dev/xvdb")
            .ebs(
                EbsBlockDevice::builder()
                    .volume_size(20)
                    .encrypted(true)
                    .kms_key_id(KMS_KEY)
                    .build(),
            )
            .build();
        ec2.run_instances()
            .image_id(&self.cluster.images.fresh)
            .instance_type(InstanceType::from(NODE_TYPE))
            .min_count(1)
            .max_count(1)
            .set_subnet_id(self.cluster.private_subnet_ids.first().cloned())
            .key_name(KEY_NAME)
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_put_response_hop_limit(1)
                    .build(),
            )
            .block_device_mappings(root)
            .block_device_mappings(data)
            .send()
            .await
            .expect("RunInstances")
            .instances()[0]
            .instance_id()
            .unwrap()
            .to_owned()
    }

    /// Registers an arm64 image; returns its id.
    async fn arm_image(&self) -> String {
        self.clients
            .ec2
            .register_image()
            .name("amazon-eks-node-al2023-arm64-standard-1.30-v20261101")
            .architecture(ArchitectureValues::Arm64)
            .send()
            .await
            .expect("RegisterImage")
            .image_id()
            .unwrap()
            .to_owned()
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn instance_facts_carry_hop_limit_key_name_and_attached_volumes() {
    let world = World::new().await;
    let instance_id = world.run_node_with_data_volume().await;

    let facts = world
        .adapters
        .ec2
        .instance(&instance_id)
        .await
        .unwrap()
        .expect("the instance");

    assert_eq!(facts.http_put_response_hop_limit, Some(1));
    assert_eq!(facts.key_name.as_deref(), Some(KEY_NAME));
    assert_eq!(facts.volume_ids.len(), 2, "root and data: {facts:?}");
    assert!(
        facts.volume_ids.iter().all(|id| id.starts_with("vol-")),
        "{:?}",
        facts.volume_ids
    );
}

#[tokio::test]
async fn volumes_of_one_encrypted_and_one_unknown_id_answers_the_encrypted_one() {
    let world = World::new().await;
    let instance_id = world.run_node_with_data_volume().await;
    let all = world
        .adapters
        .ec2
        .volumes(
            &world
                .adapters
                .ec2
                .instance(&instance_id)
                .await
                .unwrap()
                .unwrap()
                .volume_ids,
        )
        .await
        .unwrap();
    let encrypted = all.iter().find(|v| v.encrypted).expect("the data volume");
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter().any(|v| !v.encrypted),
        "the default root: {all:?}"
    );
    world.forget_requests();

    let volumes = world
        .adapters
        .ec2
        .volumes(&names(&[&encrypted.volume_id, UNKNOWN_VOLUME]))
        .await;

    assert_eq!(
        volumes,
        Ok(vec![VolumeFacts {
            volume_id: encrypted.volume_id.clone(),
            encrypted: true,
            kms_key_id: Some(KMS_KEY.to_owned()),
        }])
    );
    assert_eq!(world.calls("DescribeVolumes"), 1);
}

#[tokio::test]
async fn no_volume_asked_makes_no_call() {
    let world = World::new().await;
    world.forget_requests();

    assert_eq!(world.adapters.ec2.volumes(&[]).await, Ok(vec![]));

    assert_eq!(world.calls("DescribeVolumes"), 0);
}

#[tokio::test]
async fn recommended_images_are_read_from_public_parameters_then_cached() {
    // Given AWS's recommended AL2023 images for 1.30, x86_64 and arm64
    let world = World::new().await;
    let x86 = world.cluster.images.fresh.clone();
    let arm = world.arm_image().await;
    world
        .clients
        .control
        .seed_public_parameters(REGION, &[(AL2023_X86, &x86), (AL2023_ARM, &arm)])
        .unwrap();
    world.forget_requests();
    let parameters = names(&[AL2023_X86, AL2023_ARM, UNPUBLISHED]);

    // When they are read, with a version AWS does not publish
    let images = world
        .adapters
        .images
        .recommended_images(&parameters)
        .await
        .unwrap();

    // Then both images are answered, with their architecture, in two calls
    let mut expected = vec![(x86, "x86_64"), (arm, "arm64")];
    expected.sort();
    let found: Vec<(String, &str)> = images
        .iter()
        .map(|i| (i.image_id.clone(), i.architecture.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(world.calls("GetParameters"), 1);
    assert_eq!(world.calls("DescribeImages"), 1);

    // And read again, they come from the cache
    let again = world
        .adapters
        .images
        .recommended_images(&parameters)
        .await
        .unwrap();
    assert_eq!(again, images);
    assert_eq!(world.calls("GetParameters"), 1);
    assert_eq!(world.calls("DescribeImages"), 1);
}

#[tokio::test]
async fn unpublished_parameters_only_make_no_image_call() {
    let world = World::new().await;
    world.forget_requests();

    let images = world
        .adapters
        .images
        .recommended_images(&names(&[UNPUBLISHED]))
        .await;

    assert_eq!(images, Ok(vec![]));
    assert_eq!(world.calls("GetParameters"), 1);
    assert_eq!(world.calls("DescribeImages"), 0);
}

#[tokio::test]
async fn more_than_ten_parameters_are_read_ten_at_a_time() {
    // Given one published parameter among twelve names
    let world = World::new().await;
    let x86 = world.cluster.images.fresh.clone();
    world
        .clients
        .control
        .seed_public_parameters(REGION, &[(AL2023_X86, &x86)])
        .unwrap();
    let mut parameters: Vec<String> = (0..11)
        .map(|minor| {
            format!(
                "/aws/service/eks/optimized-ami/1.{minor}/amazon-linux-2023/x86_64/standard/recommended/image_id"
            )
        })
        .collect();
    parameters.push(AL2023_X86.to_owned());
    world.forget_requests();

    // When they are read (uncached)
    let images = world
        .adapters
        .images
        .inner()
        .recommended_images(&parameters)
        .await
        .unwrap();

    // Then two `GetParameters` find the one image, one `DescribeImages` reads it
    assert_eq!(
        images
            .iter()
            .map(|i| i.image_id.as_str())
            .collect::<Vec<_>>(),
        vec![x86.as_str()]
    );
    assert_eq!(world.calls("GetParameters"), 2);
    assert_eq!(world.calls("DescribeImages"), 1);
}

/// An SQS batch's launches in one read: an instance EC2 does not know (yet)
/// is absent, not an error for the others; the shape of each is the one
/// `instance` reads.
#[tokio::test]
async fn instances_of_a_batch_are_read_in_one_call_and_an_unknown_id_is_absent() {
    let world = World::new().await;
    let first = world.run_node_with_data_volume().await;
    let second = world
        .cluster
        .run_node(CLUSTER, NODE_TYPE, None)
        .await
        .unwrap();
    let alone = world.adapters.ec2.instance(&first).await.unwrap().unwrap();
    world.forget_requests();

    let mut read = world
        .adapters
        .ec2
        .instances(&names(&[&first, "i-0123456789abcdef0", &second]))
        .await
        .unwrap();

    read.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    let ids: Vec<&str> = read.iter().map(|i| i.instance_id.as_str()).collect();
    assert_eq!(ids, expected);
    assert_eq!(read.iter().find(|i| i.instance_id == first), Some(&alone));
    assert_eq!(world.calls("DescribeInstances"), 1);
    world.forget_requests();
    assert_eq!(world.adapters.ec2.instances(&[]).await, Ok(vec![]));
    assert_eq!(world.calls("DescribeInstances"), 0);
}
