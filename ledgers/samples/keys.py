"""Who appears in the sample ledgers: named accounts, contracts and assets, all derived from fixed seeds.

Every key is ``sha256(b"obsrvr-sample-<name>")`` (an ed25519 seed for accounts, the contract id itself for
contracts), so the samples are byte-for-byte reproducible and the demo can name its actors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from stellar_sdk import Asset, Keypair, LiquidityPoolAsset, StrKey

from .xdrkit import asset_string, sha256

ACCOUNT_NAMES = ("treasury", "issuer", "market_maker", "alice", "bob", "carol")
CONTRACT_NAMES = ("amm", "vault")  # a custom (non-SAC) AMM contract, and a contract that holds USDC
VALIDATOR_NAME = "validator"  # signs the ledgers' SCP values
ASSET_CODES = ("USDC", "EURC")  # both issued by `issuer`
POOL_FEE_BP = 30  # the only constant-product fee the network allows


def keypair(name: str) -> Keypair:
    """The deterministic keypair of a named sample account."""
    return Keypair.from_raw_ed25519_seed(sha256(b"obsrvr-sample-" + name.encode()))


def contract_strkey(name: str) -> str:
    """The deterministic ``C…`` id of a named sample contract."""
    return StrKey.encode_contract(sha256(b"obsrvr-sample-contract-" + name.encode()))


@dataclass(frozen=True)
class Cast:
    """The actors of the samples for one network: accounts, contracts, assets and their SAC contract ids."""

    network_passphrase: str

    @cached_property
    def keypairs(self) -> dict[str, Keypair]:
        return {name: keypair(name) for name in (*ACCOUNT_NAMES, VALIDATOR_NAME)}

    @cached_property
    def accounts(self) -> dict[str, str]:
        """Account name → ``G…``."""
        return {name: self.keypairs[name].public_key for name in ACCOUNT_NAMES}

    @cached_property
    def contracts(self) -> dict[str, str]:
        """Contract name → ``C…`` (custom contracts only; SAC ids are in `asset_contracts`)."""
        return {name: contract_strkey(name) for name in CONTRACT_NAMES}

    def signer(self, public_key: str) -> Keypair:
        """The keypair of a sample account, by its ``G…``."""
        for keypair_ in self.keypairs.values():
            if keypair_.public_key == public_key:
                return keypair_
        raise KeyError(public_key)

    def account(self, name: str) -> str:
        return self.accounts[name]

    def contract(self, name: str) -> str:
        return self.contracts[name]

    @cached_property
    def assets(self) -> dict[str, Asset]:
        """Code → issued asset (``native`` → XLM)."""
        issuer = self.accounts["issuer"]
        out = {"native": Asset.native()}
        out.update({code: Asset(code, issuer) for code in ASSET_CODES})
        return out

    @property
    def native(self) -> Asset:
        return self.assets["native"]

    @property
    def usdc(self) -> Asset:
        return self.assets["USDC"]

    @property
    def eurc(self) -> Asset:
        return self.assets["EURC"]

    @cached_property
    def asset_contracts(self) -> dict[str, str]:
        """SEP-11 asset string → its Stellar Asset Contract id on this network."""
        return {
            asset_string(asset): asset.contract_id(self.network_passphrase) for asset in self.assets.values()
        }

    def sac(self, asset: Asset) -> str:
        return self.asset_contracts[asset_string(asset)]

    @cached_property
    def pool(self) -> LiquidityPoolAsset:
        """The EURC/USDC constant-product pool (assets in the protocol's canonical order)."""
        return LiquidityPoolAsset(self.eurc, self.usdc, POOL_FEE_BP)

    @cached_property
    def pool_id(self) -> bytes:
        return bytes.fromhex(self.pool.liquidity_pool_id)

    @cached_property
    def pool_strkey(self) -> str:
        return StrKey.encode_liquidity_pool(self.pool_id)
