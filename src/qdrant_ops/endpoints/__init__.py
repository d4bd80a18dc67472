"""Where points live, behind one protocol: Qdrant (server, local, :memory:), Edge, a backup archive.

Open one with :func:`qdrant_ops.endpoints.open.open_endpoint`; parse an address with
:mod:`qdrant_ops.endpoints.uri`.
"""
