//! Conversions that EC2's and Auto Scaling's answers share: each SDK has its
//! own tag and requirements types, with the same fields, so the adapters pass
//! the fields and the rule is written once.

use crate::facts::InstanceRequirements;

/// One tag as a map entry: a tag without a key is no tag; one without a
/// value has the empty value.
pub(crate) fn tag_entry(key: Option<&str>, value: Option<&str>) -> Option<(String, String)> {
    Some((key?.to_owned(), value.unwrap_or_default().to_owned()))
}

/// Attribute-based selection's bounds (`VCpuCount`, `MemoryMiB`): a missing
/// or negative minimum is 0, a missing or negative maximum is none.
pub(crate) fn instance_requirements(
    vcpus: (Option<i32>, Option<i32>),
    memory_mib: (Option<i32>, Option<i32>),
) -> InstanceRequirements {
    let bound = |v: Option<i32>| v.and_then(|v| u64::try_from(v).ok());
    InstanceRequirements {
        vcpus_min: bound(vcpus.0).unwrap_or_default(),
        vcpus_max: bound(vcpus.1),
        memory_mib_min: bound(memory_mib.0).unwrap_or_default(),
        memory_mib_max: bound(memory_mib.1),
    }
}
