"""Local AWS emulator for the scaling-guard tests: moto in server mode plus a
few small, documented extensions (see README.md in this folder).

`install()` applies every extension to the moto classes in this process; it is
idempotent. `server.py` calls it before serving.
"""

_installed = False


def install() -> None:
    """Apply every extension once (monkeypatches of moto's classes)."""
    global _installed
    if _installed:
        return
    from . import autoscaling_ext, bus_policy_ext, cloudwatch_ext, ec2_ext, events_ext, fast_instances, managed_ext, securityhub_ext, stackset_ext, sts_ext  # imports moto: only when installing

    autoscaling_ext.install()
    ec2_ext.install()
    fast_instances.install()
    managed_ext.install()
    cloudwatch_ext.install()
    events_ext.install()
    bus_policy_ext.install()  # after events_ext: it wraps its PutEvents
    stackset_ext.install()
    securityhub_ext.install()
    sts_ext.install()
    _installed = True
