"""Milvus Lite's gRPC server (the Milvus protocol) as its own process, optionally requiring a token.

Milvus Lite's server checks no credentials; a Milvus server with ``authorizationEnabled`` refuses
every call whose ``authorization`` metadata is not ``base64(token)``. This wraps Milvus Lite's own
servicer in a gRPC interceptor that does the same, so the tests can see credentials arrive.

    python milvus_grpc_server.py DATA_DIR PORT [TOKEN]     (PORT 0: a free port, printed)
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from concurrent import futures
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
    data_dir, port = sys.argv[1], int(sys.argv[2])
    token = sys.argv[3] if len(sys.argv) > 3 else ""
    db = MilvusLite(data_dir)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[RequireToken(token)] if token else [],
    )
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")  # port 0: a free one, said on stdout
    server.start()
    print(f"listening {bound}", flush=True)
    try:
        server.wait_for_termination()
    finally:
        db.close()


if __name__ == "__main__":
    main()
