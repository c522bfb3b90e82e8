"""The one build step pyproject.toml cannot say: the optional compiled XDR skipper, ``ledgers._xdrskip``.

``ledgers/_xdrskip.c`` is generated and committed (``python -m ledgers.skipgen``). It is built wherever a C
compiler is found (``pip install``, ``pip install -e .``, what ``make install`` runs); ``optional=True`` lets an
install without one finish, and `ledgers.skippers` then uses the pure-Python skippers of ``ledgers/xdrskip.py``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ledgers._xdrskip",
            sources=["ledgers/_xdrskip.c"],
            optional=True,
        )
    ]
)
