"""GGUF export: our own writer (tensors, tokenizer), llama.cpp quantization, verification
(tokenizer and logit parity, perplexity), generation and file inspection."""
