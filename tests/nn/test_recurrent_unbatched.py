"""Unbatched (seq_len, input_size) input, as torch accepts it: oracle and shapes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN
from tests.gradcheck import assert_close


@pytest.mark.parametrize("ours_cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_matches_torch(
    torch: ModuleType, ours_cls: type, batch_first: bool, with_state: bool
) -> None:
    torch_cls = getattr(torch.nn, ours_cls.__name__)  # rnnkit's layers are named like torch's
    rng = np.random.default_rng(3)
    ours = ours_cls(
        3, 4, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=np.float64, rng=1
    )
    ref = torch_cls(
        3, 4, num_layers=2, bidirectional=True, batch_first=batch_first, dtype=torch.float64
    )
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    is_lstm = ours_cls is LSTM
    x = rng.standard_normal((5, 3))
    h0, c0 = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    x_t = torch.tensor(x, requires_grad=True)
    h0_t, c0_t = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    state = ((h0, c0) if is_lstm else h0) if with_state else None
    state_t = ((h0_t, c0_t) if is_lstm else h0_t) if with_state else None

    output, final = ours.forward(x, state)
    output_t, final_t = ref(x_t, state_t)
    h_n, h_n_t = (final[0], final_t[0]) if is_lstm else (final, final_t)
    assert output.shape == (5, 8) and h_n.shape == (4, 4)
    assert_close(output, output_t, 1e-12)
    assert_close(h_n, h_n_t, 1e-12)

    grad_output, grad_h = rng.standard_normal((5, 8)), rng.standard_normal((4, 4))
    grad_x, grad_state = ours.backward(grad_output, (grad_h, None) if is_lstm else grad_h)
    loss = (output_t * torch.tensor(grad_output)).sum() + (h_n_t * torch.tensor(grad_h)).sum()
    loss.backward()
    assert grad_x.shape == (5, 3)
    assert_close(grad_x, x_t.grad, 1e-10)
    if with_state:
        assert_close(grad_state[0] if is_lstm else grad_state, h0_t.grad, 1e-10)
    for name, param in ref.named_parameters():
        assert_close(ours.grads[name], param.grad, 1e-10)


def test_unbatched_refuses_lengths() -> None:
    with pytest.raises(ValueError, match="lengths"):
        LSTM(3, 4).forward(np.zeros((5, 3)), lengths=[5])
