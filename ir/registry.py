"""The op registry: every op kind is declared once, with `@op`.

A declaration names the op, its operands, attributes, traits, its
TensorFlow/ONNX op types and, for an op no gradient flows through, the
reason; the class body holds everything else kiln knows about it: its type
rule (`infer`), numpy reference (`reference`), gradient rule (`vjp`),
scalar form for kernels (`scalar`), cost (`cost`) or, for a composite,
`decompose` (see `Operation` and docs/ir.md). The printer, parser, verifier,
interpreter, autodiff and codegen are generic over this table, and
tests/ir/test_coverage.py checks every entry of it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .attributes import Attr
from .core import Operation, Trait
from .errors import KilnError

OPS: dict[str, type[Operation]] = {}

_RESERVED = set(dir(Operation)) | {"operands", "results", "attrs", "regions", "loc", "parent"}


def op(
    name: str,
    operands: Iterable[str] = (),
    attrs: dict[str, Attr] | None = None,
    results: int | None = 1,
    regions: int = 0,
    traits: Iterable[Trait] = (),
    tf: str = "",
    onnx: str = "",
    not_differentiable: str = "",
):
    """Declare an op kind. Operand and attribute names become properties; `tf`
    and `onnx` name its op type there; `not_differentiable` gives the reason
    no gradient flows through it (its class then has no `vjp`)."""

    def declare(cls: type[Operation]) -> type[Operation]:
        if name in OPS:
            raise KilnError(f"op {name} is declared twice")
        cls.name = name
        cls.tf_name, cls.onnx_name = tf, onnx
        if not_differentiable:
            if cls.has_vjp():
                raise KilnError(f"op {name} has a vjp and is declared not differentiable")
            cls.not_differentiable = not_differentiable
        cls.operand_names = tuple(operands)
        cls.attr_specs = {k: _canonical_default(a) for k, a in (attrs or {}).items()}
        cls.num_results = results
        cls.num_regions = regions
        cls.traits = frozenset(traits) | frozenset(
            t for base in cls.__mro__[1:] for t in getattr(base, "traits", ())
        )
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


def has_gradient_rule(cls: type[Operation]) -> bool:
    """Whether autodiff knows the op as it is: a `vjp`, or declared not
    differentiable. Otherwise a composite is differentiated through its
    decomposition."""
    return cls.has_vjp() or bool(cls.not_differentiable)
