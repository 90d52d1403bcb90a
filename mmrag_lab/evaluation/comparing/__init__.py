"""Comparing evaluation runs: whether they can be compared, paired tests, the comparison's report and figure."""
