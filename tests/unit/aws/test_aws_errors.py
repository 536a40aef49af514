"""The AWS error vocabulary: botocore exceptions and error responses built in-process, classified once."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from drctl.aws.errors import (
    Kind,
    classify,
    global_path_down,
    no_answer,
    outcome_unknown,
    to_drctl_error,
    worth_another_look,
)
from drctl.errors import AuthError, ExitCode, Failed, Unreachable

URL = "https://rds.us-west-2.amazonaws.com/"


def client_error(code: str, status: int = 400, op: str = "FailoverGlobalCluster") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, op
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (client_error("Throttling"), Kind.THROTTLING),
        (client_error("ThrottlingException"), Kind.THROTTLING),
        (client_error("SlowDown", 503), Kind.THROTTLING),  # S3's 503 is throttling, not an outage
        (client_error("SomethingNew", 429), Kind.THROTTLING),
        (client_error("InternalFailure", 500), Kind.TRANSIENT),
        (client_error("ServiceUnavailable", 503), Kind.TRANSIENT),
        (client_error("Whatever", 502), Kind.TRANSIENT),
        (ReadTimeoutError(endpoint_url=URL), Kind.TRANSIENT),
        (ConnectionClosedError(endpoint_url=URL), Kind.TRANSIENT),
        (EndpointConnectionError(endpoint_url=URL), Kind.UNREACHABLE),
        (ConnectTimeoutError(endpoint_url=URL), Kind.UNREACHABLE),
        (ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"), Kind.UNREACHABLE),
        (client_error("DBClusterNotFoundFault", 404), Kind.NOT_FOUND),
        (client_error("GlobalClusterNotFoundFault", 404), Kind.NOT_FOUND),
        (client_error("NoSuchHealthCheck", 404), Kind.NOT_FOUND),
        (client_error("ExpiredToken", 403), Kind.AUTH),
        (client_error("InvalidClientTokenId", 403), Kind.AUTH),
        (client_error("AccessDenied", 403), Kind.AUTH),
        (NoCredentialsError(), Kind.AUTH),
        (client_error("InvalidGlobalClusterStateFault"), Kind.IN_PROGRESS),
        (client_error("InvalidParameterValue"), Kind.OTHER),
        (ParamValidationError(report="bad"), Kind.OTHER),
        (ValueError("not AWS"), Kind.OTHER),
    ],
)
def test_classify(exc: BaseException, kind: Kind) -> None:
    assert classify(exc) == kind


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url=URL),
        ConnectionClosedError(endpoint_url=URL),
        ResponseStreamingError(error="reset"),
        HTTPClientError(error="urllib3 raised while sending"),
        SSLError(endpoint_url=URL, error="bad record mac"),  # botocore cannot say handshake or mid-response
        client_error("InternalFailure", 500),
        client_error("ServiceUnavailable", 503),
        client_error("InternalError", 500),
        client_error("UnmodelledServerError", 504),
    ],
)
def test_outcome_unknown_after_the_request_may_have_reached_aws(exc: BaseException) -> None:
    assert outcome_unknown(exc)


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url=URL),  # never connected: not sent
        ConnectTimeoutError(endpoint_url=URL),
        NoCredentialsError(),  # nothing was signed, nothing sent
        client_error("Throttling"),  # AWS answered: refused
        client_error("SlowDown", 503),
        client_error("InvalidGlobalClusterStateFault"),
        client_error("AccessDenied", 403),
        client_error("InvalidParameterValue"),
    ],
)
def test_outcome_known_when_the_request_never_reached_aws_or_was_refused(exc: BaseException) -> None:
    assert not outcome_unknown(exc)


def test_global_path_down_is_silence_or_a_server_failure_not_a_refusal() -> None:
    assert global_path_down(EndpointConnectionError(endpoint_url=URL))
    assert global_path_down(ReadTimeoutError(endpoint_url=URL))
    assert global_path_down(client_error("InternalFailure", 500))
    assert global_path_down(client_error("GlobalClusterNotFoundFault", 404))
    assert not global_path_down(client_error("Throttling"))
    assert not global_path_down(client_error("InvalidGlobalClusterStateFault"))
    assert not global_path_down(client_error("AccessDenied", 403))


def test_reads_look_again_after_transient_answers_only() -> None:
    for again in (
        client_error("Throttling"),
        client_error("InternalFailure", 500),
        ReadTimeoutError(endpoint_url=URL),
        EndpointConnectionError(endpoint_url=URL),
        client_error("InvalidGlobalClusterStateFault"),
    ):
        assert worth_another_look(again), again
    for never in (
        client_error("AccessDenied", 403),
        client_error("ValidationError"),
        client_error("NoSuchBucket", 404),
    ):
        assert not worth_another_look(never), never


def test_no_answer_is_silence_not_an_error_answer() -> None:
    assert no_answer(ConnectTimeoutError(endpoint_url=URL))
    assert no_answer(ReadTimeoutError(endpoint_url=URL))
    assert not no_answer(client_error("InternalFailure", 500))


@pytest.mark.parametrize(
    ("exc", "typ", "needle"),
    [
        (NoCredentialsError(), AuthError, "no AWS credentials found"),
        (client_error("ExpiredToken", 403), AuthError, "expired"),
        (client_error("AccessDenied", 403), AuthError, "access denied for rds:X in us-west-2"),
        (ConnectTimeoutError(endpoint_url=URL), Unreachable, "us-west-2 did not answer rds:X"),
        (ReadTimeoutError(endpoint_url=URL), Unreachable, "us-west-2 did not answer rds:X"),
        (client_error("InvalidParameterValue"), Failed, "rds:X in us-west-2 failed: InvalidParameterValue"),
    ],
)
def test_to_drctl_error_is_typed_with_its_exit_code(exc: BaseException, typ: type, needle: str) -> None:
    err = to_drctl_error(exc, action="rds:X", region="us-west-2")
    assert isinstance(err, typ) and needle in err.message
    codes = {AuthError: ExitCode.AWS_AUTH, Unreachable: ExitCode.UNREACHABLE, Failed: ExitCode.FAILED}
    assert err.code == codes[typ]
