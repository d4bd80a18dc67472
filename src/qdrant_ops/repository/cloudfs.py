"""gs:// and az:// filesystems from storage options and each cloud's usual environment.

GCS: Google's default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application-default
login, the metadata server), or ``anonymous=true``; ``endpoint_url`` or STORAGE_EMULATOR_HOST for
an emulator or a GCS-compatible store (plain http there goes without credentials, as Google's
clients do with an emulator).

Azure: the storage account comes from ``account_name``, AZURE_STORAGE_ACCOUNT_NAME (or the CLI's
AZURE_STORAGE_ACCOUNT), AZURE_STORAGE_CONNECTION_STRING, or an ``abfs://container@account...``
URL. Credentials: ``account_key`` / ``sas_token`` / ``client_id`` + ``client_secret`` +
``tenant_id`` options, else AZURE_STORAGE_ACCOUNT_KEY (AZURE_STORAGE_KEY), AZURE_STORAGE_SAS_TOKEN
or the connection string, else Azure's DefaultAzureCredential (AZURE_CLIENT_ID/AZURE_TENANT_ID/
AZURE_CLIENT_SECRET, workload identity, managed identity, Azure CLI login), which pyarrow runs.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from qdrant_ops.errors import ConfigError
from qdrant_ops.secrets import register_secret

GCS_OPTIONS = ("anonymous", "project_id", "target_service_account", "default_bucket_location")
AZURE_CREDENTIALS = ("account_key", "sas_token", "client_id", "client_secret", "tenant_id")
AZURE_OPTIONS = ("account_name", *AZURE_CREDENTIALS, "blob_storage_authority", "blob_storage_scheme",
                 "dfs_storage_authority", "dfs_storage_scheme")
# Google's client otherwise retries a failing call for minutes (docs/backup-repositories.md): a
# short spell here, then the pipeline's own retry policy (store.storage_call).
GCS_RETRY_LIMIT = timedelta(seconds=2)
_TRUE = ("1", "true", "yes")


def _unknown(scheme: str, options: dict[str, str], known: tuple[str, ...]) -> None:
    for key in options:
        if key not in known and key != "endpoint_url":
            raise ConfigError(f"unknown storage option {key!r} for {scheme}:// (known: endpoint_url, "
                              f"{', '.join(sorted(known))})")


def _endpoint(url: str) -> tuple[str, str]:
    """``http://host:port`` (or ``host:port``) -> (authority, scheme)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if not parts.netloc:
        raise ConfigError(f"endpoint_url is not a URL: {url!r}")
    return parts.netloc, parts.scheme or "https"


def gcs_filesystem(options: dict[str, str]) -> Any:
    import pyarrow.fs as pafs

    _unknown("gs", options, GCS_OPTIONS)
    kwargs: dict[str, Any] = {k: v for k, v in options.items() if k in GCS_OPTIONS}
    endpoint = options.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")
    if endpoint:
        kwargs["endpoint_override"], kwargs["scheme"] = _endpoint(endpoint)
    # Over plain http (an emulator) no credential is sent, as Google's own clients do there.
    plain = kwargs.get("scheme") == "http"
    kwargs["anonymous"] = options.get("anonymous", "true" if plain else "").lower() in _TRUE
    kwargs["retry_time_limit"] = GCS_RETRY_LIMIT
    return pafs.GcsFileSystem(**kwargs)


def parse_connection_string(text: str) -> dict[str, str]:
    """Azure's ``Key=value;Key=value`` connection string -> dict (values may hold '=')."""
    out: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.strip().partition("=")
        if sep and key:
            out[key] = value
    return out


def azure_filesystem(options: dict[str, str], account_hint: str | None = None) -> Any:
    import pyarrow.fs as pafs

    _unknown("az", options, AZURE_OPTIONS)
    env = os.environ
    conn_text = env.get("AZURE_STORAGE_CONNECTION_STRING", "")
    conn = parse_connection_string(conn_text)
    register_secret(conn_text)
    register_secret(conn.get("AccountKey"))
    register_secret(conn.get("SharedAccessSignature"))
    kwargs: dict[str, Any] = {k: v for k, v in options.items() if k in AZURE_OPTIONS}

    account = (kwargs.get("account_name") or account_hint or env.get("AZURE_STORAGE_ACCOUNT_NAME")
               or env.get("AZURE_STORAGE_ACCOUNT") or conn.get("AccountName"))
    if not account:
        raise ConfigError("az:// needs the storage account: --storage-option account_name=NAME, "
                          "AZURE_STORAGE_ACCOUNT_NAME or AZURE_STORAGE_CONNECTION_STRING")
    kwargs["account_name"] = account
    # Credentials given as options win whole; otherwise the environment's, then Azure's default chain.
    if not any(k in kwargs for k in AZURE_CREDENTIALS):
        key = env.get("AZURE_STORAGE_ACCOUNT_KEY") or env.get("AZURE_STORAGE_KEY") or conn.get("AccountKey")
        sas = env.get("AZURE_STORAGE_SAS_TOKEN") or conn.get("SharedAccessSignature")
        if key:
            kwargs["account_key"] = key
        elif sas:
            kwargs["sas_token"] = sas
    for name in AZURE_CREDENTIALS:
        register_secret(kwargs.get(name))
    if kwargs.get("sas_token") and not kwargs["sas_token"].startswith("?"):
        # pyarrow appends the token to each URL as given: without its '?' it lands in the path.
        kwargs["sas_token"] = "?" + kwargs["sas_token"]

    endpoint = options.get("endpoint_url") or conn.get("BlobEndpoint")
    if endpoint and "blob_storage_authority" not in kwargs:
        authority, scheme = _endpoint(endpoint)
        blob, dfs = _authorities(authority, account)
        kwargs.update(blob_storage_authority=blob, blob_storage_scheme=scheme)
        kwargs.setdefault("dfs_storage_authority", dfs)
        kwargs.setdefault("dfs_storage_scheme", scheme)
    elif conn.get("EndpointSuffix") and "blob_storage_authority" not in kwargs:
        kwargs["blob_storage_authority"] = f".blob.{conn['EndpointSuffix']}"
        kwargs.setdefault("dfs_storage_authority", f".dfs.{conn['EndpointSuffix']}")
    if conn.get("DefaultEndpointsProtocol") and "blob_storage_scheme" not in kwargs:
        kwargs["blob_storage_scheme"] = conn["DefaultEndpointsProtocol"]
        kwargs.setdefault("dfs_storage_scheme", conn["DefaultEndpointsProtocol"])
    return pafs.AzureFileSystem(**kwargs)


def _authorities(authority: str, account: str) -> tuple[str, str]:
    """The blob and Data Lake authorities pyarrow wants for an endpoint's ``host[:port]``.

    pyarrow puts the account before an authority that starts with '.', and after one that does
    not (an emulator's path style). ``account.blob.core.windows.net`` is the first kind, and its
    Data Lake twin is ``.dfs.``; an emulator (Azurite) serves both APIs on one port.
    """
    if authority.startswith(f"{account}."):
        blob = authority[len(account):]
        return blob, blob.replace(".blob.", ".dfs.", 1)
    return authority, authority
