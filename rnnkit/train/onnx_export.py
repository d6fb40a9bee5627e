"""rnnkit models as ONNX models (what ``rnnkit export`` writes), built with the ``onnx``
package alone and ONNX's native recurrent operators (``rnnkit.train.onnx_graph``).

Every graph is float32, in evaluation mode (no dropout), with a dynamic batch size and,
where the model reads sequences, a dynamic sequence length. Inputs and outputs, by model
(``B`` batch, ``T`` steps, ``L`` layers, ``D`` directions, ``H`` hidden size)::

    language model   ids int64 (B, T), h0 float (L, B, H) [, c0 (L, B, H) for an LSTM]
                     -> logits (B, T, V), h_n [, c_n]
                     One graph is both the whole sequence and the step: T = 1 with the
                     state fed back is sampling one token at a time.
    classifier       ids int64 (B, T), lengths int64 (B,) -> logits (B, C), probabilities
    tagger           ids int64 (B, T), lengths int64 (B,) [, char_ids int64 (N, C),
                     char_lengths int64 (N,), char_index int64 (B, T): rnnkit's WordChars]
                     -> emissions (B, T, K), tags int64 (B, T) (argmax; any value past a
                     row's length)
    seq2seq          two files, FILE's stem + ``.encoder.onnx`` and ``.decoder.onnx``:
                     encoder: src int64 (B, S), src_lengths int64 (B,) -> memory (B, S, M)
                       [, keys (attention), summary (B, M) (peeky)], h0 [, c0]
                     decoder step: tokens int64 (B,), h, [c], [feed (B, H)], [summary],
                       [memory, keys, src_lengths] -> log_probs (B, V), h_out, [c_out],
                       [feed_out], [attention (B, S)]
    forecaster       past_target (B, lookback, S) [, past_covariates (B, lookback, Cp)]
                     [, future_covariates (B, lookback + horizon, Cf)]
                     -> raw (B, horizon, S, P): the distribution parameters of
                     ``Forecaster.forward`` (P = 1 for mse/mae, 2 gaussian, ...)

Ids past a row's length may be any valid id (padding). What ONNX's operators cannot
express is refused with a ``SettingError`` naming the option: a tagger's ``crf`` (Viterbi
decoding) and the forecaster's autoregressive ``decoder`` (it draws random samples). A
conditioned generator has no graph here: ``export_run`` refuses its run by task name. Files
are written atomically (a failed or interrupted export leaves none half-written) into a
folder that must exist: none is created.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import check_writable, write_atomic_files
from rnnkit.errors import SettingError, UserError
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.sequence_classifier import SequenceClassifier
from rnnkit.models.sequence_tagger import SequenceTagger
from rnnkit.train.onnx_graph import Graph
from rnnkit.train.run import read_run_task
from rnnkit.train.run_config import model_folder

F32, I64 = np.float32, np.int64


def export_run(folder: str | Path, path: str | Path) -> tuple[str, list[Path]]:
    """Export the model of the run in FOLDER (its best model when it has one) to PATH:
    ``(the run's task name, the files written)``."""
    # the tasks import the trainers: only when used
    from rnnkit.train.tasks import TASKS, a_run_of

    folder = model_folder(folder)
    task, _ = read_run_task(folder, TASKS)
    loaded = task.load(folder)
    model = loaded[0] if isinstance(loaded, tuple) else loaded.model
    if not isinstance(model, (Seq2Seq, *GRAPH_BUILDERS)):
        # Named by the run's task, which the user chose, not by the model's class name.
        raise UserError(
            f"{folder} holds {a_run_of(task.name)}, which has no ONNX export; export a run of "
            "a language model, classifier, tagger, seq2seq model or forecaster"
        )
    return task.name, export_onnx(model, path)


def export_onnx(model: Any, path: str | Path) -> list[Path]:
    """Write MODEL (any rnnkit task's model) as ONNX to PATH; the files written.

    A seq2seq model is two files beside PATH (see the module docstring).
    """
    path = Path(path)
    if not path.name:  # "", "." or "/": a folder, or nothing, where a file name belongs
        raise UserError(
            f"{str(path)!r} names no file; give the ONNX file to write, e.g. model.onnx"
        )
    if isinstance(model, Seq2Seq):
        encoder, decoder = seq2seq_graphs(model)
        stem = path.with_suffix("") if path.suffix == ".onnx" else path
        paths = [Path(f"{stem}.encoder.onnx"), Path(f"{stem}.decoder.onnx")]
        graphs = [encoder, decoder]
    else:
        build = next((b for kind, b in GRAPH_BUILDERS.items() if isinstance(model, kind)), None)
        if build is None:
            raise UserError(f"ONNX export does not know the model {type(model).__name__}")
        paths, graphs = [path], [build(model)]
    # No folder is made: a missing one is likelier a mistyped path than a wish (as for the
    # files predict writes), and the error names the file. Every file is checked, then
    # written, before any replaces an older one: a seq2seq pair is never half new, half
    # an earlier export's.
    for target in paths:
        check_writable(target)
    serialized = [graph.SerializeToString() for graph in graphs]
    write_atomic_files(list(zip(paths, serialized, strict=True)))
    return paths


def _state_inputs(g: Graph, cell: str, layers: int, H: int, suffix: str = "0") -> tuple:
    names = ("h", "c") if cell == "lstm" else ("h",)
    return tuple(g.input(f"{n}{suffix}", F32, [layers, "batch", H]) for n in names)


def _state_outputs(g: Graph, cell: str, finals: tuple, layers: int, H: int, suffix: str) -> None:
    names = ("h", "c") if cell == "lstm" else ("h",)
    for name, value in zip(names, finals, strict=True):
        g.output(f"{name}{suffix}", value, F32, [layers, "batch", H])


def language_model_graph(model: LanguageModel) -> Any:
    """Token ids and the state in, logits and the next state out (see the module doc)."""
    g = Graph("rnnkit_language_model")
    ids = g.input("ids", I64, ["batch", "steps"])
    L, H, V = model.num_layers, model.hidden_size, model.vocab_size
    initial = _state_inputs(g, model.cell, L, H)
    embedded = g.embed(model.embedding.params["weight"], g.op("Transpose", [ids], perm=[1, 0]))
    output, finals = g.recurrent(model.rnn, embedded, None, initial)
    logits = g.linear(output, model.decoder.params["weight"], model.decoder.params["bias"])
    g.output("logits", g.op("Transpose", [logits], perm=[1, 0, 2]), F32, ["batch", "steps", V])
    _state_outputs(g, model.cell, finals, L, H, "_n")
    return g.model("rnnkit language model: ids (B, T) and state -> logits (B, T, V), state")


def _lengths(g: Graph, name: str = "lengths", rows: str = "batch") -> tuple[str, str]:
    """An int64 lengths input and its int32 copy for ``sequence_lens``."""
    lengths = g.input(name, I64, [rows])
    return lengths, g.op("Cast", [lengths], to=6)  # 6: INT32


def classifier_graph(model: SequenceClassifier) -> Any:
    """Padded ids and lengths in, logits and probabilities out."""
    g = Graph("rnnkit_classifier")
    ids = g.input("ids", I64, ["batch", "steps"])
    lengths, lengths32 = _lengths(g)
    time_major = g.op("Transpose", [ids], perm=[1, 0])
    embedded = g.embed(model.embedding.params["weight"], time_major)
    output, finals = g.recurrent(model.encoder, embedded, lengths32)
    pooled = []
    if model.pooling == "last":
        pooled.append(g.top_finals(finals[0], model.encoder))
    else:
        mask = g.step_mask(g.dim(ids, 1), lengths)  # (T, B)
        mask3 = g.op("Unsqueeze", [mask, g.ints(2)])
        if model.pooling in ("mean", "mean-max"):
            kept = g.op("Mul", [output, g.op("Cast", [mask3], to=1)])  # 1: FLOAT
            total = g.op("ReduceSum", [kept, g.ints(0)], keepdims=0)
            count = g.op("Unsqueeze", [g.op("Cast", [lengths], to=1), g.ints(1)])
            pooled.append(g.op("Div", [total, count]))
        if model.pooling in ("max", "mean-max"):
            low = g.const(np.float32(-np.inf), "minus_infinity")
            masked = g.op("Where", [mask3, output, low])
            pooled.append(g.op("ReduceMax", [masked, g.ints(0)], keepdims=0))
    features = pooled[0] if len(pooled) == 1 else g.op("Concat", pooled, axis=1)
    params = model.classifier.params
    logits = g.linear(features, params["weight"], params["bias"])
    C = model.num_classes
    g.output("logits", logits, F32, ["batch", C])
    g.output("probabilities", g.op("Softmax", [logits], axis=1), F32, ["batch", C])
    return g.model("rnnkit classifier: ids (B, T), lengths (B,) -> logits (B, C)")


def tagger_graph(model: SequenceTagger) -> Any:
    """Padded word ids and lengths (and the words' characters) in, emissions out."""
    if model.use_crf:
        raise SettingError(
            "crf cannot be exported to ONNX: its Viterbi decoding has no ONNX operator; "
            "train the tagger without crf to export it",
            "crf",
        )
    g = Graph("rnnkit_tagger")
    ids = g.input("ids", I64, ["batch", "steps"])
    _, lengths32 = _lengths(g)
    embedded = g.embed(model.embedding.params["weight"], g.op("Transpose", [ids], perm=[1, 0]))
    if model.char_hidden_size > 0:
        chars = model.char_encoder
        char_ids = g.input("char_ids", I64, ["words", "chars"])
        _, char_lengths32 = _lengths(g, "char_lengths", "words")
        char_index = g.input("char_index", I64, ["batch", "steps"])
        char_embedded = g.embed(
            chars.embedding.params["weight"], g.op("Transpose", [char_ids], perm=[1, 0])
        )
        _, char_finals = g.recurrent(chars.rnn, char_embedded, char_lengths32)
        vectors = g.top_finals(char_finals[0], chars.rnn)  # (N, 2 Hc)
        spelled = g.op("Gather", [vectors, g.op("Transpose", [char_index], perm=[1, 0])], axis=0)
        embedded = g.op("Concat", [embedded, spelled], axis=2)
    output, _ = g.recurrent(model.encoder, embedded, lengths32)
    params = model.output.params
    emissions = g.op(
        "Transpose", [g.linear(output, params["weight"], params["bias"])], perm=[1, 0, 2]
    )
    K = model.num_tags
    g.output("emissions", emissions, F32, ["batch", "steps", K])
    g.output("tags", g.op("ArgMax", [emissions], axis=2, keepdims=0), I64, ["batch", "steps"])
    return g.model("rnnkit tagger: ids (B, T), lengths (B,) -> emissions (B, T, K)")


def forecaster_graph(model: Forecaster) -> Any:
    """The direct head's distribution parameters from the lookback window."""
    if model.decoder_kind != "direct":
        raise SettingError(
            "decoder autoregressive cannot be exported to ONNX: it feeds back random draws "
            "from each step's distribution; train with decoder direct to export",
            "decoder",
        )
    for name in ("window_scale", "window_mean"):
        if getattr(model, name):
            raise SettingError(
                f"{name} cannot be exported to ONNX yet: its outputs are in each window's "
                "units; train without it to export",
                name,
            )
    g = Graph("rnnkit_forecaster")
    L, H, S = model.lookback, model.horizon, model.num_targets
    Cp, Cf = model.num_past_covariates, model.num_future_covariates
    window = g.input("past_target", F32, ["batch", L, S])
    past_target, offset = window, None
    if model.normalize != "none":
        last = g.op("Slice", [window, g.ints(L - 1), g.ints(L), g.ints(1)])  # (B, 1, S)
        past_target, offset = g.op("Sub", [window, last]), last
    if model.normalize == "season":  # step h adds the value one season before it
        before = L - model.season + np.arange(H) % model.season
        offset = g.op("Gather", [window, g.ints(*before.tolist())], axis=1)  # (B, H, S)
    parts = [past_target]
    if Cp:
        parts.append(g.input("past_covariates", F32, ["batch", L, Cp]))
    future = g.input("future_covariates", F32, ["batch", L + H, Cf]) if Cf else None
    if future is not None:
        parts.append(g.op("Slice", [future, g.ints(0), g.ints(L), g.ints(1)]))
    x = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=2)
    _, finals = g.recurrent(model.encoder, g.op("Transpose", [x], perm=[1, 0, 2]))
    features = [g.top_finals(finals[0], model.encoder)]
    if future is not None:
        ahead = g.op("Slice", [future, g.ints(L), g.ints(L + H), g.ints(1)])
        features.append(g.op("Reshape", [ahead, g.ints(0, -1)]))
    if model.skip:
        features.append(g.op("Reshape", [past_target, g.ints(0, -1)]))
    joined = features[0] if len(features) == 1 else g.op("Concat", features, axis=1)
    params = model.head.params
    raw = g.linear(joined, params["weight"], params["bias"])
    P = model.num_params
    raw = g.op("Reshape", [raw, g.ints(0, H, S, P)])
    if offset is not None:
        locations = np.zeros(P, np.float32)
        locations[slice(None) if model.loss_name == "quantile" else slice(0, 1)] = 1.0
        shift = g.op("Mul", [g.op("Unsqueeze", [offset, g.ints(3)]), g.const(locations)])
        raw = g.op("Add", [raw, shift])
    g.output("raw", raw, F32, ["batch", H, S, P])
    return g.model("rnnkit forecaster: the lookback window -> raw (B, horizon, S, P)")


