"""Browser-form uploads (S3 POST Object) against Shoal's S3 endpoint, run by s3-boto3.test.ts with
Debian's /usr/bin/python3: forms made by boto3's generate_presigned_post (SigV4) and one signed the
SigV2 way (HMAC-SHA1 of the policy, as ceph/s3-tests signs its forms), posted with python3-requests.

Reads SHOAL_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, SHOAL_BUCKET from the environment,
checks every answer itself and exits non-zero with a message on the first mismatch.
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import xml.etree.ElementTree as ET

import requests
from botocore.exceptions import ClientError

from scenario_common import bucket, check, endpoint, s3

secret = os.environ["AWS_SECRET_ACCESS_KEY"]


def error_code(response):
    try:
        return ET.fromstring(response.content).findtext("Code")
    except ET.ParseError:
        return None


def missing(key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return False
    except ClientError as e:
        return e.response["Error"]["Code"] in ("404", "NoSuchKey")


s3.create_bucket(Bucket=bucket)
policy_fields = {"Content-Type": "text/plain", "x-amz-meta-color": "blue", "success_action_status": "201"}
conditions = [["starts-with", "$key", "uploads/"], {"Content-Type": "text/plain"}, {"x-amz-meta-color": "blue"},
              {"success_action_status": "201"}, ["content-length-range", 1, 1024]]
post = s3.generate_presigned_post(bucket, "uploads/${filename}", Fields=policy_fields, Conditions=conditions, ExpiresIn=600)

# A form within its policy: stored under the file's name, 201 with a PostResponse.
r = requests.post(post["url"], data=post["fields"], files={"file": ("hello.txt", b"hello from a form")})
check(r.status_code == 201, f"signed form upload answered {r.status_code}: {r.text}")
check(ET.fromstring(r.content).findtext("Key") == "uploads/hello.txt", f"PostResponse key: {r.text}")
got = s3.get_object(Bucket=bucket, Key="uploads/hello.txt")
check(got["Body"].read() == b"hello from a form", "form upload bytes")
check(got["ContentType"] == "text/plain" and got["Metadata"] == {"color": "blue"}, f"form upload headers: {got['ContentType']} {got['Metadata']}")
check(got["ETag"] == '"%s"' % hashlib.md5(b"hello from a form").hexdigest(), "form upload ETag")

# Breaking the policy stores nothing: too large, a field value it does not allow, a field it does not name.
r = requests.post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 2000)})
check(r.status_code == 400 and error_code(r) == "EntityTooLarge", f"oversized form file: {r.status_code} {r.text}")
check(missing("uploads/big.txt"), "oversized form file was stored")
fields = dict(post["fields"], **{"Content-Type": "text/html"})
r = requests.post(post["url"], data=fields, files={"file": ("html.txt", b"<b>")})
check(r.status_code == 403 and error_code(r) == "AccessDenied", f"field outside the policy: {r.status_code} {r.text}")
fields = dict(post["fields"], **{"x-amz-meta-extra": "1"})
r = requests.post(post["url"], data=fields, files={"file": ("extra.txt", b"e")})
check(r.status_code == 403 and error_code(r) == "AccessDenied", f"field without a condition: {r.status_code} {r.text}")
fields = dict(post["fields"], **{"x-amz-signature": "0" * 64})
r = requests.post(post["url"], data=fields, files={"file": ("sig.txt", b"s")})
check(r.status_code == 403 and error_code(r) == "SignatureDoesNotMatch", f"wrong signature: {r.status_code} {r.text}")
check(missing("uploads/html.txt") and missing("uploads/extra.txt") and missing("uploads/sig.txt"), "a refused form stored its file")


# SigV2 forms, signed here as s3-tests signs them.
def v2_form(key, expires_in, extra_conditions=()):
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = {"expiration": expiration, "conditions": [{"bucket": bucket}, ["starts-with", "$key", ""], *extra_conditions]}
    encoded = base64.b64encode(json.dumps(policy).encode())
    signature = base64.b64encode(hmac.new(secret.encode(), encoded, hashlib.sha1).digest())
    return {"key": key, "AWSAccessKeyId": os.environ["AWS_ACCESS_KEY_ID"], "policy": encoded, "signature": signature}


r = requests.post(f"{endpoint}/{bucket}", data=v2_form("v2/plain.bin", 600), files={"file": ("p", b"\x00\x01 v2 bytes")})
check(r.status_code == 204, f"SigV2 form: {r.status_code} {r.text}")
check(s3.get_object(Bucket=bucket, Key="v2/plain.bin")["Body"].read() == b"\x00\x01 v2 bytes", "SigV2 form bytes")
r = requests.post(f"{endpoint}/{bucket}", data=v2_form("v2/late.bin", -60), files={"file": ("p", b"late")})
check(r.status_code == 403 and error_code(r) == "AccessDenied" and "expired" in r.text, f"expired policy: {r.status_code} {r.text}")
r = requests.post(f"{endpoint}/{bucket}", data={"key": "v2/anonymous.bin"}, files={"file": ("p", b"anon")})
check(r.status_code == 403 and error_code(r) == "AccessDenied", f"anonymous form: {r.status_code} {r.text}")
r = requests.post(f"{endpoint}/{bucket}", data=v2_form("v2/acl.bin", 600, [{"acl": "public-read"}]) | {"acl": "public-read"}, files={"file": ("p", b"acl")})
check(r.status_code == 400 and error_code(r) == "AccessControlListNotSupported", f"public-read form: {r.status_code} {r.text}")
check(missing("v2/late.bin") and missing("v2/anonymous.bin") and missing("v2/acl.bin"), "a refused SigV2 form stored its file")

print("post scenario: ok")
