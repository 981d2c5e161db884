from __future__ import annotations

import stat
from pathlib import Path

import pytest

from specrunner.errors import WalletError
from specrunner.wallet import ENV_VAR, load_wallet

KEY = "0x" + "11" * 32
ADDRESS = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"


def test_environment_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, KEY)
    wallet = load_wallet(tmp_path)
    assert wallet.signer.address == ADDRESS and wallet.source == "environment"
    assert not (tmp_path / "wallet.key").exists()


def test_development_key_created_once_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    first = load_wallet(tmp_path / "home")
    second = load_wallet(tmp_path / "home")
    assert first.created and not second.created
    assert first.signer.address == second.signer.address
    mode = stat.S_IMODE((tmp_path / "home" / "wallet.key").stat().st_mode)
    assert mode == 0o600


def test_key_readable_by_others_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    load_wallet(tmp_path)
    (tmp_path / "wallet.key").chmod(0o644)
    with pytest.raises(WalletError, match="chmod 600"):
        load_wallet(tmp_path)


def test_bad_key_error_never_shows_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "0x" + "zz" * 32
    monkeypatch.setenv(ENV_VAR, secret)
    with pytest.raises(WalletError) as caught:
        load_wallet(tmp_path)
    assert secret not in str(caught.value) and "zz" not in str(caught.value)


def test_signer_repr_hides_the_key() -> None:
    from specrunner.ocean.signing import Signer

    signer = Signer.from_key(KEY)
    assert "11" * 8 not in repr(signer) and ADDRESS in repr(signer)
