"""The sequence-to-sequence task: source and target pairs in, a model that transduces out.

Pairs come as TSV, the DLFS2 toy format or a pronouncing dictionary
(``rnnkit.data.parallel``); with format ``auto``, the valid and test files must look like
the training file (each file's format is found from its own lines). Source and target are
cut into characters or words (``source_tokenizer``, ``target_tokenizer``; ``auto`` targets
are words for a dictionary's phonemes, characters otherwise), vocabularies are fitted to
the training pairs (one for both with ``share_vocabulary``), and a ``Seq2SeqTrainer``
trains a ``Seq2Seq``. Without
``valid``, a seeded ``val_fraction`` of the distinct sources is held out (with all their
targets, so a word's pronunciations stay together). With ``test`` set, the best model is
measured at the end. ``load_seq2seq`` brings a trained model back (``load_ensemble``
several, decoding as one); ``transduce`` and ``evaluate_pairs`` are what ``rnnkit predict``
and ``rnnkit eval`` call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnnkit.config import option
from rnnkit.data.parallel import FORMATS, LOOKS, ParallelExamples, read_parallel, references
from rnnkit.data.parallel_batches import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    PAD,
    PAD_ID,
    TOKENIZATIONS,
    Vocabulary,
    join_tokens,
    limit_source_lengths,
    split_tokens,
)
from rnnkit.errors import SettingError, UserError, quoted
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.plural import counted, were
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.data_options import (
    check_encoding,
    encoding_option,
    example_files,
    val_fraction_option,
)
from rnnkit.train.memory import check_fits, check_saved_fits, training_bytes
from rnnkit.train.run_config import damaged, saved_entry
from rnnkit.train.seq2seq_metrics import missing_scores, sequence_scores
from rnnkit.train.seq2seq_trainer import (
    EncodedPairs,
    Seq2SeqSettings,
    Seq2SeqTrainer,
    decode_sources,
)
from rnnkit.train.task import (
    Task,
    build_model,
    data_sizes,
    network,
    run_config_class,
    saved_model,
    time_loops,
)


@dataclass
class Seq2SeqData(
    example_files(
        "training pairs",
        "pairs",
        "sources",
        FORMATS,
        "tsv: source<TAB>target; dlfs2: source_target; dictionary: WORD  PH ON EMES; "
        "auto: from the file",
    )
):
    """Where the pairs come from and how their two sides become tokens."""

    encoding: str = encoding_option("the files' encoding", check=check_encoding)
    val_fraction: float = val_fraction_option(
        "without valid: the share of training sources held out"
    )
    source_tokenizer: str = option("char", "the source's tokens", choices=TOKENIZATIONS)
    target_tokenizer: str = option(
        "auto",
        "the target's tokens (auto: words for a dictionary, characters otherwise)",
        choices=("auto", *TOKENIZATIONS),
    )
    min_count: int = option(1, "tokens seen fewer times in training are <unk>", minimum=1)
    max_source_length: int = option(
        200, "the longest source accepted, in tokens", minimum=1, maximum=1 << 20
    )
    truncate_source: bool = option(
        False, "cut longer sources to max_source_length instead of refusing them"
    )


Seq2SeqRun = run_config_class("Seq2SeqRun", "seq2seq", Seq2SeqData, Seq2SeqConfig, Seq2SeqSettings)


@dataclass
class TrainedSeq2Seq:
    """A trained model (in evaluation mode), its vocabularies and the run's settings; with
    ``ensemble``, more models of the same vocabularies decode with it (``load_ensemble``)."""

    model: Seq2Seq
    source: Vocabulary
    target: Vocabulary
    config: Seq2SeqRun
    tokenizations: tuple[str, str]  # of the source and the target, as trained
    ensemble: tuple[Seq2Seq, ...] = ()

    @property
    def models(self) -> list[Seq2Seq]:
        """Every model that decodes: ``model`` first, then the ensemble's others."""
        return [self.model, *self.ensemble]


