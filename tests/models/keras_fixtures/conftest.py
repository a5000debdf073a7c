"""make_fixtures.py needs real Keras (see its docstring); the test suite only reads what it wrote."""

collect_ignore = ["make_fixtures.py"]
