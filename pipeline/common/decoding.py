"""How a model answers: the one set of decoding settings for HF, llama.cpp and the Ollama Modelfile.

A model measured one way and served another is not the model that was measured: the task pass rate
of the HF checkpoint, of the GGUF in llama.cpp and of the model Ollama serves agree only if all three
stop at the end of the turn, penalise repetition alike, stop after the same number of tokens and
choose tokens the same way. Each backend maps ``DECODING`` to its own argument names
(``pipeline.train.generate.hf_generate_kwargs``, ``pipeline.gguf.generate.llama_cpp_kwargs``,
``pipeline.serve.settings.model_parameters``); tests/test_decoding.py checks that they agree.

Defaults:

* greedy (temperature 0): pass@1 is measured greedily, so the served model answers as measured;
  pass@k's sampled answers use ``ScoreSettings.temperature`` with this ``top_p``;
* ``repeat_penalty`` 1.0 (off). HF's ``repetition_penalty`` penalises every earlier token of the
  context and llama.cpp's ``repeat_penalty`` only the last ``repeat_last_n`` (64), so only 1.0
  makes the two backends choose the same tokens; a penalty also pushes a model away from the
  repeated pin and ``sleep`` lines that code needs. Measured on the demo's instruct checkpoint
  (``python -m benchmarks.repeat_penalty MODEL --max-new-tokens 128``, its 12 demo tasks): code that
  parses in 7 answers at 1.0, 1 at 1.1 (the Modelfile's value before), 0 at 1.3; none passes at any;
* ``max_new_tokens`` 256: the longest reference answer of the task suite is well under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.common.prompt_format import stop_sequences


@dataclass(frozen=True)
class DecodingSettings:
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0  # nucleus cut when sampling (1.0: none)
    repeat_penalty: float = 1.0  # CTRL-style penalty on tokens already in the context (1.0: none)
    repeat_last_n: int = 64  # llama.cpp / Ollama window of that penalty (HF has none: the whole context)
    max_new_tokens: int = 256  # answer tokens at most (fewer where the prompt leaves less of the context)
    stop: tuple[str, ...] = tuple(stop_sequences())  # the end of the turn (``<eos>`` is also an id)

    def validate(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"DecodingSettings.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"DecodingSettings.top_p must be in (0, 1], got {self.top_p}")
        if self.repeat_penalty <= 0:
            raise ValueError(f"DecodingSettings.repeat_penalty must be > 0, got {self.repeat_penalty}")
        if self.max_new_tokens < 1 or self.repeat_last_n < 0:
            raise ValueError(
                f"DecodingSettings: max_new_tokens must be >= 1 and repeat_last_n >= 0, got {self.max_new_tokens} "
                f"and {self.repeat_last_n}"
            )


DECODING = DecodingSettings()
DECODING.validate()
