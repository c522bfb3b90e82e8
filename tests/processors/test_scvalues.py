"""`processors.scvalues`: values with the same XDR decoded once, same answers as the values themselves."""

from __future__ import annotations

from ledgers.scval import ScValue, scval_from_json
from processors import scvalues


def _from_bytes(typed: object) -> ScValue:
    """A value as the fast decoder hands it out: its XDR only, decoded on first use."""
    return ScValue.from_xdr_bytes(scval_from_json(typed).xdr)


def test_values_with_the_same_xdr_share_one_decoded_value() -> None:
    first, second = _from_bytes({"symbol": "shared_test"}), _from_bytes({"symbol": "shared_test"})
    assert first is not second
    assert scvalues.shared(first) is scvalues.shared(second)
    assert scvalues.shared(first) == first
    assert scvalues.shared(_from_bytes({"symbol": "other_test"})) is not scvalues.shared(first)


def test_friendly_json_is_the_values_own_and_containers_are_never_shared() -> None:
    scalar = {"i128": "-170141183460469231731687303715884105728"}
    assert scvalues.friendly(_from_bytes(scalar)) == _from_bytes(scalar).to_json()
    assert scvalues.friendly(_from_bytes(scalar)) == "-170141183460469231731687303715884105728"
    vector = {"vec": [{"symbol": "Balance"}, {"u32": 7}]}
    one, two = scvalues.friendly(_from_bytes(vector)), scvalues.friendly(_from_bytes(vector))
    assert one == two == ["Balance", 7]
    one.append("changed")  # a row changing its list must not change another row's
    assert scvalues.friendly(_from_bytes(vector)) == ["Balance", 7]


def test_a_value_without_its_bytes_is_used_as_it_is() -> None:
    decoded = scval_from_json({"symbol": "transfer"})  # as the stellar-sdk decoder builds them: no XDR kept
    assert not decoded.has_xdr
    assert scvalues.shared(decoded) is decoded
    assert scvalues.friendly(decoded) == "transfer"


def test_base64_xdr_is_the_values_own() -> None:
    value = {"vec": [{"symbol": "b64_test"}, {"i128": "5"}]}
    assert scvalues.xdr_b64(_from_bytes(value)) == scval_from_json(value).xdr_b64
    assert scvalues.xdr_b64(_from_bytes(value)) == scvalues.xdr_b64(_from_bytes(value))
    assert scvalues.xdr_b64(scval_from_json(value)) == scval_from_json(value).xdr_b64


def test_all_three_forms_in_one_lookup() -> None:
    scalar, vector = {"symbol": "forms_test"}, {"vec": [{"symbol": "forms_test"}, {"u64": "9"}]}
    for typed in (scalar, vector):
        found = scvalues.friendly_and_b64(_from_bytes(typed))
        assert found is not None
        value, value_json, value_b64 = found
        assert value is scvalues.shared(_from_bytes(typed))
        assert value_json == _from_bytes(typed).to_json() and value_b64 == scval_from_json(typed).xdr_b64
    first, second = (
        scvalues.friendly_and_b64(_from_bytes(vector)),
        scvalues.friendly_and_b64(_from_bytes(vector)),
    )
    assert first is not None and second is not None and first[1] is not second[1]  # lists are never shared
    assert scvalues.friendly_and_b64(scval_from_json(scalar)) is None  # no bytes: read by the caller
