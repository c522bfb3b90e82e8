"""Event layouts and asset rules, on hand-built events: the layouts the corpus does not hold are covered here
(pre-protocol-23 SAC ``clawback`` with an admin, a fake SAC event, i128 amounts, malformed topics)."""

from __future__ import annotations

from typing import Any

import pytest
from stellar_sdk import Asset

from ledgers.corpus import PUBNET, TESTNET
from ledgers.model import ContractEvent
from ledgers.scval import ScValue, scval_from_json
from processors.token_transfers import events
from processors.token_transfers.assets import classify, format_amount
from processors.token_transfers.events import read_movement, topic_reads

ADMIN = "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU"
ALICE = "GA762CKLXV2SQSE2HJQMQVRRZBUEZPARNHLMBS3NFCSITMLSGSXE7ZJN"
BOB = "GALHHYP23D6TNX653MBMYH7MYTAF7XL5TT3MLMBI3FZ4F56OMCJ7LYMC"
ISSUER = "GDUKMGUGDZQK6YHYA5Z6AY2G4XDSZPSZ3SW5UN3ARVMO6QSRDWP5YLEX"
USD = f"USD:{ISSUER}"
USD_SAC = Asset("USD", ISSUER).contract_id(PUBNET)
TOKEN = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"


def event(contract: str, name: str, *topics: Any, data: Any) -> ContractEvent:
    """A contract event; topics that look like SEP-11 asset strings become strings, the others addresses."""
    values = [scval_from_json({"symbol": name})]
    for topic in topics:
        is_asset = topic == "native" or ":" in topic
        values.append(scval_from_json({"string": topic} if is_asset else {"address": topic}))
    return ContractEvent("contract", contract, tuple(values), scval_from_json(data))


@pytest.mark.parametrize(
    ("name", "topics", "expected"),
    [
        ("transfer", (ALICE, BOB, USD), ("transfer", ALICE, BOB, USD)),
        ("mint", (BOB, USD), ("mint", None, BOB, USD)),
        ("mint", (ADMIN, BOB, USD), ("mint", None, BOB, USD)),  # before protocol 23: admin named
        ("burn", (ALICE, USD), ("burn", ALICE, None, USD)),
        ("clawback", (ALICE, USD), ("clawback", ALICE, None, USD)),
        ("clawback", (ADMIN, ALICE, USD), ("clawback", ALICE, None, USD)),  # before protocol 23
        ("transfer", (ALICE, BOB), ("transfer", ALICE, BOB, None)),  # SEP-41 token: no asset topic
        ("mint", (ADMIN, BOB), ("mint", None, BOB, None)),
    ],
)
def test_topic_layouts(name: str, topics: tuple[str, ...], expected: tuple[Any, ...]) -> None:
    movement = read_movement(event(USD_SAC, name, *topics, data={"i128": "5"}), name)
    assert movement is not None
    assert (movement.event_type, movement.from_, movement.to, movement.asset_string) == expected
    assert movement.amount == 5


@pytest.mark.parametrize(
    ("name", "topics", "data"),
    [
        ("transfer", (ALICE, USD), {"i128": "5"}),  # one address
        ("burn", (ADMIN, ALICE, USD), {"i128": "5"}),  # burn never names an admin
        ("transfer", (ALICE, BOB, USD), {"symbol": "x"}),  # no amount
        ("transfer", (ALICE, BOB, USD), {"map": [{"key": {"symbol": "to_muxed_id"}, "val": {"u64": "1"}}]}),
    ],
)
def test_layouts_that_are_not_movements(name: str, topics: tuple[str, ...], data: Any) -> None:
    assert read_movement(event(USD_SAC, name, *topics, data=data), name) is None


def test_map_data_carries_the_muxed_id_or_memo() -> None:
    def with_muxed(val: Any) -> ContractEvent:
        data = {
            "map": [
                {"key": {"symbol": "amount"}, "val": {"i128": str(2**100)}},
                {"key": {"symbol": "to_muxed_id"}, "val": val},
            ]
        }
        return event(USD_SAC, "transfer", ALICE, BOB, USD, data=data)

    cases = [({"u64": "18446744073709551615"}, "18446744073709551615"), ({"string": "memo"}, "memo")]
    cases.append(({"bytes": "ab" * 32}, "ab" * 32))
    for val, text in cases:
        movement = read_movement(with_muxed(val), "transfer")
        assert movement is not None and movement.amount == 2**100 and movement.to_muxed_id == text


