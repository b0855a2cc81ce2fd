"""Auto Scaling extensions to moto 5.2.5.

Closes these moto gaps (each patch below says which one):

* launch lifecycle hooks: moto stores hooks but puts every launched instance
  straight `InService`; here an instance of a group with an
  `autoscaling:EC2_INSTANCE_LAUNCHING` hook waits in `Pending:Wait`, and a
  lifecycle action (token, hook, group, instance, metadata) is recorded;
* `CompleteLifecycleAction` and `RecordLifecycleActionHeartbeat`: not
  implemented by moto;
* `NotificationMetadata` of `PutLifecycleHook` and the
  `LifecycleHookSpecificationList` of `CreateAutoScalingGroup`: dropped by moto;
* hooks outliving their group: moto keeps them after `DeleteAutoScalingGroup`;
* the `Launch` process: moto records `SuspendProcesses` but keeps launching.

Actions live on the moto backend object of their account and region, so moto's
`/moto-api/reset` forgets them together with everything else.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    LifecycleHook,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.core.utils import utcnow

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
PENDING_WAIT = "Pending:Wait"
RESULTS = ("CONTINUE", "ABANDON")


@dataclasses.dataclass
class LifecycleAction:
    """One pending lifecycle action; the fields of the EventBridge
    `EC2 Instance-launch Lifecycle Action` event AWS would send for it."""

    token: str
    group: str
    hook: str
    instance_id: str
    transition: str
    notification_metadata: str | None
    account: str
    region: str
    time: str
    origin: str = "EC2"
    destination: str = "AutoScalingGroup"


def _actions(backend: AutoScalingBackend) -> dict[str, LifecycleAction]:
    """The recorded, not yet completed actions of one backend, by token."""
    return backend.__dict__.setdefault("scaling_guard_lifecycle_actions", {})


def _waiting_state(backend: AutoScalingBackend, action: LifecycleAction) -> Any:
    """The group's instance state of the action's instance if it still waits."""
    group = backend.autoscaling_groups.get(action.group)
    if group is None:
        return None
    return next(
        (
            state
            for state in group.instance_states
            if state.instance.id == action.instance_id
            and state.lifecycle_state == PENDING_WAIT
        ),
        None,
    )


def active_actions(backend: AutoScalingBackend) -> list[LifecycleAction]:
    """Pending actions of one backend. Forgets actions whose instance left
    `Pending:Wait` otherwise (terminated, detached, group deleted), as AWS does."""
    actions = _actions(backend)
    for token, action in list(actions.items()):
        if _waiting_state(backend, action) is None:
            del actions[token]
    return list(actions.values())


def loaded_backends() -> list[AutoScalingBackend]:
    """Every Auto Scaling backend (account x region) a client has used so far."""
    return [
        backend
        for per_region in list(autoscaling_backends.values())
        for backend in list(per_region.values())
    ]


def find_action(
    backend: AutoScalingBackend,
    group: str | None,
    hook: str | None,
    token: str | None,
    instance_id: str | None,
) -> LifecycleAction:
    """The active action named by token (or else by instance id) in the group
    and hook, or AWS's ValidationError."""
    for action in active_actions(backend):
        same = action.token == token if token else action.instance_id == instance_id
        if same and action.group == group and action.hook == hook:
            return action
    if token:
        raise ValidationError(f"No active Lifecycle Action found with token {token}")
    raise ValidationError(
        f"No active Lifecycle Action found with instance ID {instance_id}"
    )


def complete(backend: AutoScalingBackend, action: LifecycleAction, result: str) -> None:
    """Apply a lifecycle action result the way AWS does.

    CONTINUE: the instance goes `InService` once no other hook of the group
    still waits for it. ABANDON: the instance is terminated and leaves the
    group; like AWS, the group then launches a replacement to keep its desired
    capacity (unless `Launch` is suspended). The replacement waits in
    `Pending:Wait` for its own action, so nothing loops without a caller.
    """
    actions = _actions(backend)
    actions.pop(action.token, None)
    state = _waiting_state(backend, action)
    if state is None:
        return
    if result == "ABANDON":
        for token, other in list(actions.items()):
            if other.instance_id == action.instance_id:
                del actions[token]
        backend.ec2_backend.terminate_instances([action.instance_id])
        backend.notify_terminate_instances([action.instance_id])
    elif not any(other.instance_id == action.instance_id for other in actions.values()):
        state.lifecycle_state = "InService"
        backend.update_attached_elbs(action.group)
        backend.update_attached_target_groups(action.group)


def time_out(backend: AutoScalingBackend, action: LifecycleAction) -> str:
    """What AWS does when the heartbeat timeout passes: apply the hook's DefaultResult."""
    hook = backend.lifecycle_hooks.get(f"{action.group}_{action.hook}")
    result = hook.default_result if hook is not None else "ABANDON"
    complete(backend, action, result)
    return result


# --- patches on moto's models --------------------------------------------


