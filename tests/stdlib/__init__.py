"""CPython's own test modules run plain and under offset (runner.py)."""
