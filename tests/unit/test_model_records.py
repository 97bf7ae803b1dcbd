"""memlab.model's records behave as the @dataclass(frozen=True) classes they replaced
(built without importing dataclasses: memlab's start-up cost), compared with a real
frozen dataclass twin of the same fields."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys

import pytest

from memlab import model
from memlab.model import AuxvEntry, EnvEntry, ProcStat, Region, Snapshot
from tests.helpers import REPO

RECORDS = [Region, ProcStat, AuxvEntry, EnvEntry, model.EnvBlock, model.StackString,
           model.InitialStack, Snapshot]


def twin(cls):
    """A real frozen dataclass with cls's annotations and defaults."""
    ns = {"__annotations__": dict(cls.__annotations__), "__module__": cls.__module__,
          "__qualname__": cls.__qualname__}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            ns[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            ns[f.name] = dataclasses.field(default_factory=f.default_factory,
                                           compare=f.compare)
    return dataclasses.dataclass(frozen=True)(type(cls.__name__, (), ns))


REGION_ARGS = (0x1000, 0x2000, "r-xp", 0, "fd:01", 42, "/usr/lib/libc.so.6")


def test_region_like_its_dataclass_twin():
    Twin = twin(Region)
    r, t = Region(*REGION_ARGS), Twin(*REGION_ARGS)
    assert repr(r) == repr(t)
    assert hash(r) == hash(t)
    assert r == Region(*REGION_ARGS) and r != Region(*REGION_ARGS, kind="lib")
    assert r != t  # a different class, as between two dataclasses
    assert Region.__match_args__ == Twin.__match_args__
    assert Region.kind == Twin.kind == "anon"  # defaults stay class attributes
    assert str(inspect.signature(Region)) == str(inspect.signature(Twin))
    assert list(vars(r)) == list(vars(t))  # field order


@pytest.mark.parametrize("cls", RECORDS)
def test_dataclasses_api_works(cls):
    assert dataclasses.is_dataclass(cls)
    assert [f.name for f in dataclasses.fields(cls)] == list(cls.__annotations__)
    assert cls.__dataclass_params__.frozen


def test_replace_fields_asdict():
    r = Region(*REGION_ARGS)
    lib = dataclasses.replace(r, kind="lib")
    assert type(lib) is Region and lib.kind == "lib" and lib.start == r.start
    assert dataclasses.asdict(lib)["kind"] == "lib"
    with pytest.raises(TypeError):
        dataclasses.replace(r, colour="red")


def test_frozen():
    r = Region(*REGION_ARGS)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'kind'"):
        r.kind = "lib"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'path'"):
        del r.path
    with pytest.raises(AttributeError):  # FrozenInstanceError is an AttributeError
        r.start = 0


@pytest.mark.parametrize("args, kwargs, message", [
    ((1, 2), {}, "missing 5 required positional arguments"),
    (REGION_ARGS + (False, "anon", "x"), {}, "takes from 8 to 10 positional arguments"),
    (REGION_ARGS, {"colour": 1}, "unexpected keyword argument 'colour'"),
    (REGION_ARGS, {"start": 1}, "multiple values for argument 'start'"),
])
def test_constructor_errors_as_a_dataclass(args, kwargs, message):
    for cls in (Region, twin(Region)):
        with pytest.raises(TypeError, match=message):
            cls(*args, **kwargs)


def test_default_factory_and_compare_false():
    a = Snapshot(1, None, (), None, (), (), None, None, None)
    b = Snapshot(1, None, (), None, (), (), None, None, None)
    assert a.extra == {} and a.extra is not b.extra  # a new dict each time
    assert not hasattr(Snapshot, "extra")  # as @dataclass deletes a factory's attribute
    b.extra["elf"] = {}
    assert a == b and hash(a) == hash(b)  # extra is not compared
    assert dataclasses.replace(b, pid=2).extra == {"elf": {}}


def test_pickle_and_copy():
    r = Region(*REGION_ARGS, deleted=True, kind="lib")
    assert pickle.loads(pickle.dumps(r)) == r
    assert copy.copy(r) == r and copy.deepcopy(r) == r


def test_importing_the_model_does_not_import_dataclasses():
    code = ("import sys, memlab.collect, memlab.cli.core\n"
            "print(sorted(m for m in ('dataclasses', 'inspect', 'typing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