def _patch_launch() -> None:
    """Gap: moto launches every instance `InService` and ignores a suspended
    `Launch` process. Wraps `FakeAutoScalingGroup.replace_autoscaling_group_instances`
    (moto's single launch path: create, SetDesiredCapacity, UpdateAutoScalingGroup,
    scaling policies, replacement of terminated instances)."""
    original = FakeAutoScalingGroup.replace_autoscaling_group_instances

    def replace_autoscaling_group_instances(
        self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
    ) -> None:
        if "Launch" in self._suspended_processes:
            return
        before = {state.instance.id for state in self.instance_states}
        original(self, count_needed, propagated_tags)
        backend = self.autoscaling_backend
        hooks = [
            hook
            for hook in backend.lifecycle_hooks.values()
            if hook.auto_scaling_group_name == self.name
            and hook.lifecycle_transition == LAUNCHING
        ]
        if not hooks:
            return
        for state in self.instance_states:
            if state.instance.id in before:
                continue
            state.lifecycle_state = PENDING_WAIT
            for hook in hooks:
                action = LifecycleAction(
                    token=str(uuid.uuid4()),
                    group=self.name,
                    hook=hook.name,
                    instance_id=state.instance.id,
                    transition=LAUNCHING,
                    notification_metadata=hook.notification_metadata,
                    account=backend.account_id,
                    region=backend.region_name,
                    time=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
                _actions(backend)[action.token] = action

    FakeAutoScalingGroup.replace_autoscaling_group_instances = (  # type: ignore[method-assign]
        replace_autoscaling_group_instances
    )

    def active_instances(self: FakeAutoScalingGroup) -> list[Any]:
        """Gap: moto counts only `InService` instances towards the desired
        capacity, so waiting instances would be launched again and again. AWS
        counts instances in `Pending:Wait` too."""
        return [
            state
            for state in self.instance_states
            if state.lifecycle_state in ("InService", PENDING_WAIT)
        ]

    FakeAutoScalingGroup.active_instances = active_instances  # type: ignore[method-assign]


def _patch_backend() -> None:
    """Gaps: hooks survive their group; `ResumeProcesses` of `Launch` does not
    bring the group back to its desired capacity. Wraps
    `AutoScalingBackend.delete_auto_scaling_group` and `.resume_processes`."""
    original_delete = AutoScalingBackend.delete_auto_scaling_group
    original_resume = AutoScalingBackend.resume_processes

    def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
        original_delete(self, group_name)
        for key, hook in list(self.lifecycle_hooks.items()):
            if hook.auto_scaling_group_name == group_name:
                del self.lifecycle_hooks[key]

    def resume_processes(
        self: AutoScalingBackend, group_name: str, scaling_processes: list[str]
    ) -> None:
        original_resume(self, group_name, scaling_processes)
        group = self.autoscaling_groups[group_name]
        if "Launch" not in group._suspended_processes:
            group.set_desired_capacity(group.desired_capacity)

    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingBackend.resume_processes = resume_processes  # type: ignore[method-assign]


# --- patches on moto's responses (the AWS API) ------------------------------


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _patch_hook_metadata() -> None:
    """Gap: moto drops `NotificationMetadata` (PutLifecycleHook) and
    `LifecycleHookSpecificationList` (CreateAutoScalingGroup). Wraps
    `AutoScalingResponse.put_lifecycle_hook` and `.create_auto_scaling_group`;
    DescribeLifecycleHooks then shows the metadata."""
    LifecycleHook.notification_metadata = None  # type: ignore[attr-defined]
    original_put = AutoScalingResponse.put_lifecycle_hook
    original_create = AutoScalingResponse.create_auto_scaling_group

    def put_lifecycle_hook(self: AutoScalingResponse) -> Any:
        result = original_put(self)
        key = f"{self._get_param('AutoScalingGroupName')}_{self._get_param('LifecycleHookName')}"
        hook = self.autoscaling_backend.lifecycle_hooks[key]
        hook.notification_metadata = self._get_param("NotificationMetadata")
        return result

    def create_auto_scaling_group(self: AutoScalingResponse) -> Any:
        # The hooks must exist before moto's constructor launches the first instances.
        backend = self.autoscaling_backend
        name = self._get_param("AutoScalingGroupName")
        specs = []
        if name not in backend.autoscaling_groups:
            specs = self._get_param("LifecycleHookSpecificationList", []) or []
        for spec in specs:
            hook = backend.create_lifecycle_hook(
                name=spec["LifecycleHookName"],
                as_name=name,
                transition=spec.get("LifecycleTransition"),
                timeout=_int_or_none(spec.get("HeartbeatTimeout")),
                result=spec.get("DefaultResult"),
            )
            hook.notification_metadata = spec.get("NotificationMetadata")
        try:
            return original_create(self)
        except Exception:
            for spec in specs:
                backend.delete_lifecycle_hook(name, spec["LifecycleHookName"])
            raise

    AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook  # type: ignore[method-assign]
    AutoScalingResponse.create_auto_scaling_group = create_auto_scaling_group  # type: ignore[method-assign]


def _find_from_request(response: AutoScalingResponse) -> LifecycleAction:
    token = response._get_param("LifecycleActionToken")
    instance_id = response._get_param("InstanceId")
    if not token and not instance_id:
        raise ValidationError("Either LifecycleActionToken or InstanceId must be specified")
    return find_action(
        response.autoscaling_backend,
        response._get_param("AutoScalingGroupName"),
        response._get_param("LifecycleHookName"),
        token,
        instance_id,
    )


def complete_lifecycle_action(self: AutoScalingResponse) -> Any:
    """Gap: CompleteLifecycleAction is not implemented by moto."""
    result = self._get_param("LifecycleActionResult")
    if result not in RESULTS:
        raise ValidationError(
            f"LifecycleActionResult must be CONTINUE or ABANDON, not {result}"
        )
    complete(self.autoscaling_backend, _find_from_request(self), result)
    return EmptyResult()


def record_lifecycle_action_heartbeat(self: AutoScalingResponse) -> Any:
    """Gap: RecordLifecycleActionHeartbeat is not implemented by moto. Nothing
    times out here on its own, so a heartbeat only validates the action."""
    _find_from_request(self)
    return EmptyResult()


def install() -> None:
    _patch_launch()
    _patch_backend()
    _patch_hook_metadata()
    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action  # type: ignore[attr-defined]
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat  # type: ignore[attr-defined]
