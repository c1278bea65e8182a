"""``python -m fluidjit build/fluid_module.bc [options]``: run the module's benchmarks under the JIT.

``python -m fluidjit infer CHECKPOINT TOKENIZER [options]``: generate text with
the inference engine of build/infer_module.bc under the JIT (inference.py),
with the native runner's options; it prints the text, then the runner's
``FLUID-INFER`` line.

Exit status: 0 when every benchmark ran and checked out (or the generation
ran), 1 when a function failed to compile at tier 2 or a checksum differs
(the run still completes and the report is written), 2 for bad input (one
error line, no traceback). Bad input is refused before anything runs:
``--report`` naming a directory or a file in a directory that does not exist
or cannot be written, ``--iterations`` outside 1..10^7, ``--size`` beyond the
benchmarks' 32-bit parameter or whose arena would not fit in memory (known
once tier 0 is compiled, before the first run); for ``infer``, a file that
cannot be read or that the engine refuses, a prompt and steps that do not
fit the model, sampling options out of range. A CPU profile enabling
features this host lacks is no error: tier 2 compiles for the host's CPU,
with a warning.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import NoReturn

from fluidjit.config import JitConfig, report_path_problem
from fluidjit.errors import JitError
from fluidjit.inference import DEFAULT_TOPP, InferRequest, run_inference
from fluidjit.report import JitReport
from fluidjit.session import run_jit

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
INFER_COMMAND = "infer"
INFER_MODULE = "build/infer_module.bc"


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors as JitError: one line, exit status 2, from main()."""

    def error(self, message: str) -> NoReturn:
        raise JitError(f"{self.prog}: {message}")


def _add_jit_options(p: argparse.ArgumentParser) -> None:
    """The options of the JIT itself, shared by both commands."""
    d = argparse.Namespace(**{f.name: f.default for f in fields(JitConfig) if f.name != "module"})
    p.add_argument("--report", metavar="FILE", help="write the JSON report here")
    p.add_argument("--cpu-profile", metavar="JSON", help="tier-2 CPU from build/cpu_profile.json "
                   "(default, and instead of a profile with features this host lacks: this host's CPU)")
    p.add_argument("--hot-calls", type=int, default=d.hot_calls, metavar="N",
                   help=f"calls before a function may go to tier 2 (default {d.hot_calls})")
    p.add_argument("--hot-share", type=float, default=d.hot_share, metavar="F",
                   help=f"share of profiled cycles it must also reach (default {d.hot_share})")
    p.add_argument("--verify-calls", type=int, default=d.verify_calls, metavar="N",
                   help=f"tier-2 calls timed before keeping or reverting (default {d.verify_calls})")
    p.add_argument("--no-specialize", action="store_true", help="no value specialisation")
    p.add_argument("--no-fp-contract", action="store_true",
                   help="never fuse a*b+c into FMA at tier 2 (generic code then gives tier 0's "
                        "results bit for bit)")
    p.add_argument("--cache-dir", metavar="DIR", help="keep tier-2 object files here across runs "
                   "(default: jit/cache next to the module)")
    p.add_argument("--no-cache", action="store_true", help="compile every tier-2 version afresh")


def _jit_config(a: argparse.Namespace, module: str, **more: object) -> JitConfig:
    if a.report is not None and (why := report_path_problem(a.report, parent_must_exist=True)):
        raise JitError(why)
    return JitConfig(
        module=module, report=a.report, cpu_profile=a.cpu_profile, hot_calls=a.hot_calls,
        hot_share=a.hot_share, verify_calls=a.verify_calls, specialize=not a.no_specialize,
        fp_contract=not a.no_fp_contract, quiet=a.quiet,
        cache_dir=None if a.no_cache else a.cache_dir or Path(module).parent / "jit" / "cache", **more)