# -- seq2seq -------------------------------------------------------------------------------


def seq2seq_graphs(model: Seq2Seq) -> tuple[Any, Any]:
    """The encoder and the decoder step of MODEL (see the module docstring)."""
    return _seq2seq_encoder(model), _seq2seq_decoder(model)


def _seq2seq_encoder(model: Seq2Seq) -> Any:
    g = Graph("rnnkit_seq2seq_encoder")
    src = g.input("src", I64, ["batch", "source_steps"])
    lengths, lengths32 = _lengths(g, "src_lengths")
    time_major = g.op("Transpose", [src], perm=[1, 0])
    if model.reverse_source:
        time_major = g.op("ReverseSequence", [time_major, lengths], batch_axis=1, time_axis=0)
    embedded = g.embed(model.source_embedding.params["weight"], time_major)
    output, finals = g.recurrent(model.encoder, embedded, lengths32)
    mask = g.op("Unsqueeze", [g.step_mask(g.dim(src, 1), lengths), g.ints(2)])
    output = g.op("Mul", [output, g.op("Cast", [mask], to=1)])  # zeros past each length
    memory = g.op("Transpose", [output], perm=[1, 0, 2])
    M, H, L = model.memory_size, model.hidden_size, model.num_layers
    g.output("memory", memory, F32, ["batch", "source_steps", M])
    if model.attention_kind != "none":
        attention = model.attention
        keys = memory
        if model.attention_kind != "dot":
            keys = g.linear(memory, attention.keys.params["weight"])
        width = attention.attention_size if model.attention_kind == "additive" else H
        g.output("keys", keys, F32, ["batch", "source_steps", width])
    if model.peeky:
        g.output("summary", g.top_finals(finals[0], model.encoder), F32, ["batch", M])
    names = ("h0", "c0") if model.cell == "lstm" else ("h0",)
    if model.bridge_kind == "zero":
        shape = g.op("Concat", [g.ints(L), g.dim(src, 0), g.ints(H)], axis=0)
        zeros = g.op("ConstantOfShape", [shape], value=_float_tensor(g, 0.0))
        states: tuple = tuple(zeros for _ in names)
    elif not model.bridge_linear:
        states = finals
    else:
        D = model.directions
        layers = [model.bridge_h, model.bridge_c] if model.cell == "lstm" else [model.bridge_h]
        states = ()
        for linear, final in zip(layers, finals, strict=True):
            per_layer = g.op("Reshape", [final, g.ints(L, D, -1, H)])
            per_layer = g.op("Transpose", [per_layer], perm=[0, 2, 1, 3])
            per_layer = g.op("Reshape", [per_layer, g.ints(L, -1, D * H)])
            bridged = g.linear(per_layer, linear.params["weight"], linear.params["bias"])
            states += (g.op("Tanh", [bridged]),)
    for name, value in zip(names, states, strict=True):
        g.output(name, value, F32, [L, "batch", H])
    return g.model("rnnkit seq2seq encoder: src (B, S), src_lengths (B,) -> memory, state")


