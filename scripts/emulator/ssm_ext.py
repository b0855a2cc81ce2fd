"""SSM public parameters for the control endpoint (no patch of moto).

AWS serves its public parameters (`/aws/service/eks/optimized-ami/...`,
`/aws/service/bottlerocket/...`) to every account; nobody can write under
`/aws` (PutParameter answers AccessDeniedException, and moto 5.2.5 does the
same). moto itself only knows a fixed set, loaded on first use:
`/aws/service/ami-amazon-linux-latest/*`, `/aws/service/ecs/optimized-ami/*`
and `/aws/service/global-infrastructure/*`; every other `/aws/service/` name
is unknown (GetParameters lists it in `InvalidParameters`).

`seed` stores a parameter straight into moto's SSM backend of the default
account and the region, as AWS publishes it: type `String`, data type `text`,
an ARN without account (`arn:aws:ssm:REGION::parameter/aws/service/...`).
Seeding a name again adds a version (as AWS does when a new image is
recommended); GetParameter(s) then answer the latest.
"""

from __future__ import annotations

from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.ssm.models import Parameter, ssm_backends

PUBLIC_PREFIX = "/aws/service/"


def seed(region: str, name: str, value: str) -> dict[str, Any]:
    backend = ssm_backends[DEFAULT_ACCOUNT_ID][region]
    versions = backend._parameters[name]  # loads moto's own set first, if the name is in it
    parameter = Parameter(
        account_id="",  # AWS's own: the ARN names no account
        name=name,
        value=value,
        parameter_type="String",
        description=None,
        allowed_pattern=None,
        keyid=None,
        last_modified_date=utcnow(),
        version=versions[-1].version + 1 if versions else 1,
        data_type="text",
        tier="Standard",
    )
    versions.append(parameter)
    return {
        "name": name,
        "value": value,
        "version": parameter.version,
        "region": region,
        "arn": parameter.response_object(region=region)["ARN"],
    }
