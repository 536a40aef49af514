"""The one vocabulary of AWS errors: what kind of failure an exception from botocore is, and what follows.

Every caller asks here instead of keeping its own list of codes. Classified by exception type and error code,
never by message text. Sources:
- codes common to all AWS APIs (InternalFailure 500, ServiceUnavailable 503, ThrottlingException, ExpiredToken...):
  https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html
- throttling codes and transient status codes as botocore's standard retry mode classifies them
  (botocore/retries/standard.py, ThrottledRetryableChecker / TransientRetryableChecker):
  https://docs.aws.amazon.com/boto3/latest/guide/retries.html
- RDS faults of the global-database calls (GlobalClusterNotFoundFault, InvalidGlobalClusterStateFault):
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverGlobalCluster.html
"""

from __future__ import annotations

from enum import StrEnum

from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
    SSOError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from drctl.errors import AuthError, DrctlError, Failed, Unreachable


class Kind(StrEnum):
    THROTTLING = "throttling"  # AWS answered: slow down (nothing was done)
    TRANSIENT = "transient"  # 5xx, InternalFailure, ServiceUnavailable, timeouts, dropped connections
    NOT_FOUND = "not found"  # the named resource does not exist
    AUTH = "auth"  # credentials missing, expired or rejected; permission denied
    UNREACHABLE = "unreachable"  # no connection was made (connect errors; TLS: see outcome_unknown)
    IN_PROGRESS = "in progress"  # refused because a transition is running: wait and re-read, never resend
    OTHER = "other"  # validation errors and everything else: never retried


# botocore's standard-mode throttling codes (ThrottledRetryableChecker), plus HTTP 429 below.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
# Server-side failures (the common errors InternalFailure/ServiceUnavailable, and their S3/other spellings),
# and botocore's transient codes; any other 5xx counts too.
TRANSIENT_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# The request was not processed: a global-cluster transition is running (RDS).
IN_PROGRESS_CODES = frozenset({"InvalidGlobalClusterStateFault"})
# "The resource named in the stack file does not exist", per service.
NOT_FOUND_CODES = frozenset(
    {
        "DBClusterNotFoundFault",
        "GlobalClusterNotFoundFault",
        "DBClusterSnapshotNotFoundFault",
        "NoSuchHealthCheck",
        "NoSuchHostedZone",
        "TargetGroupNotFound",
        "TargetGroupNotFoundException",
        "LoadBalancerNotFound",
        "NoSuchBucket",
        "ResourceNotFoundException",
        "NotFound",
        "NotFoundException",
    }
)
# Credentials that AWS rejected: (message, what to do).
_CREDENTIAL_CODES = {
    "ExpiredToken": ("AWS credentials have expired", "refresh them (e.g. `aws sso login`) and retry"),
    "ExpiredTokenException": ("AWS credentials have expired", "refresh them (e.g. `aws sso login`) and retry"),
    "RequestExpired": ("AWS refused a request signed too long ago", "check this machine's clock"),
    "InvalidClientTokenId": ("AWS rejected the access key", "check the profile or credentials in use"),
    "UnrecognizedClientException": ("AWS rejected the access key", "check the profile or credentials in use"),
    "SignatureDoesNotMatch": ("AWS rejected the request signature", "check the secret key in use"),
    "IncompleteSignature": ("AWS rejected the request signature", "check the secret key in use"),
    "AuthFailure": ("AWS rejected the credentials", "check the profile or credentials in use"),
    "MissingAuthenticationToken": ("the request carried no credentials", "check the profile in use"),
}
_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "NotAuthorized"}
)
AUTH_CODES = frozenset(_CREDENTIAL_CODES) | _DENIED_CODES
# Credentials drctl could not find or load: raised before anything is sent.
_CREDENTIAL_EXCEPTIONS: tuple[type[BaseException], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
)
# The transport failed after the request may have been written: a read timeout, a connection closed
# before a valid response, a broken response stream (all HTTPClientError), or anything else urllib3 raised
# while sending (botocore wraps it in a plain HTTPClientError).
_AFTER_SEND: tuple[type[BaseException], ...] = (HTTPClientError,)
# No connection: EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError (TLS failed).
_NOT_CONNECTED: tuple[type[BaseException], ...] = (BotoConnectionError,)


def error_code(e: BaseException) -> str:
    """The AWS error code of a ClientError ('' for anything else)."""
    if isinstance(e, ClientError):
        return str(e.response.get("Error", {}).get("Code", ""))
    return ""


