"""Running a batch: every image through the recipe on a pool of worker processes, or on a Ray cluster.

Each image goes the one way ``portrait run`` takes (:func:`portrait_studio.cli.run_recipe`: read, apply the
recipe, write atomically), in a worker that keeps its analysis models across images. The manifest is
written by the process that runs the batch only, a line as each image finishes (see :mod:`.manifest`).
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import MissingDependencyError, PortraitError
from . import manifest
from .plan import Item


@dataclass
class Summary:
    """What a batch did: counts by status, the failed records, and the wall time in seconds."""

    total: int = 0
    ok: int = 0
    skipped: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0


class Worker:
    """One worker's state, made once and kept across its images: the recipe (validated again from its
    document, as the recipe file may not be on the worker's machine), the command's options and the
    analysis models.

    Parameters
    ----------
    args : argparse.Namespace
        The command's options (run options and output flags) as :func:`~portrait_studio.cli.run_recipe` takes them.
    recipe : list of dict
        The validated recipe's steps as documents (``Step.to_dict()`` each).
    threads : int
        OpenCV threads for this worker (the machine's cores shared among the workers).
    """

    def __init__(self, args: argparse.Namespace, recipe: list[dict], threads: int = 1):
        import cv2

        from ..analysis import get_backend
        from ..pipeline import parse_recipe

        cv2.setNumThreads(max(1, threads))
        self.args = args
        self.steps = parse_recipe(recipe, source=args.recipe, options=args.options)
        self.backend = get_backend()

    def run(self, source: str, output: str) -> dict:
        """Make `output` from `source`; the manifest record's outcome (status, error, seconds, qc, notes)."""
        from ..cli import run_recipe

        status, start = _Collect(), time.perf_counter()
        try:
            os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
            result = run_recipe(self.args, self.steps, source, output, status=status, backend=self.backend)
            outcome = {"status": "ok", "error": None, "qc": _qc(result, self.steps)}
        except PortraitError as e:
            outcome = {"status": "failed", "error": _line(str(e))}
        except OSError as e:                            # the output's folder cannot be made, the disk is full
            outcome = {"status": "failed", "error": _line(f"{e.filename or output}: cannot be written "
                                                          f"({e.strerror or e}); check the output folder")}
        except Exception as e:  # noqa: BLE001 - one image's bug must not stop the batch; recorded, not hidden
            outcome = {"status": "failed", "error": _line(f"internal error: {e.__class__.__name__}: {e}")}
        return {**outcome, "seconds": round(time.perf_counter() - start, 3), "notes": status.notes}


class _Collect:
    """A status for :func:`~portrait_studio.cli.run_recipe` that shows nothing and keeps the notes."""

    def __init__(self):
        self.notes: list[str] = []

    def stage(self, text: str) -> None:
        pass

    def __call__(self, done: int, total: int, what: str) -> None:
        pass

    def say(self, line: str) -> None:
        pass

    def note(self, line: str) -> None:
        self.notes.append(line)

    def note_once(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)


def _line(text: str) -> str:
    return " ".join(text.split())


def _qc(result, steps) -> dict:
    """The figures a result reports: its size and the JSON side results its last step made."""
    h, w = result.shape
    qc = {"width": int(w), "height": int(h)}
    extras = steps[-1].op.extras if steps else {}
    qc.update({n: v for n, v in result.extras.items() if n in extras and extras[n].kind == "json"})
    return qc


# -- local: a process pool ---------------------------------------------------------------------------

_WORKER: Worker | None = None      # the pool process's own worker (one per process, made by its initializer)


def _start(args, recipe, threads) -> None:
    global _WORKER
    _WORKER = Worker(args, recipe, threads)


def _task(source: str, output: str) -> dict:
    return _WORKER.run(source, output)


def _local(todo: list[Item], args, recipe, workers: int) -> Iterator[tuple[Item, dict]]:
    import concurrent.futures as cf
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers == 1:                                    # one worker: this process, without starting another
        worker = Worker(args, recipe, threads)
        for item in todo:
            yield item, worker.run(item.input, item.output)
        return
    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                initargs=(args, recipe, threads)) as pool:
        waiting, running = iter(todo), {}
        for item in waiting:                            # two images a worker in flight: none waits for work
            running[pool.submit(_task, item.input, item.output)] = item
            if len(running) >= 2 * workers:
                break
        broken = None
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as e:  # noqa: BLE001 - a worker that died (out of memory, killed): the pool is lost
                    broken = _line(f"worker died: {e.__class__.__name__}: {e}")
                    outcome = {"status": "failed", "error": broken, "seconds": None}
                yield item, outcome
                nxt = None if broken else next(waiting, None)
                if nxt is not None:
                    running[pool.submit(_task, nxt.input, nxt.output)] = nxt
        if broken:
            raise PortraitError(f"a batch worker process died ({broken}), out of memory or killed; the images "
                                "recorded so far are kept: run the same command again to go on (with fewer "
                                "--workers if memory is short)")


# -- Ray: an actor a worker ---------------------------------------------------------------------------

