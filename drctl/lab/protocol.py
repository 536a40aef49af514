"""AWS wire protocols, as the lab gateway reads and writes them: one parse per request, errors in kind.

A request is parsed once into a LabRequest (signing region and service from the SigV4 scope, the operation, flat
params) whatever its protocol: JSON (X-Amz-Target), query (form-encoded Action=), smithy rpc-v2, rest-xml
(Route53, S3) or rest-json. Route53's operations are named from botocore's own service model (the method and
requestUri of each operation), and the Route53 health-check API the lab serves itself (drctl/lab/health.py)
decodes and encodes its XML bodies with the same model, so element names and types are what botocore and the
Terraform provider expect.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from drctl.lab.http import LabRequest, LabResponse

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Query", "Scan", "BatchGet", "Select", "Test", "Lookup")
# Services whose errors travel as query-protocol XML (form-encoded requests).
_EC2_STYLE = frozenset(("ec2",))
ROUTE53_NS = "https://route53.amazonaws.com/doc/2013-04-01/"
ROUTE53_PREFIX = "/2013-04-01/"
_API_VERSION = re.compile(r"^/\d{4}-\d{2}-\d{2}")


# --- requests --------------------------------------------------------------------------------------------


def parse_request(method: str, raw_path: str, headers: dict[str, str], body: bytes, port_role: str) -> LabRequest:
    """Parse an AWS request once: signing region/service, operation, flattened params."""
    parts = urlsplit(raw_path)
    path = parts.path or "/"
    query = parse_qs(parts.query, keep_blank_values=True)
    lower = {k.lower(): v for k, v in headers.items()}
    lower[":query"] = parts.query  # the raw query string, forwarded as received (a pseudo-header, never sent)
    region, service = "", ""
    m = _SCOPE.search(lower.get("authorization", "")) or _SCOPE.search(
        "Credential=" + query.get("X-Amz-Credential", [""])[0]
    )
    if m:
        region, service = m.group(1), m.group(2)
    req = LabRequest(method.upper(), path, query, lower, body, port_role, region, service, "")
    req.operation, req.params = _operation_and_params(req)
    return req


def _operation_and_params(req: LabRequest) -> tuple[str, dict[str, str]]:
    params = {k: v[0] for k, v in req.query.items() if v and not k.startswith("X-Amz-")}
    target = req.headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1], {**params, **_json_params(req.body)}
    form = req.form
    if form:
        params.update({k: v[0] for k, v in form.items() if v})
    if "Action" in params:
        return params.pop("Action"), params
    if "/operation/" in req.path:  # smithy rpc-v2: /service/<Service>/operation/<Operation>
        return req.path.rsplit("/", 1)[-1], params
    if req.service == "route53":
        found = route53_route(req.method, req.path)
        operation = found[0] if found else f"{req.method} {_API_VERSION.sub('', req.path)}"
        return operation, {**params, **_xml_params(req.body)}
    if req.service == "s3":
        return _s3_operation(req), params
    if req.headers.get("content-type", "").startswith("application/json"):
        params.update(_json_params(req.body))
    return "", params


def _json_params(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in data.items()}


def _xml_params(body: bytes) -> dict[str, str]:
    """Leaf elements of an XML body as dotted paths (namespaces dropped); repeated paths get an index."""
    if not body.strip():
        return {}
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}

    def walk(el: ET.Element, prefix: str) -> None:
        for child in el:
            name = _local(child.tag)
            key = f"{prefix}.{name}" if prefix else name
            if len(child):
                walk(child, key)
            else:
                k, n = key, 1
                while k in out:
                    n += 1
                    k = f"{key}.{n}"
                out[k] = (child.text or "").strip()

    walk(root, "")
    return out


_S3_SUBRESOURCES = {
    "replication": "Replication", "versioning": "Versioning", "tagging": "Tagging", "policy": "Policy",
    "encryption": "Encryption", "lifecycle": "LifecycleConfiguration", "acl": "Acl", "location": "Location",
    "notification": "NotificationConfiguration", "object-lock": "ObjectLockConfiguration",
}  # fmt: skip


def _s3_operation(req: LabRequest) -> str:
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(req.method, "")
    segments = [s for s in req.path.split("/") if s]
    if not segments:
        return "ListBuckets"
    sub = next((v for k, v in _S3_SUBRESOURCES.items() if k in req.query), None)
    if sub:
        return f"{verb}Bucket{sub}" if len(segments) == 1 else f"{verb}Object{sub}"
    if len(segments) == 1:
        return {"GET": "ListObjects", "PUT": "CreateBucket"}.get(req.method, f"{verb}Bucket")
    return f"{verb}Object"


def is_mutating(operation: str) -> bool:
    return bool(operation) and not operation.startswith(_READ_PREFIXES)


# --- Route53 (rest-xml), from botocore's service model -------------------------------------------------


@cache
def _route53_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("route53")


@cache
def _route53_routes() -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(method, path pattern, operation) per Route53 operation; literal paths before templated ones."""
    model = _route53_model()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = http["requestUri"].split("?", 1)[0].rstrip("/")
        pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        routes.append((literal, http["method"], re.compile(pattern), name))
    routes.sort(key=lambda r: -r[0])
    return tuple((method, pattern, name) for _, method, pattern, name in routes)


