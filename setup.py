"""The one build step pyproject.toml cannot say: the optional compiled parts of the fast decoder and write path.

``ledgers._xdrskip`` (the XDR skippers), ``ledgers._fastchanges`` (entry changes built in C, hand-written) and
``storage._copybin`` (rows written as a binary COPY payload, hand-written; without it `storage.copy_writes` builds
records for asyncpg to encode).

``ledgers/_xdrskip.c`` is generated and committed (``python -m ledgers.skipgen``). They are built wherever a C
compiler is found (``pip install``, ``pip install -e .``, what ``make install`` runs); ``optional=True`` lets an
install without one finish, and `ledgers.skippers` then uses the pure-Python skippers of ``ledgers/xdrskip.py``
and the Python entry-change readers of ``ledgers/fastentries.py``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledgers._xdrskip",
            sources=["ledgers/_xdrskip.c"],
            optional=True,
        ),
        Extension(
            "ledgers._fastchanges",
            sources=["ledgers/_fastchanges.c"],
            optional=True,
        ),
        Extension(
            "storage._copybin",
            sources=["storage/_copybin.c"],
            optional=True,
        ),
    ]
)
