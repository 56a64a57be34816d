"""Object store on S3 or any S3-compatible endpoint, through boto3. Every write asks for server-side encryption
(SSE-S3 `AES256` by default, or `aws:kms` with a key id), presigned uploads included: the URL is signed with the
encryption header, so the uploader must send it (the API returns it in `upload_headers`). On a bucket with Object
Lock, `put_locked` writes versions that cannot be deleted or overwritten before their retain-until date."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


class S3ObjectStore:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str = "us-east-1", sse: str = "AES256", sse_kms_key_id: str | None = None) -> None:
        self.bucket = bucket
        self.encryption = {"ServerSideEncryption": sse} if sse else {}
        if sse == "aws:kms" and sse_kms_key_id:
            self.encryption["SSEKMSKeyId"] = sse_kms_key_id
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_stream(self, key: str, stream: BinaryIO) -> int:
        counted = _CountingReader(stream)
        # upload_fileobj streams in multipart chunks: the file is never held whole in memory.
        self.client.upload_fileobj(counted, self.bucket, self._key(key), ExtraArgs=self.encryption)
        return counted.count

    def put_file(self, key: str, path: Path) -> int:
        with open(path, "rb") as src:
            return self.put_stream(key, src)

    def put_bytes(self, key: str, data: bytes) -> int:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self.encryption)
        return len(data)

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def download(self, key: str, path: Path) -> None:
        self.client.download_file(self.bucket, self._key(key), str(path))

    def open_stream(self, key: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
                deleted += len(keys)
        return deleted

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix):]

    @cached_property
    def object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled (it can be turned on, never off: asked once per store)."""
        try:
            answer = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ObjectLockConfigurationNotFoundError":
                raise
            log.warning("bucket has no Object Lock: locked writes are ordinary objects that anyone allowed to "
                        "delete in it can remove", extra={"bucket": self.bucket})
            return False
        return answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def put_locked(self, key: str, data: bytes, mode: str, retain_until: datetime) -> str | None:
        lock = {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": retain_until} if self.object_lock else {}
        # S3 wants a checksum of a locked write's body; SHA-256 is asked for whatever the client's default.
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ChecksumAlgorithm="SHA256",
                               **self.encryption, **lock)
        return mode if lock else None

    def read_versions(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket,
                                                                          Prefix=self._key(prefix))
        for page in pages:
            for version in page.get("Versions", []):
                body = self.client.get_object(Bucket=self.bucket, Key=version["Key"],
                                              VersionId=version["VersionId"])["Body"].read()
                yield version["Key"][len(self.prefix):], body

    def presigned_put_url(self, key: str, expires_seconds: int) -> str | None:
        params = {"Bucket": self.bucket, "Key": self._key(key), **self.encryption}
        return self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_seconds)

    def upload_headers(self) -> dict[str, str]:
        """Headers a presigned PUT must carry: the encryption it was signed with."""
        headers = {"x-amz-server-side-encryption": self.encryption["ServerSideEncryption"]} if self.encryption else {}
        if "SSEKMSKeyId" in self.encryption:
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.encryption["SSEKMSKeyId"]
        return headers


class _CountingReader(io.RawIOBase):
    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.count += len(data)
        return data
