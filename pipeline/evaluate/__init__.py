"""Evaluation by running code: a model's answers run in real MicroPython on a simulated board.

``sandbox`` runs one program per restricted Node child (MicroPython's WebAssembly port plus the
board in ``board/``) and returns its hardware timeline; ``tasks`` holds the maker requests and the
checks that read those timelines; ``score`` turns a model's answers into pass rates. See
docs/evaluation.md for the interfaces and the event table.
"""
