"""The op registry: every op kind is declared once, with `@op`.

A declaration names the op, its operands and attributes; the class body
holds its type rule (`infer`), its numpy reference (`reference`) and, beside
them, its gradient rule (`vjp`, added by the autodiff pass's issue). The
printer, parser, verifier and interpreter are generic over this table.
"""

from __future__ import annotations

from collections.abc import Iterable

from .attributes import Attr
from .core import Operation, Trait
from .errors import KilnError

OPS: dict[str, type[Operation]] = {}

_RESERVED = set(dir(Operation)) | {"operands", "results", "attrs", "regions", "loc", "parent"}


def op(name: str, operands: Iterable[str] = (), attrs: dict[str, Attr] | None = None,
       results: int | None = 1, regions: int = 0, traits: Iterable[Trait] = ()):
    """Declare an op kind. Operand and attribute names become properties."""

    def declare(cls: type[Operation]) -> type[Operation]:
        if name in OPS:
            raise KilnError(f"op {name} is declared twice")
        cls.name = name
        cls.operand_names = tuple(operands)
        cls.attr_specs = {k: _canonical_default(a) for k, a in (attrs or {}).items()}
        cls.num_results = results
        cls.num_regions = regions
        cls.traits = frozenset(traits) | frozenset(
            t for base in cls.__mro__[1:] for t in getattr(base, "traits", ()))
        for i, oname in enumerate(cls.operand_names):
            key = oname.lstrip("*")
            _check_free(cls, key)
            if oname.startswith("*"):
                setattr(cls, key, property(lambda self, i=i: self.operands[i:]))
            else:
                setattr(cls, key, property(lambda self, i=i: self.operands[i]))
        for key in cls.attr_specs:
            _check_free(cls, key)
            setattr(cls, key, property(lambda self, key=key: self.attrs[key]))
        OPS[name] = cls
        return cls

    return declare


def _canonical_default(spec: Attr) -> Attr:
    """The spec with its default in the form `check` returns (so "i64" -> DType.i64)."""
    if spec.required or spec.default is None:
        return spec
    return Attr(spec.check, spec.check(spec.default), spec.doc)


def _check_free(cls: type, key: str) -> None:
    if key in _RESERVED:
        raise KilnError(f"{cls.__name__}: {key!r} cannot name an operand or attribute")


def lookup(name: str) -> type[Operation]:
    """The op class registered under `name`, e.g. ``lookup("kiln.add")``."""
    try:
        return OPS[name]
    except KeyError:
        raise KilnError(f"unknown op {name!r}") from None
