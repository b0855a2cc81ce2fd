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
* notification targets of lifecycle hooks: moto describes every hook with a
  made-up `NotificationTargetARN` and `RoleARN` and notifies nobody; here a hook
  has the target and role it was put with (or none), and a hook with an SQS
  queue target sends it the test message when put and one message per launch
  it holds, as AWS does;
* hooks outliving their group: moto keeps them after `DeleteAutoScalingGroup`;
* the `Launch` process: moto records `SuspendProcesses` but keeps launching;
* warm pools: moto stores `PutWarmPool` but never puts an instance in a pool
  (`DescribeWarmPool` always lists none); here the control endpoint launches
  instances into a group's warm pool (waiting `Warmed:Pending:Wait` for the
  launch hooks) and moves them from the pool into the group (waiting
  `Pending:Wait` again), as AWS does;
* `MaxSize` (or `MinSize`) crossing the desired capacity: moto compares the
  new bounds with its instance count, not the desired capacity; here the
  desired capacity follows the bound, as AWS does, and the group scales in.

Actions live on the moto backend object of their account and region, so moto's
`/moto-api/reset` forgets them together with everything else.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    InstanceState,
    LifecycleHook,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sqs.models import sqs_backends

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
PENDING_WAIT = "Pending:Wait"
WARMED_PENDING_WAIT = "Warmed:Pending:Wait"
RESULTS = ("CONTINUE", "ABANDON")
# Origin / Destination of a lifecycle action (the EventBridge event's fields).
EC2 = "EC2"
GROUP = "AutoScalingGroup"
WARM_POOL = "WarmPool"
# The group attribute that holds its warm pool's instances (InstanceState).
POOL_ATTRIBUTE = "scaling_guard_warm_pool"
# Set on a group while the control endpoint launches into its warm pool.
INTO_POOL_ATTRIBUTE = "scaling_guard_launching_into_pool"


