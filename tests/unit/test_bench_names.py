"""The benchmark scripts run only under ``./dev bench`` (minutes, not in the suite): a name
a tidy-up removed would fail there alone. Every global name each bench module's code
reads must be one the module defines or imports, or a builtin."""
from __future__ import annotations

import builtins
import dis
import importlib
import types
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _globals(code: types.CodeType, ops: tuple[str, ...]) -> set[str]:
    """The global names ``code`` and the functions within it use by ``ops``."""
    names = {instruction.argval for instruction in dis.get_instructions(code) if instruction.opname in ops}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _globals(constant, ops)
    return names


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"))
def test_every_global_a_bench_module_reads_is_defined(module):
    loaded = importlib.import_module(f"bench.{module}")
    source = (BENCH / f"{module}.py").read_text()
    code = compile(source, str(BENCH / f"{module}.py"), "exec")
    # Names bound when run as a script (under ``if __name__ == "__main__"``) count too.
    stored = _globals(code, ("STORE_NAME", "STORE_GLOBAL"))
    undefined = {name for name in _globals(code, ("LOAD_GLOBAL", "LOAD_NAME"))
                 if not hasattr(loaded, name) and not hasattr(builtins, name) and name not in stored}
    assert not undefined, f"bench/{module}.py reads undefined names: {sorted(undefined)}"


def test_the_profile_reads_cachegrind_per_function_and_per_request():
    """bench/instructions.py --profile: each function's counts, per request, summed over its lines."""
    from bench.instructions import REQUESTS, _functions

    text = ("desc: I1 cache: 65536 B\ncmd: x; y\nevents: Ir I1mr ILmr Dr D1mr\n"
            "fl=/build/Python/ceval.c\nfn=_PyEval_EvalFrameDefault\n10 4000 20 0 0 0\n12 -2000 0 0 0 0\n"
            "fl=/build/Modules/_sre/sre_lib.h\nfn=sre_ucs1_match\n0 6000 100 0 0 0\n")
    per_request = 2 * REQUESTS
    assert _functions(text) == {"ceval.c:_PyEval_EvalFrameDefault": (2000 / per_request, 20 / per_request),
                                "sre_lib.h:sre_ucs1_match": (6000 / per_request, 100 / per_request)}
