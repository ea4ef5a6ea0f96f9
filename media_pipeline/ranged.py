"""A stored S3 object read as a seekable file, a ranged GET at a time.

The header checks look at a few kilobytes of the head and of the tail of a file; reading an
object this way lets a worker check a 200 MB upload without fetching it whole first.
"""

import io


class RangedObject(io.RawIOBase):
    """Read-only, seekable view of one S3 object; each read is one `Range` request."""

    def __init__(self, client, bucket: str, key: str, size: int):
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.position = 0
        self.fetched = 0  # bytes read from the media host, for tests and logs

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        if self.position >= self.size or not len(buffer):
            return 0
        end = min(self.size, self.position + len(buffer)) - 1
        response = self.client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end}"
        )
        data = response["Body"].read()
        buffer[: len(data)] = data
        self.position += len(data)
        self.fetched += len(data)
        return len(data)


def open_ranged(client, bucket: str, key: str, size: int, *, buffer: int = 64 * 1024):
    """The object as a buffered binary file: small reads share one request of `buffer` bytes."""
    return io.BufferedReader(RangedObject(client, bucket, key, size), buffer_size=buffer)
