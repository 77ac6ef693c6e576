"""What the Python S3 scenarios share: the endpoint and bucket from the environment (SHOAL_S3_ENDPOINT,
SHOAL_BUCKET; keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), a boto3 client for it, and `check`,
which stops the scenario with a message on the first mismatch."""
import os
import sys

import boto3
from botocore.config import Config

endpoint = os.environ["SHOAL_S3_ENDPOINT"]
bucket = os.environ["SHOAL_BUCKET"]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"),
)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