def test_asset_is_classic_only_for_the_assets_own_contract() -> None:
    assert classify(USD_SAC, USD, PUBNET).asset == USD
    assert classify(USD_SAC, USD, PUBNET).asset_type == "credit_alphanum4"
    # The same event from another contract (or on another network) is a custom token: its contract is the asset.
    fake = classify(TOKEN, USD, PUBNET)
    assert (fake.asset, fake.asset_type, fake.decimals) == (TOKEN, "contract", None)
    assert classify(USD_SAC, USD, TESTNET).asset == USD_SAC
    assert classify(TOKEN, None, PUBNET).asset == TOKEN
    assert classify(TOKEN, "not an asset", PUBNET).asset == TOKEN
    native = classify(Asset.native().contract_id(PUBNET), "native", PUBNET)
    assert (native.asset, native.asset_type, native.decimals) == ("native", "native", 7)
    long_code = f"ABCDEFGHIJKL:{ISSUER}"
    assert classify(Asset("ABCDEFGHIJKL", ISSUER).contract_id(PUBNET), long_code, PUBNET).asset_type == (
        "credit_alphanum12"
    )


@pytest.mark.parametrize(
    ("raw", "decimals", "text"),
    [
        (0, 7, "0.0000000"),
        (100, 7, "0.0000100"),
        (-100, 7, "-0.0000100"),
        (123456700, 7, "12.3456700"),
        (2**127 - 1, 7, "17014118346046923173168730371588.4105727"),
        (2**127 - 1, None, str(2**127 - 1)),
    ],
)
def test_amount_text(raw: int, decimals: int | None, text: str) -> None:
    assert format_amount(raw, decimals) == text


def test_amount_text_is_the_divmod_formula() -> None:
    # format_amount splits padded digits (issue 16); the plain formula it replaced, on amounts around every
    # power of ten and both signs, for the decimals tokens use.
    for decimals in (1, 2, 6, 7, 8, 18, 38):
        for power in range(60):
            for raw in (10**power - 1, 10**power, 10**power + 7, -(10**power), -(10**power) + 1):
                whole, fraction = divmod(abs(raw), 10**decimals)
                expected = f"{'-' if raw < 0 else ''}{whole}.{fraction:0{decimals}d}"
                assert format_amount(raw, decimals) == expected, (raw, decimals)
    with pytest.raises(ValueError):
        format_amount(5, -1)


TOPIC_VALUES = [
    {"symbol": "transfer"},
    {"string": USD},
    {"string": "caf\u00e9 \ufffd"},
    {"address": ALICE},
    {"address": TOKEN},
    {"i128": "-5"},
    {"vec": [{"symbol": "a"}, {"u32": 1}]},
    {"map": [{"key": {"symbol": "amount"}, "val": {"i128": "5"}}]},
]


@pytest.mark.parametrize("typed", TOPIC_VALUES, ids=lambda v: next(iter(v)))
@pytest.mark.parametrize("from_bytes", [True, False], ids=["from-bytes", "sdk-value"])
def test_topic_reads_are_the_accessors_whether_kept_or_not(typed: Any, from_bytes: bool) -> None:
    """`topic_reads` keeps what it read per XDR: the same answers as the value's accessors, the first time and
    from the table; a value without its bytes at hand (stellar-sdk's decoder) is read as it is."""
    built = scval_from_json(typed)
    expected = (built.address, built.string, built.symbol)
    for _ in range(2):
        topic = ScValue.from_xdr_bytes(built.xdr) if from_bytes else scval_from_json(typed)
        assert topic_reads(topic) == expected


def test_the_table_of_topic_reads_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "_READS", {})
    monkeypatch.setattr(events, "_READS_MAX", 4)
    for number in range(10):
        value = ScValue.from_xdr_bytes(scval_from_json({"u32": number}).xdr)
        assert topic_reads(value) == (None, None, None)
        assert len(events._READS) <= 4
