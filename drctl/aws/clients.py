"""The one place boto3 clients are made: per service and region, with drctl's timeouts, retries and user agent.

Transport-level faults and throttling are retried by botocore's standard mode (bounded by max_attempts);
waiting for convergence is tenacity's job elsewhere; what an error means is drctl/aws/errors.py's. Clients
are cached and shared between threads (boto3 clients are thread-safe; sessions are not, so client creation
is serialised).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.config
from botocore.exceptions import NoRegionError

from drctl import __version__
from drctl.errors import ConfigError
from drctl.stack import AwsSettings

# Services whose API lives in one place (Route53's control plane is in us-east-1 on AWS).
GLOBAL_SERVICES = frozenset({"route53", "iam", "sts"})
GLOBAL_REGION = "us-east-1"


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
                    raise ConfigError("no AWS region configured") from None
            return self._clients[key]


def request_id(response: dict[str, Any]) -> str:
    return str(response.get("ResponseMetadata", {}).get("RequestId", ""))


def retry_attempts(response: dict[str, Any]) -> int:
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