def parse_args(argv: list[str] | None = None) -> JitConfig:
    p = _Parser(prog="python -m fluidjit", description=__doc__.splitlines()[0])
    d = argparse.Namespace(**{f.name: f.default for f in fields(JitConfig) if f.name != "module"})
    p.add_argument("module", help="the module's bitcode (build/fluid_module.bc)")
    p.add_argument("--bench", action="append", default=[], metavar="NAME",
                   help="run this registry benchmark (repeatable; default: all)")
    _add_jit_options(p)
    p.add_argument("--iterations", type=int, metavar="N", help="run() calls per benchmark")
    p.add_argument("--size", type=int, metavar="N", help="problem size")
    p.add_argument("--seed", type=int, default=d.seed, metavar="N", help="input seed")
    p.add_argument("--no-verify", action="store_true", help="skip the tier-0 checksum rerun")
    p.add_argument("--quiet", action="store_true", help="no live log")
    a = p.parse_args(argv)
    return _jit_config(a, a.module, benchmarks=tuple(a.bench), iterations=a.iterations, size=a.size,
                       seed=a.seed, verify=not a.no_verify)


def parse_infer_args(argv: list[str]) -> tuple[JitConfig, InferRequest]:
    """The JIT's configuration and the request of ``python -m fluidjit infer ...``."""
    p = _Parser(prog=f"python -m fluidjit {INFER_COMMAND}",
                description="generate text with the inference engine under the JIT")
    p.add_argument("checkpoint", help="llama2.c checkpoint (build/model_260k/model.bin)")
    p.add_argument("tokenizer", help="its tokenizer (build/model_260k/tokenizer.bin)")
    p.add_argument("--module", default=INFER_MODULE, help=f"the engine's bitcode (default {INFER_MODULE})")
    p.add_argument("--prompt", default="", help="text to start from (default: none, BOS only)")
    p.add_argument("--steps", type=int, default=64, metavar="N", help="tokens to generate (default 64)")
    p.add_argument("--temperature", type=float, default=0.0, metavar="T", help="0 (default): greedy")
    p.add_argument("--topp", type=float, default=DEFAULT_TOPP, metavar="P",
                   help=f"nucleus sampling threshold (default {DEFAULT_TOPP}; 0 or 1: all tokens)")
    p.add_argument("--seed", type=int, default=1, metavar="N", help="sampler seed (default 1)")
    p.add_argument("--stop", action="store_true", help="end after a generated BOS or EOS")
    p.add_argument("--warmup", type=int, default=0, metavar="N",
                   help="generations before the one that counts; then the run waits for the "
                        "compilations the profile asked for (default 0)")
    p.add_argument("--logits-file", metavar="FILE",
                   help="write every forward pass's logits (float32) of the generation that counts")
    p.add_argument("--quiet", action="store_true", help="no live log, no table, no text: the line only")
    _add_jit_options(p)
    a = p.parse_args(argv)
    request = InferRequest(a.checkpoint, a.tokenizer, prompt=a.prompt, steps=a.steps,
                           temperature=a.temperature, topp=a.topp, seed=a.seed, stop=a.stop,
                           warmup=a.warmup, logits_file=a.logits_file)
    if a.logits_file is not None and (why := report_path_problem(a.logits_file, parent_must_exist=True)):
        raise JitError(why.replace("report", "logits file", 1))
    return _jit_config(a, a.module), request


def _finish(report: JitReport) -> int:
    for failure in report.failures:
        print(f"fluidjit: error: {failure}", file=sys.stderr)
    return EXIT_FAILED if report.failures else EXIT_OK


def infer_main(argv: list[str]) -> int:
    config, request = parse_infer_args(argv)
    result = run_inference(config, request)
    print(result.line_text() if config.quiet else result.show(), flush=True)
    return _finish(result.report)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == [INFER_COMMAND]:
            return infer_main(argv[1:])
        report = run_jit(parse_args(argv))
    except JitError as exc:
        print(f"fluidjit: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.table())
    return _finish(report)


if __name__ == "__main__":
    sys.exit(main())
