"""Generation behind the Ollama stand-in: ``/api/generate`` and ``/api/chat`` in llama.cpp.

As Ollama does (``server/routes.go``, ``docs/api.md``): the model's Go TEMPLATE is rendered over
``.System``/``.Prompt`` (generate) or ``.Messages`` (chat; the model's SYSTEM is put first when
the request has no system message), the GGUF runs greedily, and generation ends at an
end-of-generation token of the GGUF (eos, eot, eom ids), at a ``stop`` string, or at
``num_predict``. ``/api/chat`` streams newline-delimited JSON unless ``"stream": false``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from scripts.go_template import render_go_template


class StandinError(Exception):
    """An error answer: HTTP status plus Ollama's ``{"error": message}`` text."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# api.Options fields accepted as model parameters, with the type Ollama converts them to.
PARAMETER_TYPES = {
    "num_ctx": int,
    "num_predict": int,
    "top_k": int,
    "seed": int,
    "repeat_last_n": int,
    "temperature": float,
    "top_p": float,
    "min_p": float,
    "repeat_penalty": float,
    "stop": list,
}


def typed_parameters(raw: dict[str, object]) -> dict[str, object]:
    typed: dict[str, object] = {}
    for key, value in raw.items():
        kind = PARAMETER_TYPES.get(key)
        if kind is None:
            raise StandinError(400, f"unknown parameter '{key}'")
        try:
            typed[key] = [str(v) for v in value] if kind is list else kind(value)
        except (TypeError, ValueError):
            raise StandinError(400, f"invalid value for parameter '{key}': {value!r}") from None
    return typed


class Generation:
    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._llamas: dict[tuple[str, int], object] = {}

    def close(self) -> None:
        for llm in self._llamas.values():
            llm.close()
        self._llamas.clear()

    def _record(self, name: str) -> dict:
        try:
            return self.store.load(name)
        except StandinError:
            raise StandinError(404, f'model "{name}" not found, try pulling it first') from None

    def _llama(self, record: dict, n_ctx: int):
        from pipeline.gguf.generate import load_llama  # llama.cpp loads only when generating

        key = (record["blob"], n_ctx)
        if key not in self._llamas:
            self._llamas[key] = load_llama(self.store.blob_path(record["blob"]), n_ctx=n_ctx)
        return self._llamas[key]

    @staticmethod
    def _render(record: dict, body: dict, data: dict) -> str:
        try:
            return render_go_template(body.get("template") or record["template"], data)
        except ValueError as exc:
            raise StandinError(500, f"template: {exc}") from None

    def _run(self, record: dict, body: dict, text: str) -> tuple[list[str], str, int, int]:
        options = {**record["parameters"], **typed_parameters(body.get("options") or {})}
        arch = record["model_info"]["general.architecture"]
        trained = int(record["model_info"][f"{arch}.context_length"])
        n_ctx = min(int(options.get("num_ctx", 2048)), trained)  # Ollama clamps num_ctx the same way
        with self._lock:  # one llama.cpp context per model; requests take turns
            from pipeline.gguf.generate import tokenize

            llm = self._llama(record, n_ctx)
            return self._greedy(llm, tokenize(llm, text), n_ctx, options)

    def generate(self, body: dict) -> dict:
        self.store.counters["generate"] += 1
        name = body.get("model") or ""
        record = self._record(name)
        started = datetime.now(UTC).isoformat()
        prompt = body.get("prompt", "")
        if not prompt:
            return {"model": name, "created_at": started, "response": "", "done": True, "done_reason": "load"}
        if body.get("raw"):
            text = prompt
        else:
            system = body.get("system", record["system"])
            messages = ([{"Role": "system", "Content": system}] if system else []) + [
                {"Role": "user", "Content": prompt}
            ]
            text = self._render(
                record, body, {"System": system, "Prompt": prompt, "Response": "", "Messages": messages}
            )
        pieces, done_reason, count, prompt_count = self._run(record, body, text)
        return {
            "model": name,
            "created_at": started,
            "response": "".join(pieces),
            "done": True,
            "done_reason": done_reason,
            "prompt_eval_count": prompt_count,
            "eval_count": count,
        }

    def chat(self, body: dict) -> list[dict]:
        """The answer as Ollama's stream objects: one per token, then the final ``done`` object."""
        self.store.counters["chat"] += 1
        name = body.get("model") or ""
        record = self._record(name)
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
            raise StandinError(400, "messages must be a list of {role, content} objects")
        turns = [{"Role": m["role"], "Content": m.get("content", "")} for m in messages]
        system = record["system"]
        if system and not any(turn["Role"] == "system" for turn in turns):
            turns.insert(0, {"Role": "system", "Content": system})
        text = self._render(record, body, {"System": system, "Prompt": "", "Response": "", "Messages": turns})
        pieces, done_reason, count, prompt_count = self._run(record, body, text) if turns else ([], "load", 0, 0)

        def stamp(extra: dict) -> dict:
            return {"model": name, "created_at": datetime.now(UTC).isoformat(), **extra}

        final = stamp(
            {
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": done_reason,
                "prompt_eval_count": prompt_count,
                "eval_count": count,
            }
        )
        if body.get("stream", True) is False:
            final["message"]["content"] = "".join(pieces)
            return [final]
        return [stamp({"message": {"role": "assistant", "content": p}, "done": False}) for p in pieces] + [final]

    @staticmethod
    def _greedy(llm, prompt_ids: list[int], n_ctx: int, options: dict) -> tuple[list[str], str, int, int]:
        """(text pieces, done_reason, generated tokens, prompt tokens), cut before the first stop string."""
        from pipeline.gguf.generate import is_end_of_generation

        room = n_ctx - len(prompt_ids)
        if room <= 0:
            raise StandinError(400, f"input length {len(prompt_ids)} exceeds the context length {n_ctx}")
        num_predict = int(options.get("num_predict", -1))
        limit = room if num_predict < 0 else min(num_predict, room)
        stops = options.get("stop", [])
        produced, pieces, count = b"", [], 0
        for token in llm.generate(prompt_ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True):
            if is_end_of_generation(llm, token):
                return pieces, "stop", count, len(prompt_ids)
            produced += llm.detokenize([token], special=True)
            count += 1
            text = produced.decode("utf-8", "ignore")
            hits = [text.index(stop) for stop in stops if stop in text]
            if hits:
                return _split(pieces, text[: min(hits)]), "stop", count, len(prompt_ids)
            pieces.append(text[len("".join(pieces)) :])
            if count >= limit:
                break
        return _split(pieces, produced.decode("utf-8", "replace")), "length", count, len(prompt_ids)


def _split(pieces: list[str], text: str) -> list[str]:
    """The streamed pieces of ``text``: those produced so far, the last one cut to fit."""
    out, used = [], 0
    for piece in pieces:
        if used >= len(text):
            break
        out.append(text[used : used + len(piece)])
        used += len(piece)
    if used < len(text):
        out.append(text[used:])
    return [piece for piece in out if piece]
