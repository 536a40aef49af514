"""ALB target health that follows Auto Scaling capacity.

Measured on ministack 1.5.33: an ASG's instances appear (InService, instantly) as DesiredCapacity changes, but
the group's TargetGroupARNs are dropped at creation, AttachLoadBalancerTargetGroups/AttachTrafficSources are
unknown actions, and DescribeTargetHealth lists only targets registered by hand, always "healthy".

So the lab remembers which target groups each ASG feeds (answering the attach/detach calls itself and showing
the links in DescribeAutoScalingGroups), and adds the ASG's instances to DescribeTargetHealth: "initial" for
`warmup_s` after they appear, "unhealthy" while their region has an app fault (or is in outage), else
"healthy". Links and first-seen times persist as JSON.

Insufficient capacity (`drctl lab capacity-limit REGION N`): on AWS a launch can fail with
InsufficientInstanceCapacity (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LaunchInstancesError.html;
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/troubleshooting-launch.html#troubleshooting-launch-capacity):
the group keeps its DesiredCapacity and keeps retrying, and runs fewer instances than desired. The lab models
that as a cap on the instances each group of the region has launched: the first N (by launch time) exist, the
rest are not shown (not in DescribeAutoScalingGroups, not in DescribeTargetHealth) until the cap is lifted,
when they launch and start their warm-up then.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from drctl.lab.http import Forward, LabRequest, LabResponse

AS_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
ELB_NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
_A = f"{{{AS_NS}}}"
_E = f"{{{ELB_NS}}}"
# Calls after which the group's instance list may have changed.
_SCALING_CALLS = frozenset({
    "CreateAutoScalingGroup", "UpdateAutoScalingGroup", "SetDesiredCapacity", "ExecutePolicy",
    "TerminateInstanceInAutoScalingGroup",
})  # fmt: skip


class _Durations(Protocol):
    warmup_s: float


class _World(Protocol):
    @property
    def durations(self) -> _Durations: ...
    def is_region_down(self, region: str) -> bool: ...
    def app_failing(self, region: str) -> bool: ...
    def client(self, service: str, region: str) -> Any: ...


def members(params: dict[str, str], prefix: str) -> list[str]:
    """Values of a query-protocol list (Prefix.member.1, Prefix.member.2, ...), in order."""
    found = [(int(k.rsplit(".", 1)[-1]), v) for k, v in params.items() if k.startswith(f"{prefix}.member.")
             and k.rsplit(".", 1)[-1].isdigit()]  # fmt: skip
    return [v for _, v in sorted(found)]


def _ok(root: str, ns: str) -> LabResponse:
    return LabResponse.xml(
        200,
        f'<{root}Response xmlns="{ns}"><{root}Result/><ResponseMetadata><RequestId>{uuid.uuid4()}'
        f"</RequestId></ResponseMetadata></{root}Response>",
    )


def target_health(target_id: str, port: int, state: str, reason: str = "", description: str = "") -> str:
    extra = f"<Reason>{reason}</Reason><Description>{escape(description)}</Description>" if reason else ""
    return (
        f"<member><Target><Id>{escape(target_id)}</Id><Port>{port}</Port></Target>"
        f"<HealthCheckPort>{port}</HealthCheckPort><TargetHealth><State>{state}</State>{extra}</TargetHealth>"
        "</member>"
    )


class Capacity:
    """Middleware for autoscaling and elbv2."""

    def __init__(self, world: _World, path: Path) -> None:
        self.world = world
        self.path = path
        self._lock = threading.Lock()
        self.links: dict[str, dict[str, list[str]]] = {}  # region -> ASG name -> target group ARNs
        self.first_seen: dict[str, float] = {}  # instance id -> when the lab first saw it (launched)
        self.limits: dict[str, int] = {}  # region -> instances each of its groups can launch (capacity fault)
        if path.exists():
            data = json.loads(path.read_text())
            self.links, self.first_seen = data["links"], data["first_seen"]
            self.limits = data.get("limits", {})

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"links": self.links, "first_seen": self.first_seen, "limits": self.limits}
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)

    def clear(self) -> None:
        with self._lock:
            self.links, self.first_seen, self.limits = {}, {}, {}
            self._save()

    def set_limit(self, region: str, instances: int | None) -> dict[str, int]:
        """Cap the instances each group in `region` can launch (None lifts the cap); the rest launch then."""
        with self._lock:
            if instances is None:
                self.limits.pop(region, None)
            else:
                self.limits[region] = instances
            self._save()
        self._note_instances(region)
        return dict(self.limits)

    def launched(self, region: str, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The instances of one group that exist under the region's capacity cap: the earliest launched."""
        limit = self.limits.get(region)
        if limit is None or len(instances) <= limit:
            return instances
        order = sorted(instances, key=lambda i: (self.first_seen.get(i["InstanceId"], math.inf), i["InstanceId"]))
        return order[:limit]

    def __call__(self, req: LabRequest, forward: Forward) -> LabResponse:
        region = req.region or req.port_role
        op, params = req.operation, req.params
        if req.service == "autoscaling":
            name = params.get("AutoScalingGroupName", "")
            if op in ("AttachLoadBalancerTargetGroups", "DetachLoadBalancerTargetGroups"):
                self._link(region, name, members(params, "TargetGroupARNs"), attach=op.startswith("Attach"))
                return _ok(op, AS_NS)
            if op in ("AttachTrafficSources", "DetachTrafficSources"):
                arns = [v for k, v in params.items() if k.startswith("TrafficSources.member.")
                        and k.endswith(".Identifier")]  # fmt: skip
                self._link(region, name, arns, attach=op.startswith("Attach"))
                return _ok(op, AS_NS)
            resp = forward(req)
            if resp.status != 200:
                return resp
            if op == "CreateAutoScalingGroup":
                self._link(region, name, members(params, "TargetGroupARNs"), attach=True)
            elif op == "DeleteAutoScalingGroup":
                with self._lock:
                    self.links.get(region, {}).pop(name, None)
                    self._save()
            elif op == "DescribeAutoScalingGroups":
                return self._show_groups(region, resp)
            if op in _SCALING_CALLS:
                self._note_instances(region)
            return resp
        if req.service == "elasticloadbalancing" and op == "DescribeTargetHealth":
            return self._target_health(req, forward(req))
        return forward(req)

    def _link(self, region: str, asg: str, arns: list[str], *, attach: bool) -> None:
        with self._lock:
            current = self.links.setdefault(region, {}).setdefault(asg, [])
            if attach:
                current.extend(a for a in arns if a not in current)
            else:
                current[:] = [a for a in current if a not in arns]
            self._save()

    def _note_instances(self, region: str) -> None:
        """Remember when each instance of the region's groups first appeared (the start of its warm-up)."""
        groups = self.world.client("autoscaling", region).describe_auto_scaling_groups()["AutoScalingGroups"]
        now = time.time()
        with self._lock:
            for group in groups:
                for inst in self.launched(region, group.get("Instances", [])):
                    self.first_seen.setdefault(inst["InstanceId"], now)
            self._save()

    def _show_groups(self, region: str, resp: LabResponse) -> LabResponse:
        """The groups with their target-group links, and only the instances the capacity cap let launch."""
        links = self.links.get(region, {})
        limit = self.limits.get(region)
        if not any(links.values()) and limit is None:
            return resp
        root = ET.fromstring(resp.body)
        for group in root.iterfind(f".//{_A}AutoScalingGroups/{_A}member"):
            if limit is not None:
                self._cap_instances(region, group)
            arns = links.get((group.findtext(f"{_A}AutoScalingGroupName") or "").strip(), [])
            if not arns:
                continue
            for old in group.findall(f"{_A}TargetGroupARNs"):
                group.remove(old)
            element = ET.SubElement(group, f"{_A}TargetGroupARNs")
            for arn in arns:
                ET.SubElement(element, f"{_A}member").text = arn
        resp.body = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=AS_NS)
        return resp

    def _cap_instances(self, region: str, group: ET.Element) -> None:
        element = group.find(f"{_A}Instances")
        if element is None:
            return
        members = list(element.iterfind(f"{_A}member"))
        by_id = {(m.findtext(f"{_A}InstanceId") or "").strip(): m for m in members}
        keep = {i["InstanceId"] for i in self.launched(region, [{"InstanceId": k} for k in by_id])}
        for instance_id, member in by_id.items():
            if instance_id not in keep:
                element.remove(member)

    def _asg_rows(self, region: str, tg_arn: str, port: int | None) -> tuple[int, list[tuple[str, int, float]]]:
        """(port, rows) of the InService instances of the groups linked to `tg_arn`: (id, port, first seen).
        `port` None: the target group's own port (one more call)."""
        groups = [name for name, arns in self.links.get(region, {}).items() if tg_arn in arns]
        if not groups:
            return port or 80, []
        if port is None:
            tg = self.world.client("elbv2", region).describe_target_groups(TargetGroupArns=[tg_arn])
            port = int(tg["TargetGroups"][0].get("Port") or 80)
        asgs = self.world.client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=groups)
        rows = [
            (inst["InstanceId"], port, self.first_seen.get(inst["InstanceId"], 0.0))
            for group in asgs["AutoScalingGroups"]
            for inst in self.launched(region, group.get("Instances", []))
            if inst.get("LifecycleState") == "InService"
        ]
        return port, rows

    def _target_health(self, req: LabRequest, resp: LabResponse) -> LabResponse:
        if resp.status != 200:
            return resp
        tg_arn = req.params.get("TargetGroupArn", "")
        region = tg_arn.split(":")[3] if tg_arn.count(":") >= 5 else req.region
        wanted = {v for k, v in req.params.items() if k.startswith("Targets.member.") and k.endswith(".Id")}
        now = time.time()
        root = ET.fromstring(resp.body)
        port = 80
        rows = []
        for m in root.iterfind(f".//{_E}TargetHealthDescriptions/{_E}member"):
            target_id = (m.findtext(f"{_E}Target/{_E}Id") or "").strip()
            port = int((m.findtext(f"{_E}Target/{_E}Port") or "80").strip() or 80)
            rows.append((target_id, port, 0.0))
        port, asg_rows = self._asg_rows(region, tg_arn, None)
        rows += asg_rows
        body = "".join(
            target_health(target_id, port_, *self.state(seen, region, now))
            for target_id, port_, seen in rows
            if not wanted or target_id in wanted
        )
        resp.body = (
            f'<DescribeTargetHealthResponse xmlns="{ELB_NS}"><DescribeTargetHealthResult>'
            f"<TargetHealthDescriptions>{body}</TargetHealthDescriptions></DescribeTargetHealthResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</DescribeTargetHealthResponse>"
        ).encode()
        return resp

    def state(self, seen: float, region: str, now: float) -> tuple[str, str, str]:
        """(State, Reason, Description) of a target first seen at `seen` (docs/fidelity.md T-30)."""
        if self.world.is_region_down(region):
            return "unhealthy", "Target.Timeout", "Request timed out"
        if now - seen < self.world.durations.warmup_s:
            return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
        if self.world.app_failing(region):
            return "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]"
        return "healthy", "", ""

    def target_counts(self, region: str, tg_arn: str) -> dict[str, int]:
        """How many targets of the group are in each state, as DescribeTargetHealth shows them (the emulator's
        hand-registered targets, always healthy there, and the linked groups' instances)."""
        elb = self.world.client("elbv2", region)
        emulator = elb.describe_target_health(TargetGroupArn=tg_arn).get("TargetHealthDescriptions", [])
        now = time.time()
        rows = [(str(d["Target"]["Id"]), 0.0) for d in emulator]
        rows += [(target_id, seen) for target_id, _, seen in self._asg_rows(region, tg_arn, 0)[1]]
        counts = {"healthy": 0, "unhealthy": 0, "initial": 0}
        for _, seen in rows:
            state = self.state(seen, region, now)[0]
            counts[state] = counts.get(state, 0) + 1
        return counts
