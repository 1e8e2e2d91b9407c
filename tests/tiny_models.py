"""Tiny, fully local stand-ins for the training stage's outputs (test helpers).

They produce exactly what training hands to later stages: a standard HF model
directory (``config.json``, ``model.safetensors``, tokenizer files) holding a
byte-level BPE tokenizer with the project's special tokens at ids 0..6 and a
random-weight ``GPT2LMHeadModel`` or ``LlamaForCausalLM``. Dimensions default to
multiples of 256 so llama.cpp's K-quants apply without fallback.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from pipeline.common.prompt_format import BOS, EOS, PAD, SPECIAL_TOKENS, UNK

# Enough varied MicroPython-flavoured text for a 512-entry vocabulary.
SAMPLE_TEXTS: tuple[str, ...] = (
    "from machine import Pin\nled = Pin(2, Pin.OUT)\nled.value(1)\n",
    "import time\nwhile True:\n    led.toggle()\n    time.sleep_ms(500)\n",
    "def read_sensor(adc):\n    return adc.read_u16() * 3.3 / 65535\n",
    "The ESP32 has two I2C buses; use SoftI2C for any other pins.\n",
    "i2c = I2C(0, scl=Pin(22), sda=Pin(21), freq=400000)\nprint(i2c.scan())\n",
    "Don't block the event loop: we'll use uasyncio and it's fine.\n",
    "uart = UART(1, baudrate=9600, tx=17, rx=16)\nuart.write(b'AT\\r\\n')\n",
    "class Motor:\n    def __init__(self, pwm):\n        self.pwm = pwm\n\tdef stop(self): pass\n",
    "Numbers: 3 33 333 3333 33333, 0x1F, 1e-3 and 42.\n",
    "Übung: Temperatur 23°C — 温度 🌡️ «quotes» \"double\" 'single'\r\n",
)


def build_tiny_tokenizer(out_dir: Path, vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a ByteLevel BPE like the tokenizer stage does and save it to ``out_dir``."""
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    # add_prefix_space=False: llama.cpp's gpt2 BPE never inserts a leading space.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(SAMPLE_TEXTS) * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD
    )
    fast.save_pretrained(out_dir)
    return fast


def _save(model: torch.nn.Module, out_dir: Path, weight_scale: float) -> Path:
    # Larger-than-default weights make the logits peaked, so a wrong tensor layout
    # shows up as a large KL instead of hiding in near-uniform distributions.
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() >= 2:
                param.normal_(0.0, weight_scale)
    model.save_pretrained(out_dir)
    return out_dir


def build_tiny_gpt2(
    out_dir: Path,
    hidden: int = 256,
    layers: int = 2,
    heads: int = 4,
    context: int = 128,
    vocab_size: int | None = None,
    weight_scale: float = 0.08,
) -> Path:
    """Tokenizer + random ``GPT2LMHeadModel`` (tied embeddings) saved in ``out_dir``."""
    tokenizer = build_tiny_tokenizer(out_dir)
    config = GPT2Config(
        vocab_size=vocab_size or len(tokenizer),
        n_positions=context,
        n_embd=hidden,
        n_layer=layers,
        n_head=heads,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    return _save(GPT2LMHeadModel(config), out_dir, weight_scale)


def build_tiny_llama(
    out_dir: Path,
    hidden: int = 256,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 512,
    context: int = 128,
    tied: bool = False,
    vocab_size: int | None = None,
    weight_scale: float = 0.08,
) -> Path:
    """Tokenizer + random ``LlamaForCausalLM`` (GQA when kv_heads < heads) saved in ``out_dir``."""
    tokenizer = build_tiny_tokenizer(out_dir)
    config = LlamaConfig(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=intermediate,
        max_position_embeddings=context,
        tie_word_embeddings=tied,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    return _save(LlamaForCausalLM(config), out_dir, weight_scale)
