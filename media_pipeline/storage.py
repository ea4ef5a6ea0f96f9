"""The S3 media host's storage: django-storages' S3Storage with one boto3 session per process.

S3Storage opens a boto3 session, and from it a resource, for every thread that touches the
storage; each session loads and keeps its own copy of the S3 service model (about 12 MB). A
gunicorn process of 4 threads that signs URLs (every gallery page does) paid that 4 times.
Here the threads share one session, so the model is loaded once; each thread still gets its
own resource (boto3's resources are not thread-safe, its sessions are not either while
they make one: hence the lock).
"""

import threading

from storages.backends.s3 import S3Storage


class MediaS3Storage(S3Storage):
    _making = threading.RLock()

    def _create_session(self):
        with self._making:
            session = self.__dict__.get("_shared_session")
            if session is None:
                session = self._shared_session = super()._create_session()
            return session

    @property
    def connection(self):
        with self._making:
            return super().connection

    @property
    def unsigned_connection(self):
        with self._making:
            return super().unsigned_connection

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_shared_session", None)
        return state
