"""Upload one ~100 MB Parquet file to moto on loopback with pyarrow.fs, s3fs and obstore.

Run: ``.venv/bin/python benchmarks/upload_libraries.py`` (best of two per library). The figures
and the choice they led to are in benchmarks/README.md, "Object-store library".
"""
import os
import resource
import time

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from moto.server import ThreadedMotoServer

os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0); srv.start()
host, port = srv.get_host_and_port(); url = f"http://{host}:{port}"
boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
import tempfile

path = os.path.join(tempfile.gettempdir(), "qdrant-ops-upload-bench.parquet")
if not os.path.exists(path):
    rng = np.random.default_rng(0)
    arr = rng.random((70000, 384), dtype=np.float32)
    t = pa.table({"v": pa.FixedSizeListArray.from_arrays(pa.array(arr.ravel()), 384)})
    pq.write_table(t, path, compression="zstd")
size = os.path.getsize(path); print("size MB", size / 1e6)
def run(name, fn):
    best = 1e9
    for _ in range(2):
        t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    print(f"{name}: {best:.2f}s {size/1e6/best:.0f} MB/s")
import pyarrow.fs as pafs

s3 = pafs.S3FileSystem(endpoint_override=url, scheme="http", access_key="testing", secret_key="testing", region="us-east-1")
run("pyarrow.fs copy_files", lambda: pafs.copy_files(path, "bench/pa.parquet", source_filesystem=pafs.LocalFileSystem(), destination_filesystem=s3, chunk_size=8<<20))
import s3fs

fs = s3fs.S3FileSystem(key="testing", secret="testing", client_kwargs={"endpoint_url": url})
run("s3fs put_file", lambda: fs.put_file(path, "bench/s3fs.parquet"))
import obstore
from obstore.store import S3Store

st = S3Store("bench", endpoint=url, access_key_id="testing", secret_access_key="testing", region="us-east-1", client_options={"allow_http": True})
def ob():
    with open(path, "rb") as fh:
        obstore.put(st, "ob.parquet", fh, chunk_size=8<<20)
run("obstore put", ob)
print("peak RSS MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
srv.stop()
