"""Code that runs inside the Rasa server's own process (its venv: Python 3.10, Rasa 3.6).

The app never imports it; `dialogs.server` puts the repository on the Rasa process's path so
that Rasa can load the channel and the launcher below.
"""
