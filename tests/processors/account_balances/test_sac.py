"""Recognising Stellar Asset Contracts from what a ledger shows (`processors.account_balances.sac`)."""

from __future__ import annotations

from stellar_sdk import Asset

from ledgers.corpus import PUBNET
from ledgers.model import ContractDataEntry, Transaction
from ledgers.scval import scval_from_json
from processors.account_balances.sac import resolve_sac_assets

USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
EURC = "EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2"
CUSTOM = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"


def sac(asset: str) -> str:
    code, _, issuer = asset.partition(":")
    return (Asset.native() if asset == "native" else Asset(code, issuer)).contract_id(PUBNET)


def instance(contract: str, name: str, executable: dict[str, object]) -> ContractDataEntry:
    value = scval_from_json(
        {
            "contract_instance": {
                "executable": executable,
                "storage": [
                    {
                        "key": {"symbol": "METADATA"},
                        "val": {
                            "map": [
                                {"key": {"symbol": "decimal"}, "val": {"u32": 7}},
                                {"key": {"symbol": "name"}, "val": {"string": name}},
                                {"key": {"symbol": "symbol"}, "val": {"string": name.split(":")[0]}},
                            ]
                        },
                    }
                ],
            }
        }
    )
    key = scval_from_json({"ledger_key_contract_instance": None})
    return ContractDataEntry(contract, key, "persistent", value, "00" * 32, 1)


def test_native_and_classic_assets_prove_their_contracts() -> None:
    contracts: dict[str, list[Transaction]] = {sac("native"): [], sac(USDC): [], CUSTOM: []}
    found = resolve_sac_assets(contracts, {}, [USDC, "pool_share:LXXX"], PUBNET)
    assert found == {sac("native"): "native", sac(USDC): USDC}  # the custom token never proves out


def test_a_sac_instance_names_its_asset() -> None:
    entry = instance(sac(EURC), EURC, {"stellar_asset": None})
    assert resolve_sac_assets({sac(EURC): []}, {sac(EURC): entry}, [], PUBNET) == {sac(EURC): EURC}


def test_a_wasm_contract_claiming_an_asset_name_is_not_a_sac() -> None:
    entry = instance(CUSTOM, USDC, {"wasm": "ab" * 32})
    assert resolve_sac_assets({CUSTOM: []}, {CUSTOM: entry}, [USDC], PUBNET) == {}
