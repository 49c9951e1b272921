"""How failed OpenSearch requests are worded: 401 and 403 apart, and an answer without a
body (every answer to HEAD, e.g. a user's missing permission on a HEAD request) says what
its status means instead of the exception's repr."""

from __future__ import annotations

from opensearchpy.exceptions import AuthenticationException, AuthorizationException

from kubetrail.store.opensearch.errors import describe_error, request_failed

WHERE = "opensearch+https://kt-reader:***@127.0.0.1:9200"


def test_a_bodyless_403_names_the_missing_permission_as_the_cause() -> None:
    exc = AuthorizationException(403, "", None)  # what opensearch-py raises for HEAD -> 403
    line = request_failed("HEAD", "/kubetrail-events", exc)
    assert line == (
        "HEAD /kubetrail-events failed: 403 forbidden: the user lacks a permission "
        "(no details: the answer has no body)"
    )
    assert "AuthorizationException" not in describe_error(exc, WHERE)


def test_403_is_a_denied_request_and_401_refused_credentials() -> None:
    body = {
        "error": {
            "root_cause": [
                {
                    "type": "security_exception",
                    "reason": "no permissions for [indices:admin/delete] and User [name=kt-writer]",
                }
            ]
        },
        "status": 403,
    }
    denied = describe_error(AuthorizationException(403, "security_exception", body), WHERE)
    assert denied == (
        f"OpenSearch at {WHERE} denied the request (403): security_exception: "
        "no permissions for [indices:admin/delete] and User [name=kt-writer]"
    )
    refused = describe_error(AuthenticationException(401, "", None), WHERE)
    assert refused.startswith(f"OpenSearch at {WHERE} refused the credentials (401): ")