def _float_tensor(g: Graph, value: float) -> Any:
    return g.onnx.helper.make_tensor("value", g.onnx.TensorProto.FLOAT, [1], [value])


def _seq2seq_decoder(model: Seq2Seq) -> Any:
    g = Graph("rnnkit_seq2seq_decoder")
    H, L, M, V = model.hidden_size, model.num_layers, model.memory_size, model.target_vocab_size
    tokens = g.input("tokens", I64, ["batch"])
    state = _state_inputs(g, model.cell, L, H, "")
    feed = g.input("feed", F32, ["batch", H]) if model.input_feeding else None
    summary = g.input("summary", F32, ["batch", M]) if model.peeky else None
    attending = model.attention_kind != "none"
    if attending:
        attention = model.attention
        width = attention.attention_size if model.attention_kind == "additive" else H
        memory = g.input("memory", F32, ["batch", "source_steps", M])
        keys = g.input("keys", F32, ["batch", "source_steps", width])
        src_lengths = g.input("src_lengths", I64, ["batch"])
    parts = [g.embed(model.target_embedding.params["weight"], tokens)]
    parts += [part for part in (summary, feed) if part is not None]
    x = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=1)
    output, finals = g.recurrent(model.decoder, g.op("Unsqueeze", [x, g.ints(0)]), None, state)
    h = g.op("Squeeze", [output, g.ints(0)])  # (B, H)
    attentional = h
    if attending:
        query = g.op("Unsqueeze", [h, g.ints(1)])  # (B, 1, H)
        if model.attention_kind == "additive":
            projected = g.linear(query, attention.query.params["weight"])  # (B, 1, A)
            hidden = g.op(
                "Tanh",
                [g.op("Add", [g.op("Unsqueeze", [projected, g.ints(2)]),
                              g.op("Unsqueeze", [keys, g.ints(1)])])],
            )  # fmt: skip
            scores = g.linear(hidden, attention.score.params["weight"])  # (B, 1, S, 1)
            scores = g.op("Squeeze", [scores, g.ints(3)])
        else:
            scores = g.op("MatMul", [query, g.op("Transpose", [keys], perm=[0, 2, 1])])
        valid = g.op("Transpose", [g.step_mask(g.dim(memory, 1), src_lengths)], perm=[1, 0])
        valid = g.op("Unsqueeze", [valid, g.ints(1)])  # (B, 1, S)
        low = g.const(np.float32(-np.inf), "minus_infinity")
        weights = g.op("Softmax", [g.op("Where", [valid, scores, low])], axis=-1)
        context = g.op("Squeeze", [g.op("MatMul", [weights, memory]), g.ints(1)])
        joined = g.op("Concat", [context, h], axis=1)
        attentional = g.op("Tanh", [g.linear(joined, model.combine.params["weight"])])
    features = attentional if summary is None else g.op("Concat", [attentional, summary], axis=1)
    logits = g.linear(features, model.output.params["weight"], model.output.params["bias"])
    g.output("log_probs", g.op("LogSoftmax", [logits], axis=1), F32, ["batch", V])
    _state_outputs(g, model.cell, finals, L, H, "_out")
    if feed is not None:
        g.output("feed_out", attentional, F32, ["batch", H])
    if attending:
        g.output("attention", g.op("Squeeze", [weights, g.ints(1)]), F32, ["batch", "source_steps"])
    return g.model("rnnkit seq2seq decoder step: tokens (B,) and state -> log_probs (B, V)")


# The one-graph models and their builders; a Seq2Seq model is two graphs (seq2seq_graphs).
GRAPH_BUILDERS = {
    LanguageModel: language_model_graph,
    SequenceClassifier: classifier_graph,
    SequenceTagger: tagger_graph,
    Forecaster: forecaster_graph,
}
