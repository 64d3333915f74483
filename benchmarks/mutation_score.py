"""`make mutate`: mutmut over the modules whose numbers a user reads, one module at a time,
then the score per module and every surviving mutant with its triage from docs/mutation.md.

Score = (killed + timed out) / (mutants − those docs/mutation.md calls equivalent).
"No tests" and "survived" both count as not killed. mutmut's own settings (the modules
it may mutate, the fast test selection) are in pyproject.toml under [tool.mutmut];
results accumulate in mutants/ so a module can be re-run alone:

    .venv/bin/python benchmarks/mutation_score.py                 # all, then the score
    .venv/bin/python benchmarks/mutation_score.py --module idx    # one module
    .venv/bin/python benchmarks/mutation_score.py --report-only   # score what is there
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRIAGE = REPO / "docs" / "mutation.md"

# Module → mutmut name patterns. In experiments/ only the functions that write tables and
# sentences of numbers are in scope (not planning, running or HTML).
TABLE_FUNCTIONS = {
    "report": ("sweep_table", "best_pair_sentence", "per_class_table", "top_confusions"),
    "compare": (
        "summarize_run",
        "_pct",
        "_secs",
        "_where",
        "markdown_table",
        "backend_table",
        "model_table",
    ),
    "sweep": ("_cell_line", "n_params", "choose_best", "sorted_rows", "format_table"),
}
# The modules added since: checkpoints, run directories, train's resume checks, a sweep
# cell's resume, inference, own-image preprocessing and the recipes.
TRAIN_RESUME = ("resume", "no_checkpoint", "contradictions")  # in api/runs.py
RECIPE_FUNCTIONS = ("xǁRecipeǁconfig", "x_recipe_names", "x_get_recipe", "x_default_config")
MODULES = {
    "learner": ["mnistlab.learner.*"],
    "evaluation": ["mnistlab.evaluation.*"],
    "protocol": ["mnistlab.protocol.*"],
    "idx": ["mnistlab.data.idx.*"],
    "sources": ["mnistlab.data.sources.*"],
    "mnist": ["mnistlab.data.mnist.*"],
    "summary": ["mnistlab.models.summary.*"],
    "gradcheck": ["mnistlab.numpy_version.gradcheck.*"],
    "tables": [
        f"mnistlab.experiments.{module}.x_{name}__mutmut_*"
        for module, names in TABLE_FUNCTIONS.items()
        for name in names
    ],
    "checkpoint": ["mnistlab.checkpoint.*"],
    "rundir": ["mnistlab.rundir.*"],
    "train_resume": [
        *(f"mnistlab.api.runs.x_{name}__mutmut_*" for name in TRAIN_RESUME),
        "mnistlab.commands.train.x_interrupted_line__mutmut_*",
    ],
    "cell_resume": ["mnistlab.experiments.sweep.x_cell_resume__mutmut_*"],
    "inference": ["mnistlab.inference.*"],
    "images": ["mnistlab.data.images.*"],
    "recipes": [f"mnistlab.config.{name}__mutmut_*" for name in RECIPE_FUNCTIONS],
}
# mutmut's exit codes (mutmut.stats.status_by_exit_code): ±24 and 152 are SIGXCPU, sent
# when a mutant runs past mutmut's time limit.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped"}
STATUS |= dict.fromkeys((36, 24, -24, 152, 255), "timeout")


def run_module(patterns: list[str], children: int) -> int:
    env = os.environ | {"MPLBACKEND": "Agg"}
    env.setdefault("MNISTLAB_DATA", str(REPO.parent / "shared" / "data" / "mnist"))
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(children), *patterns]
    return subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL).returncode


def results() -> dict[str, str]:
    """Mutant name → status, from mutmut's .meta files."""
    found: dict[str, str] = {}
    for meta in (REPO / "mutants").rglob("*.meta"):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for name, code in codes.items():
            found[name] = STATUS.get(code, "not run" if code is None else f"exit {code}")
    return found


def triage() -> dict[str, str]:
    """Mutant name → verdict ("equivalent", "not worth a test", …) from docs/mutation.md
    table rows of the form | `mutant name` | verdict | why |."""
    if not TRIAGE.exists():
        return {}
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", TRIAGE.read_text(), flags=re.M)
    return {name: verdict.strip() for name, verdict in rows}


def module_of(name: str) -> str | None:
    for module, patterns in MODULES.items():
        if any(fnmatch.fnmatch(name, p) for p in patterns):
            return module
    return None


def report(modules: list[str]) -> bool:
    status, verdicts = results(), triage()
    print(f"{'module':12s} {'mutants':>7s} {'killed':>7s} {'equiv.':>7s} {'not killed':>10s} score")
    totals: Counter[str] = Counter()
    survivors = []
    for module in modules:
        names = sorted(n for n in status if module_of(n) == module)
        count = Counter()
        for name in names:
            s = status[name]
            if s in ("killed", "timeout"):
                count["killed"] += 1
            elif verdicts.get(name, "").startswith("equivalent"):
                count["equivalent"] += 1
            else:
                count["not killed"] += 1
                survivors.append((name, s, verdicts.get(name, "UNTRIAGED")))
        count["mutants"] = len(names)
        totals.update(count)
        print(line(module, count))
    print(line("all", totals))
    print("\nnot killed (status, triage in docs/mutation.md):")
    for name, s, verdict in survivors:
        print(f"  {name}  [{s}]  {verdict}")
    return score(totals) >= 0.9


def score(count: Counter[str]) -> float:
    scored = count["killed"] + count["not killed"]
    return count["killed"] / scored if scored else float("nan")


def line(module: str, count: Counter[str]) -> str:
    return (
        f"{module:12s} {count['mutants']:7d} {count['killed']:7d} {count['equivalent']:7d} "
        f"{count['not killed']:10d} {score(count):6.1%}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=list(MODULES), help="repeatable")
    parser.add_argument("--report-only", action="store_true", help="score the last runs")
    parser.add_argument("--children", type=int, default=2, help="parallel mutants (default 2)")
    args = parser.parse_args()
    modules = args.module or list(MODULES)
    if not args.report_only:
        for module in modules:
            print(f"mutmut: {module} …", flush=True)
            run_module(MODULES[module], args.children)
    return 0 if report(modules) else 1


if __name__ == "__main__":
    sys.exit(main())
