"""The one place boto3 clients are made: per service and region, with drctl's timeouts, retries and user agent.

Transport-level faults and throttling are retried by botocore's standard mode (bounded by max_attempts);
waiting for convergence is tenacity's job elsewhere. Clients are cached and shared between threads
(boto3 clients are thread-safe; sessions are not, so client creation is serialised).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from drctl import __version__
from drctl.errors import DrctlError, ExitCode
from drctl.stack import AwsSettings

# Services whose API lives in one place (Route53's control plane is in us-east-1 on AWS).
GLOBAL_SERVICES = frozenset({"route53", "iam", "sts"})
GLOBAL_REGION = "us-east-1"

UNREACHABLE_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)


class ClientFactory:
    """Makes and caches boto3 clients for one AwsSettings."""

    def __init__(self, settings: AwsSettings, *, max_attempts: int | None = None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._config = botocore.config.Config(
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            retries={"mode": "standard", "max_attempts": max_attempts or settings.max_attempts},
            user_agent_extra=f"drctl/{__version__}",
            max_pool_connections=20,
        )

    def _new_session(self) -> boto3.session.Session:
        s = self.settings
        if s.static_access_key_id:
            return boto3.session.Session(
                aws_access_key_id=s.static_access_key_id,
                aws_secret_access_key=s.static_secret_access_key,
                profile_name=None,
            )
        return boto3.session.Session(profile_name=s.profile)

    def endpoint_for(self, service: str, region: str) -> str | None:
        """The configured endpoint URL, or None for boto3's own resolution (which honours AWS_ENDPOINT_URL)."""
        eps = self.settings.endpoints
        if service in GLOBAL_SERVICES and "global" in eps:
            return eps["global"]
        return eps.get(region)

    def client(self, service: str, region: str) -> Any:
        """A client for `service` in `region`. Global services are signed for us-east-1."""
        signing_region = GLOBAL_REGION if service in ("route53", "iam") else region
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                if self._session is None:
                    self._session = self._new_session()
                try:
                    self._clients[key] = self._session.client(
                        service,
                        region_name=signing_region,
                        endpoint_url=self.endpoint_for(service, region),
                        config=self._config,
                    )
                except NoRegionError:
                    raise DrctlError("no AWS region configured", code=ExitCode.CONFIG) from None
            return self._clients[key]


def error_code(e: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(e, ClientError):
        return str(e.response.get("Error", {}).get("Code", ""))
    return ""


def request_id(response: dict[str, Any]) -> str:
    return str(response.get("ResponseMetadata", {}).get("RequestId", ""))


def retry_attempts(response: dict[str, Any]) -> int:
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))


_AUTH_CODES = {
    "ExpiredToken": ("AWS credentials have expired", "refresh them (e.g. `aws sso login`) and retry"),
    "ExpiredTokenException": (
        "AWS credentials have expired",
        "refresh them (e.g. `aws sso login`) and retry",
    ),
    "InvalidClientTokenId": ("AWS rejected the access key", "check the profile or credentials in use"),
    "UnrecognizedClientException": ("AWS rejected the access key", "check the profile or credentials in use"),
    "SignatureDoesNotMatch": ("AWS rejected the request signature", "check the secret key in use"),
    "AuthFailure": ("AWS rejected the credentials", "check the profile or credentials in use"),
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}

# Codes that no retry or other region can cure: credentials or permissions.
AUTH_ERROR_CODES = frozenset(_AUTH_CODES) | frozenset(_DENIED_CODES)


def to_drctl_error(e: BaseException, *, action: str, region: str) -> DrctlError:
    """Map an AWS/botocore exception to a one-line DrctlError, by error code (never by message text)."""
    if isinstance(e, NoCredentialsError):
        return DrctlError(
            "no AWS credentials found",
            code=ExitCode.AWS_AUTH,
            hint="set AWS_PROFILE or configure credentials (aws configure / aws sso login)",
        )
    if isinstance(e, UNREACHABLE_ERRORS):
        return DrctlError(
            f"{region} did not answer {action}",
            code=ExitCode.UNREACHABLE,
            hint="the region's endpoint is unreachable; check connectivity or the region's health",
        )
    code = error_code(e)
    if code in _AUTH_CODES:
        msg, hint = _AUTH_CODES[code]
        return DrctlError(msg, code=ExitCode.AWS_AUTH, hint=hint)
    if code in _DENIED_CODES:
        return DrctlError(
            f"access denied for {action} in {region}",
            code=ExitCode.AWS_AUTH,
            hint=f"grant {action} to the role drctl runs as",
        )
    if code:
        return DrctlError(f"{action} in {region} failed: {code}", code=ExitCode.FAILED)
    return DrctlError(f"{action} in {region} failed: {type(e).__name__}", code=ExitCode.FAILED)