def import_ray():
    """The ray module, or MissingDependencyError saying what to install."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--ray needs Ray: pip install 'portrait-studio[ray]'") from None
    return ray


def _ray(todo: list[Item], args, recipe, workers: int | None, address: str,
         summary: Summary) -> Iterator[tuple[Item, dict]]:
    import logging

    ray = import_ray()
    started = False
    if not ray.is_initialized():
        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if address == "local":
            ray.init(num_cpus=workers or os.cpu_count() or 1, **quiet)
        else:
            ray.init(address=address, **quiet)
        started = True
    try:
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(Worker)
        summary.workers = min(n, len(todo))
        waiting, running, deaths = iter(todo), {}, 0        # running: an object ref -> (item, actor)

        def submit(a) -> None:
            item = next(waiting, None)
            if item is not None:
                running[a.run.remote(item.input, item.output)] = (item, a)

        for _ in range(summary.workers):                     # one image an actor at a time: each task one image
            submit(actor.remote(args, recipe, 1))
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            item, a = running.pop(ready[0])
            try:
                outcome = ray.get(ready[0])
                deaths = 0
            except ray.exceptions.RayError as e:               # the actor died with it (a node lost, out of memory)
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                outcome = {"status": "failed", "error": _line(f"worker died: {e.__class__.__name__}: {first}"),
                           "seconds": None}
                deaths += 1
                if deaths > max(4, 2 * summary.workers):      # not one image's trouble: the workers cannot run
                    raise PortraitError(f"the Ray workers died {deaths} times in a row (last: {outcome['error']}); "
                                        "check that every node has portrait-studio with the ray extra and sees "
                                        "the inputs and outputs at the same paths")
                a = actor.remote(args, recipe, 1)              # a fresh one in its place
            yield item, outcome
            submit(a)
    finally:
        if started:
            ray.shutdown()


# -- the batch ---------------------------------------------------------------------------------------

def run_batch(items: list[Item], outdir: str, *, args: argparse.Namespace, steps, settings: dict,
              workers: int | None = None, ray: str | None = None,
              progress: Callable[[int, int, Summary], None] | None = None) -> Summary:
    """Run `items` through the recipe `steps`, resuming from `outdir`'s manifest.

    Images the manifest records as made with the same recipe hash (the steps and `settings`, see
    :func:`~.manifest.recipe_hash`) and whose output exists are recorded ``skipped``; the rest are made,
    each on a worker, and recorded as they finish (``ok``, or ``failed`` with the one-line reason: the batch
    goes on). Temporary files a killed run left are removed first.

    Parameters
    ----------
    items : list of Item
        From :func:`~.plan.plan`.
    outdir : str
        The output folder (created if missing); holds the manifest.
    args : argparse.Namespace
        The command's run options (``options``) and output flags, as ``portrait run`` has them.
    steps : list of Step
        The validated recipe.
    settings : dict
        What else changes the outputs (run options, write flags), hashed with the steps.
    workers : int, optional
        Worker processes (default: every core; with `ray`, every CPU of the cluster).
    ray : str, optional
        None for a local process pool; ``"local"`` to start a local Ray instance; an address (or ``"auto"``)
        to join a running Ray cluster, whose workers read and write the paths on shared storage.
    progress : callable, optional
        Called as ``progress(done, total, summary)`` after each image.
    """
    start = time.perf_counter()
    os.makedirs(outdir, exist_ok=True)
    recipe = manifest.recipe_hash(steps, settings)
    summary = Summary(total=len(items))
    work = argparse.Namespace(**{**vars(args), "overwrite": True})   # a batch replaces what it redoes
    docs = [s.to_dict() for s in steps]
    with manifest.Writer(outdir) as log:                # the folder's lock first: then nothing else writes there
        manifest.remove_temporaries(outdir)
        records = manifest.read(outdir)
        todo = []
        for item in items:
            source, output = os.path.abspath(item.input), os.path.abspath(item.output)
            if manifest.is_done(records.get(source), output=output, recipe=recipe):
                log.append({"input": source, "output": output, "status": "skipped", "error": None, "seconds": 0,
                            "recipe": recipe, "qc": records[source].get("qc"), "notes": []})
                summary.skipped += 1
            else:
                todo.append(Item(source, output, item.relative))
        done = summary.skipped
        if progress is not None:
            progress(done, summary.total, summary)
        if todo:
            if ray is None:
                summary.workers = min(workers or os.cpu_count() or 1, len(todo))
                runs = _local(todo, work, docs, summary.workers)
            else:
                runs = _ray(todo, work, docs, workers, ray, summary)
            for item, outcome in runs:
                record = {"input": item.input, "output": item.output, "status": outcome["status"],
                          "error": outcome.get("error"), "seconds": outcome.get("seconds"), "recipe": recipe,
                          "qc": outcome.get("qc"), "notes": outcome.get("notes", [])}
                log.append(record)
                if record["status"] == "ok":
                    summary.ok += 1
                else:                                       # no output from another recipe left standing
                    summary.failed.append(record)
                    if os.path.isfile(item.output):
                        os.unlink(item.output)
                done += 1
                if progress is not None:
                    progress(done, summary.total, summary)
    summary.seconds = time.perf_counter() - start
    return summary
