"""A boto3 scenario against Shoal's S3 endpoint (run by s3-boto3.test.ts with Debian's /usr/bin/python3).

Reads SHOAL_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, SHOAL_BUCKET from the environment,
checks every answer itself and exits non-zero with a message on the first mismatch.
"""
import hashlib
import urllib.request

from botocore.exceptions import ClientError

from scenario_common import bucket, check, endpoint, s3



s3.create_bucket(Bucket=bucket)
check(bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]], "list_buckets shows the new bucket")

data = hashlib.sha256(b"seed").digest() * 40000  # 1.28 MB, two segments on the test network
s3.put_object(Bucket=bucket, Key="docs/report.bin", Body=data, Metadata={"team": "shoal"}, ContentType="application/x-report")
got = s3.get_object(Bucket=bucket, Key="docs/report.bin")
check(got["Body"].read() == data, "get_object returns the same bytes")
check(got["Metadata"] == {"team": "shoal"}, "user metadata round-trips")
check(got["ContentType"] == "application/x-report", "content type round-trips")
check(got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest(), "ETag is the MD5 of the bytes")

part = s3.get_object(Bucket=bucket, Key="docs/report.bin", Range="bytes=1000-1999")["Body"].read()
check(part == data[1000:2000], "ranged get")

for k in ["docs/a.txt", "docs/b.txt", "img/x.png", "top.txt"]:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
check([c["Key"] for c in listing.get("Contents", [])] == ["top.txt"], "top-level keys")
check([p["Prefix"] for p in listing.get("CommonPrefixes", [])] == ["docs/", "img/"], "common prefixes")
paged = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="docs/", PaginationConfig={"PageSize": 1})
check([o["Key"] for page in paged for o in page.get("Contents", [])] == ["docs/a.txt", "docs/b.txt", "docs/report.bin"], "paginated listing")

# Multipart through boto3's transfer manager: 11 MiB in 5 MiB parts.
from boto3.s3.transfer import TransferConfig
import io
big = hashlib.sha512(b"multi").digest() * (11 * 1024 * 1024 // 64)
s3.upload_fileobj(io.BytesIO(big), bucket, "multi/big.bin", Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
check(s3.head_object(Bucket=bucket, Key="multi/big.bin")["ETag"].endswith('-3"'), "upload_fileobj went multipart in 3 parts")
out = io.BytesIO()
s3.download_fileobj(bucket, "multi/big.bin", out)
check(out.getvalue() == big, "multipart object reads back exact")

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "top.txt"}, ExpiresIn=60)
with urllib.request.urlopen(url) as r:
    check(r.read() == b"top.txt", "presigned GET")

try:
    s3.get_object(Bucket=bucket, Key="missing")
    check(False, "missing key raises")
except ClientError as e:
    check(e.response["Error"]["Code"] == "NoSuchKey", "missing key is NoSuchKey")

keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
check(sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys), "delete_objects deletes every key")
s3.delete_bucket(Bucket=bucket)
check(bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]], "bucket is gone")
print("boto3 scenario: ok")
