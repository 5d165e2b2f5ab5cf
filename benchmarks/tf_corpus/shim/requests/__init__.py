"""requests stand-in for the TF tutorial corpus: get() answers the download URLs the
tutorials use with generated files (tf_corpus_shim.downloads), and nothing else."""

from __future__ import annotations


class Response:
    def __init__(self, url: str, content: bytes):
        self.url = url
        self.content = content
        self.status_code = 200
        self.ok = True

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def iter_content(self, chunk_size=1):
        for i in range(0, len(self.content), chunk_size or len(self.content) or 1):
            yield self.content[i : i + (chunk_size or len(self.content))]

    def raise_for_status(self):
        pass


def get(url, *args, **kwargs) -> Response:
    from tf_corpus_shim.downloads import content_of

    return Response(url, content_of(url))
