import importlib.util
from pathlib import Path

import pytest

from logsense.mine.masking import kept_statuses, mask


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Reserved 3 items for order 81723", "Reserved <*> items for order <*>"),
        ("took 1.2s then 350ms", "took <*> then <*>"),
        ("from 10.0.3.7:9091 and 2001:db8::1", "from <*> and <*>"),
        ("id 123e4567-e89b-12d3-a456-426614174000", "id <*>"),
        ("mail bob.smith+x@example.co.uk", "mail <*>"),
        ("block 0x7ffe3a2b and deadbeef42", "block <*> and <*>"),
        ("user u-1234 on host payment-7f9c5-x2k1p", "user u-<*> on host payment-<*>"),
        ("GET /api/v1/orders/81723/items 200 35ms", "GET /api/v1/orders/<*>/items <*> <*>"),
        ("push to http://10.0.3.7:9091/metrics failed", "push to http://<*>/metrics failed"),
        ("pool=main active=50 idle=0 state=RUNNING", "pool=main active=<*> idle=<*> state=RUNNING"),
        ("Deploying version 2.4.0 (build 1a2b3c)", "Deploying version <*> (build <*>)"),
        # Generated ids behind a prefix, whatever their digits: their letters read as random.
        ("Loaded session sess_bigenvnakjmcwjnm (ttl=1800)", "Loaded session <*> (ttl=<*>)"),
        ("charge ch_NffrFeUfNVHib for cus_4QFOF3xQ6I1GXz", "charge <*> for <*>"),
        ("Updated address addr_ipgih8io", "Updated address <*>"),
        ("GET /api/v1/sessions/sess_heurqgdyeivcdo3f 200", "GET /api/v1/sessions/<*> <*>"),
        # A path segment varies in its parts, as an identifier does.
        ("POST /api/v1/checkout/c-1efbebccad/confirm", "POST /api/v1/checkout/c-<*>/confirm"),
        # Only numbers that are HTTP statuses can be kept as one: this one is a count.
        ("Search page=2 returned 556 hits in 35ms", "Search page=<*> returned <*> hits in <*>"),
    ],
)
def test_masks_variables(message: str, expected: str) -> None:
    assert mask(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # One variable is one `<*>`, and the text around it stays: keys, brackets, prefixes.
        ("uid=0 euid=0 tty=NODEVssh", "uid=<*> euid=<*> tty=NODEVssh"),
        ("Component State Change: (HWID=1973)", "Component State Change: (HWID=<*>)"),
        ("NIFF: node node-129 via interface ee0", "NIFF: node node-<*> via interface ee0"),
        ("generating core.2275", "generating core.<*>"),
        ("Verification succeeded for blk_-4980916519894289629", "Verification succeeded for <*>"),
        (
            "Saved output of task 'attempt_201706092018_0024_m_000003_1012'",
            "Saved output of task '<*>'",
        ),
        ("setLightsOn(true) ws=null", "setLightsOn(<*>) ws=<*>"),
        # Addresses, host names and file paths are one value each.
        ("proxy.cse.cuhk.edu.hk:5070 open through proxy", "<*> open through proxy"),
        (
            "Received block blk_-1608 of size 67108864 from /10.251.42.84",
            "Received block <*> of size <*> from <*>",
        ),
        ("Deleting file /mnt/hadoop/dfs/data/current/subdir5/x", "Deleting file <*>"),
        (
            "Input split: hdfs://10.10.34.11:9000/pjhe/logs/2kSOSP.log:21876+7292",
            "Input split: <*>",
        ),
        ("cmp=com.example.notes/.NoteEditor (has extras)", "cmp=<*> (has extras)"),
        # A quantity with its unit, a date with its words, a protocol version: one value each.
        ("(estimated size 5.2 KB, free 14.0 KB)", "(estimated size <*>, free <*>)"),
        ("close, 1190 bytes (1.16 KB) sent, lifetime <1 sec", "close, <*> sent, lifetime <*>"),
        ("connection at Fri Jun 17 07:07:00 2005", "connection at <*> <*> <*>"),
        (
            '"GET /v2/servers/detail HTTP/1.1" status: 200',
            '"GET /v2/servers/detail <*>" status: <*>',
        ),
    ],
)
def test_masks_whole_variables_and_keeps_their_context(message: str, expected: str) -> None:
    assert mask(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "call to payment failed: 503 Service Unavailable",
        "upstream returned HTTP 502",
        "upstream returned 599",
        "cdn returned 522 (origin unreachable)",
        "POST /api/v1/checkout 500 in <*>",
        "response status=429 from stripe",
        'java.lang.NullPointerException: Cannot invoke "String.length()"',
        "Connection refused: connect timed out",
        "java.io.IOException: ZooKeeperServer not running",
        "Could not connect through proxy - lock/unlock and Input/output error",
        # Words behind a prefix are words: only random-looking letters make an id.
        "pool max_connections reached: state=POOL_EXHAUSTED via HiHealthDataInsertStore",
        "error_code=DEADLINE_EXCEEDED in ResolvePendingTransactions",
        "order moved to state_completed (was state_unavailable)",
        "session store client_sqlalchemy behind proxy_grpcgateway",
    ],
)
def test_keeps_meaningful_tokens(message: str) -> None:
    assert mask(message) == message


def test_a_number_that_is_not_a_status_is_masked() -> None:
    assert mask("processed 404 items") == "processed <*> items"


def test_status_codes_keep_different_shapes_apart() -> None:
    assert mask("GET /x 500 12ms") != mask("GET /x 200 12ms")


def test_server_errors_are_kept_even_in_routine_messages() -> None:
    assert mask("GET /x 503 12ms", routine=True) == "GET /x 503 <*>"


def test_client_errors_are_kept_unless_routine() -> None:
    assert mask("GET /x 404 12ms") == "GET /x 404 <*>"
    assert mask("GET /x 404 12ms", routine=True) == mask("GET /x 200 12ms") == "GET /x <*> <*>"


def test_kept_statuses_are_found_bare_and_as_values() -> None:
    assert kept_statuses(mask("method=GET path=/x status=503 bytes=12")) == ("503",)
    assert kept_statuses(mask("upstream returned HTTP 502 after 3 retries")) == ("502",)
    assert kept_statuses(mask("processed 404 items in 200ms")) == ()


def test_request_paths_keep_their_endpoint() -> None:
    assert (
        mask("method=GET path=/api/v1/search?q=shoes&page=2")
        == "method=GET path=/api/v1/search?<*>"
    )


def test_the_letter_pair_table_is_the_one_its_script_writes() -> None:
    script = Path(__file__).resolve().parent.parent / "logsense" / "native" / "letter_pairs.py"
    spec = importlib.util.spec_from_file_location("letter_pairs", script)
    assert spec is not None and spec.loader is not None
    letter_pairs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(letter_pairs)
    committed = (script.parent / "src" / "letter_pairs.rs").read_text(encoding="utf-8")
    assert committed == letter_pairs.rust_source(letter_pairs.table(letter_pairs.vocabulary()))
