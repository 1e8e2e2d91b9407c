"""MicroPython source files and docs (.py, .md, .rst, .txt) to block tables, code kept exactly.
A sibling of `pipeline.pdf`: both write the block table of `pipeline.common.blocks`."""
