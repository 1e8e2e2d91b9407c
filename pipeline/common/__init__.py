"""What every stage shares: the artifact store core, the block table, the prompt format,
the child-process runner and text metrics. Imports no other package of `pipeline`."""