def http_status(e: BaseException) -> int | None:
    if isinstance(e, ClientError):
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def classify(e: BaseException) -> Kind:
    """What kind of failure `e` is."""
    if isinstance(e, _CREDENTIAL_EXCEPTIONS):
        return Kind.AUTH
    if isinstance(e, _NOT_CONNECTED):
        return Kind.UNREACHABLE
    if isinstance(e, _AFTER_SEND):
        return Kind.TRANSIENT
    if not isinstance(e, ClientError):
        return Kind.OTHER
    code, status = error_code(e), http_status(e)
    if code in AUTH_CODES:
        return Kind.AUTH
    if code in THROTTLING_CODES or status == 429:
        return Kind.THROTTLING
    if code in IN_PROGRESS_CODES:
        return Kind.IN_PROGRESS
    if code in NOT_FOUND_CODES:
        return Kind.NOT_FOUND
    if code in TRANSIENT_CODES or (status is not None and status >= 500):
        return Kind.TRANSIENT
    return Kind.OTHER


def is_throttling(e: BaseException) -> bool:
    return classify(e) == Kind.THROTTLING


def is_not_found(e: BaseException) -> bool:
    return classify(e) == Kind.NOT_FOUND


def is_auth(e: BaseException) -> bool:
    return classify(e) == Kind.AUTH


def no_answer(e: BaseException) -> bool:
    """The endpoint gave no (valid) answer at all: no connection, a read timeout, a dropped connection.

    What `drctl status` shows as "unreachable" for a region (a 5xx is an answer: an error, not silence)."""
    return isinstance(e, _NOT_CONNECTED + _AFTER_SEND)


def worth_another_look(e: BaseException) -> bool:
    """A read that failed like this may succeed if asked again later (throttling, 5xx, timeouts, no
    connection, a transition in progress). Never auth, validation or not-found errors."""
    return classify(e) in (Kind.THROTTLING, Kind.TRANSIENT, Kind.UNREACHABLE, Kind.IN_PROGRESS)


def global_path_down(e: BaseException) -> bool:
    """The global database's control path does not answer in this region (unplanned mode falls back).

    No connection, no answer, a server-side failure, or the global cluster unknown there. Throttling and a
    transition in progress are answers: the path works, it said "not now"."""
    return classify(e) in (Kind.UNREACHABLE, Kind.TRANSIENT) or error_code(e) == "GlobalClusterNotFoundFault"


def outcome_unknown(e: BaseException) -> bool:
    """A mutating call failed like this may still have been accepted by AWS: re-read before anything else.

    Unknown: a read timeout or a connection closed after the request was (maybe) written, a 5xx,
    InternalFailure or ServiceUnavailable (the service may have acted before failing).
    Known, not done: no connection was made (EndpointConnectionError, ConnectTimeoutError, the proxy
    refused: the request never reached AWS), credentials never found, or a 4xx answer (throttling,
    validation, auth, a transition in progress: AWS refused it).
    A TLS failure (SSLError) is usually the handshake, but botocore raises the same class for one after the
    request was written: unknown, so the caller re-reads rather than risk sending a promotion twice."""
    if isinstance(e, SSLError):
        return True
    if isinstance(e, _NOT_CONNECTED + _CREDENTIAL_EXCEPTIONS):
        return False
    if isinstance(e, _AFTER_SEND):  # ReadTimeoutError, ConnectionClosedError, ResponseStreamingError...
        return True
    if isinstance(e, ClientError):
        status = http_status(e)
        if error_code(e) in TRANSIENT_CODES:
            return True
        return status is not None and status >= 500 and classify(e) != Kind.THROTTLING
    return False


def to_drctl_error(e: BaseException, *, action: str, region: str) -> DrctlError:
    """An AWS/botocore exception as one line a user can act on, typed by its kind."""
    kind = classify(e)
    if kind == Kind.AUTH:
        if isinstance(e, _CREDENTIAL_EXCEPTIONS):
            found = "found" if isinstance(e, NoCredentialsError) else f"usable ({type(e).__name__})"
            return AuthError(
                f"no AWS credentials {found}",
                hint="set AWS_PROFILE or configure credentials (aws configure / aws sso login)",
            )
        code = error_code(e)
        if code in _CREDENTIAL_CODES:
            msg, hint = _CREDENTIAL_CODES[code]
            return AuthError(msg, hint=hint)
        return AuthError(
            f"access denied for {action} in {region}", hint=f"grant {action} to the role drctl runs as"
        )
    if no_answer(e):
        return Unreachable(
            f"{region} did not answer {action} ({type(e).__name__})",
            hint="the region's endpoint is unreachable; check connectivity or the region's health",
        )
    return Failed(f"{action} in {region} failed: {error_code(e) or type(e).__name__}")
