"""Corpora larger than memory: tokenizing speed and peak RSS of ``rnnkit train --data``.

    python -m benchmarks.big_corpus --sizes 20 200 1000 --tokenizers char word

For each size (MB) a text of random lines over a 5,000-word vocabulary (Zipf-distributed)
is written once to ``--folder``; then, each in a process of its own (so each peak RSS is
its own):

- ``tokenize``: the streaming passes with an empty cache (fingerprint; vocabulary; ids into
  the memory-mapped cache file), timed, MB/s of the file;
- ``train cold``: ``rnnkit train --data FILE`` with an empty cache, ``--max-steps`` steps;
- ``train warm``: the same again, reusing the cache;
- ``eval``: ``rnnkit eval --max-tokens 20000`` of that run over the whole corpus (its ids
  from the cache).

Prints a Markdown table: size, tokenizer, MB/s, seconds until training starts and peak RSS
of each process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MB = 1_000_000
TRAIN_FLAGS = ["--max-steps", "20", "--eval-every", "10", "--eval-tokens", "20000",
               "--threads", "1", "--batch-size", "32", "--seq-len", "64"]  # fmt: skip


def generate(path: Path, megabytes: int, seed: int = 0) -> None:
    """Random lines of words, written a block at a time."""
    if path.exists() and path.stat().st_size >= megabytes * MB:
        return
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(5000)]
    weights = 1 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    written = 0
    with open(path, "w", encoding="utf-8") as file:
        while written < megabytes * MB:
            picks = rng.choice(len(words), size=200_000, p=weights)
            lengths = rng.integers(5, 20, size=len(picks) // 5)
            block, start = [], 0
            for length in lengths:
                block.append(" ".join(words[i] for i in picks[start : start + length]))
                start += length
            text = "\n".join(block) + "\n"
            file.write(text)
            written += len(text)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def tokenize(path: Path, kind: str) -> dict[str, float]:
    from rnnkit.data.text_stream import TextStream
    from rnnkit.data.token_cache import cached_ids
    from rnnkit.data.tokenizers import make_tokenizer

    times = [time.perf_counter()]
    stream = TextStream(path)
    stream.fingerprint()
    times.append(time.perf_counter())
    tokenizer = make_tokenizer(kind).fit(stream)
    times.append(time.perf_counter())
    ids, _, reused = cached_ids(stream, tokenizer)
    times.append(time.perf_counter())
    assert not reused
    size = path.stat().st_size / MB
    passes = np.diff(times)
    return {
        "fingerprint_MBps": size / passes[0],
        "vocabulary_MBps": size / passes[1],
        "ids_MBps": size / passes[2],
        "total_MBps": size / (times[-1] - times[0]),
        "tokens": int(ids.size),
        "dtype": str(ids.dtype),
        "peak_rss_MB": peak_rss_mb(),
    }


def train(path: Path, kind: str, out: Path) -> dict[str, float]:
    from rnnkit.cli.main import main as rnnkit_main

    started = time.perf_counter()
    status = rnnkit_main(["train", "--data", str(path), "--out", str(out), "--tokenizer", kind,
                          *TRAIN_FLAGS])  # fmt: skip
    assert status == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    trained = max(r["elapsed"] for r in records)
    return {
        "seconds": time.perf_counter() - started,
        "seconds_before_training": time.perf_counter() - started - trained,
        "peak_rss_MB": peak_rss_mb(),
    }


def evaluate(path: Path, out: Path) -> dict[str, float]:
    """``rnnkit eval`` of the trained run over the whole corpus (its ids from the cache),
    scoring 20,000 tokens spread over it: the memory of a text of that size."""
    from rnnkit.cli.main import main as rnnkit_main

    started = time.perf_counter()
    status = rnnkit_main(["eval", str(out), "--data", str(path), "--max-tokens", "20000",
                          "--json"])  # fmt: skip
    assert status == 0
    return {"seconds": time.perf_counter() - started, "peak_rss_MB": peak_rss_mb()}


def child(mode: str, path: Path, kind: str, cache: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "RNNKIT_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.big_corpus", "--child", mode, str(path), kind,
         str(out)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--tokenizers", nargs="+", default=["char", "word"])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/rnnkit-big-corpus"))
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "KIND", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        mode, path, kind, out = args.child
        if mode == "tokenize":
            result = tokenize(Path(path), kind)
        elif mode == "eval":
            result = evaluate(Path(path), Path(out))
        else:
            result = train(Path(path), kind, Path(out))
        print(json.dumps(result))
        return
    from benchmarks.timing import machine_header

    for line in machine_header():
        print(line)
    args.folder.mkdir(parents=True, exist_ok=True)
    print("| corpus | tokenizer | ids | fingerprint / vocabulary / ids pass, MB/s | "
          "tokenizing, MB/s | tokenize RSS | train cold: s before step 1, RSS | "
          "train warm: s before step 1, RSS | eval over the corpus: s, RSS |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        path = args.folder / f"corpus-{size}MB.txt"
        generate(path, size)
        for kind in args.tokenizers:
            cache = args.folder / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            t = child("tokenize", path, kind, cache, args.folder / "unused")
            shutil.rmtree(cache, ignore_errors=True)
            runs = []
            for _ in ("cold", "warm"):
                out = args.folder / "run"
                shutil.rmtree(out, ignore_errors=True)
                runs.append(child("train", path, kind, cache, out))
            cold, warm = runs
            scored = child("eval", path, kind, cache, args.folder / "run")
            print(
                f"| {size} MB | {kind} | {t['tokens']:,} {t['dtype']} | "
                f"{t['fingerprint_MBps']:.0f} / {t['vocabulary_MBps']:.0f} / {t['ids_MBps']:.0f} "
                f"| {t['total_MBps']:.0f} | {t['peak_rss_MB']:.0f} MB | "
                f"{cold['seconds_before_training']:.1f} s, {cold['peak_rss_MB']:.0f} MB | "
                f"{warm['seconds_before_training']:.1f} s, {warm['peak_rss_MB']:.0f} MB | "
                f"{scored['seconds']:.1f} s, {scored['peak_rss_MB']:.0f} MB |",
                flush=True,
            )
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