def tokenizations(data: Seq2SeqData, examples: ParallelExamples) -> tuple[str, str]:
    """``(source, target)`` tokenizations, ``auto`` resolved from the file's format."""
    target = data.target_tokenizer
    if target == "auto":
        dictionary = data.format == "dictionary" or (
            data.format == "auto" and _looks_like_dictionary(examples)
        )
        target = "word" if dictionary else "char"
    return data.source_tokenizer, target


def _looks_like_dictionary(examples: ParallelExamples) -> bool:
    return all(" " not in s for s in examples.sources[:100]) and any(
        " " in t for t in examples.targets[:100]
    )


def same_format(
    train_path: str, train: ParallelExamples, path: str, examples: ParallelExamples
) -> None:
    """Refuse EXAMPLES read from PATH in another format than TRAIN (read from TRAIN_PATH),
    as ``auto`` may find: its pairs would be tokenized unlike the ones the model learns."""
    if examples.format == train.format:
        return
    raise SettingError(
        f"{path} looks like {examples.format} pairs ({LOOKS[examples.format]}) but {train_path} "
        f"like {train.format} ({LOOKS[train.format]}); give every file as {train.format} "
        "pairs, or set format to the one they are all in",
        "format",
    )


def encode_pairs(
    examples: ParallelExamples,
    vocabularies: tuple[Vocabulary, Vocabulary],
    kinds: tuple[str, str],
    data: Seq2SeqData,
) -> tuple[EncodedPairs, int]:
    """The pairs as ids with their references, and how many sources were cut."""
    source_vocab, target_vocab = vocabularies
    sources = [source_vocab.encode(split_tokens(s, kinds[0])) for s in examples.sources]
    targets = [target_vocab.encode(split_tokens(t, kinds[1])) for t in examples.targets]
    cut = limit_source_lengths(
        sources, data.max_source_length, data.truncate_source, examples.origins
    )
    grouped: dict[str, list[list[int]]] = {}
    for text, target in zip(examples.sources, targets, strict=True):
        grouped.setdefault(text, []).append(target.tolist())
    refs = [grouped[text] for text in examples.sources]
    return EncodedPairs(sources, targets, refs), cut


def fit_vocabularies(
    train: ParallelExamples, kinds: tuple[str, str], data: Seq2SeqData, shared: bool
) -> tuple[Vocabulary, Vocabulary]:
    source = [split_tokens(s, kinds[0]) for s in train.sources]
    target = [split_tokens(t, kinds[1]) for t in train.targets]
    if shared:
        vocabulary = Vocabulary.build(source + target, data.min_count)
        return vocabulary, vocabulary
    return Vocabulary.build(source, data.min_count), Vocabulary.build(target, data.min_count)


