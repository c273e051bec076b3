import pytest

from logsense.masking import mask


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Reserved 3 items for order 81723", "Reserved <*> items for order <*>"),
        ("took 1.2s then 350ms", "took <*> then <*>"),
        ("from 10.0.3.7:9091 and 2001:db8::1", "from <*> and <*>"),
        ("id 123e4567-e89b-12d3-a456-426614174000", "id <*>"),
        ("mail bob.smith+x@example.co.uk", "mail <*>"),
        ("block 0x7ffe3a2b and deadbeef42", "block <*> and <*>"),
        ("user u-1234 on host payment-7f9c5-x2k1p", "user <*> on host <*>"),
        ("GET /api/v1/orders/81723/items 200 35ms", "GET /api/v1/orders/<*>/items 200 <*>"),
        ("push to http://10.0.3.7:9091/metrics failed", "push to http://<*>/metrics failed"),
        ("pool=main active=50 idle=0 state=RUNNING", "pool=main active=<*> idle=<*> state=RUNNING"),
        ("Deploying version 2.4.0 (build 1a2b3c)", "Deploying version <*> (build <*>)"),
    ],
)
def test_masks_variables(message: str, expected: str) -> None:
    assert mask(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "call to payment failed: 503 Service Unavailable",
        "upstream returned HTTP 502",
        "POST /api/v1/checkout 500 in <*>",
        "response status=429 from stripe",
        'java.lang.NullPointerException: Cannot invoke "String.length()"',
        "Connection refused: connect timed out",
    ],
)
def test_keeps_meaningful_tokens(message: str) -> None:
    assert mask(message) == message


def test_a_number_that_is_not_a_status_is_masked() -> None:
    assert mask("processed 404 items") == "processed <*> items"


def test_status_codes_keep_different_shapes_apart() -> None:
    assert mask("GET /x 500 12ms") != mask("GET /x 200 12ms")
