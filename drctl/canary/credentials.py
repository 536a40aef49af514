"""Where the canary's database credentials come from, in order:

1. the environment: DRCTL_CANARY_PASSWORD (and DRCTL_CANARY_USER, else --user / the stack's user);
2. the stack's `[canary] secret_arn`: Secrets Manager GetSecretValue (drctl/aws/secretsmanager.py);
3. the stack's `[canary.static_credentials]` (labs only, like `[aws.static_credentials]`).

The password stays in this process's memory: it is handed to psycopg, never to PGPASSWORD, argv, a file or a log.
"""

from __future__ import annotations

import os

from drctl.canary.db import Credentials
from drctl.errors import ConfigError
from drctl.stack import AwsSettings, CanarySettings

ENV_USER = "DRCTL_CANARY_USER"
ENV_PASSWORD = "DRCTL_CANARY_PASSWORD"


def resolve(settings: CanarySettings, aws: AwsSettings, user: str | None = None) -> Credentials:
    if password := os.environ.get(ENV_PASSWORD):
        name = os.environ.get(ENV_USER) or user or settings.user
        if not name:
            raise ConfigError(f"{ENV_PASSWORD} is set but no user", hint=f"set {ENV_USER} or pass --user")
        return Credentials(name, password, f"environment {ENV_PASSWORD}")
    if settings.secret_arn:
        return from_secret(settings.secret_arn, aws)
    if settings.password:
        return Credentials(user or settings.user, settings.password, "stack file [canary.static_credentials]")
    raise ConfigError(
        "no credentials for the canary",
        hint=f"set [canary] secret_arn in the stack file, or {ENV_USER} and {ENV_PASSWORD}",
    )


def from_secret(secret_arn: str, aws: AwsSettings) -> Credentials:
    from drctl.aws.clients import ClientFactory
    from drctl.aws.errors import to_drctl_error
    from drctl.aws.secretsmanager import database_credentials, get_secret_value

    call = get_secret_value(secret_arn)
    try:
        resp = call.send(ClientFactory(aws))
    except Exception as e:
        raise to_drctl_error(e, action="read the canary's secret", region=call.region) from None
    user, password = database_credentials(resp, secret_arn)
    return Credentials(user, password, f"secret {secret_arn}")
