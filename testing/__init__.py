"""What the tests (tests/) and the benchmarks (bench/) both need, and neither owns.

    >>> from testing.ports import free_port
    >>> from testing.scripted_browser import sign_in
    >>> from testing.notebooks import execute

    ports              free loopback ports, below the ephemeral range
    scripted_browser   a learner's browser on the sandbox: signs in, clicks Allow (or Deny)
    notebooks          runs a notebook in a fresh kernel and reads what it showed
    hubproc            the class's JupyterHub (classroom/jupyterhub_config.py) on loopback

Not part of the installed package: learners never need it.
"""