def route53_route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """(operation, path parameters by botocore member name) for a Route53 API path, None if it is none."""
    rest = path.rstrip("/")
    for verb, pattern, operation in _route53_routes():
        match = pattern.fullmatch(rest)
        if verb == method and match:
            return operation, match.groupdict()
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _decode(shape: Any, elem: ET.Element) -> Any:
    """XML element -> plain value, guided by a botocore shape."""
    kind = shape.type_name
    if kind == "structure":
        children = {_local(c.tag): c for c in elem}
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            child = children.get(member.serialization.get("name", name))
            if child is not None:
                out[name] = _decode(member, child)
        return out
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return [_decode(shape.member, c) for c in elem if _local(c.tag) == tag]
    text = (elem.text or "").strip()
    if kind == "boolean":
        return text == "true"
    if kind in ("integer", "long"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    return text


def _encode(shape: Any, value: Any, tag: str) -> str:
    """Plain value -> XML text, guided by a botocore shape."""
    kind = shape.type_name
    if kind == "structure":
        inner = "".join(
            _encode(member, value[name], member.serialization.get("name", name))
            for name, member in shape.members.items()
            if value.get(name) is not None and not member.serialization.get("location")
        )
    elif kind == "list":
        mtag = shape.member.serialization.get("name", "member")
        inner = "".join(_encode(shape.member, v, mtag) for v in value)
    elif kind == "boolean":
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{tag}>{inner}</{tag}>"


def route53_input(operation: str, body: bytes) -> dict[str, Any]:
    """A Route53 request body as plain data (raises ET.ParseError on malformed XML)."""
    shape = _route53_model().operation_model(operation).input_shape
    if not body.strip():
        return {}
    return dict(_decode(shape, ET.fromstring(body)))


def route53_response(operation: str, value: dict[str, Any], status: int = 200, **headers: str) -> LabResponse:
    """A Route53 answer in rest-xml, shaped by the operation's output shape."""
    shape = _route53_model().operation_model(operation).output_shape
    name = shape.name
    inner = _encode(shape, value, name)[len(name) + 2 :]
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{name} xmlns="{ROUTE53_NS}">{inner}'
    resp = LabResponse.xml(status, body, request_id=str(uuid.uuid4()))
    resp.headers.update(headers)
    return resp


def route53_error(status: int, code: str, message: str) -> LabResponse:
    """A Route53 error (rest-xml ErrorResponse, in Route53's namespace)."""
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + _error_response(status, code, message, ROUTE53_NS)
    return LabResponse.xml(status, body)


# --- errors, in each protocol's wire format --------------------------------------------------------------


def _error_response(status: int, code: str, message: str, namespace: str = "", rid: str = "") -> str:
    kind = "Receiver" if status >= 500 else "Sender"
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f"<ErrorResponse{xmlns}><Error><Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"</Error><RequestId>{rid or uuid.uuid4()}</RequestId></ErrorResponse>"
    )


def aws_error(req: LabRequest, status: int, code: str, message: str) -> LabResponse:
    """An AWS error response in the request's protocol, so botocore parses and classifies it."""
    rid = str(uuid.uuid4())
    json_code = code if code.endswith("Exception") or status >= 500 else f"{code}Exception"
    content_type = req.headers.get("content-type", "")
    if req.headers.get("x-amz-target") or content_type.startswith("application/x-amz-json"):
        headers = {"Content-Type": content_type or "application/x-amz-json-1.0", "x-amzn-RequestId": rid}
        if "x-amzn-query-mode" in req.headers:  # query-compatible JSON (cloudwatch, sqs): classic code wins
            headers["x-amzn-query-error"] = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
        return LabResponse(status, headers, json.dumps({"__type": json_code, "message": message}).encode())
    if req.service == "s3":
        body = (f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
                f"<RequestId>{rid}</RequestId></Error>")  # fmt: skip
        return LabResponse.xml(status, body, request_id=rid)
    if req.service in _EC2_STYLE:
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
                f"</Errors><RequestID>{rid}</RequestID></Response>")  # fmt: skip
        return LabResponse.xml(status, body, request_id=rid)
    if req.form or "Action" in req.query or req.service == "route53":
        return LabResponse.xml(status, _error_response(status, code, message, rid=rid), request_id=rid)
    # rest-json (backup, lambda, ...): the code travels in a header as well.
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": rid, "x-amzn-ErrorType": json_code}
    return LabResponse(status, headers, json.dumps({"__type": json_code, "message": message}).encode())
