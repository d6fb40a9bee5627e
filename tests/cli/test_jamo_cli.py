"""``rnnkit train --tokenizer jamo`` end to end: Korean in, Korean (whole syllables) out,
and bits per character of the text from ``rnnkit eval``."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

import pytest

from tests.cli.cli_helpers import TINY, run_cli

LINES = [
    "안녕하세요 반갑습니다.",
    "오늘은 날씨가 정말 좋네요.",
    "한국어 문장을 천천히 읽어요.",
    "작은 모델도 글자를 배웁니다.",
]
SYLLABLE = re.compile("[\uac00-\ud7a3]")
# A lead consonant followed by a vowel: NFC would have made them one syllable.
UNCOMPOSED = re.compile("[\u1100-\u1112][\u1161-\u1175]")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A jamo LSTM trained for 12 steps on a few Korean lines: data, run folder, output."""
    folder = tmp_path_factory.mktemp("jamo")
    data = folder / "korean.txt"
    data.write_text("\n".join(LINES * 12) + "\n", encoding="utf-8")
    status, out, err = run_cli(
        "train", "--data", data, "--out", folder / "run", "--tokenizer", "jamo",
        "--max-steps", "12", *TINY, "--eval-every", "4",
    )  # fmt: skip
    assert status == 0, err
    return {"data": data, "run": folder / "run", "out": out}


def assert_recomposed(text: str) -> None:
    """TEXT is in whole syllables: NFC leaves it alone and no lead+vowel pair is left."""
    assert SYLLABLE.search(text), text
    assert unicodedata.normalize("NFC", text) == text
    assert not UNCOMPOSED.search(text), text


def test_training_reports_bits_per_character(run: dict[str, Any]) -> None:
    config = json.loads((run["run"] / "config.json").read_text(encoding="utf-8"))
    assert config["tokenizer"]["kind"] == "jamo"
    records = (run["run"] / "metrics.jsonl").read_text().splitlines()
    val = [json.loads(line) for line in records if "val_loss" in line]
    assert [r["step"] for r in val] == [4, 8, 12]
    # About two tokens a character here, so clearly more bits per character than per jamo.
    for record in val:
        assert record["val_bits_per_char"] > 1.5 * record["val_loss"] / math.log(2)
    # The summary at the end says the same as the last validation record.
    loss, bits = val[-1]["val_loss"], val[-1]["val_bits_per_char"]
    assert f"validation loss {loss:.4f} ({bits:.3f} bits/char)" in run["out"]
    assert_recomposed(run["out"].split("--- sample (temperature 0.8) ---\n")[1])


def test_sample_prints_whole_syllables(run: dict[str, Any]) -> None:
    status, out, err = run_cli(
        "sample", run["run"], "--prime", "오늘은", "--length", "120", "--seed", "0"
    )
    assert status == 0, err
    assert out.startswith("오늘은")
    assert_recomposed(out[len("오늘은") :])  # what the model wrote, not just the prime


def test_eval_json_reports_bits_per_character_of_the_text(run: dict[str, Any]) -> None:
    status, out, err = run_cli("eval", run["run"], "--data", run["data"], "--json")
    assert status == 0, err
    report = json.loads(out)
    assert set(report) == {
        "loss", "bits_per_char", "tokens", "characters", "unknown_tokens", "unknown_rate",
        "comparable",
    }  # fmt: skip
    assert (report["unknown_tokens"], report["comparable"]) == (0, True)
    text = run["data"].read_text(encoding="utf-8")
    assert report["characters"] <= len(text) < report["tokens"]
    bits = report["loss"] * report["tokens"] / math.log(2)
    assert report["bits_per_char"] == pytest.approx(bits / report["characters"])

    status, out, err = run_cli("eval", run["run"], "--data", run["data"])
    assert status == 0, err
    assert f"{report['bits_per_char']:.3f} bits/char" in out
    assert f"{report['tokens']:,} tokens ({report['characters']:,} characters)" in out
