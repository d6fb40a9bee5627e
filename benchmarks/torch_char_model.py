"""The torch twin of ``char_model.CharModel``: the same layers, names, loss and optimizer."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.char_model import LEARNING_RATE, MAX_GRAD_NORM, VOCABULARY, Config


class TorchCharModel(torch.nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        size = config.hidden_size
        self.embedding = torch.nn.Embedding(VOCABULARY, size)
        self.rnn = getattr(torch.nn, config.cell)(size, size, config.num_layers)
        self.decoder = torch.nn.Linear(size, VOCABULARY)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=LEARNING_RATE)

    def load_numpy(self, state: dict[str, np.ndarray]) -> None:
        self.load_state_dict(
            {name: torch.from_numpy(value.copy()) for name, value in state.items()}
        )

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        self.optimizer.zero_grad()
        output, _ = self.rnn(self.embedding(inputs))
        logits = self.decoder(output)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, VOCABULARY), targets.reshape(-1)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters(), MAX_GRAD_NORM)
        self.optimizer.step()
        return loss.item()

    @torch.no_grad()
    def sample(self, first_token: int, count: int, generator: torch.Generator) -> list[int]:
        """``count`` tokens, one at a time with batch 1, the usual torch generation loop."""
        tokens, state = [], None
        token = torch.tensor([[first_token]])
        for _ in range(count):
            output, state = self.rnn(self.embedding(token), state)
            probabilities = torch.softmax(self.decoder(output[-1]), dim=-1)
            token = torch.multinomial(probabilities, 1, generator=generator)
            tokens.append(int(token))
        return tokens
