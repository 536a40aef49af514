"""Secrets Manager reads: database credentials for the canary (drctl/canary).

GetSecretValue returns the secret in `SecretString`
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html). A database secret,
and the master-user secret RDS manages for a cluster, is a JSON object with at least `username` and `password`
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html).
docs/fidelity.md D-28. The value never leaves the process: callers hold it in memory and pass it to the client.
"""

from __future__ import annotations

import json
from typing import Any

from drctl.aws.calls import ApiCall
from drctl.errors import ConfigError


def get_secret_value(secret_arn: str) -> ApiCall:
    """The read, as a value (the region is the secret's own: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)."""
    parts = secret_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "secretsmanager" or not parts[3]:
        raise ConfigError(
            f"{secret_arn!r} is not a Secrets Manager secret ARN",
            hint="expected arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME",
        )
    return ApiCall("secretsmanager", parts[3], "GetSecretValue", {"SecretId": secret_arn})


def database_credentials(response: dict[str, Any], secret_arn: str) -> tuple[str, str]:
    """(username, password) from a GetSecretValue response; a one-line CONFIG error naming the ARN, never
    the value, when it is not a database secret."""
    try:
        data = json.loads(response.get("SecretString") or "")
        user, password = data["username"], data["password"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"secret {secret_arn} is not a database secret",
            hint='its SecretString must be JSON with "username" and "password"',
        ) from None
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        raise ConfigError(f"secret {secret_arn}: username and password must be strings")
    return user, password
