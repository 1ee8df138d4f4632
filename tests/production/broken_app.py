"""An application that fails to import, for the boot-error test of tests/production/test_gunicorn.py."""

raise RuntimeError("this app fails to import on purpose")
