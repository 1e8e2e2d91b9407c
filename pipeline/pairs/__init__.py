"""Instruction pairs mined from the corpus and augmented (renaming, pin renumbering, rephrasing);
every answer compiles in the real mpy-cross, and the train/val split is checked for leaks."""

from pipeline.common.exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "PairSettings": "build",
        "build_instruction_pairs": "build",
        "find_split_leaks": "dedup",
        "compile_many": "mpy_compile",
        "KNOWN_ARCHS": "mpy_compile",
    },
)