class Refused(Exception):
    """A control request the emulator cannot honour: an HTTP status and why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


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


def _clock(backend: AutoScalingBackend) -> dict[str, dict[str, float]]:
    """Token -> {"created", "heartbeat"} (epoch seconds) of the recorded actions."""
    return backend.__dict__.setdefault("scaling_guard_action_clock", {})


def ended_actions(backend: AutoScalingBackend) -> list[dict[str, Any]]:
    """How each action of this backend ended, in order: completed by
    `CompleteLifecycleAction`, by its heartbeat timeout (the hook's
    DefaultResult), or forgotten because its instance left by other means."""
    return backend.__dict__.setdefault("scaling_guard_ended_actions", [])


# Set by the control endpoint: apply each hook's HeartbeatTimeout on its own
# (off by default: nothing times out unless a test asks for it).
ENFORCE_HEARTBEAT_TIMEOUTS = {"on": False}

# The order of events across requests and completions (faults.next_seq).
_sequence: Any = None


def set_sequence(next_seq: Any) -> None:
    global _sequence
    _sequence = next_seq


def _heartbeat_timeout(backend: AutoScalingBackend, action: LifecycleAction) -> int | None:
    hook = backend.lifecycle_hooks.get(f"{action.group}_{action.hook}")
    return hook.heartbeat_timeout if hook is not None else None


def _record_end(
    backend: AutoScalingBackend, action: LifecycleAction, by: str, result: str | None
) -> None:
    clock = _clock(backend).pop(action.token, None) or {}
    now = time.time()
    created = clock.get("created", now)
    ended_actions(backend).append(
        {
            "token": action.token,
            "group": action.group,
            "hook": action.hook,
            "instance_id": action.instance_id,
            "destination": action.destination,
            "by": by,
            "result": result,
            "launched": created,
            "ended": now,
            "seconds": round(now - created, 3),
            "heartbeat_timeout": _heartbeat_timeout(backend, action),
            "seq": _sequence() if _sequence is not None else None,
        }
    )


def record_heartbeat(backend: AutoScalingBackend, action: LifecycleAction) -> None:
    clock = _clock(backend).get(action.token)
    if clock is not None:
        clock["heartbeat"] = time.time()


def expire(backend: AutoScalingBackend, now: float | None = None) -> list[str]:
    """With ENFORCE_HEARTBEAT_TIMEOUTS on, applies the DefaultResult of every
    action whose hook's HeartbeatTimeout passed since its launch or last
    heartbeat, as AWS does; returns their tokens."""
    if not ENFORCE_HEARTBEAT_TIMEOUTS["on"]:
        return []
    now = time.time() if now is None else now
    expired = []
    for action in active_actions(backend):
        clock = _clock(backend).get(action.token)
        timeout = _heartbeat_timeout(backend, action)
        if clock is None or timeout is None or action.token not in _actions(backend):
            continue
        if now - clock["heartbeat"] >= timeout:
            time_out(backend, action)
            expired.append(action.token)
    return expired


def warm_instances(group: FakeAutoScalingGroup) -> list[InstanceState]:
    """The instances in the group's warm pool (kept on the group, not in its
    `instance_states`, so moto counts them nowhere). Instances terminated
    through EC2 meanwhile are dropped."""
    pool = group.__dict__.setdefault(POOL_ATTRIBUTE, [])
    pool[:] = [state for state in pool if state.instance.state != "terminated"]
    return pool


def _waiting_state(backend: AutoScalingBackend, action: LifecycleAction) -> Any:
    """The instance state of the action's instance if it still waits: in the
    group (`Pending:Wait`) or, for an action towards the warm pool, in the
    pool (`Warmed:Pending:Wait`)."""
    group = backend.autoscaling_groups.get(action.group)
    if group is None:
        return None
    if action.destination == WARM_POOL:
        states, waiting = warm_instances(group), WARMED_PENDING_WAIT
    else:
        states, waiting = group.instance_states, PENDING_WAIT
    return next(
        (
            state
            for state in states
            if state.instance.id == action.instance_id
            and state.lifecycle_state == waiting
        ),
        None,
    )


def active_actions(backend: AutoScalingBackend) -> list[LifecycleAction]:
    """Pending actions of one backend. Forgets actions whose instance left
    `Pending:Wait` (or `Warmed:Pending:Wait`) otherwise (terminated, detached,
    group or warm pool deleted), as AWS does."""
    actions = _actions(backend)
    for token, action in list(actions.items()):
        if _waiting_state(backend, action) is None:
            del actions[token]
            _record_end(backend, action, "instance_left", None)
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


def complete(
    backend: AutoScalingBackend,
    action: LifecycleAction,
    result: str,
    by: str = "CompleteLifecycleAction",
) -> None:
    """Apply a lifecycle action result the way AWS does.

    CONTINUE: the instance goes `InService` once no other hook of the group
    still waits for it. ABANDON: the instance is terminated and leaves the
    group; like AWS, the group then launches a replacement to keep its desired
    capacity (unless `Launch` is suspended). The replacement waits in
    `Pending:Wait` for its own action, so nothing loops without a caller.

    For an instance launching into the warm pool (`Warmed:Pending:Wait`):
    CONTINUE puts it in the pool's state (`Warmed:Running`, or
    `Warmed:Stopped` / `Warmed:Hibernated` with its EC2 instance stopped);
    ABANDON terminates it and removes it from the pool (no replacement).
    """
    actions = _actions(backend)
    actions.pop(action.token, None)
    state = _waiting_state(backend, action)
    if state is None:
        _record_end(backend, action, "instance_left", None)
        return
    _record_end(backend, action, by, result)
    if result == "ABANDON":
        for token, other in list(actions.items()):
            if other.instance_id == action.instance_id:
                del actions[token]
                _record_end(backend, other, "instance_left", None)
        backend.ec2_backend.terminate_instances([action.instance_id])
        if action.destination == WARM_POOL:
            group = backend.autoscaling_groups[action.group]
            warm_instances(group)  # drops the terminated instance
        else:
            backend.notify_terminate_instances([action.instance_id])
    elif any(other.instance_id == action.instance_id for other in actions.values()):
        return  # another launch hook still waits for this instance
    elif action.destination == WARM_POOL:
        _settle_in_pool(backend.autoscaling_groups[action.group], state)
    else:
        state.lifecycle_state = "InService"
        backend.update_attached_elbs(action.group)
        backend.update_attached_target_groups(action.group)


def time_out(backend: AutoScalingBackend, action: LifecycleAction) -> str:
    """What AWS does when the heartbeat timeout passes: apply the hook's DefaultResult."""
    hook = backend.lifecycle_hooks.get(f"{action.group}_{action.hook}")
    result = hook.default_result if hook is not None else "ABANDON"
    complete(backend, action, result, by="heartbeat_timeout")
    return result


