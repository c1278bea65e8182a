"""fluidjit.unselect: vector selects put behind a branch compute what they computed before.

A loop like physics_step's bounce, as the loop vectoriser leaves it (both sides computed, a
select per lane), is rewritten, and the two versions are compiled for this host with LLVM
(llvmlite, in this process) and run on the same data: lanes that all keep their value (the
fast path) and lanes where some take the rare side (the slow block) must give the same bits.
"""

from __future__ import annotations

import ctypes
import random
import struct

import llvmlite.binding as llvm
import pytest

from fluidjit import irtext, unselect

# p[i] stays inside [-8, 8]; outside it bounces back with restitution 0.75 (physics_step's
# phys_bounce, vectorised 4 lanes at a time); the velocity flips sign and shrinks.
BOUNCE = """
define void @bounce(ptr %p, ptr %v, i32 %n) {
  %2 = icmp eq i32 %n, 0
  br i1 %2, label %21, label %3

3:
  %4 = phi i32 [ 0, %0 ], [ %19, %3 ]
  %5 = getelementptr inbounds float, ptr %p, i32 %4
  %6 = load <4 x float>, ptr %5, align 4
  %7 = getelementptr inbounds float, ptr %v, i32 %4
  %8 = load <4 x float>, ptr %7, align 4
  %9 = fcmp olt <4 x float> %6, splat (float -8.000000e+00)
  %10 = fcmp ogt <4 x float> %6, splat (float 8.000000e+00)
  %11 = or <4 x i1> %9, %10
  %12 = fsub <4 x float> splat (float -8.000000e+00), %6
  %13 = fmul <4 x float> %12, splat (float 7.500000e-01)
  %14 = fadd <4 x float> %13, splat (float -8.000000e+00)
  %15 = select <4 x i1> %11, <4 x float> %14, <4 x float> %6
  %16 = fmul <4 x float> %8, splat (float -7.500000e-01)
  %17 = select <4 x i1> %11, <4 x float> %16, <4 x float> %8
  store <4 x float> %15, ptr %5, align 4
  store <4 x float> %17, ptr %7, align 4
  %19 = add nuw i32 %4, 4
  %20 = icmp ult i32 %19, %n
  br i1 %20, label %3, label %21

21:
  ret void
}
"""
# No floating-point work on either side of its select: nothing to gain, left alone.
INTEGER_ONLY = """
define i32 @pick(i32 %a, i32 %b) {
  %c = icmp slt i32 %a, %b
  %d = select i1 %c, i32 %a, i32 %b
  ret i32 %d
}
"""


def rewritten(module_text: str) -> tuple[str, int]:
    mod = irtext.Module.parse(module_text)
    fn = next(iter(mod.functions.values()))
    params, body, splits = unselect.rewrite(fn.params, fn.body)
    return irtext.Function(fn.name, fn.head, params, fn.tail, body).text(), splits


@pytest.fixture(scope="module")
def engine() -> llvm.ExecutionEngine:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()  # inline assembly
    target = llvm.Target.from_default_triple().create_target_machine()
    return llvm.create_mcjit_compiler(llvm.parse_assembly(""), target)


def compiled(engine: llvm.ExecutionEngine, text: str, name: str) -> ctypes.CFUNCTYPE:
    module = llvm.parse_assembly(text.replace("@bounce", f"@{name}"))
    module.verify()
    engine.add_module(module)
    engine.finalize_object()
    return ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32)(
        engine.get_function_address(name))


def test_the_rare_side_goes_behind_one_branch() -> None:
    text, splits = rewritten(BOUNCE)
    assert splits == 1
    # Both selects and the arithmetic only they use moved to the slow block; the guard is one
    # test of the mask for all lanes; the loop's back edge now leaves the join block.
    slow = text.split("u.3.slow1:", 1)[1].split("u.3.join1:", 1)[0]
    assert slow.count("select") == 2 and "fsub" in slow and "fmul" in slow
    # The rare side is the selects' true operand: the fast path is "no lane true".
    assert "bitcast <4 x i1> %u.11 to i4" in text and "icmp eq i4 %g1.0.m, 0" in text
    assert "[ %u.19, %u.3.join1 ]" in text
    assert "fcmp" not in slow  # the masks stay before the branch: they decide it


@pytest.mark.parametrize("outside", [0, 1, 4, 64])  # lanes past a wall
def test_results_are_bit_identical(engine: llvm.ExecutionEngine, outside: int) -> None:
    text, _ = rewritten(BOUNCE)
    before = compiled(engine, BOUNCE, f"before{outside}")
    after = compiled(engine, text, f"after{outside}")
    rng = random.Random(outside)
    n = 256
    p = [rng.uniform(-7.9, 7.9) for _ in range(n)]
    for i in rng.sample(range(n), outside):
        p[i] = rng.choice([-1, 1]) * rng.uniform(8.01, 9.0)
    v = [rng.uniform(-12, 12) for _ in range(n)]
    runs = []
    for fn in (before, after):
        pa, va = (ctypes.c_float * n)(*p), (ctypes.c_float * n)(*v)
        fn(ctypes.addressof(pa), ctypes.addressof(va), n)
        runs.append((struct.pack(f"{n}f", *pa), struct.pack(f"{n}f", *va)))
    assert runs[0] == runs[1]
    assert (runs[0][0] != struct.pack(f"{n}f", *p)) == (outside > 0)


def test_inline_assembly_operands_are_not_values(engine: llvm.ExecutionEngine) -> None:
    """``%0`` inside an inline-assembly string names an operand, not a value: renaming the
    function's numbered values leaves it alone."""
    asm = '  call void asm sideeffect "# %0 %1", "r,r,~{dirflag}"(i32 %4, i32 %n)\n'
    with_asm = BOUNCE.replace("  %5 = getelementptr", asm + "  %5 = getelementptr")
    text, splits = rewritten(with_asm)
    assert splits == 1 and '"# %0 %1"' in text
    compiled(engine, text, "with_asm")


def test_nothing_to_gain_is_left_alone() -> None:
    text, splits = rewritten(INTEGER_ONLY)
    assert splits == 0
    assert text == irtext.Module.parse(INTEGER_ONLY).functions["pick"].text()