class Seq2SeqTask(Task, name="seq2seq", title="sequence-to-sequence model"):
    """Pairs in (TSV, the DLFS2 format or a pronouncing dictionary), an encoder-decoder out
    that writes the target sequence of a source sequence."""

    config_class = Seq2SeqRun
    figure = ("exact match", "exact_match", ".2%")
    examples = "pairs"

    def read_examples(self, config: Seq2SeqRun, part: str) -> ParallelExamples:
        data = config.data
        return read_parallel(getattr(data, part), data.format, data.encoding)

    def read_data(
        self, config: Seq2SeqRun, folder: Path, checkpoint: Checkpoint | None
    ) -> tuple[ParallelExamples, ParallelExamples, ParallelExamples | None, str]:
        """As ``Task.read_data``; with format ``auto``, the valid and test files must be
        in the format found in the training file (``same_format``)."""
        train, valid, test, digest = super().read_data(config, folder, checkpoint)
        data = config.data
        for path, examples in ((data.valid, valid), (data.test, test)):
            if path is not None and examples is not None:
                same_format(data.train, train, path, examples)
        return train, valid, test, digest

    def build(
        self, config: Seq2SeqRun, folder: Path, checkpoint: Checkpoint | None
    ) -> Seq2SeqTrainer:
        data, settings = config.data, config.training
        train, valid, test, digest = self.read_data(config, folder, checkpoint)
        kinds = tokenizations(data, train)
        if checkpoint is None:
            vocabularies = fit_vocabularies(train, kinds, data, config.model.share_vocabulary)
        else:
            vocabularies = saved_vocabularies(checkpoint, folder)
            check_special_ids(config.model, folder)
        config.model.source_vocab_size = len(vocabularies[0])
        config.model.target_vocab_size = len(vocabularies[1])
        check_fits(
            training_bytes(parameter_count(config.model), 0),
            "training this sequence-to-sequence model",
            "hidden_size, num_layers, embedding_size or the vocabularies (min_count)",
        )
        # resuming, its settings come from config.json, which may have been edited
        model = build_model(Seq2Seq, config.model, settings.seed, folder if checkpoint else None)
        train_pairs, cut = encode_pairs(train, vocabularies, kinds, data)
        valid_pairs, cut_valid = encode_pairs(valid, vocabularies, kinds, data)
        info = {"data_sha256": digest, "tokenizations": list(kinds)}
        trainer = Seq2SeqTrainer(
            model, vocabularies, train_pairs, valid_pairs, settings, folder, info
        )
        if cut + cut_valid:
            trainer.notes.append(
                f"{counted(cut + cut_valid, 'source')} longer than {data.max_source_length} "
                f"tokens {were(cut + cut_valid)} cut to that length"
            )
        missing = None if test is None else missing_scores(bleu=False)
        if missing:
            trainer.notes.append(f"the test pairs are scored when training ends, and {missing}")
        trainer.test_data = test
        return trainer

    def restore(
        self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: Seq2SeqRun
    ) -> TrainedSeq2Seq:
        source, target = saved_vocabularies(checkpoint, folder)
        model_config = config.model
        sizes = (model_config.source_vocab_size, model_config.target_vocab_size)
        if (len(source), len(target)) != sizes:
            raise damaged(
                folder,
                f"vocabularies of {len(source)} and {len(target)} tokens for a model of "
                f"{sizes[0]} and {sizes[1]} (model.source_vocab_size, model.target_vocab_size)",
            )
        check_special_ids(model_config, folder)
        kinds = saved_entry(checkpoint, folder, "tokenizations")
        # each checked on its own: an edited entry may be a list, which no set takes
        if not (
            isinstance(kinds, list)
            and len(kinds) == 2
            and all(isinstance(k, str) and k in TOKENIZATIONS for k in kinds)
        ):
            raise damaged(
                folder,
                "tokenizations: expected the source's and the target's, each one of "
                f"{', '.join(TOKENIZATIONS)}, got {quoted(str(kinds))}",
            )
        check_saved_fits(parameter_count(config.model), folder)
        model = saved_model(Seq2Seq, config.model, checkpoint, folder)
        return TrainedSeq2Seq(model, source, target, config, (kinds[0], kinds[1]))

    def test_report(
        self, trained: TrainedSeq2Seq, test: ParallelExamples, trainer: Seq2SeqTrainer
    ) -> list[str]:
        scores = evaluate_pairs(trained, test)
        rate = scores.get("token_error_rate")  # without rapidfuzz: the note at the start
        error_rate = "" if rate is None else f", token error rate {rate:.2%}"
        return [
            f"test exact match {scores['exact_match']:.2%}{error_rate} "
            f"({scores['sources']:,} sources)"
        ]

    def summary(self, trainer: Seq2SeqTrainer) -> str:
        model = trainer.model
        source, target = trainer.vocabularies
        extras = [f"{model.attention_kind} attention"] if model.attention_kind != "none" else []
        extras += ["input feeding"] * model.input_feeding + ["peeky"] * model.peeky
        extras += ["reversed source"] * model.reverse_source
        parts = ", ".join(extras) or "no attention"
        return (
            f"training a {network(model, 'encoder-decoder')} ({parts}; "
            f"{model.num_parameters():,} parameters; time loops in {time_loops(model)}) on "
            f"{data_sizes(trainer, 'pairs')}; "
            f"vocabularies of {len(source):,} and {len(target):,}"
        )


