"""Settings of JupyterLab as `make lab` starts it (and tests/test_lab.py, the same way):

    jupyter lab book/ --config=tools/jupyter_lab_config.py

- The file browser shows the chapters, not the book's Sphinx extensions (book/_ext/), nor
  the files JupyterLab hides anyway.
- Nothing is fetched from the internet at start: no news feed, no check for updates (the
  book works offline; a class's network may be closed).
"""

c = get_config()  # noqa: F821 (traitlets defines it in config files)

# JupyterLab's own defaults, and the book's extensions.
c.ContentsManager.hide_globs = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "_ext"]
c.LabApp.news_url = ""
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
