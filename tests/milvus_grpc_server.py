"""Milvus Lite's gRPC server (the Milvus protocol) as its own process, optionally with a token
check and TLS.

Milvus Lite's server checks no credentials; a Milvus server with ``authorizationEnabled`` refuses
every call whose ``authorization`` metadata is not ``base64(token)``. This wraps Milvus Lite's own
servicer in a gRPC interceptor that does the same, so the tests can see credentials arrive.

    python milvus_grpc_server.py DATA_DIR [--token USER:PASSWORD] [--tls CERT KEY]

It listens on a free loopback port and prints ``listening PORT``.
"""

from __future__ import annotations

import argparse
import base64
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from milvus_lite.adapter.grpc.servicer import MilvusServicer
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2_grpc


class RequireToken(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self.expected = base64.b64encode(token.encode()).decode()

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "auth check failure, please check username and password")

        self.deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        got = dict(details.invocation_metadata).get("authorization")
        return continuation(details) if got == self.expected else self.deny


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--token", default="")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()
    db = MilvusLite(args.data_dir)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[RequireToken(args.token)] if args.token else [],
    )
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    if args.tls:
        cert, key = (Path(p).read_bytes() for p in args.tls)
        bound = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)]))
    else:
        bound = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening {bound}", flush=True)
    try:
        server.wait_for_termination()
    finally:
        db.close()


if __name__ == "__main__":
    main()