def _launch_hooks(backend: AutoScalingBackend, group_name: str) -> list[LifecycleHook]:
    return [
        hook
        for hook in backend.lifecycle_hooks.values()
        if hook.auto_scaling_group_name == group_name
        and hook.lifecycle_transition == LAUNCHING
    ]


def _hold(
    group: FakeAutoScalingGroup,
    state: InstanceState,
    hooks: list[LifecycleHook],
    waiting: str,
    origin: str,
    destination: str,
) -> None:
    """Put the instance in `waiting` with one lifecycle action per launch hook."""
    backend = group.autoscaling_backend
    state.lifecycle_state = waiting
    for hook in hooks:
        action = LifecycleAction(
            token=str(uuid.uuid4()),
            group=group.name,
            hook=hook.name,
            instance_id=state.instance.id,
            transition=LAUNCHING,
            notification_metadata=hook.notification_metadata,
            account=backend.account_id,
            region=backend.region_name,
            time=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            origin=origin,
            destination=destination,
        )
        _actions(backend)[action.token] = action
        now = time.time()
        _clock(backend)[action.token] = {"created": now, "heartbeat": now}
        _notify(hook, _launch_message(action))


# --- notification targets (SQS) ---------------------------------------------


def _aws_time() -> str:
    """Now, as Auto Scaling writes it in its messages (milliseconds, UTC)."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _sqs_queue(arn: str) -> Any:
    """The moto queue an `arn:aws:sqs:REGION:ACCOUNT:NAME` names, or None
    (no such queue, or not an SQS ARN)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return None
    _, _, _, region, account, name = parts
    return sqs_backends[account][region].queues.get(name)


def _refuse_unless_deliverable(target: str, role: str | None) -> None:
    """AWS sends a target a test message when a hook is put with it, and
    refuses the hook when that fails: a queue that does not exist. A FIFO
    queue is refused too (lifecycle hooks do not work with FIFO queues: their
    messages carry no MessageGroupId). SNS and other targets are accepted
    unchecked (and never notified here)."""
    if not target.startswith("arn:aws:sqs:"):
        return
    queue = _sqs_queue(target)
    if queue is None or queue.fifo_queue:
        raise ValidationError(
            f"Unable to publish test message to notification target {target} using IAM role {role}. "
            "Please check your target and role configuration and try to put lifecycle hook again."
        )


def _notify(hook: LifecycleHook, message: dict[str, Any]) -> None:
    """Sends `message` (JSON, the SQS format) to the hook's SQS target, if any."""
    target = hook.notification_target_arn
    queue = _sqs_queue(target) if target else None
    if queue is not None:
        _, _, _, region, account, _ = target.split(":")
        sqs_backends[account][region].send_message(queue.name, json.dumps(message))


def _launch_message(action: LifecycleAction) -> dict[str, Any]:
    """The message AWS sends a hook's SQS target for a launch waiting on it."""
    message = {
        "Origin": action.origin,
        "LifecycleHookName": action.hook,
        "Destination": action.destination,
        "AccountId": action.account,
        "RequestId": str(uuid.uuid4()),
        "LifecycleTransition": action.transition,
        "AutoScalingGroupName": action.group,
        "Service": "AWS Auto Scaling",
        "Time": _aws_time(),
        "EC2InstanceId": action.instance_id,
        "LifecycleActionToken": action.token,
    }
    if action.notification_metadata is not None:
        message["NotificationMetadata"] = action.notification_metadata
    return message