def parameter_count(model: Seq2SeqConfig) -> int:
    """The parameters of the ``Seq2Seq`` MODEL describes, without making it."""
    E, H, layers, cell = model.embedding_size, model.hidden_size, model.num_layers, model.cell
    M = (2 if model.bidirectional else 1) * H
    summary = M if model.peeky else 0
    source = model.source_vocab_size * E
    target = 0 if model.share_vocabulary else model.target_vocab_size * E
    encoder = recurrent_parameter_count(cell, E, H, layers, model.bidirectional)
    bridge = 0
    if model.bridge == "linear" or (model.bridge == "auto" and model.bidirectional):
        bridge = (2 if cell == "lstm" else 1) * (M + 1) * H
    feed = H if model.input_feeding else 0
    decoder = recurrent_parameter_count(cell, E + summary + feed, H, layers)
    attention = {"none": 0, "dot": 0, "general": M * H, "additive": H * H + M * H + H}
    combine = 0 if model.attention == "none" else (M + H) * H
    vocab = model.target_vocab_size
    output = (0 if model.tie_embeddings else (H + summary) * vocab) + vocab
    return (
        source + target + encoder + bridge + decoder + attention[model.attention] + combine
        + output
    )  # fmt: skip


def saved_vocabularies(
    checkpoint: Checkpoint, folder: str | os.PathLike[str]
) -> tuple[Vocabulary, Vocabulary]:
    saved = saved_entry(checkpoint, folder, "vocabularies")
    if not isinstance(saved, dict):
        raise damaged(folder, f"vocabularies: expected an object, got {quoted(str(saved))}")
    sides = []
    for side in ("source", "target"):
        key = f"vocabularies.{side}"
        if not isinstance(saved.get(side), dict):
            what = "missing" if side not in saved else f"expected an object, got {saved[side]!r}"
            raise damaged(folder, f"{key}: {what}")
        try:
            sides.append(Vocabulary.from_dict(saved[side]))
        except ValueError as error:
            raise damaged(folder, f"{key}.{error}") from None
    return sides[0], sides[1]


def check_special_ids(model: Seq2SeqConfig, folder: str | os.PathLike[str]) -> None:
    """Refuse model settings (of FOLDER's config.json) whose ids of <pad>, <s> and </s> are
    not those the vocabularies give them."""
    for name, value, token in (
        ("pad_id", PAD_ID, PAD), ("bos_id", BOS_ID, BOS), ("eos_id", EOS_ID, EOS)
    ):  # fmt: skip
        saved = getattr(model, name)
        if saved != value:
            raise damaged(
                folder,
                f"model.{name}: expected {value}, the id of {token} in the vocabularies, "
                f"got {saved!r}",
            )


def load_seq2seq(folder: str | os.PathLike[str]) -> TrainedSeq2Seq:
    """The model saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    return Seq2SeqTask().load(folder)


def load_ensemble(folders: list[str | os.PathLike[str]]) -> TrainedSeq2Seq:
    """The models saved in FOLDERS decoding as one: at every step the mean of their
    next-token distributions (``rnnkit.models.beam_search``). The first folder's settings
    (its length limits) apply; every model must read and write the same tokens, so all
    must share the first's vocabularies and tokenizers (models trained on the same data)."""
    first, *others = [load_seq2seq(folder) for folder in folders]
    for folder, other in zip(folders[1:], others, strict=True):
        same = (
            other.source.tokens == first.source.tokens
            and other.target.tokens == first.target.tokens
            and other.tokenizations == first.tokenizations
        )
        if not same:
            raise UserError(
                f"{folder} cannot decode with {folders[0]}: their vocabularies or tokenizers "
                "differ; an ensemble needs models trained on the same data and tokenizers"
            )
    return replace(first, ensemble=tuple(other.model for other in others))


