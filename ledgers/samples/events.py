"""CAP-67 unified events as stellar-core emits them from protocol 23 on (REFERENCE §3).

Token movements use the Stellar Asset Contract format and carry the asset's SAC contract id for the network:
``["fee", from]``, ``["transfer", from, to, asset]``, ``["mint", to, asset]`` (the protocol-23 layout, without
the admin), ``["burn", from, asset]``; amounts are i128 data. Money leaving the issuer of an asset is minted and
money reaching it is burnt, which `TokenEvents.move` decides so callers only say who paid whom.
"""

from __future__ import annotations

from stellar_sdk import Asset
from stellar_sdk import xdr as x

from .keys import Cast
from .xdrkit import address, asset_string, contract_id_xdr, i128, string, sym

CONTRACT_EVENT = x.ContractEventType.CONTRACT
BEFORE_ALL_TXS = x.TransactionEventStage.TRANSACTION_EVENT_STAGE_BEFORE_ALL_TXS
AFTER_ALL_TXS = x.TransactionEventStage.TRANSACTION_EVENT_STAGE_AFTER_ALL_TXS


def contract_event(contract: str, topics: list[x.SCVal], data: x.SCVal) -> x.ContractEvent:
    """A ``CONTRACT`` event emitted by contract ``contract`` (``C…``)."""
    return x.ContractEvent(
        x.ExtensionPoint(0),
        contract_id_xdr(contract),
        CONTRACT_EVENT,
        x.ContractEventBody(0, v0=x.ContractEventV0(topics, data)),
    )


class TokenEvents:
    """Builds the SAC-format events of one network's assets."""

    def __init__(self, cast: Cast) -> None:
        self._cast = cast

    def _emit(self, asset: Asset, topics: list[x.SCVal], amount: int) -> x.ContractEvent:
        return contract_event(self._cast.sac(asset), topics, i128(amount))

    def fee(self, payer: str, amount: int) -> x.ContractEvent:
        """A fee charge (positive) or refund (negative), always in XLM."""
        return self._emit(self._cast.native, [sym("fee"), address(payer)], amount)

    def transfer(self, asset: Asset, sender: str, receiver: str, amount: int) -> x.ContractEvent:
        return self._emit(
            asset, [sym("transfer"), address(sender), address(receiver), string(asset_string(asset))], amount
        )

    def mint(self, asset: Asset, receiver: str, amount: int) -> x.ContractEvent:
        return self._emit(asset, [sym("mint"), address(receiver), string(asset_string(asset))], amount)

    def burn(self, asset: Asset, sender: str, amount: int) -> x.ContractEvent:
        return self._emit(asset, [sym("burn"), address(sender), string(asset_string(asset))], amount)

    def move(self, asset: Asset, sender: str, receiver: str, amount: int) -> x.ContractEvent:
        """The event of `amount` going from `sender` to `receiver`: mint from the issuer, burn to it."""
        issuer = None if asset.is_native() else asset.issuer
        if sender == issuer and receiver != issuer:
            return self.mint(asset, receiver, amount)
        if receiver == issuer and sender != issuer:
            return self.burn(asset, sender, amount)
        return self.transfer(asset, sender, receiver, amount)


def transaction_event(stage: x.TransactionEventStage, event: x.ContractEvent) -> x.TransactionEvent:
    return x.TransactionEvent(stage, event)