def _test_message(backend: AutoScalingBackend, group: FakeAutoScalingGroup) -> dict[str, Any]:
    """The message AWS sends a target when a hook is put with it."""
    return {
        "AccountId": backend.account_id,
        "RequestId": str(uuid.uuid4()),
        "AutoScalingGroupARN": group.arn,
        "AutoScalingGroupName": group.name,
        "Service": "AWS Auto Scaling",
        "Event": "autoscaling:TEST_NOTIFICATION",
        "Time": _aws_time(),
    }


def _patch_hook_targets() -> None:
    """Gap: moto gives every hook the same made-up `NotificationTargetARN` and
    `RoleARN`, whatever it was put with, and notifies nobody. Wraps
    `LifecycleHook.__init__` (no target, no role) and
    `AutoScalingResponse.put_lifecycle_hook` (the hooks of
    `LifecycleHookSpecificationList` get theirs in `_patch_hook_metadata`):
    a hook keeps the target and role it was put with; as on AWS, an update
    that names neither keeps them and an empty value clears them; a hook put
    with an SQS target sends it the test message, and refuses a target it
    cannot send to (nothing is put then). `_hold` sends each launch's
    message."""
    original_init = LifecycleHook.__init__
    original_put = AutoScalingResponse.put_lifecycle_hook

    def __init__(self: LifecycleHook, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.notification_target_arn = None
        self.role_arn = None

    def put_lifecycle_hook(self: AutoScalingResponse) -> Any:
        backend = self.autoscaling_backend
        group = self._get_param("AutoScalingGroupName")
        key = f"{group}_{self._get_param('LifecycleHookName')}"
        before = backend.lifecycle_hooks.get(key)
        target = self._get_param("NotificationTargetARN")
        role = self._get_param("RoleARN")
        if target is None and before is not None:
            target = before.notification_target_arn
        if role is None and before is not None:
            role = before.role_arn
        named_target = bool(self._get_param("NotificationTargetARN"))
        if named_target:
            _refuse_unless_deliverable(target, role)
        result = original_put(self)
        hook = backend.lifecycle_hooks[key]
        hook.notification_target_arn = target or None
        hook.role_arn = role or None
        if named_target and group in backend.autoscaling_groups:
            _notify(hook, _test_message(backend, backend.autoscaling_groups[group]))
        return result

    LifecycleHook.__init__ = __init__  # type: ignore[method-assign]
    AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook  # type: ignore[method-assign]


# --- warm pools (the control endpoint's launch and enter) --------------------


def _pool_state(group: FakeAutoScalingGroup) -> str:
    pool = group.warm_pool
    return (pool.pool_state if pool is not None else None) or "Stopped"


def _settle_in_pool(group: FakeAutoScalingGroup, state: InstanceState) -> None:
    """The end of a launch into the pool: the pool's state, `Warmed:Running`
    (EC2 `running`) or `Warmed:Stopped` / `Warmed:Hibernated` (EC2 `stopped`)."""
    pool_state = _pool_state(group)
    state.lifecycle_state = f"Warmed:{pool_state}"
    if pool_state != "Running" and state.instance.state == "running":
        state.instance.stop()


def _refuse_unless_launching(group: FakeAutoScalingGroup) -> None:
    if group.warm_pool is None:
        raise Refused(409, f"group {group.name} has no warm pool (PutWarmPool first)")
    if "Launch" in group._suspended_processes:
        raise Refused(409, f"the Launch process of group {group.name} is suspended")


def warm_pool_launch(group: FakeAutoScalingGroup, count: int) -> list[str]:
    """Launch `count` instances into the group's warm pool, through moto's
    launch path (tags propagate, the launch template applies). With launch
    hooks each waits in `Warmed:Pending:Wait` with one action per hook
    (`Origin: EC2`, `Destination: WarmPool`); without, it settles at once."""
    _refuse_unless_launching(group)
    before = {state.instance.id for state in group.instance_states}
    group.__dict__[INTO_POOL_ATTRIBUTE] = True
    try:
        group.replace_autoscaling_group_instances(count, group.get_propagated_tags())
    finally:
        group.__dict__.pop(INTO_POOL_ATTRIBUTE, None)
    new = [state for state in group.instance_states if state.instance.id not in before]
    group.instance_states = [
        state for state in group.instance_states if state.instance.id in before
    ]
    hooks = _launch_hooks(group.autoscaling_backend, group.name)
    pool = warm_instances(group)
    for state in new:
        pool.append(state)
        if hooks:
            _hold(group, state, hooks, WARMED_PENDING_WAIT, EC2, WARM_POOL)
        else:
            _settle_in_pool(group, state)
    return [state.instance.id for state in new]


def warm_pool_enter(group: FakeAutoScalingGroup, instance_id: str) -> str:
    """Move a warmed instance (`Warmed:Running`, `Warmed:Stopped` or
    `Warmed:Hibernated`) from the pool into the group, as a scale-out does on
    AWS: the instance counts towards the desired capacity (raised by one unless
    the group was short of it; never above MaxSize), is started if stopped, and
    waits in `Pending:Wait` with one action per launch hook (`Origin:
    WarmPool`, `Destination: AutoScalingGroup`), or goes `InService` at once
    without hooks. Returns the new lifecycle state."""
    _refuse_unless_launching(group)
    pool = warm_instances(group)
    state = next((s for s in pool if s.instance.id == instance_id), None)
    if state is None:
        raise Refused(404, f"no instance {instance_id} in the warm pool of {group.name}")
    if state.lifecycle_state == WARMED_PENDING_WAIT:
        raise Refused(
            409, f"{instance_id} is still {WARMED_PENDING_WAIT}: complete its lifecycle actions first"
        )
    desired = max(group.desired_capacity or 0, len(group.active_instances()) + 1)
    if group.max_size is not None and desired > group.max_size:
        raise Refused(
            409, f"group {group.name} is at its MaxSize {group.max_size}: no room for {instance_id}"
        )
    pool.remove(state)
    if state.instance.state != "running":
        state.instance.start()
    group.desired_capacity = desired
    group.instance_states.append(state)
    backend = group.autoscaling_backend
    hooks = _launch_hooks(backend, group.name)
    if hooks:
        _hold(group, state, hooks, PENDING_WAIT, WARM_POOL, GROUP)
    else:
        state.lifecycle_state = "InService"
        backend.update_attached_elbs(group.name)
        backend.update_attached_target_groups(group.name)
    return state.lifecycle_state


def _drain_pool(group: FakeAutoScalingGroup) -> None:
    """Terminate every instance of the group's warm pool (DeleteWarmPool,
    DeleteAutoScalingGroup)."""
    pool = warm_instances(group)
    ids = [state.instance.id for state in pool]
    if ids:
        group.autoscaling_backend.ec2_backend.terminate_instances(ids)
    pool.clear()


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
        if self.__dict__.get(INTO_POOL_ATTRIBUTE):
            return  # warm_pool_launch moves them into the pool and holds them
        hooks = _launch_hooks(self.autoscaling_backend, self.name)
        if not hooks:
            return
        for state in self.instance_states:
            if state.instance.id not in before:
                _hold(self, state, hooks, PENDING_WAIT, EC2, GROUP)

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


def _patch_bounds() -> None:
    """Gap: UpdateAutoScalingGroup with a MaxSize below the desired capacity
    (or a MinSize above it) and no DesiredCapacity: moto compares the new
    bound with its number of instances, so the desired capacity can stay above
    MaxSize (while `Launch` is suspended, say) or even drop on a MinSize
    raise. AWS sets the desired capacity to the bound it crosses (an implicit
    SetDesiredCapacity), so the group scales in down to MaxSize. Wraps
    `FakeAutoScalingGroup.update`: with MinSize or MaxSize and no
    DesiredCapacity, the desired capacity is passed explicitly, clamped into
    the new bounds (unchanged when inside them)."""
    original = FakeAutoScalingGroup.update

    def update(self: FakeAutoScalingGroup, *args: Any, **kwargs: Any) -> None:
        max_size, min_size = kwargs.get("max_size"), kwargs.get("min_size")
        if (
            not args
            and kwargs.get("desired_capacity") is None
            and (max_size is not None or min_size is not None)
            and self.desired_capacity is not None
        ):
            low = min_size if min_size is not None else (self.min_size or 0)
            high = max_size if max_size is not None else self.max_size
            desired = max(self.desired_capacity, low)
            kwargs["desired_capacity"] = min(desired, high) if high is not None else desired
        original(self, *args, **kwargs)

    FakeAutoScalingGroup.update = update  # type: ignore[method-assign]


def _patch_backend() -> None:
    """Gaps: hooks (and warm pool instances) survive their group;
    `ResumeProcesses` of `Launch` does not bring the group back to its desired
    capacity; DeleteWarmPool leaves the pool's instances running;
    DescribeAutoScalingInstances omits warm pool instances (AWS lists them
    with their `Warmed:*` state). Wraps `AutoScalingBackend.delete_auto_scaling_group`,
    `.resume_processes`, `.delete_warm_pool` and `.describe_auto_scaling_instances`."""
    original_delete = AutoScalingBackend.delete_auto_scaling_group
    original_resume = AutoScalingBackend.resume_processes
    original_delete_pool = AutoScalingBackend.delete_warm_pool
    original_describe_instances = AutoScalingBackend.describe_auto_scaling_instances

    def delete_auto_scaling_group(self: AutoScalingBackend, group_name: str) -> None:
        group = self.autoscaling_groups.get(group_name)
        original_delete(self, group_name)
        if group is not None:
            _drain_pool(group)
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

    def delete_warm_pool(self: AutoScalingBackend, group_name: str) -> None:
        original_delete_pool(self, group_name)
        _drain_pool(self.autoscaling_groups[group_name])

    def describe_auto_scaling_instances(
        self: AutoScalingBackend, instance_ids: list[str]
    ) -> list[InstanceState]:
        states = original_describe_instances(self, instance_ids)
        for group in self.autoscaling_groups.values():
            states.extend(
                state
                for state in warm_instances(group)
                if not instance_ids or state.instance.id in instance_ids
            )
        return states

    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingBackend.resume_processes = resume_processes  # type: ignore[method-assign]
    AutoScalingBackend.delete_warm_pool = delete_warm_pool  # type: ignore[method-assign]
    AutoScalingBackend.describe_auto_scaling_instances = describe_auto_scaling_instances  # type: ignore[method-assign]


# --- patches on moto's responses (the AWS API) ------------------------------


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _patch_hook_metadata() -> None:
    """Gap: moto drops `NotificationMetadata` (PutLifecycleHook) and
    `LifecycleHookSpecificationList` (CreateAutoScalingGroup; its hooks keep
    their `NotificationTargetARN` and `RoleARN` too). Wraps
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
            # Before the first launches, which notify the target (_hold).
            hook.notification_target_arn = spec.get("NotificationTargetARN") or None
            hook.role_arn = spec.get("RoleARN") or None
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
    times out here on its own unless the control endpoint enforces heartbeat
    timeouts; then a heartbeat restarts the action's timeout."""
    record_heartbeat(self.autoscaling_backend, _find_from_request(self))
    return EmptyResult()


def _patch_describe_warm_pool() -> None:
    """Gap: DescribeWarmPool always answers `Instances: []`. Wraps
    `AutoScalingResponse.describe_warm_pool`: the pool's instances, each with
    its `Warmed:*` lifecycle state."""
    original = AutoScalingResponse.describe_warm_pool

    def describe_warm_pool(self: AutoScalingResponse) -> Any:
        result = original(self)
        group = self.autoscaling_backend.autoscaling_groups.get(
            self._get_param("AutoScalingGroupName")
        )
        if group is not None and isinstance(result, ActionResult) and isinstance(result.result, dict):
            result.result["Instances"] = list(warm_instances(group))
        return result

    AutoScalingResponse.describe_warm_pool = describe_warm_pool  # type: ignore[method-assign]


def install() -> None:
    _patch_launch()
    _patch_bounds()
    _patch_backend()
    _patch_hook_metadata()
    _patch_hook_targets()
    _patch_describe_warm_pool()
    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action  # type: ignore[attr-defined]
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat  # type: ignore[attr-defined]