def transduce(
    trained: TrainedSeq2Seq,
    texts: list[str],
    beam_size: int = 1,
    alpha: float = 0.0,
    nbest: int = 1,
    progress: bool | None = False,
    origins: Sequence[str] | None = None,
    max_length_ratio: float | None = None,
) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """The outputs of each text (``text``, ``tokens``, ``score``, ``log_prob``,
    ``finished``, ``attention`` ``(output steps, source tokens)``), and the source tokens the
    model does not know (read as ``<unk>``). ``tokens`` are the output's target tokens, one
    per output step (``text`` joins them: a ``<unk>`` among characters is one token there,
    not the five characters that splitting ``text`` again would give). PROGRESS: a bar
    over the texts (``decode_sources``).
    ORIGINS name the texts in errors (default ``text 1``, ``text 2``, ...); a text longer
    than the model's ``max_source_length`` is refused, or cut with its ``truncate_source``
    (``cut_note`` tells of them). MAX_LENGTH_RATIO: the longest output as a multiple of
    its source's length (default: the run's ``max_length_ratio``)."""
    kinds = trained.tokenizations
    if origins is None:
        origins = [f"text {i + 1}" for i in range(len(texts))]
    tokens = [split_tokens(text, kinds[0]) for text in texts]
    for origin, pieces in zip(origins, tokens, strict=True):
        if not pieces:
            raise UserError(f"{origin}: cannot transduce an empty source")
    unknown = trained.source.unknown(t for pieces in tokens for t in pieces)
    sources = [trained.source.encode(pieces) for pieces in tokens]
    limit = trained.config.data.max_source_length
    limit_source_lengths(sources, limit, trained.config.data.truncate_source, origins)
    ratio = trained.config.training.max_length_ratio
    if max_length_ratio is not None:
        ratio = max_length_ratio
    found = decode_sources(
        trained.models, sources, beam_size, alpha, nbest, ratio, progress=progress
    )
    outputs = [
        [
            {
                "text": join_tokens(trained.target.decode(h.tokens), kinds[1]),
                "tokens": trained.target.decode(h.tokens),
                "score": h.score,
                "log_prob": h.log_prob,
                "finished": h.finished,
                "attention": h.attention,
            }
            for h in hypotheses
        ]
        for hypotheses in found
    ]
    return outputs, unknown


def cut_note(trained: TrainedSeq2Seq, texts: Sequence[str]) -> str | None:
    """What to tell, in a note, of the TEXTS ``transduce`` cuts to the model's
    ``max_source_length`` (with its ``truncate_source``; without, it refuses them), or
    None when it cuts none."""
    if not trained.config.data.truncate_source:
        return None
    limit, kind = trained.config.data.max_source_length, trained.tokenizations[0]
    cut = sum(len(split_tokens(text, kind)) > limit for text in texts)
    if not cut:
        return None
    return (
        f"{counted(cut, 'source')} longer than {limit} tokens {were(cut)} cut to that length, "
        "as the model's training cut its longer sources"
    )


def evaluate_pairs(
    trained: TrainedSeq2Seq,
    examples: ParallelExamples,
    beam_size: int = 1,
    alpha: float = 0.0,
    progress: bool | None = False,
    max_length_ratio: float | None = None,
) -> dict[str, Any]:
    """Scores of TRAINED's best output per distinct source against all of its targets
    (``rnnkit.train.seq2seq_metrics``; BLEU for word targets), and ``sources``.
    PROGRESS: a bar over the sources as they are decoded (``decode_sources``);
    MAX_LENGTH_RATIO as for ``transduce``."""
    kinds = trained.tokenizations
    sources, targets = references(examples)
    first_origins: dict[str, str] = {}  # each distinct source named by its first line
    for source, origin in zip(examples.sources, examples.origins, strict=True):
        first_origins.setdefault(source, origin)
    origins = [first_origins[source] for source in sources]
    outputs, _ = transduce(
        trained, sources, beam_size, alpha, 1, progress, origins, max_length_ratio
    )
    hypotheses = [found[0]["tokens"] for found in outputs]
    refs = [[split_tokens(t, kinds[1]) for t in group] for group in targets]
    scores = sequence_scores(hypotheses, refs, bleu=kinds[1] == "word")
    return {**scores, "sources": len(sources)}
