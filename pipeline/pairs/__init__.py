"""Instruction pairs mined from the corpus and augmented (renaming, pin renumbering, rephrasing);
every answer compiles in the real mpy-cross, and the train/val split is checked for leaks."""
