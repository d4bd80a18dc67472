"""How gs:// and az:// options and environment variables become pyarrow's settings."""

from __future__ import annotations

import pytest

from qdrant_ops.errors import ConfigError
from qdrant_ops.repository.cloudfs import _authorities, azure_filesystem, gcs_filesystem, parse_connection_string
from qdrant_ops.secrets import redact

_AZURE_ENV = ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY",
              "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING")


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _AZURE_ENV:
        monkeypatch.delenv(name, raising=False)


def test_connection_string_values_keep_their_equals_signs() -> None:
    text = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5==;EndpointSuffix=core.windows.net"
    assert parse_connection_string(text) == {"DefaultEndpointsProtocol": "https", "AccountName": "acct",
                                             "AccountKey": "a2V5==", "EndpointSuffix": "core.windows.net"}


def test_blob_endpoint_host_becomes_pyarrow_authorities() -> None:
    # An account's own host: pyarrow puts the account before an authority starting with '.'.
    assert _authorities("acct.blob.core.windows.net", "acct") == (".blob.core.windows.net", ".dfs.core.windows.net")
    # An emulator: path style, one port for both services.
    assert _authorities("127.0.0.1:10000", "devstoreaccount1") == ("127.0.0.1:10000", "127.0.0.1:10000")


def test_connection_string_key_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    key = "c2VjcmV0LWFjY291bnQta2V5LWZvci10ZXN0cw=="
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", f"AccountName=acct;AccountKey={key};EndpointSuffix=x.net")
    azure_filesystem({})  # makes no request
    assert key not in redact(f"failed with {key}")


def test_missing_account_and_unknown_options_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    with pytest.raises(ConfigError, match="account_name"):
        azure_filesystem({})
    with pytest.raises(ConfigError, match="region"):
        azure_filesystem({"account_name": "acct", "region": "eu"})
    with pytest.raises(ConfigError, match="secret_key"):
        gcs_filesystem({"secret_key": "x"})
    with pytest.raises(ConfigError, match="not a URL"):
        gcs_filesystem({"endpoint_url": "http://"})


def _settings(fs: object) -> dict[str, str]:
    return dict(fs.__reduce__()[1][0])  # type: ignore[attr-defined]


def test_connection_string_endpoints_reach_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=acct;"
                       "AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn")
    got = _settings(azure_filesystem({}))
    keys = ("account_name", "blob_storage_authority", "dfs_storage_authority", "blob_storage_scheme")
    assert [got[k] for k in keys] == ["acct", ".blob.core.chinacloudapi.cn", ".dfs.core.chinacloudapi.cn", "https"]
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;SharedAccessSignature=sv=2021&sig=abc;"
                       "BlobEndpoint=https://acct.blob.core.windows.net/")
    got = _settings(azure_filesystem({}))
    assert (got["blob_storage_authority"], got["dfs_storage_authority"], got["sas_token"]) == (
        ".blob.core.windows.net", ".dfs.core.windows.net", "?sv=2021&sig=abc")
    # An option given wins over the environment's credentials, whole.
    got = _settings(azure_filesystem({"account_name": "other", "sas_token": "sv=1&sig=x"}))
    assert (got["account_name"], got["account_key"], got["sas_token"]) == ("other", "", "?sv=1&sig=x")
